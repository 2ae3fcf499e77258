import type { AlarmDefinition, AlarmFunction, Operator } from './config.js';

/**
 * A v0 definition written as Monasca's alarm expression, for reasons and the
 * transitions topic: `avg(cpu.idle_perc{hostname=node-1}, 60) > 10`. The parser of the
 * full grammar lands beside this, and the evaluator then takes parsed expressions.
 */
const SYMBOL: Readonly<Record<Operator, string>> = { GT: '>', GTE: '>=', LT: '<', LTE: '<=' };

export function expressionOf(definition: AlarmDefinition): string {
  const dims = Object.entries(definition.dimensions)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const metric = dims.length > 0 ? `${definition.metric}{${dims}}` : definition.metric;
  return `${definition.function}(${metric}, ${definition.period_seconds}) ${SYMBOL[definition.operator]} ${definition.threshold}`;
}

export function breaches(operator: Operator, value: number, threshold: number): boolean {
  switch (operator) {
    case 'GT':
      return value > threshold;
    case 'GTE':
      return value >= threshold;
    case 'LT':
      return value < threshold;
    case 'LTE':
      return value <= threshold;
  }
}

/** Reduces a non-empty period's values, oldest first, to the function's value. */
export function reduce(fn: AlarmFunction, values: readonly number[]): number {
  switch (fn) {
    case 'last':
      return values[values.length - 1] ?? Number.NaN;
    case 'avg':
      return values.reduce((a, b) => a + b, 0) / values.length;
    // Loops, not Math.min(...values): a window can hold more values than a call takes arguments.
    case 'min':
      return values.reduce((a, b) => (b < a ? b : a), Number.POSITIVE_INFINITY);
    case 'max':
      return values.reduce((a, b) => (b > a ? b : a), Number.NEGATIVE_INFINITY);
    case 'sum':
      return values.reduce((a, b) => a + b, 0);
    case 'count':
      return values.length;
  }
}
