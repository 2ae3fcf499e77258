/**
 * The server's end of the bus: a Kafka consumer group that hands each fetched
 * batch to a handler and moves the group's offset only after the handler said
 * `commit` (at-least-once). A `retry` verdict leaves the offset where it was
 * and brings the same batch again after the delay.
 */
import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import { sleep } from '../../core/backoff.js';
import type { Topic } from '../../core/envelope.js';
import type { BatchVerdict, BusConsumer, ConsumedBatch } from '../../core/pipeline.js';

export interface KafkaConsumerOptions {
  readonly kafka: Kafka;
  readonly groupId: string;
  /** How long the coordinator waits for a heartbeat before it gives this member's partitions away. */
  readonly sessionTimeoutMs?: number;
  readonly heartbeatIntervalMs?: number;
  /** How long a fetch waits on the broker for new messages. */
  readonly maxWaitTimeMs?: number;
  /** Where a group without committed offsets starts; from the beginning, so nothing produced before is lost. */
  readonly fromBeginning?: boolean;
  /** kafkajs gave up on the consumer; `willRestart` says whether it starts again by itself. */
  readonly onCrash?: (error: Error, willRestart: boolean) => void;
}

const DEFAULT_HEARTBEAT_INTERVAL_MS = 3_000;
const EMPTY_VALUE = Buffer.alloc(0);

type BatchHandler = (batch: ConsumedBatch) => Promise<BatchVerdict>;

export class KafkaConsumer implements BusConsumer {
  private readonly consumer: Consumer;
  private readonly heartbeatIntervalMs: number;
  private readonly fromBeginning: boolean;
  /** Cuts retry delays short when stop() is called; an in-flight handler still runs to the end. */
  private readonly stopSignal = new AbortController();
  private stopping: Promise<void> | undefined;

  constructor(options: KafkaConsumerOptions) {
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
    this.fromBeginning = options.fromBeginning ?? true;
    this.consumer = options.kafka.consumer({
      groupId: options.groupId,
      heartbeatInterval: this.heartbeatIntervalMs,
      allowAutoTopicCreation: false,
      ...(options.sessionTimeoutMs !== undefined ? { sessionTimeout: options.sessionTimeoutMs } : {}),
      ...(options.maxWaitTimeMs !== undefined ? { maxWaitTimeInMs: options.maxWaitTimeMs } : {}),
    });
    const onCrash = options.onCrash;
    if (onCrash) {
      this.consumer.on(this.consumer.events.CRASH, ({ payload }) => onCrash(payload.error, payload.restart));
    }
  }

  /**
   * Joins the group and starts consuming; resolves once the first assignment is
   * in place (kafkajs keeps fetching in the background until stop()). Rejects
   * when no broker can be reached, so that a misconfigured server fails at start-up.
   */
  async run(topics: readonly Topic[], handle: BatchHandler): Promise<void> {
    if (this.stopping) throw new Error('KafkaConsumer.run called after stop()');
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [...topics], fromBeginning: this.fromBeginning });
    await this.consumer.run({
      autoCommit: false,
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
    const consumed: ConsumedBatch = {
      topic: batch.topic,
      partition: batch.partition,
      messages: batch.messages.map((m) => ({ offset: m.offset, key: m.key ? m.key.toString('utf8') : null, value: m.value ?? EMPTY_VALUE })),
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
