import { describe, expect, it, vi } from 'vitest';
import pino from 'pino';
import { metricCodec } from '../core/codec.js';
import { Counters } from '../core/counters.js';
import { TOPICS, type Metric } from '../core/envelope.js';
import { MemoryBus } from '../bus/memory/memoryBus.js';
import type { CollectResult, Source } from '../core/pipeline.js';
import { PATIENT } from '../core/pipeline.testkit.js';
import { DEFAULT_WIRE } from '../bus/wire.js';
import { unframe } from '../bus/wire.js';
import type { BusProducer } from '../core/pipeline.js';
import type { MetricSource } from './collect.js';
import { enrichWithPodMetadata } from './enrich/enrichWithPodMetadata.js';
import { publishOnce, startAgent, type PublishSettings } from './main.js';
import type { MetricSteps } from './metricSteps.js';

const settings = (producer: BusProducer, maxQueued = 100): PublishSettings => ({ producer, wire: DEFAULT_WIRE, maxQueued, batchSize: 500 });

class CountingSource implements Source<Metric> {
  readonly name = 'counting';
  cycles = 0;
  collect(): Promise<CollectResult<Metric>> {
    this.cycles++;
    const metric: Metric = { name: 'cycle', dimensions: {}, timestamp: this.cycles, value: this.cycles, value_meta: null };
    return Promise.resolve({ records: [metric], errors: this.cycles === 2 ? ['a transient problem'] : [] });
  }
}

class ThrowingSource implements Source<Metric> {
  readonly name = 'throwing';
  collect(): Promise<CollectResult<Metric>> {
    return Promise.reject(new Error('bug'));
  }
}

const node = (source: Source<Metric>): MetricSource => ({ source, fallbackTenant: 't' });

/** Tenancy only: no informers, no rates, no guard. */
function steps(counters = new Counters()): MetricSteps {
  return { enrichment: enrichWithPodMetadata({ settings: { podLabels: [], podAnnotations: [], waitForMetadataMs: 0 }, tenants: { tenantOf: (ns) => ns }, region: 'r', counters, now: Date.now }) };
}

async function readAll(bus: MemoryBus): Promise<number[]> {
  const values: number[] = [];
  const tenants = new Set<string>();
  const consumer = bus.consumer('reader');
  await consumer.run([TOPICS.metrics], (batch) => {
    for (const m of batch.messages) {
      const decoded = unframe(m.value, m.headers, metricCodec);
      if (decoded.ok) for (const record of decoded.records) {
        values.push(record.metric.value);
        tenants.add(record.meta.tenantId);
      }
    }
    return Promise.resolve({ kind: 'commit' });
  });
  await vi.waitFor(() => expect(bus.backlog(TOPICS.metrics)).toBe(0), PATIENT);
  await consumer.stop();
  // Measurements of no namespace get their source's tenant.
  if (values.length > 0) expect([...tenants]).toEqual(['t']);
  return values;
}

describe('agent loop', () => {
  it('collects every interval and publishes each cycle; a throwing source costs only its own data', async () => {
    const bus = new MemoryBus({ capacity: 1000, maxBatch: 100 });
    const source = new CountingSource();
    const counters = new Counters();
    const agent = startAgent({ sources: [node(source), node(new ThrowingSource())], steps: steps(), publish: settings(bus.producer()), counters, logger: pino({ level: 'silent' }), intervalMs: 10, shutdownFlushMs: 1000 });
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
    expect(await publishOnce([node(new CountingSource())], steps(), settings(bus.producer()), new Counters(), 1000)).toBe(0);
    expect(await readAll(bus)).toEqual([1]);
  });

  it('publishOnce reports what a full bus did not take by the deadline', async () => {
    const bus = new MemoryBus({ capacity: 1, maxBatch: 100 });
    const blocker = bus.consumer('stuck');
    await blocker.run([TOPICS.metrics], () => Promise.resolve({ kind: 'retry', delayMs: 60_000 }));
    await bus.producer().publish(TOPICS.metrics, [{ key: 'x', value: 'fills the topic' }]);
    expect(await publishOnce([node(new CountingSource())], steps(), settings(bus.producer()), new Counters(), 50)).toBe(1);
    await blocker.stop();
  });
});
