import { describe, expect, it, vi } from 'vitest';
import pino from 'pino';
import { metricCodec } from '../core/codec.js';
import { Counters } from '../core/counters.js';
import { TOPICS, type MetricEnvelope } from '../core/envelope.js';
import { MemoryBus } from '../bus/memory/memoryBus.js';
import type { CollectResult, Source } from '../core/pipeline.js';
import { PATIENT } from '../core/pipeline.testkit.js';
import { DEFAULT_WIRE } from '../bus/wire.js';
import { unframe } from '../bus/wire.js';
import type { BusProducer } from '../core/pipeline.js';
import { publishOnce, startAgent, type PublishSettings } from './main.js';

const settings = (producer: BusProducer, maxQueued = 100): PublishSettings => ({ producer, wire: DEFAULT_WIRE, maxQueued, batchSize: 500 });

class CountingSource implements Source<MetricEnvelope> {
  readonly name = 'counting';
  cycles = 0;
  collect(): Promise<CollectResult<MetricEnvelope>> {
    this.cycles++;
    const envelope: MetricEnvelope = { metric: { name: 'cycle', dimensions: {}, timestamp: this.cycles, value: this.cycles, value_meta: null }, meta: { tenantId: 't', region: 'r' }, creation_time: 0 };
    return Promise.resolve({ records: [envelope], errors: this.cycles === 2 ? ['a transient problem'] : [] });
  }
}

class ThrowingSource implements Source<MetricEnvelope> {
  readonly name = 'throwing';
  collect(): Promise<CollectResult<MetricEnvelope>> {
    return Promise.reject(new Error('bug'));
  }
}

async function readAll(bus: MemoryBus): Promise<number[]> {
  const values: number[] = [];
  const consumer = bus.consumer('reader');
  await consumer.run([TOPICS.metrics], (batch) => {
    for (const m of batch.messages) {
      const decoded = unframe(m.value, m.headers, metricCodec);
      if (decoded.ok) for (const record of decoded.records) values.push(record.metric.value);
    }
    return Promise.resolve({ kind: 'commit' });
  });
  await vi.waitFor(() => expect(bus.backlog(TOPICS.metrics)).toBe(0), PATIENT);
  await consumer.stop();
  return values;
}

describe('agent loop', () => {
  it('collects every interval and publishes each cycle; a throwing source costs only its own data', async () => {
    const bus = new MemoryBus({ capacity: 1000, maxBatch: 100 });
    const source = new CountingSource();
    const counters = new Counters();
    const agent = startAgent({ sources: [source, new ThrowingSource()], publish: settings(bus.producer()), counters, logger: pino({ level: 'silent' }), intervalMs: 10, shutdownFlushMs: 1000 });
    await vi.waitFor(() => expect(source.cycles).toBeGreaterThanOrEqual(3), PATIENT);
    await agent.stop();
    const values = await readAll(bus);
    expect(values.length).toBeGreaterThanOrEqual(3);
    expect(values.slice(0, 3)).toEqual([1, 2, 3]);
    expect(counters.get('kansoku_agent_collect_errors_total', { source: 'throwing' })).toBeGreaterThanOrEqual(3);
    expect(counters.get('kansoku_agent_collect_errors_total', { source: 'counting' })).toBe(1);
  });

  it('publishOnce publishes one cycle and reports nothing unsent', async () => {
    const bus = new MemoryBus({ capacity: 1000, maxBatch: 100 });
    expect(await publishOnce([new CountingSource()], settings(bus.producer()), new Counters(), 1000)).toBe(0);
    expect(await readAll(bus)).toEqual([1]);
  });

  it('publishOnce reports what a full bus did not take by the deadline', async () => {
    const bus = new MemoryBus({ capacity: 1, maxBatch: 100 });
    const blocker = bus.consumer('stuck');
    await blocker.run([TOPICS.metrics], () => Promise.resolve({ kind: 'retry', delayMs: 60_000 }));
    await bus.producer().publish(TOPICS.metrics, [{ key: 'x', value: 'fills the topic' }]);
    expect(await publishOnce([new CountingSource()], settings(bus.producer()), new Counters(), 50)).toBe(1);
    await blocker.stop();
  });
});
