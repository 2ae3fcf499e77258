import { describe, expect, it } from 'vitest';
import type { Metric } from '../../core/envelope.js';
import { CounterRates } from './counterRates.js';
import type { CounterResetPolicy } from './counterRates.js';

const DIMS = { namespace: 'shop', pod_name: 'web-1', container_name: 'web', hostname: 'node-1' };
const at = (timestampMs: number, value: number, dimensions: Record<string, string> = DIMS): Metric => ({
  name: 'container.cpu.total_time',
  dimensions,
  timestamp: timestampMs,
  value,
  value_meta: null,
});

const T0 = 1_700_000_000_000;

describe('CounterRates.next', () => {
  const cases: { name: string; samples: [number, number][]; onReset?: CounterResetPolicy; expected: (number | undefined)[] }[] = [
    { name: 'first sample gives no rate, however large the total', samples: [[T0, 1e12]], expected: [undefined] },
    { name: 'steady increase', samples: [[T0, 100], [T0 + 10_000, 150], [T0 + 20_000, 250]], expected: [undefined, 5, 10] },
    { name: 'rate uses the sample timestamps, not a fixed interval', samples: [[T0, 0], [T0 + 4_000, 8], [T0 + 20_000, 40]], expected: [undefined, 2, 2] },
    { name: 'flat counter rates 0', samples: [[T0, 7], [T0 + 10_000, 7]], expected: [undefined, 0] },
    {
      name: 'restart: increase is the new value (Prometheus), never negative',
      samples: [[T0, 1000], [T0 + 10_000, 1100], [T0 + 20_000, 30], [T0 + 30_000, 80]],
      expected: [undefined, 10, 3, 5],
    },
    { name: 'restart to exactly 0 rates 0', samples: [[T0, 1000], [T0 + 10_000, 0], [T0 + 20_000, 50]], expected: [undefined, 0, 5] },
    {
      name: 'restart under the skip policy gives no rate for that interval only',
      onReset: 'skip',
      samples: [[T0, 1000], [T0 + 10_000, 30], [T0 + 20_000, 80]],
      expected: [undefined, undefined, 5],
    },
    { name: 'duplicate timestamp gives no rate and keeps the first', samples: [[T0, 10], [T0, 20], [T0 + 10_000, 30]], expected: [undefined, undefined, 2] },
    { name: 'out-of-order sample ignored', samples: [[T0 + 10_000, 10], [T0, 5], [T0 + 20_000, 30]], expected: [undefined, undefined, 2] },
    { name: 'gap longer than staleAfterMs starts over', samples: [[T0, 0], [T0 + 120_000, 1e6], [T0 + 130_000, 1e6 + 10]], expected: [undefined, undefined, 1] },
    { name: 'NaN gives no rate and does not poison the series', samples: [[T0, 0], [T0 + 10_000, NaN], [T0 + 20_000, 20]], expected: [undefined, undefined, 1] },
  ];
  for (const { name, samples, onReset, expected } of cases) {
    it(name, () => {
      const rates = new CounterRates({ staleAfterMs: 60_000, maxSeries: 100, onReset: onReset ?? 'restart' });
      const got = samples.map(([timestampMs, value]) => rates.next(at(timestampMs, value)));
      expect(got).toEqual(expected);
      for (const rate of got) if (rate !== undefined) expect(rate).toBeGreaterThanOrEqual(0);
    });
  }

  it('keeps series apart by dimensions, whatever their order', () => {
    const rates = new CounterRates({ staleAfterMs: 60_000, maxSeries: 100 });
    rates.next(at(T0, 0, { a: '1', b: '2' }));
    rates.next(at(T0, 100, { a: '1', b: '3' }));
    expect(rates.next(at(T0 + 10_000, 10, { b: '2', a: '1' }))).toBe(1);
    expect(rates.next(at(T0 + 10_000, 200, { a: '1', b: '3' }))).toBe(10);
    expect(rates.stats().resets).toBe(0);
  });

  it('counts resets and samples that did not advance', () => {
    const rates = new CounterRates({ staleAfterMs: 60_000, maxSeries: 100 });
    for (const [t, v] of [[T0, 10], [T0, 10], [T0 + 1000, 5], [T0 + 2000, 1]] as const) rates.next(at(t, v));
    expect(rates.stats()).toMatchObject({ resets: 2, notAdvanced: 1, series: 1 });
  });
});

describe('CounterRates memory bounds', () => {
  it('sweep forgets series unseen for staleAfterMs and keeps the rest', () => {
    const rates = new CounterRates({ staleAfterMs: 60_000, maxSeries: 100 });
    rates.next(at(T0, 0, { pod: 'gone' }));
    rates.next(at(T0 + 50_000, 0, { pod: 'alive' }));
    expect(rates.sweep(T0 + 60_000)).toBe(0);
    expect(rates.sweep(T0 + 60_001)).toBe(1);
    expect(rates.size).toBe(1);
    expect(rates.stats().forgottenStale).toBe(1);
    // The forgotten series starts over: no rate from a pre-sweep sample.
    expect(rates.next(at(T0 + 70_000, 1e9, { pod: 'gone' }))).toBeUndefined();
    expect(rates.next(at(T0 + 70_000, 10, { pod: 'alive' }))).toBe(0.5);
  });

  it('never holds more than maxSeries, dropping the least recently updated and counting it', () => {
    const rates = new CounterRates({ staleAfterMs: 60_000, maxSeries: 3 });
    for (const pod of ['a', 'b', 'c']) rates.next(at(T0, 0, { pod }));
    rates.next(at(T0 + 1000, 1, { pod: 'a' })); // a is now the most recent; b the oldest
    rates.next(at(T0 + 1000, 0, { pod: 'd' }));
    expect(rates.size).toBe(3);
    expect(rates.stats().droppedAtCap).toBe(1);
    expect(rates.next(at(T0 + 2000, 2, { pod: 'a' }))).toBe(1);
    expect(rates.next(at(T0 + 2000, 5, { pod: 'b' }))).toBeUndefined();
    for (let i = 0; i < 10_000; i++) rates.next(at(T0 + 3000, i, { pod: `churn-${i}` }));
    expect(rates.size).toBe(3);
  });

  it.each([
    { name: 'zero staleAfterMs', options: { staleAfterMs: 0, maxSeries: 1 } },
    { name: 'zero maxSeries', options: { staleAfterMs: 1, maxSeries: 0 } },
    { name: 'fractional maxSeries', options: { staleAfterMs: 1, maxSeries: 1.5 } },
  ])('rejects $name', ({ options }) => {
    expect(() => new CounterRates(options)).toThrow(RangeError);
  });
});
