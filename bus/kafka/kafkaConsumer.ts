/**
 * The server's end of the bus: a Kafka consumer group that hands each fetched
 * batch to a handler and moves the group's offset only after the handler said
 * `commit` (at-least-once). A `retry` verdict leaves the offset where it was
 * and brings the same batch again after the delay.
 */
import type { Consumer, EachBatchPayload, IHeaders, Kafka } from 'kafkajs';
import { sleep } from '../../core/backoff.js';
import type { Topic } from '../../core/envelope.js';
import type { AssignmentListener, BatchVerdict, BusConsumer, ConsumedBatch, Health } from '../../core/pipeline.js';

export interface KafkaConsumerOptions {
  readonly kafka: Kafka;
  readonly groupId: string;
  /** How long the coordinator waits for a heartbeat before it gives this member's partitions away. */
  readonly sessionTimeoutMs?: number;
  readonly heartbeatIntervalMs?: number;
  /** How long a fetch waits on the broker for new messages. */
  readonly maxWaitTimeMs?: number;
  /** Batches of different partitions handled at once (each partition still one batch at a time, in order). */
  readonly partitionsConsumedConcurrently?: number;
  /** Where a group without committed offsets starts; from the beginning, so nothing produced before is lost. */
  readonly fromBeginning?: boolean;
  /** kafkajs gave up on the consumer; `willRestart` says whether it starts again by itself. */
  readonly onCrash?: (error: Error, willRestart: boolean) => void;
}

const DEFAULT_HEARTBEAT_INTERVAL_MS = 3_000;
const EMPTY_VALUE = Buffer.alloc(0);

/** Kafka headers are bytes (or lists of them); Kansoku's are single UTF-8 strings. */
function stringHeaders(raw: IHeaders): Record<string, string> | undefined {
  let out: Record<string, string> | undefined;
  for (const name in raw) {
    const value = raw[name];
    const first = Array.isArray(value) ? value[0] : value;
    if (first === undefined) continue;
    (out ??= {})[name] = typeof first === 'string' ? first : first.toString('utf8');
  }
  return out;
}

type BatchHandler = (batch: ConsumedBatch) => Promise<BatchVerdict>;

export class KafkaConsumer implements BusConsumer {
  private readonly consumer: Consumer;
  private readonly heartbeatIntervalMs: number;
  private readonly fromBeginning: boolean;
  private readonly partitionsConsumedConcurrently: number;
  /** Cuts retry delays short when stop() is called; an in-flight handler still runs to the end. */
  private readonly stopSignal = new AbortController();
  private stopping: Promise<void> | undefined;
  private crash: { readonly reason: string; readonly restarting: boolean } | undefined;

  constructor(options: KafkaConsumerOptions) {
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
    this.fromBeginning = options.fromBeginning ?? true;
    this.partitionsConsumedConcurrently = options.partitionsConsumedConcurrently ?? 1;
    this.consumer = options.kafka.consumer({
      groupId: options.groupId,
      heartbeatInterval: this.heartbeatIntervalMs,
      allowAutoTopicCreation: false,
      ...(options.sessionTimeoutMs !== undefined ? { sessionTimeout: options.sessionTimeoutMs } : {}),
      ...(options.maxWaitTimeMs !== undefined ? { maxWaitTimeInMs: options.maxWaitTimeMs } : {}),
    });
    this.consumer.on(this.consumer.events.CRASH, ({ payload }) => {
      this.crash = { reason: `Kafka consumer crashed: ${payload.error.message}`, restarting: payload.restart };
      options.onCrash?.(payload.error, payload.restart);
    });
    // A restarted consumer that joined its group again is back to health.
    this.consumer.on(this.consumer.events.GROUP_JOIN, () => {
      this.crash = undefined;
    });
  }

  health(): Health {
    if (this.stopping) return { healthy: false, reason: 'Kafka consumer stopped' };
    if (!this.crash) return { healthy: true };
    return { healthy: false, reason: this.crash.restarting ? `${this.crash.reason} (restarting)` : `${this.crash.reason} (gave up; restart the process)` };
  }

  /**
   * Joins the group and starts consuming; resolves once the first assignment is
   * in place (kafkajs keeps fetching in the background until stop()). Rejects
   * when no broker can be reached, so that a misconfigured server fails at start-up.
   */
  async run(topics: readonly Topic[], handle: BatchHandler, onAssignment?: AssignmentListener): Promise<void> {
    if (this.stopping) throw new Error('KafkaConsumer.run called after stop()');
    if (onAssignment) {
      this.consumer.on(this.consumer.events.GROUP_JOIN, ({ payload }) => {
        onAssignment(new Map(Object.entries(payload.memberAssignment)));
      });
    }
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [...topics], fromBeginning: this.fromBeginning });
    await this.consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: this.partitionsConsumedConcurrently,
      eachBatchAutoResolve: false,
      eachBatch: (payload) => this.consumeBatch(payload, handle),
    });
  }

  /** Stops fetching, lets the in-flight handler finish (and commit), leaves the group, disconnects. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    this.stopSignal.abort();
    try {
      await this.consumer.disconnect(); // stops the runner first, which waits for the in-flight batch
    } catch {
      // The brokers are gone; uncommitted batches come again to whoever joins next.
    }
  }

  private async consumeBatch(payload: EachBatchPayload, handle: BatchHandler): Promise<void> {
    const { batch } = payload;
    const first = batch.messages[0];
    if (!first) return;
    const lag = Number(batch.offsetLag());
    const consumed: ConsumedBatch = {
      topic: batch.topic,
      partition: batch.partition,
      ...(Number.isFinite(lag) ? { lag } : {}),
      messages: batch.messages.map((m) => {
        const message = { offset: m.offset, key: m.key ? m.key.toString('utf8') : null, value: m.value ?? EMPTY_VALUE };
        const headers = m.headers ? stringHeaders(m.headers) : undefined;
        return headers ? { ...message, headers } : message;
      }),
    };

    const verdict = await this.whileHeartbeating(payload, () => handle(consumed));

    if (verdict.kind === 'commit') {
      // Kafka's committed offset is the next one to read, hence +1.
      const lastOffset = batch.lastOffset();
      payload.resolveOffset(lastOffset);
      await payload.commitOffsetsIfNecessary({
        topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: (BigInt(lastOffset) + 1n).toString() }] }],
      });
      return;
    }

    if (verdict.kind === 'seek') {
      if (!this.stopSignal.signal.aborted) this.consumer.seek({ topic: batch.topic, partition: batch.partition, offset: verdict.offset });
      return;
    }
    await this.whileHeartbeating(payload, () => sleep(verdict.delayMs, this.stopSignal.signal));
    if (!this.stopSignal.signal.aborted) {
      // Without this, fetches already under way for this partition would carry on past the batch.
      this.consumer.seek({ topic: batch.topic, partition: batch.partition, offset: first.offset });
    }
  }

  /**
   * kafkajs heartbeats only between batches; a slow sink or a long retry delay
   * would otherwise get this member thrown out of the group mid-batch.
   */
  private async whileHeartbeating<T>(payload: EachBatchPayload, work: () => Promise<T>): Promise<T> {
    const timer = setInterval(() => {
      // A failed heartbeat (rebalance) resurfaces in the commit that follows, which is where it matters.
      payload.heartbeat().catch(() => undefined);
    }, this.heartbeatIntervalMs);
    timer.unref();
    try {
      return await work();
    } finally {
      clearInterval(timer);
    }
  }
}
