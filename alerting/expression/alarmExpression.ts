/**
 * The parsed form of a Monasca alarm-definition expression and its canonical text.
 *
 * The canonical text is what monasca-thresh and the Monasca API store and compare
 * (monasca-common's `AlarmSubExpression.getExpression` and `BooleanExpression.toString`),
 * so sub-alarms created from one definition keep matching after a round trip.
 */

export const AGGREGATE_FUNCTIONS = ['MIN', 'MAX', 'SUM', 'COUNT', 'AVG', 'LAST'] as const;
export type AggregateFunction = (typeof AGGREGATE_FUNCTIONS)[number];

export const RELATIONAL_OPERATORS = ['LT', 'LTE', 'GT', 'GTE'] as const;
export type RelationalOperator = (typeof RELATIONAL_OPERATORS)[number];

export const DEFAULT_PERIOD_SECONDS = 60;
export const DEFAULT_PERIODS = 1;

export interface SubExpression {
  readonly function: AggregateFunction;
  readonly metricName: string;
  /** Sorted by key, as monasca-common's TreeMap keeps them. Quoted values keep their quotes, as in Java. */
  readonly dimensions: Readonly<Record<string, string>>;
  readonly deterministic: boolean;
  readonly periodSeconds: number;
  readonly operator: RelationalOperator;
  readonly threshold: number;
  /** How many consecutive periods must breach (`times N`). */
  readonly periods: number;
}

/**
 * An expression tree. Compound nodes are n-ary and flattened: an `and` never has an `and`
 * operand (nor an `or` an `or`), which is how monasca-common's BooleanExpression prints it.
 */
export type ExpressionNode =
  | { readonly kind: 'sub'; readonly sub: SubExpression }
  | { readonly kind: 'and' | 'or'; readonly operands: readonly ExpressionNode[] };

/** The sub-expressions in order of appearance, which is the order Monasca numbers sub-alarms in. */
export function subExpressions(node: ExpressionNode): SubExpression[] {
  const found: SubExpression[] = [];
  const pending: ExpressionNode[] = [node];
  while (pending.length > 0) {
    const next = pending.pop();
    if (next === undefined) break;
    if (next.kind === 'sub') found.push(next.sub);
    else for (let i = next.operands.length - 1; i >= 0; i--) pending.push(next.operands[i] as ExpressionNode);
  }
  return found;
}

const OPERATOR_SYMBOLS: Readonly<Record<RelationalOperator, string>> = { LT: '<', LTE: '<=', GT: '>', GTE: '>=' };

export function operatorSymbol(operator: RelationalOperator): string {
  return OPERATOR_SYMBOLS[operator];
}

/** Whether `value` breaches `threshold` under `operator` (monasca-common's AlarmOperator.evaluate). */
export function compareToThreshold(operator: RelationalOperator, value: number, threshold: number): boolean {
  switch (operator) {
    case 'LT':
      return value < threshold;
    case 'LTE':
      return value <= threshold;
    case 'GT':
      return value > threshold;
    case 'GTE':
      return value >= threshold;
  }
}

/**
 * Java's DecimalFormat("0.0##############"): at least one fraction digit, at most fifteen,
 * never scientific notation (which the grammar could not read back).
 */
export function formatThreshold(threshold: number): string {
  if (!Number.isFinite(threshold)) return String(threshold);
  const fixed = Math.abs(threshold) < 1e21 ? threshold.toFixed(15) : BigInt(Math.trunc(threshold)).toString() + '.0';
  let end = fixed.length;
  while (end > 0 && fixed[end - 1] === '0') end--;
  let text = fixed.slice(0, end);
  if (text.endsWith('.')) text += '0';
  return text === '-0.0' ? '0.0' : text;
}

/** `name` or `name{k1=v1, k2=v2}` with keys sorted, as Java's MetricDefinition.toExpression. */
export function formatMetric(metricName: string, dimensions: Readonly<Record<string, string>>): string {
  const keys = Object.keys(dimensions).sort();
  if (keys.length === 0) return metricName;
  return `${metricName}{${keys.map((key) => `${key}=${dimensions[key] ?? ''}`).join(', ')}}`;
}

/** Monasca's canonical text of one sub-expression, e.g. `avg(cpu{host=a}, 120) > 5.0 times 3`. */
export function formatSubExpression(sub: SubExpression): string {
  let text = `${sub.function.toLowerCase()}(${formatMetric(sub.metricName, sub.dimensions)}`;
  if (sub.deterministic) text += ', deterministic';
  if (sub.periodSeconds !== DEFAULT_PERIOD_SECONDS) text += `, ${sub.periodSeconds}`;
  text += `) ${operatorSymbol(sub.operator)} ${formatThreshold(sub.threshold)}`;
  if (sub.periods !== DEFAULT_PERIODS) text += ` times ${sub.periods}`;
  return text;
}

/** The whole tree as monasca-common prints it: `(a AND (b OR c))`; a lone sub-expression has no parentheses. */
export function formatExpression(node: ExpressionNode): string {
  if (node.kind === 'sub') return formatSubExpression(node.sub);
  const joiner = node.kind === 'and' ? ' AND ' : ' OR ';
  return `(${node.operands.map(formatExpression).join(joiner)})`;
}
