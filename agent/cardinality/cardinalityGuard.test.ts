import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Counters } from '../../core/counters.js';
import type { MetricEnvelope } from '../../core/envelope.js';
import { CardinalityGuard } from './cardinalityGuard.js';
import type { CardinalityGuardOptions } from './cardinalityGuard.js';

const T0 = 1_700_000_000_000;

/** An envelope of series `series` (a pod name) of `tenant`. */
const env = (tenant: string, series: string, name = 'container.cpu.total_time'): MetricEnvelope => ({
  metric: { name, dimensions: { namespace: tenant, pod_name: series, hostname: 'node-1' }, timestamp: T0, value: 1, value_meta: null },
  meta: { tenantId: tenant, region: 'r1' },
  creation_time: T0 / 1000,
});

/** `a:1` → tenant a, series 1. */
const parse = (spec: string): MetricEnvelope => {
  const [tenant = '', series = ''] = spec.split(':');
  return env(tenant, series);
};
const show = (envelope: MetricEnvelope): string => `${envelope.meta.tenantId}:${envelope.metric.dimensions['pod_name']}`;

interface Harness {
  guard: CardinalityGuard;
  counters: Counters;
  logs: { fields: Record<string, unknown>; message: string }[];
  clock: { nowMs: number };
  admit: (...specs: string[]) => string[];
}

function harness(options: Partial<Omit<CardinalityGuardOptions, 'counters' | 'log' | 'now'>> = {}): Harness {
  const counters = new Counters();
  const logs: Harness['logs'] = [];
  const clock = { nowMs: T0 };
  const guard = new CardinalityGuard({
    maxSeriesPerTenant: 3,
    maxSeriesTotal: 5,
    windowMs: 60_000,
    logEveryMs: 300_000,
    ...options,
    counters,
    log: (fields, message) => logs.push({ fields: fields as Record<string, unknown>, message }),
    now: () => clock.nowMs,
  });
  return { guard, counters, logs, clock, admit: (...specs) => guard.admit(specs.map(parse)).map(show) };
}

describe('CardinalityGuard caps', () => {
  const cases: { name: string; batches: string[][]; expected: string[][]; dropped?: Record<string, number> }[] = [
    { name: 'under both caps everything passes', batches: [['a:1', 'a:2', 'b:1']], expected: [['a:1', 'a:2', 'b:1']] },
    {
      name: "a tenant's new series past its cap are dropped, its others and other tenants' pass",
      batches: [['a:1', 'a:2', 'a:3', 'a:4', 'b:1', 'a:1', 'a:4']],
      expected: [['a:1', 'a:2', 'a:3', 'b:1', 'a:1']],
      dropped: { 'a/tenant_limit': 2 },
    },
    {
      name: 'past the global cap new series of any tenant are dropped; admitted ones keep passing',
      batches: [['a:1', 'a:2', 'b:1', 'b:2', 'c:1', 'c:2', 'd:1'], ['a:1', 'c:1', 'c:2', 'a:3']],
      expected: [['a:1', 'a:2', 'b:1', 'b:2', 'c:1'], ['a:1', 'c:1']],
      dropped: { 'c/global_limit': 2, 'd/global_limit': 1, 'a/global_limit': 1 },
    },
    {
      name: 'a tenant at its own cap is counted as tenant_limit even when the node is full',
      batches: [['a:1', 'a:2', 'a:3', 'b:1', 'b:2', 'a:4', 'b:3']],
      expected: [['a:1', 'a:2', 'a:3', 'b:1', 'b:2']],
      dropped: { 'a/tenant_limit': 1, 'b/global_limit': 1 },
    },
    { name: 'the same series twice in a batch is one series', batches: [['a:1', 'a:1', 'a:1', 'a:2', 'a:3']], expected: [['a:1', 'a:1', 'a:1', 'a:2', 'a:3']] },
  ];
  for (const { name, batches, expected, dropped = {} } of cases) {
    it(name, () => {
      const { admit, counters } = harness();
      expect(batches.map((batch) => admit(...batch))).toEqual(expected);
      const counted: Record<string, number> = {};
      for (const tenant of ['a', 'b', 'c', 'd'])
        for (const reason of ['tenant_limit', 'global_limit']) {
          const n = counters.get('kansoku_agent_series_dropped_total', { tenant, reason });
          if (n > 0) counted[`${tenant}/${reason}`] = n;
        }
      expect(counted).toEqual(dropped);
    });
  }

  it('one series whatever the order of its dimensions; another name is another series', () => {
    const { guard } = harness({ maxSeriesPerTenant: 2 });
    const meta = { tenantId: 'a', region: 'r1' };
    const metric = (name: string, dimensions: Record<string, string>): MetricEnvelope => ({ metric: { name, dimensions, timestamp: T0, value: 0, value_meta: null }, meta, creation_time: 0 });
    const admitted = guard.admit([metric('m', { x: '1', y: '2' }), metric('m', { y: '2', x: '1' }), metric('n', { x: '1', y: '2' }), metric('o', {})]);
    expect(admitted.map((e) => e.metric.name)).toEqual(['m', 'm', 'n']);
    expect(guard.activeSeries('a')).toBe(2);
  });

  it('reports active series per tenant as a gauge', () => {
    const { admit, counters, guard } = harness();
    admit('a:1', 'a:2', 'b:1');
    expect(counters.get('kansoku_agent_series', { tenant: 'a' })).toBe(2);
    expect(counters.get('kansoku_agent_series', { tenant: 'b' })).toBe(1);
    expect(guard.activeSeries()).toBe(3);
  });

  it.each([
    { name: 'negative cap', options: { maxSeriesPerTenant: -1 } },
    { name: 'fractional cap', options: { maxSeriesTotal: 1.5 } },
    { name: 'zero window', options: { windowMs: 0 } },
    { name: 'zero log period', options: { logEveryMs: 0 } },
  ])('rejects $name', ({ options }) => {
    expect(() => harness(options)).toThrow(RangeError);
  });
});

describe('CardinalityGuard logging', () => {
  it('logs a tenant once per logEveryMs however many samples and calls drop, with the count since the last line', () => {
    const { admit, logs, clock } = harness({ maxSeriesPerTenant: 1, logEveryMs: 300_000, windowMs: 1_000_000 });
    admit('a:1', 'a:2', 'a:3');
    for (let i = 0; i < 20; i++) {
      clock.nowMs += 10_000;
      admit('a:1', 'a:2', 'a:3', 'b:1', 'b:2');
    }
    expect(logs.map((l) => l.fields['tenant'])).toEqual(['a', 'b']);
    expect(logs[0]?.fields).toMatchObject({ tenant: 'a', series: 1, dropped: { tenant_limit: 2, global_limit: 0 }, sample: { name: 'container.cpu.total_time' } });
    clock.nowMs = T0 + 300_000;
    admit('a:9');
    expect(logs).toHaveLength(3);
    // Every drop since the first line: 20 calls × 2, then the one just now.
    expect(logs[2]?.fields).toMatchObject({ tenant: 'a', dropped: { tenant_limit: 41, global_limit: 0 } });
  });

  it('does not log when nothing is dropped', () => {
    const { admit, logs } = harness();
    admit('a:1', 'a:2');
    admit('a:1', 'a:2');
    expect(logs).toEqual([]);
  });
});

describe('CardinalityGuard forgetting', () => {
  it('keeps a series seen at least once a window, however long', () => {
    const { admit, clock, guard } = harness({ maxSeriesPerTenant: 1, windowMs: 60_000 });
    admit('a:1');
    for (let i = 0; i < 50; i++) {
      clock.nowMs += 59_999;
      expect(admit('a:1', 'a:2')).toEqual(['a:1']);
    }
    expect(guard.activeSeries('a')).toBe(1);
  });

  it('frees the slot of a series unseen for two windows, and the old series is then new', () => {
    const { admit, clock, counters } = harness({ maxSeriesPerTenant: 1, windowMs: 60_000 });
    expect(admit('a:1')).toEqual(['a:1']);
    clock.nowMs += 60_000;
    // One window on: still remembered, so still at the cap.
    expect(admit('a:2')).toEqual([]);
    clock.nowMs += 60_000;
    expect(admit('a:2')).toEqual(['a:2']);
    expect(admit('a:1')).toEqual([]);
    expect(counters.get('kansoku_agent_series', { tenant: 'a' })).toBe(1);
  });

  it('a long pause forgets both generations at once', () => {
    const { admit, clock, guard } = harness();
    admit('a:1', 'a:2', 'b:1');
    clock.nowMs += 10 * 60_000;
    admit('c:1');
    expect(guard.activeSeries()).toBe(1);
    expect(guard.activeSeries('a')).toBe(0);
  });

  it('a series seen in the previous window moves to the current one and survives', () => {
    const { admit, clock, guard } = harness({ maxSeriesPerTenant: 2, windowMs: 60_000 });
    admit('a:1', 'a:2');
    clock.nowMs += 60_000;
    admit('a:1');
    clock.nowMs += 60_000;
    // Rotation happens as a call comes in: a:2, last seen two windows ago, goes; a:1, seen one ago, stays.
    expect(admit('a:1', 'a:3', 'a:4')).toEqual(['a:1', 'a:3']);
    expect(guard.activeSeries('a')).toBe(2);
  });

  it('a clock that steps back rotates nothing', () => {
    const { admit, clock, guard } = harness();
    admit('a:1');
    clock.nowMs -= 3_600_000;
    admit('a:2');
    expect(guard.activeSeries('a')).toBe(2);
  });
});

describe('CardinalityGuard property', () => {
  const WINDOW_MS = 1000;
  const step = fc.record({
    advanceMs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 3 * WINDOW_MS })),
    batch: fc.array(fc.record({ tenant: fc.constantFrom('a', 'b', 'c', 'd'), series: fc.integer({ min: 0, max: 15 }) }), { maxLength: 30 }),
  });

  it('never admits more distinct series than the caps within any span of windowMs, and an admitted series keeps passing', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 12 }), fc.array(step, { maxLength: 25 }), (perTenant, total, steps) => {
        const { guard, clock } = harness({ maxSeriesPerTenant: perTenant, maxSeriesTotal: total, windowMs: WINDOW_MS });
        /** When each series (tenant:series) was admitted, in order. */
        const admissions: { atMs: number; key: string; tenant: string }[] = [];
        for (const { advanceMs, batch } of steps) {
          clock.nowMs += advanceMs;
          const admitted = guard.admit(batch.map(({ tenant, series }) => env(tenant, String(series))));
          const admittedKeys = new Set(admitted.map(show));
          for (const { tenant, series } of batch) {
            const key = `${tenant}:${series}`;
            if (admittedKeys.has(key)) admissions.push({ atMs: clock.nowMs, key, tenant });
          }
          // Within one call, a series is admitted for all of its envelopes or none, in order.
          expect(admitted.map(show)).toEqual(batch.map(({ tenant, series }) => `${tenant}:${series}`).filter((key) => admittedKeys.has(key)));
          // A series admitted before and seen within the window is admitted again.
          for (const { tenant, series } of batch) {
            const key = `${tenant}:${series}`;
            const last = admissions.findLast((a) => a.key === key);
            if (last !== undefined && clock.nowMs - last.atMs <= WINDOW_MS && advanceMs <= WINDOW_MS) expect(admittedKeys.has(key), key).toBe(true);
          }
          expect(guard.activeSeries()).toBeLessThanOrEqual(total);
          for (const tenant of ['a', 'b', 'c', 'd']) expect(guard.activeSeries(tenant)).toBeLessThanOrEqual(perTenant);
        }
        // A series is remembered for at least windowMs after it was last admitted, so any span of
        // windowMs (exclusive) holds at most the caps' worth of distinct series.
        for (const start of admissions) {
          const inSpan = admissions.filter((a) => a.atMs >= start.atMs && a.atMs - start.atMs < WINDOW_MS);
          expect(new Set(inSpan.map((a) => a.key)).size).toBeLessThanOrEqual(total);
          for (const tenant of ['a', 'b', 'c', 'd']) {
            expect(new Set(inSpan.filter((a) => a.tenant === tenant).map((a) => a.key)).size).toBeLessThanOrEqual(perTenant);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
