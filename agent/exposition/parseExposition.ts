/**
 * The Prometheus text exposition format 0.0.4, parsed by hand.
 *
 * This is the agent's hot path: every scrape of every kubelet's `/metrics/cadvisor` goes
 * through it (0.9 MB and 3 000 samples on a small node, several times that on a busy one).
 * So it walks the page once, never splits it into lines, runs no regular expression and
 * slices only the strings it keeps. Label values are found with native `indexOf`; a
 * metric or label name equal to the previous line's is reused without being scanned or
 * sliced again, since a family's samples repeat them line after line.
 *
 * It never throws: a malformed line becomes an `ExpositionError` and parsing goes on
 * with the next line. NaN and ±Inf are numbers here; the caller decides what to drop.
 * Hostile pages are bounded: a line longer than `MAX_LINE_CHARS` is refused without being
 * held whole (so a page that is one long line costs no more than its pieces), a sample
 * with more than `MAX_LABELS_PER_SAMPLE` labels is refused, and a label value with
 * U+FFFD, which is what invalid UTF-8 decodes to, is refused as invalid UTF-8 (as
 * Prometheus refuses it).
 */
import { parseFloatToken, parseIntegerToken } from './numbers.js';

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
  /**
   * Milliseconds since the epoch, when the line carries one. The key is always set
   * (undefined when absent) so that every sample has one object shape.
   */
  readonly timestampMs?: number;
}

export interface ExpositionError {
  /** 1-based line number in the page (in the protobuf format: the message's 1-based ordinal). */
  readonly line: number;
  readonly reason: string;
  /** The line's first 200 characters (protobuf: the message's first bytes in hex, or the family's name). */
  readonly text: string;
}

export interface ExpositionResult {
  readonly samples: Sample[];
  readonly errors: ExpositionError[];
  /** Family name → the type its `# TYPE` line declared. */
  readonly types: Map<string, MetricType>;
  /** Sample lines passed over because their family was not wanted. */
  readonly skipped: number;
}

const ERROR_TEXT_LENGTH = 200;

/** Characters beyond which a line is refused; a kubelet's longest lines are under 1 KB. */
export const MAX_LINE_CHARS = 1024 * 1024;
/** Labels beyond which a sample is refused; a kubelet's have about ten. */
export const MAX_LABELS_PER_SAMPLE = 256;
const REPLACEMENT_CHARACTER = '\uFFFD';

const TAB = 9;
const CR = 13;
const SPACE = 32;
const QUOTE = 34;
const HASH = 35;
const COMMA = 44;
const EQUALS = 61;
const BACKSLASH = 92;
const LBRACE = 123;
const RBRACE = 125;

const METRIC_TYPES: ReadonlySet<string> = new Set<MetricType>(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

export function parseExposition(page: string): ExpositionResult {
  const parser = new ExpositionParser();
  parser.push(page);
  return parser.finish();
}

function isLabelNameStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95; // a-z A-Z _
}

function isLabelNameChar(c: number): boolean {
  return isLabelNameStart(c) || (c >= 48 && c <= 57); // … 0-9
}

function isMetricNameStart(c: number): boolean {
  return isLabelNameStart(c) || c === 58; // … :
}

function isMetricNameChar(c: number): boolean {
  return isLabelNameChar(c) || c === 58;
}

function isBlank(c: number): boolean {
  return c === SPACE || c === TAB;
}

/**
 * One pass over one page, fed in pieces as they come off the socket (`push`), so that a
 * page never has to exist as one string: a 1 MB string is a large-object allocation on
 * every scrape, which costs more than parsing it (measured: decoding a 0.9 MB page whole
 * took 5 ms of CPU, in 64 KB pieces 0.2 ms). A piece is parsed up to its last complete
 * line; the rest waits for the next piece. Methods that can fail return the next position,
 * or -1 after setting `reason`, so that a bad line costs no exception.
 */
export class ExpositionParser {
  private readonly samples: Sample[] = [];
  private readonly errors: ExpositionError[] = [];
  private readonly types = new Map<string, MetricType>();
  /** The current line, without its line ending: [lineStart, end). */
  private lineStart = 0;
  private end = 0;
  private reason = '';
  /** The label value the last `labelValue` call read. */
  private value = '';
  private previousName = '';
  /** Position of the next backslash at or after the last label value looked at; page length when none. */
  private nextBackslash = -1;
  /** The same for U+FFFD: a one-byte (Latin-1) page has none, and V8 answers that without a scan. */
  private nextReplacement = -1;
  private readonly previousLabelNames: string[] = [];

  /** The text being parsed now: whole lines only, but for the last piece. */
  private page = '';
  /** Sample lines of unwanted families, passed over. */
  private skipped = 0;

  /** The end of the previous piece after its last line break: the start of the next line. */
  private carry = '';
  private lineNumber = 0;
  /** In a line over `MAX_LINE_CHARS` (already counted as an error): the rest of it is dropped as it comes. */
  private inOverlongLine = false;

  /**
   * `wanted`, when given, says which metric names to read. The kubelet's cAdvisor page
   * has 2,985 samples of which the agent maps 1,187: the other lines are passed over after
   * their name, and so are their errors (a malformed line of a family nobody reads is not
   * reported).
   */
  constructor(private readonly wanted?: (metricName: string) => boolean) {}

  /** Parses every complete line of `text` (with what the previous piece left over). */
  push(text: string): void {
    if (this.inOverlongLine) {
      const lineEnd = text.indexOf('\n');
      if (lineEnd === -1) return;
      this.inOverlongLine = false;
      text = text.slice(lineEnd + 1);
    }
    const joined = this.carry === '' ? text : this.carry + text;
    const lastBreak = joined.lastIndexOf('\n');
    if (lastBreak === -1) {
      this.carry = joined;
    } else {
      this.carry = lastBreak + 1 === joined.length ? '' : joined.slice(lastBreak + 1);
      this.parse(lastBreak + 1 === joined.length ? joined : joined.slice(0, lastBreak + 1));
    }
    if (this.carry.length > MAX_LINE_CHARS) this.dropOverlongLine();
  }

  /** The unfinished line in `carry` is too long: an error now, and the rest of it is not kept. */
  private dropOverlongLine(): void {
    this.lineNumber++;
    this.errors.push({ line: this.lineNumber, reason: `line longer than ${MAX_LINE_CHARS} characters`, text: this.carry.slice(0, ERROR_TEXT_LENGTH) });
    this.carry = '';
    this.inOverlongLine = true;
  }

  /** Parses what is left (a last line without a line break) and returns everything. */
  finish(): ExpositionResult {
    this.inOverlongLine = false;
    if (this.carry !== '') {
      const rest = this.carry;
      this.carry = '';
      this.parse(rest);
    }
    return { samples: this.samples, errors: this.errors, types: this.types, skipped: this.skipped };
  }

  private parse(page: string): void {
    this.page = page;
    this.nextBackslash = -1;
    this.nextReplacement = -1;
    let start = 0;
    while (start < page.length) {
      let next = page.indexOf('\n', start);
      if (next === -1) next = page.length;
      this.lineNumber++;
      this.lineStart = start;
      this.end = next > start && page.charCodeAt(next - 1) === CR ? next - 1 : next;
      if (this.end - start > MAX_LINE_CHARS) {
        this.reason = `line longer than ${MAX_LINE_CHARS} characters`;
        this.fail(this.lineNumber);
      } else if (!this.line()) this.fail(this.lineNumber);
      start = next + 1;
    }
  }

  private fail(lineNumber: number): void {
    const stop = Math.min(this.end, this.lineStart + ERROR_TEXT_LENGTH);
    this.errors.push({ line: lineNumber, reason: this.reason, text: this.page.slice(this.lineStart, stop) });
  }

  /** The char code at p, or -1 past the end of the line. */
  private at(p: number): number {
    return p < this.end ? this.page.charCodeAt(p) : -1;
  }

  private skipBlanks(p: number): number {
    while (p < this.end && isBlank(this.page.charCodeAt(p))) p++;
    return p;
  }

  private tokenEnd(p: number): number {
    while (p < this.end && !isBlank(this.page.charCodeAt(p))) p++;
    return p;
  }

  private line(): boolean {
    const p = this.skipBlanks(this.lineStart);
    if (p === this.end) return true;
    if (this.page.charCodeAt(p) === HASH) return this.comment(p + 1);
    return this.sample(p);
  }

  /** `# HELP name text`, `# TYPE name type`, or any other comment (ignored, as is the HELP text). */
  private comment(p: number): boolean {
    const keywordStart = this.skipBlanks(p);
    const keywordEnd = this.tokenEnd(keywordStart);
    if (keywordEnd - keywordStart !== 4) return true;
    const keyword = this.page.slice(keywordStart, keywordEnd);
    if (keyword !== 'HELP' && keyword !== 'TYPE') return true;
    const nameStart = this.skipBlanks(keywordEnd);
    if (nameStart === this.end) return true; // a bare "# HELP" is only a comment, as in Prometheus
    let q = nameStart;
    if (!isMetricNameStart(this.at(q))) return this.failWith(`invalid metric name in ${keyword} line`);
    while (isMetricNameChar(this.at(q))) q++;
    if (q < this.end && !isBlank(this.at(q))) return this.failWith(`invalid metric name in ${keyword} line`);
    if (keyword === 'HELP') return true;
    const name = this.page.slice(nameStart, q);
    const typeStart = this.skipBlanks(q);
    const typeEnd = this.tokenEnd(typeStart);
    const type = this.page.slice(typeStart, typeEnd);
    if (this.skipBlanks(typeEnd) !== this.end || !METRIC_TYPES.has(type)) return this.failWith(`unknown metric type ${JSON.stringify(type.slice(0, 32))}`);
    if (this.types.has(name)) return this.failWith(`second TYPE line for ${name}`);
    this.types.set(name, type as MetricType);
    return true;
  }

  private sample(start: number): boolean {
    if (!isMetricNameStart(this.page.charCodeAt(start))) return this.failWith('invalid metric name');
    const name = this.metricName(start);
    // A family the caller does not want is not read further: no labels, no value, no object.
    if (this.wanted !== undefined && !this.wanted(name)) {
      this.skipped++;
      return true;
    }
    let p = start + name.length;
    const afterName = p;
    p = this.skipBlanks(p);
    const labels: Record<string, string> = {};
    if (this.at(p) === LBRACE) {
      p = this.labelSet(p + 1, labels);
      if (p === -1) return false;
      p = this.skipBlanks(p);
    } else if (p === afterName && p < this.end) {
      return this.failWith('invalid metric name');
    }
    if (p === this.end) return this.failWith('missing value');
    const valueEnd = this.tokenEnd(p);
    const value = parseFloatToken(this.page, p, valueEnd);
    if (value === undefined) return this.failWith('invalid value');
    p = this.skipBlanks(valueEnd);
    let timestampMs: number | undefined;
    if (p < this.end) {
      const timestampEnd = this.tokenEnd(p);
      timestampMs = parseIntegerToken(this.page, p, timestampEnd);
      if (timestampMs === undefined) return this.failWith('invalid timestamp');
      if (this.skipBlanks(timestampEnd) !== this.end) return this.failWith('unexpected text after timestamp');
    }
    this.samples.push({ name, labels, value, timestampMs });
    return true;
  }

  /** The metric name at start: the previous line's when it is the same, without scanning it again. */
  private metricName(start: number): string {
    const previous = this.previousName;
    const stop = start + previous.length;
    if (previous !== '' && stop <= this.end && !isMetricNameChar(this.at(stop)) && this.page.startsWith(previous, start)) return previous;
    let p = start + 1;
    while (isMetricNameChar(this.at(p))) p++;
    return (this.previousName = this.page.slice(start, p));
  }

  /** From just after `{` to just after `}`; a trailing comma is allowed, as in Prometheus. */
  private labelSet(p: number, labels: Record<string, string>): number {
    for (let index = 0; ; index++) {
      p = this.skipBlanks(p);
      const c = this.at(p);
      if (c === RBRACE) return p + 1;
      if (!isLabelNameStart(c)) return this.failAt(c === -1 ? 'unterminated label set' : 'invalid label name');
      if (index === MAX_LABELS_PER_SAMPLE) return this.failAt(`more than ${MAX_LABELS_PER_SAMPLE} labels`);
      const name = this.labelName(index, p);
      p = this.skipBlanks(p + name.length);
      if (this.at(p) !== EQUALS) return this.failAt(`expected '=' after label ${name}`);
      p = this.skipBlanks(p + 1);
      if (this.at(p) !== QUOTE) return this.failAt(`value of label ${name} is not quoted`);
      p = this.labelValue(p + 1);
      if (p === -1) return -1;
      if (Object.hasOwn(labels, name)) return this.failAt(`duplicate label ${name}`);
      // A plain assignment of "__proto__" would change the object's prototype instead.
      if (name === '__proto__') Object.defineProperty(labels, name, { value: this.value, enumerable: true, writable: true, configurable: true });
      else labels[name] = this.value;
      p = this.skipBlanks(p);
      const separator = this.at(p);
      if (separator === RBRACE) return p + 1;
      if (separator !== COMMA) return this.failAt(separator === -1 ? 'unterminated label set' : "expected ',' or '}' after a label value");
      p++;
    }
  }

  /** The label name at start, reusing the previous line's name at the same index. */
  private labelName(index: number, start: number): string {
    const previous = this.previousLabelNames[index];
    if (previous !== undefined && start + previous.length <= this.end && !isLabelNameChar(this.at(start + previous.length)) && this.page.startsWith(previous, start)) return previous;
    let p = start + 1;
    while (isLabelNameChar(this.at(p))) p++;
    const name = this.page.slice(start, p);
    this.previousLabelNames[index] = name;
    return name;
  }

  /** From just after the opening quote to just after the closing one; the value goes to `this.value`. */
  private labelValue(start: number): number {
    const page = this.page;
    // Fast path: most values have no escape, so they are one slice found by native
    // indexOf. The next backslash in the page is remembered, so that looking for it
    // costs one pass over the page in all, not one search per value.
    const quote = page.indexOf('"', start);
    if (this.nextBackslash < start) {
      const backslash = page.indexOf('\\', start);
      this.nextBackslash = backslash === -1 ? page.length : backslash;
    }
    if (this.nextReplacement < start) {
      const replacement = page.indexOf(REPLACEMENT_CHARACTER, start);
      this.nextReplacement = replacement === -1 ? page.length : replacement;
    }
    if (quote !== -1 && quote < this.end && quote < this.nextBackslash && quote < this.nextReplacement) {
      this.value = page.slice(start, quote);
      return quote + 1;
    }
    let p = start;
    while (p < this.end && page.charCodeAt(p) !== QUOTE && page.charCodeAt(p) !== BACKSLASH) p++;
    let value = page.slice(start, p);
    for (;;) {
      const c = this.at(p);
      if (c === QUOTE) {
        if (value.includes(REPLACEMENT_CHARACTER)) return this.failAt('label value is not valid UTF-8');
        this.value = value;
        return p + 1;
      }
      if (c === -1) return this.failAt('unterminated label value');
      if (c === BACKSLASH) {
        const escaped = this.at(p + 1);
        if (escaped === BACKSLASH) value += '\\';
        else if (escaped === QUOTE) value += '"';
        else if (escaped === 110) value += '\n'; // n
        else return this.failAt('invalid escape sequence in label value');
        p += 2;
        continue;
      }
      const runStart = p;
      while (p < this.end && page.charCodeAt(p) !== QUOTE && page.charCodeAt(p) !== BACKSLASH) p++;
      value += page.slice(runStart, p);
    }
  }

  private failWith(reason: string): false {
    this.reason = reason;
    return false;
  }

  private failAt(reason: string): -1 {
    this.reason = reason;
    return -1;
  }
}
