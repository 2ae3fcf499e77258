import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { metricCodec } from '../core/codec.js';
import { Counters } from '../core/counters.js';
import { TOPICS, type MetricEnvelope } from '../core/envelope.js';
import { rejected, retryable } from '../core/outcome.js';
import type { BusProducer } from '../core/pipeline.js';
import { RecordingProducer } from '../core/pipeline.testkit.js';
import { metricKey } from './partitionKey.js';
import { Publisher, type PublisherOptions } from './publisher.js';
import { DiskSpill } from './spill/diskSpill.js';
import { unframe, type WireFormat } from './wire.js';

const env = (tenantId: string, value: number, hostname = 'node-1'): MetricEnvelope => ({
  metric: { name: 'm', dimensions: { hostname }, timestamp: value, value, value_meta: null },
  meta: { tenantId, region: 'r' },
  creation_time: 0,
});

/** What a recording producer was given and answered `delivered` to, unframed: topic, key and value of each record. */
function taken(producer: RecordingProducer): { topic: string; key: string; value: number }[] {
  return producer.attempts.flatMap((attempt) => {
    if (attempt.outcome.kind !== 'delivered') return [];
    return attempt.messages.flatMap((m) => {
      const decoded = unframe(Buffer.from(m.value), m.headers, metricCodec);
      if (!decoded.ok) throw new Error(decoded.reason);
      return decoded.records.map((record) => ({ topic: attempt.topic, key: m.key, value: record.metric.value }));
    });
  });
}

const quick = { initialDelayMs: 1, maxDelayMs: 5 };
const batched: WireFormat = { mode: 'batched', maxMessageBytes: 1_000_000 };

function publisherFor(producer: BusProducer, counters: Counters, options: Partial<PublisherOptions<MetricEnvelope>> = {}): Publisher<MetricEnvelope> {
  return new Publisher<MetricEnvelope>({ producer, codec: metricCodec, keyOf: metricKey, wire: batched, counters, counterPrefix: 'kansoku_agent', maxQueued: 100, batchSize: 10, backoff: quick, ...options });
}

describe('Publisher', () => {
  it('publishes on the codec topic, one message per tenant and host, in order', async () => {
    const producer = new RecordingProducer();
    const counters = new Counters();
    const publisher = publisherFor(producer, counters, { batchSize: 3 });
    publisher.enqueue([env('a', 1), env('b', 2), env('a', 3), env('a', 4, 'node-2')]);
    expect(await publisher.flush(Date.now() + 5000)).toEqual({ delivered: 4, rejected: 0, remaining: 0 });
    expect(producer.messages().map((m) => m.key)).toEqual(['a/node-1', 'b/node-1', 'a/node-2']);
    expect(taken(producer)).toEqual([
      { topic: TOPICS.metrics, key: 'a/node-1', value: 1 },
      { topic: TOPICS.metrics, key: 'a/node-1', value: 3 },
      { topic: TOPICS.metrics, key: 'b/node-1', value: 2 },
      { topic: TOPICS.metrics, key: 'a/node-2', value: 4 },
    ]);
    expect(counters.get('kansoku_agent_published_total', { topic: 'metrics' })).toBe(4);
  });

  it('in monasca mode, one envelope per message', async () => {
    const producer = new RecordingProducer();
    const publisher = publisherFor(producer, new Counters(), { wire: { mode: 'monasca', maxMessageBytes: 1_000_000 } });
    publisher.enqueue([env('a', 1), env('a', 2)]);
    await publisher.flush(Date.now() + 5000);
    expect(producer.messages()).toHaveLength(2);
    expect(producer.messages().every((m) => m.headers === undefined && String(m.value).startsWith('{'))).toBe(true);
  });

  it('tells onDelivered which records the bus took, and only those', async () => {
    const producer = new RecordingProducer([retryable('down', 1)]);
    const seen: number[] = [];
    const publisher = publisherFor(producer, new Counters(), { batchSize: 2, onDelivered: (records) => seen.push(...records.map((r) => r.metric.value)) });
    publisher.enqueue([env('a', 1), env('b', 2), env('a', 3)]);
    await publisher.flush(Date.now() + 5000);
    expect(seen.sort()).toEqual([1, 2, 3]);
  });

  it('keeps what the bus could not take and publishes it once the bus is back, in order', async () => {
    const producer = new RecordingProducer([retryable('down', 1), retryable('down', 1)]);
    const counters = new Counters();
    const seen: number[] = [];
    const publisher = publisherFor(producer, counters, { onDelivered: (records) => seen.push(...records.map((r) => r.metric.value)) });
    publisher.enqueue([env('a', 1), env('a', 2)]);
    expect((await publisher.flush(Date.now() + 5000)).remaining).toBe(0);
    expect(taken(producer).map((t) => t.value)).toEqual([1, 2]);
    expect(seen).toEqual([1, 2]);
    expect(counters.get('kansoku_agent_publish_retries_total', { topic: 'metrics' })).toBe(2);
  });

  it('gives up at the deadline with everything still queued, losing nothing and reporting nothing delivered', async () => {
    const producer = new RecordingProducer(Array.from({ length: 1000 }, () => retryable('down', 1)));
    const seen: MetricEnvelope[] = [];
    const publisher = publisherFor(producer, new Counters(), { onDelivered: (records) => seen.push(...records) });
    publisher.enqueue([env('a', 1)]);
    expect(await publisher.flush(Date.now() + 30)).toEqual({ delivered: 0, rejected: 0, remaining: 1 });
    expect(publisher.queued).toBe(1);
    expect(seen).toEqual([]);
  });

  it('drops the oldest when the queue is full, and counts them', async () => {
    const counters = new Counters();
    const producer = new RecordingProducer();
    const publisher = publisherFor(producer, counters, { maxQueued: 3 });
    publisher.enqueue([env('a', 1), env('a', 2)]);
    publisher.enqueue([env('a', 3), env('a', 4), env('a', 5)]);
    expect(publisher.queued).toBe(3);
    expect(counters.get('kansoku_agent_dropped_total', { topic: 'metrics', reason: 'queue_full' })).toBe(2);
    await publisher.flush(Date.now() + 5000);
    expect(taken(producer).map((t) => t.value)).toEqual([3, 4, 5]);
  });

  it('drops and counts a batch the bus rejected, and goes on with the next', async () => {
    const producer = new RecordingProducer([rejected('too large', [], 0)]);
    const counters = new Counters();
    const publisher = publisherFor(producer, counters, { batchSize: 1 });
    publisher.enqueue([env('a', 1), env('a', 2)]);
    expect(await publisher.flush(Date.now() + 5000)).toEqual({ delivered: 1, rejected: 1, remaining: 0 });
    expect(taken(producer).map((t) => t.value)).toEqual([2]);
    expect(counters.get('kansoku_agent_dropped_total', { topic: 'metrics', reason: 'rejected' })).toBe(1);
  });

  it('takes 200,000 records (a huge kubelet page) in one enqueue without a stack overflow', { timeout: 60_000 }, async () => {
    const producer = new RecordingProducer();
    const counters = new Counters();
    const publisher = publisherFor(producer, counters, { maxQueued: 200_000, batchSize: 200_000 });
    const records = Array.from({ length: 200_000 }, (_, i) => env('a', i, `node-${i % 7}`));
    publisher.enqueue(records);
    expect(publisher.queued).toBe(200_000);
    expect((await publisher.flush(Date.now() + 60_000)).delivered).toBe(200_000);
    expect(producer.messages().reduce((n, m) => n + (JSON.parse(String(m.value)) as unknown[]).length, 0)).toBe(200_000);
  });
});

describe('Publisher with a disk spill', () => {
  const spillFor = (dir: string, dropped: number[]) =>
    new DiskSpill<MetricEnvelope>({
      dir,
      maxBytes: 1_000_000,
      segmentBytes: 100_000,
      segmentRecords: 5,
      serialize: (e) => JSON.stringify(e),
      deserialize: (line) => JSON.parse(line) as MetricEnvelope,
      onDrop: (count) => dropped.push(count),
    });

  it('spills past the queue instead of dropping, and publishes everything in order once the bus is back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'publisher-spill-'));
    let busUp = false;
    const producer = new RecordingProducer(() => (busUp ? { kind: 'delivered' } : retryable('broker away', 1)));
    const counters = new Counters();
    const publisher = publisherFor(producer, counters, { maxQueued: 10, batchSize: 4, spill: spillFor(dir, []) });
    publisher.enqueue(Array.from({ length: 8 }, (_, i) => env('a', i)));
    expect(await publisher.flush(Date.now() + 20)).toMatchObject({ delivered: 0, remaining: 8 });
    publisher.enqueue(Array.from({ length: 30 }, (_, i) => env('a', 8 + i)));
    expect(publisher.room).toBe(0);
    expect(publisher.queued).toBe(38);
    expect(readdirSync(dir).length).toBeGreaterThan(0);
    busUp = true;
    expect(await publisher.flush(Date.now() + 5000)).toEqual({ delivered: 38, rejected: 0, remaining: 0 });
    expect(taken(producer).map((t) => t.value)).toEqual(Array.from({ length: 38 }, (_, i) => i));
    expect(counters.total('kansoku_agent_dropped_total')).toBe(0);
    // Every segment was deleted once its records were on the bus.
    expect(readdirSync(dir)).toEqual([]);
  });

  it('keeps order: while records wait on disk, new ones queue behind them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'publisher-spill-'));
    const producer = new RecordingProducer();
    const publisher = publisherFor(producer, new Counters(), { maxQueued: 5, batchSize: 5, spill: spillFor(dir, []) });
    publisher.enqueue(Array.from({ length: 12 }, (_, i) => env('a', i)));
    publisher.enqueue([env('a', 12)]);
    await publisher.flush(Date.now() + 5000);
    expect(taken(producer).map((t) => t.value)).toEqual(Array.from({ length: 13 }, (_, i) => i));
  });
});
