import { describe, expect, it } from 'vitest';
import { Counters } from '../../core/counters.js';
import type { AlarmDefinitionRecord } from '../store/alarmStore.js';
import { exampleDefinition } from '../store/alarmStoreContract.testkit.js';
import { AlarmEvaluator } from './alarmEvaluator.js';

const T0 = 1_698_278_400_000; // a whole hour

function evaluator(expressions: readonly string[], delayMs = 10_000): AlarmEvaluator {
  const records: AlarmDefinitionRecord[] = expressions.map((expression, i) => ({ ...exampleDefinition('acme', { expression, name: `d${i}` }), id: `d${i}`, createdAtMs: T0, updatedAtMs: T0 }));
  const e = new AlarmEvaluator({ delayMs, maxAlarms: 100, maxMetricsPerAlarm: 10 }, new Counters());
  e.setDefinitions(records, T0);
  return e;
}

describe('AlarmEvaluator.nextCloseAfter', () => {
  it('is the next slot end plus the delay, strictly after now', () => {
    const e = evaluator(['avg(cpu) > 80']);
    expect(e.nextCloseAfter(T0 + 5_000) - T0).toBe(10_000);
    expect(e.nextCloseAfter(T0 + 10_000) - T0).toBe(70_000);
    expect(e.nextCloseAfter(T0 + 69_999) - T0).toBe(70_000);
  });

  it('takes the soonest of every period the definitions use, sub-expressions of compounds included', () => {
    const e = evaluator(['avg(cpu, 300) > 80', 'max(mem, 600) > 1 or min(disk, 120) < 5']);
    expect(e.nextCloseAfter(T0 + 20_000) - T0).toBe(130_000);
    expect(e.nextCloseAfter(T0 + 130_000) - T0).toBe(250_000);
    expect(e.nextCloseAfter(T0 + 250_000) - T0).toBe(310_000);
  });

  it('is never without definitions', () => {
    expect(evaluator([]).nextCloseAfter(T0)).toBe(Number.POSITIVE_INFINITY);
  });
});
