import { backoffDelayMs, defaultBackoff, sleep, type BackoffPolicy } from '../core/backoff.js';
import { BoundedQueue } from '../core/boundedQueue.js';
import type { Codec } from '../core/codec.js';
import type { Counters } from '../core/counters.js';
import type { BusProducer } from '../core/pipeline.js';
import { frame, type WireFormat } from './wire.js';

/**
 * Holds records until the bus took them, for any topic and codec. Its queue is bounded
 * and drops the oldest when full (counted as `<prefix>_dropped_total{reason="queue_full"}`):
 * when the bus is away longer than the queue lasts, newer data is worth more to an
 * operator than old data. Records leave the queue only once the bus acknowledged the
 * messages that carry them, and `onDelivered` is told which ones those were, so that a
 * file checkpoint (container logs) moves only past what is safe.
 */
export interface PublisherOptions<T> {
  readonly producer: BusProducer;
  readonly codec: Codec<T>;
  readonly keyOf: (record: T) => string;
  readonly wire: WireFormat;
  readonly counters: Counters;
  /** Counter names start with it, e.g. `kansoku_agent`. */
  readonly counterPrefix: string;
  readonly maxQueued: number;
  /** Records framed and handed to the bus per publish call. */
  readonly batchSize: number;
  readonly backoff?: BackoffPolicy;
  readonly onDelivered?: (records: readonly T[]) => void;
}

export interface FlushReport {
  readonly delivered: number;
  readonly rejected: number;
  /** Still queued when the flush ended (deadline, abort). */
  readonly remaining: number;
}

export class Publisher<T> {
  private readonly queue: BoundedQueue<T>;
  private attempt = 0;

  constructor(private readonly options: PublisherOptions<T>) {
    const labels = { topic: options.codec.topic, reason: 'queue_full' };
    // Drop-oldest: an agent must keep collecting while the bus is away, and fresh data matters most.
    this.queue = new BoundedQueue<T>({
      capacity: options.maxQueued,
      whenFull: 'drop-oldest',
      onDrop: (count) => options.counters.add(`${options.counterPrefix}_dropped_total`, labels, count),
    });
  }

  get queued(): number {
    return this.queue.length;
  }

  enqueue(records: readonly T[]): void {
    this.queue.pushAll(records);
  }

  /**
   * Publishes until the queue is empty, the deadline passes or the signal aborts. A
   * retryable failure backs off (bounded by the deadline) and tries the same records
   * again; records the bus refused (too large, say) are dropped and counted.
   */
  async flush(deadlineMs: number, signal?: AbortSignal): Promise<FlushReport> {
    const { producer, codec, counters, counterPrefix, batchSize } = this.options;
    const topic = codec.topic;
    let deliveredCount = 0;
    let rejectedCount = 0;
    while (this.queue.length > 0 && !signal?.aborted && Date.now() < deadlineMs) {
      const batch = this.queue.peek(batchSize);
      const framed = frame(batch, codec, this.options.keyOf, this.options.wire);
      const outcome = await producer.publish(topic, framed.messages);
      if (outcome.kind === 'retryable') {
        counters.add(`${counterPrefix}_publish_retries_total`, { topic });
        const delayMs = backoffDelayMs(this.attempt++, this.options.backoff ?? defaultBackoff, outcome.delayMs);
        await sleep(Math.min(delayMs, Math.max(0, deadlineMs - Date.now())), signal);
        continue;
      }
      this.attempt = 0;
      this.queue.remove(batch.length);
      const tooLarge = framed.tooLarge.length;
      const sent = batch.length - tooLarge;
      if (tooLarge > 0) counters.add(`${counterPrefix}_dropped_total`, { topic, reason: 'too_large' }, tooLarge);
      if (outcome.kind === 'rejected') {
        counters.add(`${counterPrefix}_dropped_total`, { topic, reason: 'rejected' }, sent);
        rejectedCount += batch.length;
      } else {
        counters.add(`${counterPrefix}_published_total`, { topic }, sent);
        deliveredCount += sent;
        rejectedCount += tooLarge;
        if (this.options.onDelivered) for (const records of framed.carried) this.options.onDelivered(records);
      }
    }
    return { delivered: deliveredCount, rejected: rejectedCount, remaining: this.queue.length };
  }
}
