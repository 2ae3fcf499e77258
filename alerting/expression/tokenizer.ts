/**
 * The lexer of monasca-common's AlarmExpression.g4, by hand.
 *
 * ANTLR picks the longest match and, on a tie, the rule declared first. Every character a
 * number or keyword can hold is also a TXT character, so the longest match is always the
 * maximal run of TXT characters; the run is then classified in the grammar's rule order:
 * the literals 'times' and 'deterministic' (case-sensitive), the keywords (case-insensitive),
 * INTEGER, DECIMAL, and TXT.
 *
 * One deliberate difference: the grammar's TXT excludes only the space, so a tab or newline
 * would become part of a name; here tab, CR and LF separate tokens like the space does.
 */

export type TokenKind =
  | 'lparen'
  | 'rparen'
  | 'lbrace'
  | 'rbrace'
  | 'comma'
  | 'equals'
  | 'relop'
  | 'and'
  | 'or'
  | 'function'
  | 'times'
  | 'deterministic'
  | 'integer'
  | 'decimal'
  | 'txt'
  | 'string'
  | 'eof';

export interface Token {
  readonly kind: TokenKind;
  /** The source text, exactly as written. */
  readonly text: string;
  /** 0-based offset in UTF-16 code units. */
  readonly offset: number;
}

export type TokenizeResult =
  | { readonly ok: true; readonly tokens: readonly Token[] }
  | { readonly ok: false; readonly offset: number; readonly text: string; readonly reason: string };

/** Characters that end a TXT run (the grammar's exclusions, plus tab, CR and LF). */
const TXT_EXCLUDED = new Set(['}', '{', '&', '|', '>', '<', '=', ',', ')', '(', ' ', '"', '\t', '\r', '\n']);
const WHITESPACE = new Set([' ', '\t', '\r', '\n']);

const FUNCTION_KEYWORDS = new Set(['min', 'max', 'sum', 'count', 'avg', 'last']);
const RELOP_KEYWORDS = new Set(['lt', 'lte', 'gt', 'gte']);

const PUNCTUATION: Readonly<Record<string, TokenKind>> = {
  '(': 'lparen',
  ')': 'rparen',
  '{': 'lbrace',
  '}': 'rbrace',
  ',': 'comma',
  '=': 'equals',
};

function isDigit(ch: string | undefined): boolean {
  return ch !== undefined && ch >= '0' && ch <= '9';
}

function isInteger(text: string): boolean {
  if (text.length === 0) return false;
  for (const ch of text) if (!isDigit(ch)) return false;
  return true;
}

/** DECIMAL: '-'? DIGIT+ ('.' DIGIT+)? */
function isDecimal(text: string): boolean {
  let i = text.startsWith('-') ? 1 : 0;
  const intStart = i;
  while (isDigit(text[i])) i++;
  if (i === intStart) return false;
  if (i === text.length) return true;
  if (text[i] !== '.') return false;
  i++;
  const fractionStart = i;
  while (isDigit(text[i])) i++;
  return i > fractionStart && i === text.length;
}

function classifyRun(text: string): TokenKind {
  if (text === 'times') return 'times';
  if (text === 'deterministic') return 'deterministic';
  const lower = text.toLowerCase();
  if (RELOP_KEYWORDS.has(lower)) return 'relop';
  if (lower === 'and') return 'and';
  if (lower === 'or') return 'or';
  if (FUNCTION_KEYWORDS.has(lower)) return 'function';
  if (isInteger(text)) return 'integer';
  if (isDecimal(text)) return 'decimal';
  return 'txt';
}

export function tokenize(source: string): TokenizeResult {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const ch = source[i] as string;
    if (WHITESPACE.has(ch)) {
      i++;
      continue;
    }
    const start = i;
    const punctuation = PUNCTUATION[ch];
    if (punctuation !== undefined) {
      tokens.push({ kind: punctuation, text: ch, offset: start });
      i++;
      continue;
    }
    const pair = source.slice(i, i + 2);
    if (pair === '<=' || pair === '>=' || pair === '&&' || pair === '||') {
      tokens.push({ kind: pair === '&&' ? 'and' : pair === '||' ? 'or' : 'relop', text: pair, offset: start });
      i += 2;
      continue;
    }
    if (ch === '<' || ch === '>') {
      tokens.push({ kind: 'relop', text: ch, offset: start });
      i++;
      continue;
    }
    if (ch === '"') {
      const close = source.indexOf('"', i + 1);
      if (close < 0) return { ok: false, offset: start, text: ch, reason: 'unterminated quoted string' };
      tokens.push({ kind: 'string', text: source.slice(i, close + 1), offset: start });
      i = close + 1;
      continue;
    }
    if (ch === '&' || ch === '|') return { ok: false, offset: start, text: ch, reason: `illegal character '${ch}'` };
    while (i < source.length && !TXT_EXCLUDED.has(source[i] as string)) i++;
    const text = source.slice(start, i);
    tokens.push({ kind: classifyRun(text), text, offset: start });
  }
  tokens.push({ kind: 'eof', text: '', offset: source.length });
  return { ok: true, tokens };
}
