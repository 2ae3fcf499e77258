import { describe, expect, it } from 'vitest';
import { metricCodec } from '../core/codec.js';
import { Counters } from '../core/counters.js';
import { TOPICS, type MetricEnvelope } from '../core/envelope.js';
import { delivered, rejected, retryable, type DeliveryOutcome } from '../core/outcome.js';
import type { BusMessage, BusProducer } from '../core/pipeline.js';
import { Publisher } from './publisher.js';

const env = (tenantId: string, value: number): MetricEnvelope => ({
  metric: { name: 'm', dimensions: {}, timestamp: value, value, value_meta: null },
  meta: { tenantId, region: 'r' },
  creation_time: 0,
});

/** A producer that answers from a script, then delivers; it keeps what it took. */
class ScriptedProducer implements BusProducer {
  readonly taken: { topic: string; key: string; value: number }[] = [];
  constructor(private readonly script: DeliveryOutcome<BusMessage>[] = []) {}
  publish(topic: string, messages: readonly BusMessage[]): Promise<DeliveryOutcome<BusMessage>> {
    const outcome = this.script.shift() ?? delivered;
    if (outcome.kind === 'delivered') {
      for (const m of messages) {
        const decoded = metricCodec.decode(m.value);
        if (!decoded.ok) throw new Error(decoded.error);
        this.taken.push({ topic, key: m.key, value: decoded.value.metric.value });
      }
    }
    return Promise.resolve(outcome);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const quick = { initialDelayMs: 1, maxDelayMs: 5 };

describe('Publisher', () => {
  it('publishes in batches on topic metrics, keyed by tenant', async () => {
    const producer = new ScriptedProducer();
    const counters = new Counters();
    const publisher = new Publisher({ producer, counters, maxQueued: 100, batchSize: 2 });
    publisher.enqueue([env('a', 1), env('b', 2), env('a', 3)]);
    expect(await publisher.flush(Date.now() + 5000)).toBe(0);
    expect(producer.taken).toEqual([
      { topic: TOPICS.metrics, key: 'a', value: 1 },
      { topic: TOPICS.metrics, key: 'b', value: 2 },
      { topic: TOPICS.metrics, key: 'a', value: 3 },
    ]);
    expect(counters.get('kansoku_agent_published_total')).toBe(3);
  });

  it('keeps what the bus could not take and publishes it once the bus is back, in order', async () => {
    const producer = new ScriptedProducer([retryable('down', 1), retryable('down', 1)]);
    const counters = new Counters();
    const publisher = new Publisher({ producer, counters, maxQueued: 100, batchSize: 10, backoff: quick });
    publisher.enqueue([env('a', 1), env('a', 2)]);
    expect(await publisher.flush(Date.now() + 5000)).toBe(0);
    expect(producer.taken.map((t) => t.value)).toEqual([1, 2]);
    expect(counters.get('kansoku_agent_publish_retries_total')).toBe(2);
  });

  it('gives up at the deadline with everything still queued, losing nothing', async () => {
    const producer = new ScriptedProducer(Array.from({ length: 1000 }, () => retryable('down', 1)));
    const publisher = new Publisher({ producer, counters: new Counters(), maxQueued: 100, batchSize: 10, backoff: quick });
    publisher.enqueue([env('a', 1)]);
    expect(await publisher.flush(Date.now() + 30)).toBe(1);
    expect(publisher.queued).toBe(1);
  });

  it('drops the oldest when the queue is full, and counts them', () => {
    const counters = new Counters();
    const publisher = new Publisher({ producer: new ScriptedProducer(), counters, maxQueued: 3, batchSize: 10 });
    publisher.enqueue([env('a', 1), env('a', 2)]);
    publisher.enqueue([env('a', 3), env('a', 4), env('a', 5)]);
    expect(publisher.queued).toBe(3);
    expect(counters.get('kansoku_agent_dropped_total', { reason: 'queue_full' })).toBe(2);
  });

  it('drops and counts a batch the bus rejected, and goes on with the next', async () => {
    const producer = new ScriptedProducer([rejected('too large', [], 0)]);
    const counters = new Counters();
    const publisher = new Publisher({ producer, counters, maxQueued: 100, batchSize: 1 });
    publisher.enqueue([env('a', 1), env('a', 2)]);
    expect(await publisher.flush(Date.now() + 5000)).toBe(0);
    expect(producer.taken.map((t) => t.value)).toEqual([2]);
    expect(counters.get('kansoku_agent_dropped_total', { reason: 'rejected' })).toBe(1);
  });
});
