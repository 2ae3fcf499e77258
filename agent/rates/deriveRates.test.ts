import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Counters } from '../../core/counters.js';
import type { Metric } from '../../core/envelope.js';
import { seriesKey } from '../../core/seriesKey.js';
import { parseExposition } from '../exposition/parseExposition.js';
import { CADVISOR_METRICS, mapCadvisorSamples } from '../kubelet/cadvisorMetrics.js';
import { DERIVED_GAUGES, DERIVED_NAMES, RATE_METRICS, RateDeriver } from './deriveRates.js';
import type { ContainerLimits, RateDeriverOptions } from './deriveRates.js';

const T0 = 1_700_000_000_000;
const CONTAINER = { namespace: 'shop', pod_name: 'web-1', container_name: 'web', image: 'web:1', hostname: 'node-1' };
const POD = { namespace: 'shop', pod_name: 'web-1', hostname: 'node-1', interface: 'eth0' };

const m = (name: string, timestamp: number, value: number, dimensions: Record<string, string> = CONTAINER): Metric => ({ name, dimensions, timestamp, value, value_meta: null });

const deriver = (options: Partial<RateDeriverOptions> = {}): RateDeriver => new RateDeriver({ staleAfterMs: 120_000, maxSeries: 10_000, counters: new Counters(), ...options });

/** name → value, for comparing one batch's derived measurements. */
const byName = (metrics: readonly Metric[]): Record<string, number> => Object.fromEntries(metrics.map((x) => [x.name, x.value]));

describe('RATE_METRICS', () => {
  it('rates only cumulative series the kubelet source emits, each named from + _sec', () => {
    const emitted = new Set(CADVISOR_METRICS.map((row) => row.name));
    for (const row of RATE_METRICS) {
      expect(emitted.has(row.from), row.from).toBe(true);
      expect(row.name).toBe(`${row.from}_sec`);
    }
    expect(new Set(RATE_METRICS.map((row) => row.from)).size).toBe(RATE_METRICS.length);
    expect(DERIVED_GAUGES.map((row) => row.name).sort()).toEqual(Object.values(DERIVED_NAMES).sort());
  });
});

describe('RateDeriver.derive', () => {
  const limits: ContainerLimits = { cpuLimitCores: 0.5, cpuRequestCores: 0.25, memoryLimitBytes: 1000, memoryRequestBytes: 500 };
  const cases: { name: string; limits?: ContainerLimits; batches: Metric[][]; expected: Record<string, number>[] }[] = [
    {
      name: 'rates appear from the second batch, keeping the source timestamp',
      batches: [
        [m('container.cpu.total_time', T0, 100), m('pod.net.in_bytes', T0, 5000, POD), m('container.io.read_bytes', T0, 0, { ...CONTAINER, device: '/dev/sda' })],
        [m('container.cpu.total_time', T0 + 10_000, 102), m('pod.net.in_bytes', T0 + 10_000, 15_000, POD), m('container.io.read_bytes', T0 + 10_000, 4096, { ...CONTAINER, device: '/dev/sda' })],
      ],
      expected: [{}, { 'container.cpu.total_time_sec': 0.2, 'pod.net.in_bytes_sec': 1000, 'container.io.read_bytes_sec': 409.6 }],
    },
    {
      name: 'cpu utilisation against the limit, memory percent of the limit, limits and requests as gauges',
      limits,
      batches: [
        [m('container.cpu.total_time', T0, 100), m('container.mem.working_set_bytes', T0, 250)],
        [m('container.cpu.total_time', T0 + 10_000, 103), m('container.mem.working_set_bytes', T0 + 10_000, 900)],
      ],
      expected: [
        { 'container.mem.usage_percent': 25, 'container.cpu.limit': 0.5, 'container.request.cpu': 0.25, 'container.memory.limit_bytes': 1000, 'container.request.memory_bytes': 500 },
        {
          'container.cpu.total_time_sec': 0.3,
          'container.cpu.utilization_perc': 60,
          'container.mem.usage_percent': 90,
          'container.cpu.limit': 0.5,
          'container.request.cpu': 0.25,
          'container.memory.limit_bytes': 1000,
          'container.request.memory_bytes': 500,
        },
      ],
    },
    {
      name: 'no percentages without a limit; requests alone are still reported',
      limits: { cpuRequestCores: 0.1 },
      batches: [
        [m('container.cpu.total_time', T0, 0), m('container.mem.working_set_bytes', T0, 250)],
        [m('container.cpu.total_time', T0 + 10_000, 1)],
      ],
      expected: [{ 'container.request.cpu': 0.1 }, { 'container.cpu.total_time_sec': 0.1, 'container.request.cpu': 0.1 }],
    },
    {
      name: 'a zero limit gives no percentage (no division by zero)',
      limits: { cpuLimitCores: 0, memoryLimitBytes: 0 },
      batches: [[m('container.cpu.total_time', T0, 0), m('container.mem.working_set_bytes', T0, 1)], [m('container.cpu.total_time', T0 + 1000, 1)]],
      expected: [{ 'container.cpu.limit': 0, 'container.memory.limit_bytes': 0 }, { 'container.cpu.total_time_sec': 1, 'container.cpu.limit': 0, 'container.memory.limit_bytes': 0 }],
    },
    {
      name: 'container restart: no negative spike, the new count over the interval',
      limits: { cpuLimitCores: 1 },
      batches: [
        [m('container.cpu.total_time', T0, 5000)],
        [m('container.cpu.total_time', T0 + 10_000, 2)],
        [m('container.cpu.total_time', T0 + 20_000, 7)],
      ],
      expected: [
        { 'container.cpu.limit': 1 },
        { 'container.cpu.total_time_sec': 0.2, 'container.cpu.utilization_perc': 20, 'container.cpu.limit': 1 },
        { 'container.cpu.total_time_sec': 0.5, 'container.cpu.utilization_perc': 50, 'container.cpu.limit': 1 },
      ],
    },
    {
      name: 'gauges and unknown names get nothing',
      batches: [[m('container.mem.used_bytes', T0, 1), m('container.fs.usage_bytes', T0, 1)], [m('container.mem.used_bytes', T0 + 1000, 5), m('container.fs.usage_bytes', T0 + 1000, 9)]],
      expected: [{}, {}],
    },
  ];
  for (const { name, limits: known, batches, expected } of cases) {
    it(name, () => {
      const rates = deriver(known ? { limitsOf: () => known } : {});
      const got = batches.map((batch) => rates.derive(batch));
      expect(got.map(byName).map((values) => Object.fromEntries(Object.entries(values).map(([k, v]) => [k, Math.round(v * 1e9) / 1e9])))).toEqual(expected);
      for (const batch of got) for (const x of batch) expect(x.value_meta).toBeNull();
    });
  }

  it('derived measurements keep the source dimensions; limit gauges the container identity only', () => {
    const calls: string[] = [];
    const rates = deriver({
      limitsOf: (ns, pod, container) => {
        calls.push(`${ns}/${pod}/${container}`);
        return { memoryLimitBytes: 100 };
      },
    });
    const io = { ...CONTAINER, device: '/dev/sda' };
    rates.derive([m('container.io.read_bytes', T0, 0, io), m('container.io.write_bytes', T0, 0, io)]);
    const second = rates.derive([m('container.io.read_bytes', T0 + 2000, 10, io), m('container.mem.working_set_bytes', T0 + 2000, 50), m('pod.net.in_bytes', T0 + 2000, 1, POD)]);
    // One lookup per container per call, none for pod-scope series.
    expect(calls).toEqual(['shop/web-1/web', 'shop/web-1/web']);
    expect(second).toEqual([
      { name: 'container.memory.limit_bytes', dimensions: CONTAINER, timestamp: T0 + 2000, value: 100, value_meta: null },
      { name: 'container.io.read_bytes_sec', dimensions: io, timestamp: T0 + 2000, value: 5, value_meta: null },
      { name: 'container.mem.usage_percent', dimensions: CONTAINER, timestamp: T0 + 2000, value: 50, value_meta: null },
    ]);
  });

  it('forgets stale series by sample time and reports its state as self-metrics', () => {
    const counters = new Counters();
    const rates = deriver({ counters, staleAfterMs: 60_000, maxSeries: 2 });
    rates.derive([m('container.cpu.total_time', T0, 1, { ...CONTAINER, pod_name: 'old' })]);
    rates.derive([m('container.cpu.total_time', T0 + 30_000, 1), m('container.cpu.user_time', T0 + 30_000, 1)]);
    expect(counters.get('kansoku_agent_rate_series_forgotten_total', { reason: 'cap' })).toBe(1);
    rates.derive([m('container.cpu.total_time', T0 + 100_000, 2)]);
    expect(rates.size).toBe(1);
    expect(counters.get('kansoku_agent_rate_series_forgotten_total', { reason: 'stale' })).toBe(1);
    expect(counters.get('kansoku_agent_rate_series')).toBe(1);
    rates.derive([m('container.cpu.total_time', T0 + 110_000, 1)]);
    expect(counters.get('kansoku_agent_counter_resets_total')).toBe(1);
  });
});

describe('RateDeriver on two cycles of a real kubelet page (k8s 1.25, containerd)', () => {
  const page = readFileSync(new URL('../../test/fixtures/prometheus/nri-k8s__k8s-1.25.13-containerd1.6__kubelet_metrics_cadvisor.prom', import.meta.url), 'utf8');
  const first = mapCadvisorSamples(parseExposition(page).samples, { hostname: 'node-1', scrapeTimeMs: T0 }).measurements;
  const STEP_MS = 15_000;
  /** Rate per second each cumulative name is bumped by in the second cycle. */
  const bumpPerSecond = (name: string): number => (name.startsWith('container.cpu.') ? 0.25 : 1000);
  const rateNames = new Set(RATE_METRICS.map((row) => row.from));
  const second = first.map((x) => (rateNames.has(x.name) ? { ...x, timestamp: x.timestamp + STEP_MS, value: x.value + bumpPerSecond(x.name) * (STEP_MS / 1000) } : { ...x, timestamp: x.timestamp + STEP_MS }));

  it('gives every counter series its rate, and only those', () => {
    const rates = deriver({
      limitsOf: (_ns, _pod, container) => (container === 'coredns' ? { cpuLimitCores: 0.5, memoryLimitBytes: 170 * 2 ** 20 } : undefined),
    });
    expect(rates.derive(first).filter((x) => x.name.endsWith('_sec'))).toEqual([]);
    const derived = rates.derive(second);
    const counterSeries = first.filter((x) => rateNames.has(x.name));
    const rated = derived.filter((x) => x.name.endsWith('_sec'));
    expect(counterSeries.length).toBeGreaterThan(50);
    expect(rated).toHaveLength(counterSeries.length);
    for (const x of rated) expect(x.value, x.name).toBeCloseTo(bumpPerSecond(x.name.slice(0, -'_sec'.length)), 6);
    const sources = new Set(counterSeries.map((x) => seriesKey(`${x.name}_sec`, x.dimensions)));
    for (const x of rated) expect(sources.has(seriesKey(x.name, x.dimensions))).toBe(true);
    expect(new Set(rated.map((x) => x.name))).toEqual(
      new Set(
        RATE_METRICS.filter((row) => counterSeries.some((x) => x.name === row.from)).map((row) => row.name),
      ),
    );
    // coredns has limits: 0.25 cores of 0.5 is 50 %, and its working set in percent of 170 MiB.
    const utilisation = derived.filter((x) => x.name === DERIVED_NAMES.cpuUtilizationPercent);
    expect(utilisation.length).toBeGreaterThan(0);
    for (const x of utilisation) {
      expect(x.dimensions['container_name']).toBe('coredns');
      expect(x.value).toBeCloseTo(50, 6);
    }
    const memory = derived.filter((x) => x.name === DERIVED_NAMES.memoryUsagePercent);
    expect(memory.length).toBe(utilisation.length);
    for (const x of memory) {
      expect(x.value).toBeGreaterThan(0);
      expect(x.value).toBeLessThan(100);
    }
  });
});
