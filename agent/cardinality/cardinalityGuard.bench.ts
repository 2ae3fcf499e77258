/**
 * How long `CardinalityGuard.admit` takes per envelope on a large node's cycle: 100k
 * envelopes of 40 tenants, 4 000 containers × 25 metric names, a fifth of them `container.io`-style series
 * with a device, dimensions in the agent's shape (7 of them, image names ~40 characters).
 * Run: `npx tsx agent/cardinality/cardinalityGuard.bench.ts`. Times are CPU time (user +
 * system) of this process, best of several rounds, so other work on the machine skews them less.
 *
 * For comparison it also times the obvious alternative: a `Map` keyed by `core/seriesKey.ts`'s
 * string (sorted dimensions as JSON) per envelope.
 */
import { Counters } from '../../core/counters.js';
import type { MetricEnvelope } from '../../core/envelope.js';
import { seriesKey } from '../../core/seriesKey.js';
import { CardinalityGuard } from './cardinalityGuard.js';

const ENVELOPES = 100_000;
const TENANTS = 40;
const NAMES = 25;
const ROUNDS = 7;

function makeCycle(cycle: number): MetricEnvelope[] {
  const envelopes: MetricEnvelope[] = [];
  const containers = ENVELOPES / NAMES;
  for (let c = 0; c < containers; c++) {
    const tenant = `tenant-${String(c % TENANTS).padStart(3, '0')}`;
    const dimensions = {
      namespace: `${tenant}-prod`,
      pod_name: `checkout-7d9f8b6c5-${(c * 7919).toString(36).padStart(5, 'x')}`,
      container_name: `app-${c % 3}`,
      image: `registry.example.com/shop/checkout:1.${c % 40}.0`,
      hostname: 'ip-10-0-12-34.eu-west-1.compute.internal',
      tenant_label: tenant,
    };
    for (let n = 0; n < NAMES; n++) {
      envelopes.push({
        // A fresh object per sample, as the source makes them: nothing may be cached on object identity.
        metric: { name: `container.metric_${n}`, dimensions: n % 5 === 0 ? { ...dimensions, device: '/dev/nvme0n1' } : { ...dimensions }, timestamp: 1_700_000_000_000 + cycle * 10_000, value: n, value_meta: null },
        meta: { tenantId: tenant, region: 'eu-west-1' },
        creation_time: 1_700_000_000 + cycle * 10,
      });
    }
  }
  return envelopes;
}

function cpuSeconds<T>(work: () => T): { seconds: number; result: T } {
  const started = process.cpuUsage();
  const result = work();
  const used = process.cpuUsage(started);
  return { seconds: (used.user + used.system) / 1e6, result };
}

function report(name: string, seconds: number, envelopes: number, extra = ''): void {
  console.log(`${name.padEnd(52)} ${((seconds * 1e9) / envelopes).toFixed(0).padStart(5)} ns/envelope${extra}`);
}

const cycles = Array.from({ length: ROUNDS + 1 }, (_, i) => makeCycle(i));

function guard(maxSeriesPerTenant: number, maxSeriesTotal: number, nowMs: { value: number }): CardinalityGuard {
  return new CardinalityGuard({ maxSeriesPerTenant, maxSeriesTotal, windowMs: 120_000, logEveryMs: 300_000, counters: new Counters(), log: () => {}, now: () => nowMs.value });
}

function bench(name: string, maxSeriesPerTenant: number, maxSeriesTotal: number): void {
  let bestFirst = Infinity;
  let bestSteady = Infinity;
  let admitted = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const clock = { value: 0 };
    const g = guard(maxSeriesPerTenant, maxSeriesTotal, clock);
    bestFirst = Math.min(bestFirst, cpuSeconds(() => g.admit(cycles[0] ?? [])).seconds);
    for (let i = 1; i < cycles.length; i++) {
      clock.value += 10_000;
      const { seconds, result } = cpuSeconds(() => g.admit(cycles[i] ?? []));
      bestSteady = Math.min(bestSteady, seconds);
      admitted = result.length;
    }
  }
  report(`${name}: first cycle (all series new)`, bestFirst, ENVELOPES);
  report(`${name}: later cycles (series known)`, bestSteady, ENVELOPES, ` (${admitted.toLocaleString('en')} of ${ENVELOPES.toLocaleString('en')} admitted)`);
}

function baselineStringKeys(): void {
  let best = Infinity;
  for (let round = 0; round < ROUNDS; round++) {
    const known = new Map<string, Set<string>>();
    for (const cycle of cycles) {
      const { seconds } = cpuSeconds(() => {
        const out: MetricEnvelope[] = [];
        for (const envelope of cycle) {
          let series = known.get(envelope.meta.tenantId);
          if (series === undefined) known.set(envelope.meta.tenantId, (series = new Set()));
          const key = seriesKey(envelope.metric.name, envelope.metric.dimensions);
          if (!series.has(key)) series.add(key);
          out.push(envelope);
        }
        return out;
      });
      best = Math.min(best, seconds);
    }
  }
  report('baseline: Set of seriesKey strings, series known', best, ENVELOPES);
}

console.log(`${ENVELOPES.toLocaleString('en')} envelopes, ${TENANTS} tenants, ${ROUNDS} rounds, Node ${process.version}`);
bench('caps not reached', 10_000, 200_000);
bench('tenant caps reached (1 000 of 2 500)', 1_000, 200_000);
bench('global cap reached (50 000)', 10_000, 50_000);
baselineStringKeys();
