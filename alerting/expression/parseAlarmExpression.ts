/**
 * A recursive-descent parser for Monasca alarm-definition expressions, following
 * monasca-common's ANTLR grammar AlarmExpression.g4:
 *
 *   start          := or EOF
 *   or             := and (('or' | '||') and)*
 *   and            := primary (('and' | '&&') primary)*          -- binds tighter than or
 *   primary        := '(' or ')' | function relop literal ('times' INTEGER)? | metric relop literal
 *   function       := FUNC '(' metric (',' 'deterministic')? (',' INTEGER)? ')'
 *   metric         := txt ('{' (dimension (',' dimension)*)? '}')?
 *   dimension      := txt+ '=' txt+                               -- words joined by one space
 *   txt            := TXT | keyword | INTEGER | DECIMAL | STRING
 *
 * Without a function, `>`/`>=` mean `max` and `<`/`<=` mean `min`, as in Java.
 *
 * Where the Python parser (monasca-api's pyparsing one) and the Java grammar disagree, this
 * follows Java:
 * - quoted dimension values ("...") are accepted and keep their quotes;
 * - `&` and `|` are never part of a name or value (Python accepts them in places);
 * - `times` is only allowed after a function, `deterministic` only before the period, and both
 *   are case-sensitive, while function, operator and and/or keywords are case-insensitive;
 * - a repeated dimension key is an error.
 * The Monasca API spec (and the Python grammar) also require the period to be a positive
 * multiple of 60 and `times` to be at least 1; the ANTLR grammar does not check either, and
 * monasca-common's tests use periods such as 1 and 20. So there are two rule sets:
 * `rules: 'api'` (the default, what the alarm-definitions API accepts) adds those checks and
 * period × times ≤ two weeks; `rules: 'grammar'` accepts what the ANTLR parser accepts.
 *
 * Failures are data: the result names the 0-based offset, the 1-based line and column, and the
 * offending token. Input length and parenthesis depth are bounded, so no input can exhaust
 * the stack or take long.
 */
import { fail, ok, type Checked } from '../../core/outcome.js';
import {
  DEFAULT_PERIOD_SECONDS,
  DEFAULT_PERIODS,
  type AggregateFunction,
  type ExpressionNode,
  type RelationalOperator,
  type SubExpression,
} from './alarmExpression.js';
import { tokenize, type Token } from './tokenizer.js';

export const MAX_EXPRESSION_LENGTH = 8192;
export const MAX_NESTING_DEPTH = 32;
/** period × times may not exceed two weeks (monasca-api). */
export const MAX_WINDOW_SECONDS = 1_209_600;
/** Java reads period and times with Integer.valueOf. */
const MAX_JAVA_INT = 2_147_483_647;

export type AlarmExpressionRules = 'api' | 'grammar';

export interface ParseOptions {
  readonly rules?: AlarmExpressionRules;
}

export interface SourcePosition {
  /** 0-based offset in UTF-16 code units. */
  readonly offset: number;
  /** 1-based. */
  readonly line: number;
  /** 1-based. */
  readonly column: number;
  /** The offending token's text, or `end of input`. */
  readonly token: string;
}

export type ParsedAlarmExpression<T = ExpressionNode> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: string; readonly position: SourcePosition };

/** Raised inside the parser only, and caught at its boundary: parse failures leave as data. */
class SyntaxFailure extends Error {
  constructor(
    readonly offset: number,
    readonly token: string,
    readonly reason: string,
  ) {
    super(reason);
  }
}

const RELOPS: Readonly<Record<string, RelationalOperator>> = {
  '<': 'LT',
  lt: 'LT',
  '<=': 'LTE',
  lte: 'LTE',
  '>': 'GT',
  gt: 'GT',
  '>=': 'GTE',
  gte: 'GTE',
};

const TXT_KINDS = new Set<Token['kind']>(['txt', 'string', 'integer', 'decimal', 'function']);
const KEYWORD_KINDS = new Set<Token['kind']>(['relop', 'and', 'or']);
const SYMBOL_STARTS = new Set(['<', '>', '&', '|']);

/** The grammar's `txt`: names and values may be keywords spelled as words (`count`, `lt`), never symbols (`<`, `&&`). */
function isTxt(token: Token): boolean {
  if (TXT_KINDS.has(token.kind)) return true;
  return KEYWORD_KINDS.has(token.kind) && !SYMBOL_STARTS.has(token.text[0] ?? '<');
}

/** Untrusted text quoted in an error, cut so that one long name cannot blow up a log line. */
const MAX_QUOTED_LENGTH = 40;

function quote(text: string): string {
  return text.length > MAX_QUOTED_LENGTH ? `'${text.slice(0, MAX_QUOTED_LENGTH)}…'` : `'${text}'`;
}

function describe(token: Token): string {
  return token.kind === 'eof' ? 'end of input' : quote(token.text);
}

function positionOf(source: string, offset: number, token: string): SourcePosition {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < source.length; i++) {
    if (source[i] === '\n') {
      line++;
      lineStart = i + 1;
    }
  }
  return { offset, line, column: offset - lineStart + 1, token };
}

class Parser {
  private index = 0;
  private depth = 0;

  constructor(
    private readonly tokens: readonly Token[],
    private readonly rules: AlarmExpressionRules,
  ) {}

  parse(): ExpressionNode {
    const node = this.parseOr();
    const next = this.peek();
    if (next.kind !== 'eof') this.unexpected(next, "'and', 'or' or the end of the expression");
    return node;
  }

  private peek(ahead = 0): Token {
    const token = this.tokens[Math.min(this.index + ahead, this.tokens.length - 1)];
    if (token === undefined) throw new Error('token stream without eof');
    return token;
  }

  private advance(): Token {
    const token = this.peek();
    if (token.kind !== 'eof') this.index++;
    return token;
  }

  private expect(kind: Token['kind'], what: string): Token {
    const token = this.peek();
    if (token.kind !== kind) this.unexpected(token, what);
    return this.advance();
  }

  private unexpected(token: Token, expected: string): never {
    throw new SyntaxFailure(token.offset, describe(token), `unexpected ${describe(token)}, expected ${expected}`);
  }

  private parseOr(): ExpressionNode {
    const operands = [this.parseAnd()];
    while (this.peek().kind === 'or') {
      this.advance();
      operands.push(this.parseAnd());
    }
    return combine('or', operands);
  }

  private parseAnd(): ExpressionNode {
    const operands = [this.parsePrimary()];
    while (this.peek().kind === 'and') {
      this.advance();
      operands.push(this.parsePrimary());
    }
    return combine('and', operands);
  }

  private parsePrimary(): ExpressionNode {
    const token = this.peek();
    if (token.kind === 'lparen') {
      if (this.depth >= MAX_NESTING_DEPTH) {
        throw new SyntaxFailure(token.offset, describe(token), `parentheses nested deeper than ${MAX_NESTING_DEPTH}`);
      }
      this.advance();
      this.depth++;
      const inner = this.parseOr();
      this.expect('rparen', "')'");
      this.depth--;
      return inner;
    }
    return { kind: 'sub', sub: this.parseSubExpression() };
  }

  private parseSubExpression(): SubExpression {
    const first = this.peek();
    if (first.kind === 'function' && this.peek(1).kind === 'lparen') return this.parseFunctionForm();
    const metric = this.parseMetric('a metric name, a function or \'(\'');
    const operator = this.parseOperator();
    const threshold = this.parseThreshold();
    return {
      function: operator === 'GT' || operator === 'GTE' ? 'MAX' : 'MIN',
      metricName: metric.name,
      dimensions: metric.dimensions,
      deterministic: false,
      periodSeconds: DEFAULT_PERIOD_SECONDS,
      operator,
      threshold,
      periods: DEFAULT_PERIODS,
    };
  }

  private parseFunctionForm(): SubExpression {
    const fn = this.advance().text.toUpperCase() as AggregateFunction;
    this.expect('lparen', "'('");
    const metric = this.parseMetric('a metric name');
    let deterministic = false;
    let periodSeconds = DEFAULT_PERIOD_SECONDS;
    let periodToken: Token | undefined;
    if (this.peek().kind === 'comma') {
      this.advance();
      const next = this.peek();
      if (next.kind === 'deterministic') {
        this.advance();
        deterministic = true;
        if (this.peek().kind === 'comma') {
          this.advance();
          periodToken = this.expect('integer', 'a period in seconds');
        }
      } else if (next.kind === 'integer') {
        periodToken = this.advance();
      } else {
        this.unexpected(next, "'deterministic' or a period in seconds");
      }
    }
    if (periodToken !== undefined) periodSeconds = this.readInteger(periodToken, 'period');
    this.expect('rparen', "')'");
    const operator = this.parseOperator();
    const threshold = this.parseThreshold();
    let periods = DEFAULT_PERIODS;
    let timesToken: Token | undefined;
    if (this.peek().kind === 'times') {
      this.advance();
      timesToken = this.expect('integer', "a whole number after 'times'");
      periods = this.readInteger(timesToken, 'times');
    }
    if (this.rules === 'api') this.checkWindow(periodSeconds, periodToken, periods, timesToken);
    return { function: fn, metricName: metric.name, dimensions: metric.dimensions, deterministic, periodSeconds, operator, threshold, periods };
  }

  private checkWindow(periodSeconds: number, periodToken: Token | undefined, periods: number, timesToken: Token | undefined): void {
    if (periodToken !== undefined && (periodSeconds <= 0 || periodSeconds % 60 !== 0)) {
      throw new SyntaxFailure(periodToken.offset, describe(periodToken), `period ${periodSeconds} must be a positive multiple of 60`);
    }
    if (timesToken !== undefined && periods < 1) {
      throw new SyntaxFailure(timesToken.offset, describe(timesToken), `times ${periods} must be 1 or greater`);
    }
    if (periodSeconds * periods > MAX_WINDOW_SECONDS) {
      const at = timesToken ?? periodToken ?? this.peek();
      throw new SyntaxFailure(at.offset, describe(at), `period × times = ${periodSeconds * periods} s exceeds two weeks (${MAX_WINDOW_SECONDS} s)`);
    }
  }

  private readInteger(token: Token, what: string): number {
    const value = Number(token.text);
    if (!Number.isSafeInteger(value) || value > MAX_JAVA_INT) {
      throw new SyntaxFailure(token.offset, describe(token), `${what} ${quote(token.text)} is too large`);
    }
    return value;
  }

  private parseOperator(): RelationalOperator {
    const token = this.peek();
    const operator = token.kind === 'relop' ? RELOPS[token.text.toLowerCase()] : undefined;
    if (operator === undefined) this.unexpected(token, 'a relational operator (lt, <, lte, <=, gt, >, gte, >=)');
    this.advance();
    return operator;
  }

  private parseThreshold(): number {
    const token = this.peek();
    if (token.kind !== 'integer' && token.kind !== 'decimal') this.unexpected(token, 'a numeric threshold');
    this.advance();
    const value = Number(token.text);
    if (!Number.isFinite(value)) throw new SyntaxFailure(token.offset, describe(token), `threshold ${quote(token.text)} is out of range`);
    return value === 0 ? 0 : value;
  }

  private parseMetric(expected: string): { name: string; dimensions: Record<string, string> } {
    const nameToken = this.peek();
    if (!isTxt(nameToken)) this.unexpected(nameToken, expected);
    this.advance();
    const dimensions = new Map<string, string>();
    if (this.peek().kind === 'lbrace') {
      this.advance();
      if (this.peek().kind !== 'rbrace') {
        this.parseDimension(dimensions);
        while (this.peek().kind === 'comma') {
          this.advance();
          this.parseDimension(dimensions);
        }
      }
      this.expect('rbrace', "',' or '}'");
    }
    const sorted = [...dimensions.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return { name: nameToken.text, dimensions: Object.fromEntries(sorted) };
  }

  private parseDimension(into: Map<string, string>): void {
    const keyStart = this.peek();
    const key = this.parseWords('a dimension name');
    this.expect('equals', "'=' after the dimension name");
    const value = this.parseWords('a dimension value');
    if (into.has(key)) throw new SyntaxFailure(keyStart.offset, describe(keyStart), `more than one value was given for dimension ${quote(key)}`);
    into.set(key, value);
  }

  private parseWords(expected: string): string {
    const first = this.peek();
    if (!isTxt(first)) this.unexpected(first, expected);
    const words: string[] = [];
    while (isTxt(this.peek())) words.push(this.advance().text);
    return words.join(' ');
  }
}

function combine(kind: 'and' | 'or', operands: ExpressionNode[]): ExpressionNode {
  if (operands.length === 1) return operands[0] as ExpressionNode;
  const flat: ExpressionNode[] = [];
  for (const operand of operands) {
    if (operand.kind === kind) flat.push(...operand.operands);
    else flat.push(operand);
  }
  return { kind, operands: flat };
}

function failure<T>(source: string, offset: number, token: string, reason: string): ParsedAlarmExpression<T> {
  const position = positionOf(source, offset, token);
  const error = `alarm expression: ${reason} at offset ${offset} (line ${position.line}, column ${position.column})`;
  return { ok: false, error, position };
}

/**
 * Parses a whole alarm expression. Never throws; a failure names the position and token.
 * The result is a `Checked<ExpressionNode>` whose failures also carry `position`.
 */
export function parseAlarmExpression(text: string, options: ParseOptions = {}): ParsedAlarmExpression {
  if (typeof text !== 'string') return failure('', 0, 'end of input', 'expression must be a string');
  if (text.length > MAX_EXPRESSION_LENGTH) {
    return failure(text, MAX_EXPRESSION_LENGTH, describeAt(text, MAX_EXPRESSION_LENGTH), `expression longer than ${MAX_EXPRESSION_LENGTH} characters`);
  }
  const lexed = tokenize(text);
  if (!lexed.ok) return failure(text, lexed.offset, quote(lexed.text), lexed.reason);
  const parser = new Parser(lexed.tokens, options.rules ?? 'api');
  try {
    const node = parser.parse();
    if (node.kind === 'sub' || node.operands.length > 0) return { ok: true, value: node };
    return failure(text, 0, 'end of input', 'empty expression');
  } catch (caught) {
    if (caught instanceof SyntaxFailure) return failure(text, caught.offset, caught.token, caught.reason);
    throw caught;
  }
}

/** One sub-expression only, as Java's AlarmSubExpression.of: a compound expression is an error. */
export function parseAlarmSubExpression(text: string, options: ParseOptions = {}): ParsedAlarmExpression<SubExpression> {
  const parsed = parseAlarmExpression(text, options);
  if (!parsed.ok) return parsed;
  if (parsed.value.kind === 'sub') return { ok: true, value: parsed.value.sub };
  return failure(text, 0, describeAt(text, 0), 'expected a single sub-expression, found a compound expression');
}

function describeAt(text: string, offset: number): string {
  return offset >= text.length ? 'end of input' : quote(text.slice(offset, offset + 16));
}

/** Narrows a parse result to the plain `Checked` the rest of the code base uses. */
export function asChecked<T>(parsed: ParsedAlarmExpression<T>): Checked<T> {
  return parsed.ok ? ok(parsed.value) : fail(parsed.error);
}
