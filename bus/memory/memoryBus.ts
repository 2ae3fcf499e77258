import type { Topic } from '../../core/envelope.js';
import { delivered, retryable, type DeliveryOutcome } from '../../core/outcome.js';
import type { BatchVerdict, Bus, BusConsumer, BusMessage, BusProducer, ConsumedBatch } from '../../core/pipeline.js';
import { sleep } from '../../core/backoff.js';
import { BoundedQueue } from '../../core/boundedQueue.js';

/**
 * The in-process bus of the single-machine default: the same contract as Kafka (one
 * partition per topic, consumer groups with committed offsets, at-least-once), held in
 * memory. Each topic is bounded: when the oldest uncommitted message is `capacity`
 * messages behind, `publish` answers retryable (the block policy) so the producer backs
 * off instead of the process growing without limit. A topic no group reads is bounded
 * the same way and counts what it drops-oldest, so an unread topic (logs with no log
 * sink, say) never blocks metrics.
 */
export interface MemoryBusOptions {
  readonly capacity: number;
  readonly maxBatch: number;
  /** Topics that no consumer may ever read: drop-oldest instead of block. */
  readonly dropOldestTopics?: readonly Topic[];
  /** Told of every message a drop-oldest topic loses, so that it can be counted. */
  readonly onDrop?: (topic: Topic, count: number) => void;
  /** A handler that throws has a bug; the batch is retried after a second and the error reported here. */
  readonly onHandlerError?: (error: unknown) => void;
}

interface StoredMessage {
  readonly offset: number;
  readonly key: string;
  readonly value: Buffer;
  readonly headers?: Readonly<Record<string, string>>;
}

class TopicLog {
  /**
   * Messages from `firstOffset` on. Full policy: drop-oldest for the topics no group may
   * read (each loss counted through onDrop); refuse for the rest, which `publish` never
   * reaches because it answers retryable first (the block policy).
   */
  readonly messages: BoundedQueue<StoredMessage>;
  nextOffset = 0;
  readonly committed = new Map<string, number>();
  private waiters: (() => void)[] = [];

  constructor(
    readonly dropOldest: boolean,
    capacity: number,
    onDrop: (count: number) => void,
  ) {
    this.messages = new BoundedQueue({ capacity, whenFull: dropOldest ? 'drop-oldest' : 'refuse', onDrop });
  }

  get firstOffset(): number {
    return this.nextOffset - this.messages.length;
  }

  /** Messages a drop-oldest topic lost because nobody read them in time. */
  get dropped(): number {
    return this.messages.dropped;
  }

  lowWatermark(): number {
    if (this.committed.size === 0) return this.firstOffset;
    return Math.min(...this.committed.values());
  }

  /** Up to `max` messages from `offset` on, without copying the ones before it. */
  readFrom(offset: number, max: number): StoredMessage[] {
    const out: StoredMessage[] = [];
    // A group never lags behind firstOffset; if one did, it resumes at the oldest kept message rather than stall.
    const start = Math.max(0, offset - this.firstOffset);
    for (let i = start; i < start + max; i++) {
      const message = this.messages.at(i);
      if (message === undefined) break;
      out.push(message);
    }
    return out;
  }

  append(messages: readonly BusMessage[]): void {
    const values = copyValues(messages);
    const stored = messages.map((m, i): StoredMessage => {
      const message = { offset: this.nextOffset + i, key: m.key, value: values[i] as Buffer };
      return m.headers ? { ...message, headers: m.headers } : message;
    });
    this.nextOffset += this.messages.pushAll(stored);
    // What drop-oldest lost was unread by some group (or by any, when none has joined): those groups move past it.
    const first = this.firstOffset;
    for (const [group, offset] of this.committed) if (offset < first) this.committed.set(group, first);
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  /** Forgets the messages every group has committed. */
  trim(): void {
    this.messages.remove(this.lowWatermark() - this.firstOffset);
  }

  waitForData(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const wake = (): void => { signal.removeEventListener('abort', wake); resolve(); };
      this.waiters.push(wake);
      signal.addEventListener('abort', wake, { once: true });
    });
  }
}

/**
 * The messages' values, copied (a producer may reuse its buffers once publish returns) into
 * one block per publish call, each value a view of its part. Copying each on its own
 * (`Buffer.from`) took a new 8 KiB pool every few kilobytes: a tenth of the alert engine's
 * CPU in its benchmark. A block lives until the last message in it is trimmed (and no
 * consumer holds one); the messages of one call are read and trimmed together.
 */
function copyValues(messages: readonly BusMessage[]): Buffer[] {
  let total = 0;
  for (const m of messages) total += typeof m.value === 'string' ? Buffer.byteLength(m.value) : m.value.length;
  const block = Buffer.allocUnsafeSlow(total);
  const values: Buffer[] = [];
  let at = 0;
  for (const m of messages) {
    const length = typeof m.value === 'string' ? block.write(m.value, at) : m.value.copy(block, at);
    values.push(block.subarray(at, at + length));
    at += length;
  }
  return values;
}

export class MemoryBus implements Bus {
  private readonly topics = new Map<string, TopicLog>();

  constructor(private readonly options: MemoryBusOptions) {}

  /** Messages that drop-oldest topics lost because nobody read them in time. */
  droppedCount(topic: Topic): number {
    return this.topics.get(topic)?.dropped ?? 0;
  }

  /** Messages published and not yet committed by every group. */
  backlog(topic: Topic): number {
    const log = this.topics.get(topic);
    return log ? log.nextOffset - log.lowWatermark() : 0;
  }

  private log(topic: string): TopicLog {
    let log = this.topics.get(topic);
    if (!log) {
      log = new TopicLog((this.options.dropOldestTopics ?? []).includes(topic as Topic), this.options.capacity, (count) => this.options.onDrop?.(topic as Topic, count));
      this.topics.set(topic, log);
    }
    return log;
  }

  producer(): BusProducer {
    return {
      publish: (topic: Topic, messages: readonly BusMessage[]): Promise<DeliveryOutcome<BusMessage>> => {
        const log = this.log(topic);
        if (!log.dropOldest && log.nextOffset - log.lowWatermark() + messages.length > this.options.capacity) {
          return Promise.resolve(retryable(`in-process bus topic ${topic} is full (${this.options.capacity} messages)`, 50));
        }
        log.append(messages);
        return Promise.resolve(delivered);
      },
      close: () => Promise.resolve(),
    };
  }

  consumer(groupId: string): BusConsumer {
    const stopping = new AbortController();
    let running: Promise<void> | undefined;
    const loop = async (topics: readonly Topic[], handle: (batch: ConsumedBatch) => Promise<BatchVerdict>): Promise<void> => {
      const logs = topics.map((topic) => ({ topic, log: this.log(topic) }));
      for (const { log } of logs) if (!log.committed.has(groupId)) log.committed.set(groupId, log.firstOffset);
      while (!stopping.signal.aborted) {
        let worked = false;
        for (const { topic, log } of logs) {
          const slice = log.readFrom(log.committed.get(groupId) ?? log.firstOffset, this.options.maxBatch);
          if (slice.length === 0) continue;
          worked = true;
          const lastOffset = slice[slice.length - 1]?.offset ?? 0;
          const verdict = await Promise.resolve().then(() => handle({
            topic,
            partition: 0,
            messages: slice.map((m) => ({ offset: String(m.offset), key: m.key, value: m.value, ...(m.headers ? { headers: m.headers } : {}) })),
            lag: Math.max(0, log.nextOffset - lastOffset - 1),
          })).catch((error: unknown): BatchVerdict => {
            this.options.onHandlerError?.(error);
            return { kind: 'retry', delayMs: 1000 };
          });
          if (verdict.kind === 'commit') {
            const last = slice[slice.length - 1];
            if (last) log.committed.set(groupId, Math.max(log.committed.get(groupId) ?? 0, last.offset + 1));
            log.trim();
          } else if (verdict.kind === 'seek') {
            // Back no further than what the log still holds.
            log.committed.set(groupId, Math.max(log.firstOffset, Number(verdict.offset)));
          } else {
            await sleep(verdict.delayMs, stopping.signal);
          }
        }
        if (!worked) await Promise.race(logs.map(({ log }) => log.waitForData(stopping.signal)));
      }
    };
    return {
      run: (topics, handle, onAssignment) => {
        // One member, one partition per topic: everything is this consumer's from the start.
        onAssignment?.(new Map(topics.map((topic) => [topic, [0]])));
        running = loop(topics, handle);
        return Promise.resolve();
      },
      // Nothing between this consumer and its messages can fail: it is as healthy as the process.
      health: () => ({ healthy: true }),
      stop: async () => {
        stopping.abort();
        await running;
      },
    };
  }
}
