import { describe, expect, it } from 'vitest';
import { definitionFor } from './alarmTransition.testkit.js';
import { breaches, expressionOf, reduce } from './expression.js';

describe('expressionOf', () => {
  it.each([
    { name: 'no dimensions', raw: {}, expected: 'avg(cpu.percent, 60) > 90' },
    { name: 'dimensions, sorted', raw: { dimensions: { service: 'api', hostname: 'n1' }, function: 'max', operator: '<=', period_seconds: 300, threshold: 0.5 }, expected: 'max(cpu.percent{hostname=n1,service=api}, 300) <= 0.5' },
  ])('writes Monasca syntax with $name', ({ raw, expected }) => {
    expect(expressionOf(definitionFor(raw))).toBe(expected);
  });
});

describe('breaches', () => {
  it.each([
    { operator: 'GT', value: 2, threshold: 1, expected: true },
    { operator: 'GT', value: 1, threshold: 1, expected: false },
    { operator: 'GTE', value: 1, threshold: 1, expected: true },
    { operator: 'GTE', value: 0, threshold: 1, expected: false },
    { operator: 'LT', value: 0, threshold: 1, expected: true },
    { operator: 'LT', value: 1, threshold: 1, expected: false },
    { operator: 'LTE', value: 1, threshold: 1, expected: true },
    { operator: 'LTE', value: 2, threshold: 1, expected: false },
  ] as const)('$value $operator $threshold is $expected', ({ operator, value, threshold, expected }) => {
    expect(breaches(operator, value, threshold)).toBe(expected);
  });
});

describe('reduce', () => {
  it.each([
    { fn: 'last', expected: 2 },
    { fn: 'avg', expected: 3.5 },
    { fn: 'min', expected: 1 },
    { fn: 'max', expected: 8 },
    { fn: 'sum', expected: 14 },
    { fn: 'count', expected: 4 },
  ] as const)('$fn of [3, 8, 1, 2] is $expected', ({ fn, expected }) => {
    expect(reduce(fn, [3, 8, 1, 2])).toBe(expected);
  });

  it('takes more values than a function call takes arguments', () => {
    const values = Array.from({ length: 500_000 }, (_, i) => i);
    expect([reduce('min', values), reduce('max', values)]).toEqual([0, 499_999]);
  });
});
