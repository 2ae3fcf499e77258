import { expect, it } from 'vitest';
import type { MetricEnvelope } from '../core/envelope.js';
import type { Sink } from '../core/pipeline.js';
import type { MetricStore } from '../core/query.js';

/**
 * The contract every metric sink passes, with the store that reads it back: tenants kept
 * apart, redelivery idempotent (at-least-once upstream must not double-count), values,
 * millisecond timestamps and value_meta exact.
 */
export interface SinkUnderTest {
  readonly sink: Sink<MetricEnvelope>;
  readonly store: MetricStore;
}

const T0 = Date.UTC(2026, 0, 2, 3, 4, 5, 678);

function envelope(tenantId: string, name: string, dimensions: Record<string, string>, timestamp: number, value: number, valueMeta: Record<string, string> | null = null): MetricEnvelope {
  return { metric: { name, dimensions, timestamp, value, value_meta: valueMeta }, meta: { tenantId, region: 'contract' }, creation_time: Math.floor(timestamp / 1000) };
}

export function sinkContract(setup: () => Promise<SinkUnderTest>): void {
  it('contract: keeps tenants apart and reads back exactly what was written', async () => {
    const { sink, store } = await setup();
    const batch = [
      envelope('tenant-a', 'contract.cpu', { pod_name: 'p1', namespace: 'a' }, T0, 1.5, { reason: 'x y' }),
      envelope('tenant-a', 'contract.cpu', { pod_name: 'p1', namespace: 'a' }, T0 + 1, 2.25),
      envelope('tenant-b', 'contract.cpu', { pod_name: 'p1', namespace: 'b' }, T0, 99),
    ];
    expect(await sink.deliver(batch)).toEqual({ kind: 'delivered' });
    const a = await store.listMeasurements({ tenantId: 'tenant-a', name: 'contract.cpu', dimensions: {}, startMs: T0 - 1000, limit: 100 });
    expect(a).toEqual([
      {
        name: 'contract.cpu',
        dimensions: { pod_name: 'p1', namespace: 'a' },
        points: [
          { timestampMs: T0, value: 1.5, valueMeta: { reason: 'x y' } },
          { timestampMs: T0 + 1, value: 2.25, valueMeta: null },
        ],
      },
    ]);
    const b = await store.listMetrics({ tenantId: 'tenant-b', dimensions: {}, limit: 100 });
    expect(b).toEqual([{ name: 'contract.cpu', dimensions: { pod_name: 'p1', namespace: 'b' } }]);
    expect(await store.listMetrics({ tenantId: 'tenant-c', dimensions: {}, limit: 100 })).toEqual([]);
  });

  it('contract: redelivering a batch does not duplicate points', async () => {
    const { sink, store } = await setup();
    const batch = [envelope('tenant-r', 'contract.mem', { h: '1' }, T0, 10), envelope('tenant-r', 'contract.mem', { h: '1' }, T0 + 1000, 11)];
    expect(await sink.deliver(batch)).toEqual({ kind: 'delivered' });
    expect(await sink.deliver(batch)).toEqual({ kind: 'delivered' });
    const series = await store.listMeasurements({ tenantId: 'tenant-r', name: 'contract.mem', dimensions: {}, startMs: 0, limit: 100 });
    expect(series.map((s) => s.points.map((p) => p.value))).toEqual([[10, 11]]);
  });

  it('contract: filters by dimensions, time window and paging offset', async () => {
    const { sink, store } = await setup();
    const batch = [0, 1, 2, 3].map((i) => envelope('tenant-f', 'contract.io', { dev: i % 2 === 0 ? 'sda' : 'sdb' }, T0 + i * 1000, i));
    expect(await sink.deliver(batch)).toEqual({ kind: 'delivered' });
    const sda = await store.listMeasurements({ tenantId: 'tenant-f', name: 'contract.io', dimensions: { dev: ['sda'] }, startMs: T0, limit: 100 });
    expect(sda.map((s) => s.points.map((p) => p.value))).toEqual([[0, 2]]);
    const anyDev = await store.listMetrics({ tenantId: 'tenant-f', name: 'contract.io', dimensions: { dev: null }, limit: 100 });
    expect(anyDev).toHaveLength(2);
    const either = await store.listMetrics({ tenantId: 'tenant-f', name: 'contract.io', dimensions: { dev: ['sdb', 'sdz'] }, limit: 100 });
    expect(either).toEqual([{ name: 'contract.io', dimensions: { dev: 'sdb' } }]);
    const window = await store.listMeasurements({ tenantId: 'tenant-f', name: 'contract.io', dimensions: { dev: ['sda'] }, startMs: T0 + 1, endMs: T0 + 5000, limit: 100 });
    expect(window.map((s) => s.points.map((p) => p.value))).toEqual([[2]]);
    const after = await store.listMeasurements({ tenantId: 'tenant-f', name: 'contract.io', dimensions: { dev: ['sdb'] }, startMs: T0, afterMs: T0 + 1000, limit: 100 });
    expect(after.map((s) => s.points.map((p) => p.value))).toEqual([[3]]);
  });

  it('contract: an empty batch is delivered and the sink reports healthy', async () => {
    const { sink } = await setup();
    expect(await sink.deliver([])).toEqual({ kind: 'delivered' });
    expect(await sink.health()).toEqual({ healthy: true });
  });
}
