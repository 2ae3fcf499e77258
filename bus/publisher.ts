import { backoffDelayMs, defaultBackoff, sleep, type BackoffPolicy } from '../core/backoff.js';
import { BoundedQueue } from '../core/boundedQueue.js';
import type { Codec } from '../core/codec.js';
import type { Counters } from '../core/counters.js';
import type { BusProducer } from '../core/pipeline.js';
import type { DiskSpill, LoadedSegment } from './spill/diskSpill.js';
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
  /**
   * Where records go when the queue is full, instead of dropping the oldest: the queue
   * is refilled from it, oldest first, as the bus takes what it holds.
   */
  readonly spill?: DiskSpill<T>;
}

/** A run of queued records, in queue order; those loaded from one spill segment release it once all are gone. */
interface Span {
  count: number;
  readonly segment?: LoadedSegment<unknown>;
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
      onDrop: (count) => {
        options.counters.add(`${options.counterPrefix}_dropped_total`, labels, count);
        this.leftQueue(count);
      },
    });
  }

  /** Records held: in memory and in the spill. */
  get queued(): number {
    return this.queue.length + (this.options.spill?.depth ?? 0);
  }

  /** How many more records the in-memory queue takes before it spills or drops. */
  get room(): number {
    return this.queue.capacity - this.queue.length;
  }

  enqueue(records: readonly T[]): void {
    const spill = this.options.spill;
    if (spill === undefined) {
      this.queue.pushAll(records);
      return;
    }
    // Order is kept: nothing goes to memory while older records wait on disk.
    const fit = spill.depth > 0 ? 0 : Math.min(records.length, this.room);
    if (fit > 0) {
      this.queue.pushAll(fit === records.length ? records : records.slice(0, fit));
      this.track(fit);
    }
    if (fit < records.length) spill.append(fit === 0 ? records : records.slice(fit));
  }

  /** Loads spilled segments, oldest first, while the queue has room for a whole one. */
  private refill(): void {
    const spill = this.options.spill;
    if (spill === undefined) return;
    for (let next = spill.oldestRecords(); next !== undefined && (next <= this.room || this.queue.length === 0); next = spill.oldestRecords()) {
      const segment = spill.loadOldest();
      if (segment === undefined) return;
      this.queue.pushAll(segment.records);
      this.track(segment.records.length, segment);
    }
  }

  private readonly spans: Span[] = [];

  private track(count: number, segment?: LoadedSegment<unknown>): void {
    if (this.options.spill === undefined) return;
    const last = this.spans[this.spans.length - 1];
    if (segment === undefined && last !== undefined && last.segment === undefined) last.count += count;
    else this.spans.push(segment === undefined ? { count } : { count, segment });
    // A segment that read back empty (all of it torn) has nothing to wait for.
    if (count === 0 && segment) this.leftQueue(0);
  }

  /** `count` records left the front of the queue: spill segments all of whose records are gone are deleted. */
  private leftQueue(count: number): void {
    let left = count;
    while (this.spans.length > 0) {
      const span = this.spans[0] as Span;
      const taken = Math.min(left, span.count);
      span.count -= taken;
      left -= taken;
      if (span.count > 0) return;
      this.spans.shift();
      span.segment?.release();
      if (left === 0 && (this.spans[0]?.count ?? 1) > 0) return;
    }
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
    this.refill();
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
      this.leftQueue(batch.length);
      this.refill();
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
    return { delivered: deliveredCount, rejected: rejectedCount, remaining: this.queued };
  }
}
