import type { Logger } from 'pino';
import { sleep } from '../../core/backoff.js';
import type { Counters } from '../../core/counters.js';
import type { Publisher } from '../../bus/publisher.js';
import type { ContainerLogsSource } from './containerLogsSource.js';
import type { PositionedLog } from './positionedLog.js';

export interface LogShippingDeps {
  readonly source: ContainerLogsSource;
  /** Built with `onDelivered` calling `source.delivered`, so that checkpoints follow the bus. */
  readonly publisher: Publisher<PositionedLog>;
  readonly counters: Counters;
  readonly logger: Logger;
  /** How long an idle loop waits before looking at the files again. */
  readonly pollIntervalMs: number;
  /** Bytes read from the files per turn at most. */
  readonly readBudgetBytes: number;
  /** How long a stopping agent keeps trying to publish what it holds. */
  readonly shutdownFlushMs: number;
  /** Written after each turn: what the tailer knows (files watched, bytes behind). */
  readonly reportStats?: () => void;
  /** The transform between the source and the publisher (`enrichWithPodMetadata`): what to publish, what to drop. */
  readonly transform?: (records: readonly PositionedLog[]) => Promise<{ readonly kept: PositionedLog[]; readonly dropped: readonly PositionedLog[] }>;
}

/** How often checkpoints are written while the loop is not reading. */
const CHECKPOINT_EVERY_MS = 1000;

export interface RunningLogShipping {
  stop(): Promise<void>;
}

/**
 * The logs loop: read what the files gained, hand it to the publisher, publish. Reading
 * stops while the publisher has no room (Kafka away, no spill, or the spill full of
 * what it may hold): the files are the buffer then, and the tailer's checkpoints keep
 * their place. Records read but not yet taken by the queue wait here (one turn's worth).
 */
export function startLogShipping(deps: LogShippingDeps): RunningLogShipping {
  const { source, publisher, counters } = deps;
  const log = deps.logger.child({ component: 'container_logs' });
  const stopping = new AbortController();
  let waiting: PositionedLog[] = [];
  let persistedAt = Date.now();

  const transform = async (records: PositionedLog[]): Promise<PositionedLog[]> => {
    if (deps.transform === undefined || records.length === 0) return records;
    const { kept, dropped } = await deps.transform(records);
    // Nothing will publish the dropped ones: their files may move past them now.
    if (dropped.length > 0) source.delivered(dropped);
    return kept;
  };

  const hand = (): void => {
    if (waiting.length === 0) return;
    const room = publisher.room;
    if (room >= waiting.length) {
      publisher.enqueue(waiting);
      waiting = [];
    } else if (room > 0) {
      publisher.enqueue(waiting.slice(0, room));
      waiting = waiting.slice(room);
    }
  };

  const turn = async (): Promise<void> => {
      const started = Date.now();
      hand();
      let read = 0;
      if (waiting.length === 0 && publisher.room > 0) {
        const records = await source.read(deps.readBudgetBytes);
        read = records.length;
        waiting = await transform(records);
        hand();
      }
      const { remaining } = await publisher.flush(started + Math.max(deps.pollIntervalMs, 1000), stopping.signal);
      // Reading writes the checkpoints when due; while it waits for room, this does.
      if (read === 0 && Date.now() - persistedAt >= CHECKPOINT_EVERY_MS) {
        persistedAt = Date.now();
        await source.persist();
      }
      counters.set('kansoku_agent_log_queued_records', {}, remaining + waiting.length);
      deps.reportStats?.();
      // A turn that read a full budget goes again at once: the files are ahead of us.
      if (read === 0 || remaining > 0) await sleep(Math.max(0, started + deps.pollIntervalMs - Date.now()), stopping.signal);
      // Otherwise go again after whatever else is waiting (timers, sockets): never starve the loop.
      else await new Promise((resolve) => setImmediate(resolve));
  };
  const loop = async (): Promise<void> => {
    while (!stopping.signal.aborted) {
      try {
        await turn();
      } catch (error) {
        // A bug or an I/O failure the tailer did not absorb: counted, logged, and the next turn tries again.
        counters.add('kansoku_agent_log_loop_errors_total');
        log.error({ err: error }, 'container logs turn failed');
        await sleep(deps.pollIntervalMs, stopping.signal);
      }
    }
  };
  const running = loop();
  log.info({ pollIntervalMs: deps.pollIntervalMs }, 'shipping container logs');

  let stopped: Promise<void> | undefined;
  return {
    stop: () =>
      (stopped ??= (async () => {
        stopping.abort();
        await running;
        hand();
        await publisher.flush(Date.now() + deps.shutdownFlushMs);
        log.info({ unsent: publisher.queued + waiting.length }, 'container logs stopped');
      })()),
  };
}
