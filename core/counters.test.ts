import { describe, expect, it } from 'vitest';
import { Counters } from './counters.js';

describe('Counters', () => {
  const cases: { name: string; adds: [Record<string, string>, number][]; read: Record<string, string>; expected: number }[] = [
    { name: 'labels in another order are the same series', adds: [[{ source: 'kubelet', reason: 'invalid' }, 2], [{ reason: 'invalid', source: 'kubelet' }, 3]], read: { reason: 'invalid', source: 'kubelet' }, expected: 5 },
    { name: 'another label value is another series', adds: [[{ reason: 'invalid' }, 2], [{ reason: 'not_finite' }, 3]], read: { reason: 'invalid' }, expected: 2 },
    { name: 'a missing label is another series', adds: [[{ reason: 'invalid' }, 2], [{}, 3]], read: {}, expected: 3 },
  ];
  it.each(cases)('$name', ({ adds, read, expected }) => {
    const counters = new Counters();
    for (const [labels, amount] of adds) counters.add('kansoku_test_total', labels, amount);
    expect(counters.get('kansoku_test_total', read)).toBe(expected);
    expect(counters.total('kansoku_test_total')).toBe(adds.reduce((sum, [, amount]) => sum + amount, 0));
  });

  it('renders one line per series, labels as first counted', () => {
    const counters = new Counters();
    counters.describe('kansoku_test_total', 'Things tested.');
    counters.add('kansoku_test_total', { b: '1', a: 'x"y' });
    counters.add('kansoku_test_total', { a: 'x"y', b: '1' });
    expect(counters.render()).toBe('# HELP kansoku_test_total Things tested.\n# TYPE kansoku_test_total counter\nkansoku_test_total{b="1",a="x\\"y"} 2\n');
  });

  it('renders a gauge as a gauge, holding the last value set', () => {
    const counters = new Counters();
    counters.set('kansoku_test_depth', { source: 'logs' }, 5);
    counters.set('kansoku_test_depth', { source: 'logs' }, 2);
    expect(counters.get('kansoku_test_depth', { source: 'logs' })).toBe(2);
    expect(counters.render()).toBe('# TYPE kansoku_test_depth gauge\nkansoku_test_depth{source="logs"} 2\n');
  });
});
