import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AGGREGATE_FUNCTIONS,
  RELATIONAL_OPERATORS,
  formatExpression,
  formatSubExpression,
  formatThreshold,
  subExpressions,
  type ExpressionNode,
  type SubExpression,
} from './alarmExpression.js';
import { MAX_EXPRESSION_LENGTH, MAX_NESTING_DEPTH, parseAlarmExpression, parseAlarmSubExpression } from './parseAlarmExpression.js';

function subOf(text: string): SubExpression {
  const parsed = parseAlarmSubExpression(text);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.value;
}

function treeOf(text: string): ExpressionNode {
  const parsed = parseAlarmExpression(text);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.value;
}

describe('parseAlarmExpression: sub-expressions', () => {
  it.each([
    { name: 'function with period and times', text: 'avg(cpu.percent{hostname=a}, 120) > 90 times 3', canonical: 'avg(cpu.percent{hostname=a}, 120) > 90.0 times 3' },
    { name: 'defaults omitted', text: 'max(cpu.percent, 60) >= 1 times 1', canonical: 'max(cpu.percent) >= 1.0' },
    { name: 'deterministic', text: 'count(log.error{}, deterministic) > 1', canonical: 'count(log.error, deterministic) > 1.0' },
    { name: 'deterministic and period', text: 'count(log.error, deterministic, 300) > 1', canonical: 'count(log.error, deterministic, 300) > 1.0' },
    { name: 'last', text: 'LAST(disk.usage) > 0.5', canonical: 'last(disk.usage) > 0.5' },
    { name: 'word operators, any case', text: 'sum(x) LtE 3', canonical: 'sum(x) <= 3.0' },
    { name: 'no function, greater means max', text: 'x{a=1} gt 3', canonical: 'max(x{a=1}) > 3.0' },
    { name: 'no function, less means min', text: 'x <= 3', canonical: 'min(x) <= 3.0' },
    { name: 'negative decimal threshold', text: 'avg(t) < -1.25', canonical: 'avg(t) < -1.25' },
    { name: 'dimensions sorted, words joined by one space', text: 'avg(m{z=1,  a = b  c }) > 1', canonical: 'avg(m{a=b c, z=1}) > 1.0' },
    { name: 'quoted value keeps quotes', text: 'avg(m{url="a,b=c}"}) > 1', canonical: 'avg(m{url="a,b=c}"}) > 1.0' },
    { name: 'keywords as names', text: 'avg(count{lt=and}) > 1', canonical: 'avg(count{lt=and}) > 1.0' },
    { name: 'tabs and newlines are whitespace', text: 'avg(m)\n>\t1', canonical: 'avg(m) > 1.0' },
  ])('$name', ({ text, canonical }) => {
    expect(formatSubExpression(subOf(text))).toBe(canonical);
  });

  it('fills every field', () => {
    expect(subOf('AVG(cpu{b=2, a=1}, deterministic, 120) gte 5 times 4')).toEqual({
      function: 'AVG',
      metricName: 'cpu',
      dimensions: { a: '1', b: '2' },
      deterministic: true,
      periodSeconds: 120,
      operator: 'GTE',
      threshold: 5,
      periods: 4,
    });
  });

  it('keeps a __proto__ dimension as data', () => {
    const sub = subOf('avg(m{__proto__=x}) > 1');
    expect(Object.keys(sub.dimensions)).toEqual(['__proto__']);
    expect(sub.dimensions['__proto__']).toBe('x');
  });
});

describe('parseAlarmExpression: and/or', () => {
  it.each([
    { name: 'and binds tighter than or', text: 'a > 1 or b > 2 and c > 3', tree: '(max(a) > 1.0 OR (max(b) > 2.0 AND max(c) > 3.0))' },
    { name: 'symbols', text: 'a > 1 && b > 2 || c > 3', tree: '((max(a) > 1.0 AND max(b) > 2.0) OR max(c) > 3.0)' },
    { name: 'parentheses group', text: '(a > 1 or b > 2) and c > 3', tree: '((max(a) > 1.0 OR max(b) > 2.0) AND max(c) > 3.0)' },
    { name: 'same operator flattens', text: 'a > 1 and (b > 2 and c > 3)', tree: '(max(a) > 1.0 AND max(b) > 2.0 AND max(c) > 3.0)' },
    { name: 'redundant parentheses', text: '((a > 1))', tree: 'max(a) > 1.0' },
  ])('$name', ({ text, tree }) => {
    expect(formatExpression(treeOf(text))).toBe(tree);
  });

  it('lists sub-expressions in order of appearance', () => {
    expect(subExpressions(treeOf('a > 1 or (b > 2 and c > 3) or d > 4')).map((s) => s.metricName)).toEqual(['a', 'b', 'c', 'd']);
  });
});

describe('parseAlarmExpression: errors name the position and token', () => {
  it.each([
    { name: 'empty', text: '', offset: 0, token: 'end of input' },
    { name: 'missing threshold', text: 'avg(cpu) >', offset: 10, token: 'end of input' },
    { name: 'missing close paren', text: '(a > 1', offset: 6, token: 'end of input' },
    { name: 'stray close paren', text: 'a > 1)', offset: 5, token: "')'" },
    { name: 'unknown function', text: 'median(cpu) > 1', offset: 6, token: "'('" },
    { name: 'bad operator', text: 'avg(cpu) = 1', offset: 9, token: "'='" },
    { name: 'single ampersand', text: 'avg(cpu) > 1 & b > 1', offset: 13, token: "'&'" },
    { name: 'times without a function', text: 'cpu > 1 times 3', offset: 8, token: "'times'" },
    { name: 'period before deterministic', text: 'count(x, 60, deterministic) > 1', offset: 11, token: "','" },
    { name: 'decimal period', text: 'avg(x, 60.5) > 1', offset: 7, token: "'60.5'" },
    { name: 'period not a multiple of 60', text: 'avg(x, 90) > 1', offset: 7, token: "'90'" },
    { name: 'period zero', text: 'avg(x, 0) > 1', offset: 7, token: "'0'" },
    { name: 'times zero', text: 'avg(x) > 1 times 0', offset: 17, token: "'0'" },
    { name: 'window over two weeks', text: 'avg(x, 3600) > 1 times 337', offset: 23, token: "'337'" },
    { name: 'duplicate dimension', text: 'avg(x{a=1, a=2}) > 1', offset: 11, token: "'a'" },
    { name: 'unterminated quote', text: 'avg(x{a="1}) > 1', offset: 8, token: `'"'` },
    { name: 'second line', text: 'a > 1 and\n  b >', offset: 15, token: 'end of input', line: 2, column: 6 },
  ])('$name', ({ text, offset, token, line, column }) => {
    const parsed = parseAlarmExpression(text);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.position).toEqual({ offset, token, line: line ?? 1, column: column ?? offset + 1 });
    expect(parsed.error).toContain(`offset ${offset}`);
  });

  it('accepts a two-week window exactly', () => {
    expect(parseAlarmExpression('avg(x, 3600) > 1 times 336').ok).toBe(true);
  });

  it('bounds the length', () => {
    const parsed = parseAlarmExpression(`a > 1${' or a > 1'.repeat(MAX_EXPRESSION_LENGTH)}`);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.position.offset).toBe(MAX_EXPRESSION_LENGTH);
  });

  it('bounds the nesting depth', () => {
    const depth = MAX_NESTING_DEPTH + 1;
    const parsed = parseAlarmExpression(`${'('.repeat(depth)}a > 1${')'.repeat(depth)}`);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.position.offset).toBe(MAX_NESTING_DEPTH);
    expect(parseAlarmExpression(`${'('.repeat(MAX_NESTING_DEPTH)}a > 1${')'.repeat(MAX_NESTING_DEPTH)}`).ok).toBe(true);
  });

  it('refuses a compound where one sub-expression is wanted', () => {
    expect(parseAlarmSubExpression('a > 1 or b > 2').ok).toBe(false);
  });
});

describe('formatThreshold (Java DecimalFormat "0.0##############")', () => {
  it.each([
    { value: 5, text: '5.0' },
    { value: -0, text: '0.0' },
    { value: 0.1, text: '0.1' },
    { value: -1.25, text: '-1.25' },
    { value: 1e20, text: '100000000000000000000.0' },
    { value: 1e-20, text: '0.0' },
  ])('$value → $text', ({ value, text }) => {
    expect(formatThreshold(value)).toBe(text);
  });
});

// Words the grammar reads back as a name: no reserved literal ('times', 'deterministic'), and
// no word that lexes as a number, so a value like `1e5` stays text.
const word = fc
  .stringMatching(/^[a-zA-Z_.:/$-][a-zA-Z0-9_.:/$-]{0,8}$/)
  .filter((w) => w !== 'times' && w !== 'deterministic' && w !== '-' && !/^-?\d/.test(w));
const quoted = fc.stringMatching(/^[^"]{0,10}$/).map((s) => `"${s}"`);
const dimensionPart = fc.oneof(fc.array(word, { minLength: 1, maxLength: 3 }).map((ws) => ws.join(' ')), quoted);

const subExpression: fc.Arbitrary<SubExpression> = fc.record({
  function: fc.constantFrom(...AGGREGATE_FUNCTIONS),
  metricName: fc.oneof(word, quoted),
  dimensions: fc.dictionary(dimensionPart, dimensionPart, { maxKeys: 4 }).map((d) => Object.fromEntries(Object.entries(d).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))),
  deterministic: fc.boolean(),
  periodSeconds: fc.integer({ min: 1, max: 60 }).map((n) => n * 60),
  operator: fc.constantFrom(...RELATIONAL_OPERATORS),
  threshold: fc.integer({ min: -1_000_000_000, max: 1_000_000_000 }).map((n) => n / 1000),
  periods: fc.integer({ min: 1, max: 10 }),
});

// Depth is bounded by construction: a letrec tree with nested arrays can grow without limit.
const subNode: fc.Arbitrary<ExpressionNode> = subExpression.map((sub) => ({ kind: 'sub' as const, sub }));
function compound(kind: 'and' | 'or', depth: number): fc.Arbitrary<ExpressionNode> {
  const other = kind === 'and' ? 'or' : 'and';
  const operand = depth <= 1 ? subNode : fc.oneof(subNode, compound(other, depth - 1));
  return fc.array(operand, { minLength: 2, maxLength: 3 }).map((operands) => ({ kind, operands }));
}
const tree = fc.oneof(subNode, compound('and', 3), compound('or', 3));

describe('parseAlarmExpression: properties', () => {
  it('parses the canonical text of any tree back to the same tree', () => {
    fc.assert(
      fc.property(tree, (node) => {
        const parsed = parseAlarmExpression(formatExpression(node));
        expect(parsed.ok ? parsed.value : parsed.error).toEqual(node);
      }),
      { numRuns: 300 },
    );
  });

  it('never throws, and a failure always names a position inside the input', () => {
    const alphabet = fc.constantFrom(...'avgmaxcount(){}=,<>&|" \t\nor and times deterministic 60 1.5 -x'.split(''));
    const input = fc.oneof(fc.string({ maxLength: 80 }), fc.array(alphabet, { maxLength: 80 }).map((cs) => cs.join('')));
    fc.assert(
      fc.property(input, (text) => {
        const parsed = parseAlarmExpression(text);
        if (!parsed.ok) {
          expect(parsed.position.offset).toBeGreaterThanOrEqual(0);
          expect(parsed.position.offset).toBeLessThanOrEqual(text.length);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('parseAlarmExpression: error text stays short', () => {
  it('cuts a long offending token', () => {
    const parsed = parseAlarmExpression(`avg(x) > ${'y'.repeat(5000)}`);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) {
      expect(parsed.position.token).toBe(`'${'y'.repeat(40)}…'`);
      expect(parsed.error.length).toBeLessThan(200);
    }
  });

  it('refuses a period Java cannot read as an int', () => {
    const parsed = parseAlarmExpression('avg(x, 99999999999) > 1', { rules: 'grammar' });
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.position.offset).toBe(7);
  });
});
