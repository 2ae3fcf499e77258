import { backoffDelayMs, defaultBackoff, sleep, type BackoffPolicy } from '../core/backoff.js';
import { metricCodec } from '../core/codec.js';
import type { Counters } from '../core/counters.js';
import { TOPICS, type MetricEnvelope } from '../core/envelope.js';
import type { BusProducer } from '../core/pipeline.js';

/**
 * Holds what the agent collected until the bus took it. The queue is bounded: when the
 * bus is away longer than the queue lasts, the oldest envelopes go first and are
 * counted (`kansoku_agent_dropped_total{reason="queue_full"}`); newer data is worth more
 * to an operator than old data. Messages are keyed by tenant so that one tenant's
 * measurements stay in order on one partition.
 */
export interface PublisherOptions {
  readonly producer: BusProducer;
  readonly counters: Counters;
  readonly maxQueued: number;
  readonly batchSize: number;
  readonly backoff?: BackoffPolicy;
}

export class Publisher {
  private queue: MetricEnvelope[] = [];
  private attempt = 0;

  constructor(private readonly options: PublisherOptions) {}

  get queued(): number {
    return this.queue.length;
  }

  enqueue(envelopes: readonly MetricEnvelope[]): void {
    this.queue.push(...envelopes);
    const excess = this.queue.length - this.options.maxQueued;
    if (excess > 0) {
      this.queue.splice(0, excess);
      this.options.counters.add('kansoku_agent_dropped_total', { reason: 'queue_full' }, excess);
    }
  }

  /**
   * Publishes until the queue is empty, the deadline passes or the signal aborts;
   * returns what is still queued. A rejected batch (too large, say) is dropped and counted.
   */
  async flush(deadlineMs: number, signal?: AbortSignal): Promise<number> {
    const { producer, counters, batchSize } = this.options;
    while (this.queue.length > 0 && !signal?.aborted && Date.now() < deadlineMs) {
      const batch = this.queue.slice(0, batchSize);
      const outcome = await producer.publish(
        TOPICS.metrics,
        batch.map((envelope) => ({ key: envelope.meta.tenantId, value: metricCodec.encode(envelope) })),
      );
      if (outcome.kind === 'retryable') {
        counters.add('kansoku_agent_publish_retries_total');
        await sleep(Math.min(backoffDelayMs(this.attempt++, this.options.backoff ?? defaultBackoff, outcome.delayMs), Math.max(0, deadlineMs - Date.now())), signal);
        continue;
      }
      this.attempt = 0;
      this.queue.splice(0, batch.length);
      if (outcome.kind === 'rejected') counters.add('kansoku_agent_dropped_total', { reason: 'rejected' }, batch.length);
      else counters.add('kansoku_agent_published_total', {}, batch.length);
    }
    return this.queue.length;
  }
}
