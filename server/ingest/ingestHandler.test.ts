import { describe, expect, it } from 'vitest';
import { metricCodec } from '../../core/codec.js';
import { Counters } from '../../core/counters.js';
import { TOPICS, type MetricEnvelope } from '../../core/envelope.js';
import { delivered, rejected, retryable } from '../../core/outcome.js';
import type { ConsumedBatch } from '../../core/pipeline.js';
import { RecordingProducer, RecordingSink } from '../../core/pipeline.testkit.js';
import { BATCH_V1, WIRE_HEADER } from '../../bus/wire.js';
import { ingestHandler, type DeadLetter } from './ingestHandler.js';

const env = (value: number): MetricEnvelope => ({
  metric: { name: 'm', dimensions: {}, timestamp: 1000 + value, value, value_meta: null },
  meta: { tenantId: 't', region: 'r' },
  creation_time: 1,
});

function batch(values: (number | string)[]): ConsumedBatch {
  return {
    topic: TOPICS.metrics,
    partition: 3,
    messages: values.map((v, i) => ({ offset: String(100 + i), key: 't', value: Buffer.from(typeof v === 'number' ? metricCodec.encode(env(v)) : v) })),
  };
}

/** What the handler put on the dead-letter topic, as records. */
function deadLetters(producer: RecordingProducer): DeadLetter[] {
  return producer.messages(TOPICS.deadLetter).map((m) => JSON.parse(String(m.value)) as DeadLetter);
}

const fastBackoff = { initialDelayMs: 10, maxDelayMs: 1000 };

describe('ingestHandler', () => {
  it('writes a good batch and commits', async () => {
    const sink = new RecordingSink<MetricEnvelope>();
    const counters = new Counters();
    const handle = ingestHandler({ codec: metricCodec, sink, deadLetter: new RecordingProducer(), counters });
    expect(await handle(batch([1, 2, 3]))).toEqual({ kind: 'commit' });
    expect(sink.items.map((e) => e.metric.value)).toEqual([1, 2, 3]);
    expect(counters.total('kansoku_server_written_total')).toBe(3);
  });

  it('dead-letters what does not decode, with its place and reason, and writes the rest', async () => {
    const sink = new RecordingSink<MetricEnvelope>();
    const dlq = new RecordingProducer();
    const counters = new Counters();
    const handle = ingestHandler({ codec: metricCodec, sink, deadLetter: dlq, counters });
    expect(await handle(batch([1, '{broken', 3]))).toEqual({ kind: 'commit' });
    expect(sink.items.map((e) => e.metric.value)).toEqual([1, 3]);
    expect(dlq.batches(TOPICS.deadLetter)).toHaveLength(1);
    expect(deadLetters(dlq)).toEqual([{ topic: 'metrics', partition: 3, offset: '101', reason: expect.stringMatching(/not JSON/) as string, payload: '{broken' }]);
    expect(counters.total('kansoku_server_decode_errors_total')).toBe(1);
  });

  it('does not commit while the sink asks to retry, and backs off at least as long as asked', async () => {
    const sink = new RecordingSink<MetricEnvelope>([retryable('busy', 500), retryable('busy', 0)]);
    const handle = ingestHandler({ codec: metricCodec, sink, deadLetter: new RecordingProducer(), counters: new Counters(), backoff: fastBackoff });
    const first = await handle(batch([1]));
    expect(first.kind).toBe('retry');
    if (first.kind === 'retry') expect(first.delayMs).toBeGreaterThanOrEqual(500);
    const second = await handle(batch([1]));
    expect(second.kind).toBe('retry');
    if (second.kind === 'retry') expect(second.delayMs).toBeLessThanOrEqual(20);
    expect(await handle(batch([1]))).toEqual({ kind: 'commit' });
    expect(sink.items).toHaveLength(1);
  });

  it('dead-letters the items a sink rejected and commits, so one bad item cannot wedge a partition', async () => {
    const sink = new RecordingSink<MetricEnvelope>((items) => rejected('field type conflict', items.filter((e) => e.metric.value === 2), items.length - 1));
    const dlq = new RecordingProducer();
    const counters = new Counters();
    const handle = ingestHandler({ codec: metricCodec, sink, deadLetter: dlq, counters });
    expect(await handle(batch([1, 2, 3]))).toEqual({ kind: 'commit' });
    expect(deadLetters(dlq).map((d) => [d.offset, d.reason])).toEqual([['101', 'field type conflict']]);
    expect(counters.total('kansoku_server_rejected_total')).toBe(1);
  });

  it('retries the batch when the dead-letter topic cannot take the bad messages', async () => {
    const dlq = new RecordingProducer([retryable('down', 250), delivered]);
    const handle = ingestHandler({ codec: metricCodec, sink: new RecordingSink<MetricEnvelope>(), deadLetter: dlq, counters: new Counters(), backoff: fastBackoff });
    expect((await handle(batch(['x']))).kind).toBe('retry');
    expect(await handle(batch(['x']))).toEqual({ kind: 'commit' });
    expect(deadLetters(dlq)).toHaveLength(1);
  });

  it('reads batched and Monasca messages of one partition alike, per message', async () => {
    const sink = new RecordingSink<MetricEnvelope>();
    const counters = new Counters();
    const handle = ingestHandler({ codec: metricCodec, sink, deadLetter: new RecordingProducer(), counters });
    const mixed: ConsumedBatch = {
      topic: TOPICS.metrics,
      partition: 0,
      messages: [
        { offset: '7', key: 't', value: Buffer.from(metricCodec.encode(env(1))) },
        { offset: '8', key: 't/n1', value: Buffer.from(JSON.stringify([env(2), env(3)])), headers: { [WIRE_HEADER]: BATCH_V1 } },
        { offset: '9', key: 't', value: Buffer.from(metricCodec.encode(env(4))) },
      ],
    };
    expect(await handle(mixed)).toEqual({ kind: 'commit' });
    expect(sink.items.map((e) => e.metric.value)).toEqual([1, 2, 3, 4]);
    expect(counters.total('kansoku_server_written_total')).toBe(4);
    expect(counters.total('kansoku_server_messages_total')).toBe(3);
  });

  it('writes the good envelopes of a batch and dead-letters the bad one alone, with its index', async () => {
    const sink = new RecordingSink<MetricEnvelope>();
    const dlq = new RecordingProducer();
    const handle = ingestHandler({ codec: metricCodec, sink, deadLetter: dlq, counters: new Counters() });
    const bad = { ...env(2), meta: { tenantId: '', region: 'r' } };
    const value = Buffer.from(JSON.stringify([env(1), bad, env(3)]));
    expect(await handle({ topic: TOPICS.metrics, partition: 1, messages: [{ offset: '40', key: 't/n1', value, headers: { [WIRE_HEADER]: BATCH_V1 } }] })).toEqual({ kind: 'commit' });
    expect(sink.items.map((e) => e.metric.value)).toEqual([1, 3]);
    expect(deadLetters(dlq)).toEqual([{ topic: 'metrics', partition: 1, offset: '40', index: 1, reason: expect.stringMatching(/tenantId/) as string, payload: JSON.stringify(bad) }]);
  });

  it('dead-letters a batch that does not parse whole, as it came', async () => {
    const sink = new RecordingSink<MetricEnvelope>();
    const dlq = new RecordingProducer();
    const handle = ingestHandler({ codec: metricCodec, sink, deadLetter: dlq, counters: new Counters() });
    const value = `[${metricCodec.encode(env(1))},{"metric":`;
    expect(await handle({ topic: TOPICS.metrics, partition: 1, messages: [{ offset: '41', key: 't/n1', value: Buffer.from(value), headers: { [WIRE_HEADER]: BATCH_V1 } }, { offset: '42', key: 't', value: Buffer.from(metricCodec.encode(env(5))) }] })).toEqual({ kind: 'commit' });
    expect(sink.items.map((e) => e.metric.value)).toEqual([5]);
    expect(deadLetters(dlq)).toEqual([{ topic: 'metrics', partition: 1, offset: '41', reason: expect.stringMatching(/not JSON/) as string, payload: value }]);
  });

  it('counts a batch that came again after a retry once, when it is done with', async () => {
    const counters = new Counters();
    const handle = ingestHandler({ codec: metricCodec, sink: new RecordingSink<MetricEnvelope>([retryable('busy', 0)]), deadLetter: new RecordingProducer(), counters, backoff: fastBackoff });
    expect((await handle(batch([1, 2, 'x']))).kind).toBe('retry');
    expect(counters.total('kansoku_server_records_total')).toBe(0);
    expect(await handle(batch([1, 2, 'x']))).toEqual({ kind: 'commit' });
    expect(counters.total('kansoku_server_messages_total')).toBe(3);
    expect(counters.total('kansoku_server_records_total')).toBe(2);
    expect(counters.total('kansoku_server_decode_errors_total')).toBe(1);
  });
});
