/**
 * Joins the lines of a stack trace into one record, for one stream of one file: Java (and
 * Kotlin/Scala, Hadoop, Elasticsearch), Node.js/V8/browser JS, C#/.NET, Python, Go panics,
 * Ruby/Rails, PHP and Dart, in the manner of fluent-plugin-detect-exceptions and Fluent Bit's
 * built-in multiline parsers.
 *
 * A line that cannot start a trace passes straight through. A line that can is held, and each
 * following line either continues the trace or ends it. A continuation is *strong* when it proves
 * a trace (a frame, `Caused by:`, a goroutine header) and *weak* when it only might belong (a
 * blank line, the message lines of a Dart error): when a trace ends, the weak lines after its last
 * strong line are not part of it and are looked at again as ordinary lines. A held line that was
 * never followed by a strong one was not a trace and comes out alone.
 */

import { utf8ByteLength } from './utf8.js';

/** A message on its way through the joiner, with the file range it came from. */
export interface LineEntry {
  readonly message: string;
  readonly timestampMs: number | undefined;
  readonly startOffset: number;
  readonly endOffset: number;
}

/**
 * Receives each record, in order: the joined message, the first line's timestamp and start
 * offset, the last line's end offset and how many lines were joined (1: not a trace).
 */
export type JoinedRecordSink = (message: string, timestampMs: number | undefined, startOffset: number, endOffset: number, lineCount: number) => void;

export interface StackTraceJoinerOptions {
  /** A trace is emitted once joining one more line would make it longer than this (UTF-8 bytes, `\n`s counted). */
  readonly maxBytes: number;
  /** … or hold more lines than this. */
  readonly maxLines: number;
}

const enum State {
  None,
  /** After an exception line (`java.lang.X: msg`, `TypeError: x`, `Caused by: …`). */
  JavaStart,
  /** After a line that announces an exception on the next line (`nested exception is:`, `… error:`). */
  JavaNested,
  JavaFrames,
  PythonTraceback,
  PythonFrames,
  /** After the exception line that ends a Python traceback: a chained traceback may follow. */
  PythonEnd,
  GoPanic,
  GoSignal,
  GoGoroutine,
  /** Expecting a function line (`main.f(0x1)`, `created by …`) or a blank line. */
  GoFunction,
  /** Expecting the tab-indented file:line of the function above. */
  GoLocation,
  RubyStart,
  RubyFrames,
  PhpStart,
  PhpFrames,
  DartHeader,
  DartFrames,
}

const enum Verdict {
  Strong,
  Weak,
  /** The line is the last of the trace. */
  End,
  /** The line is not part of the trace. */
  Reject,
}

/** Dart prints a few message lines (and a caret under code) between `Unhandled exception:` and `#0`. */
const DART_HEADER_MAX_LINES = 8;

function indentOf(line: string): number {
  let i = 0;
  for (;;) {
    const c = line.charCodeAt(i);
    if (c !== 32 && c !== 9) return i;
    i++;
  }
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isWordChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || isDigit(c) || c === 95;
}

/** `Exception`, `Error` or `Throwable` ending a word and followed by `:`, `[`, `(` or the end of the line. */
function hasExceptionWord(line: string): boolean {
  return hasWordBefore(line, 'Exception') || hasWordBefore(line, 'Error') || hasWordBefore(line, 'Throwable');
}

function hasWordBefore(line: string, word: string): boolean {
  let at = line.indexOf(word);
  while (at >= 0) {
    const next = line.charCodeAt(at + word.length);
    if (Number.isNaN(next) || next === 58 || next === 91 || next === 40) return true;
    at = line.indexOf(word, at + word.length);
  }
  return false;
}

/** `#12   frame` (Dart) or `#0 /path/file.php(9): f()` (PHP). */
function isHashFrame(line: string): boolean {
  if (line.charCodeAt(0) !== 35 || !isDigit(line.charCodeAt(1))) return false;
  let i = 2;
  while (isDigit(line.charCodeAt(i))) i++;
  return line.charCodeAt(i) === 32;
}

/** `goroutine 7 [running]:` */
function isGoroutineHeader(line: string): boolean {
  return line.startsWith('goroutine ') && isDigit(line.charCodeAt(10)) && line.endsWith(']:');
}

function isRubyFrame(line: string): boolean {
  return line.includes(':in `') || line.includes(":in '");
}

/** `panic: ` not inside a word (`tympanic: ` is prose). */
function hasGoPanic(line: string): boolean {
  let at = line.indexOf('panic: ');
  while (at >= 0) {
    if (at === 0 || !isWordChar(line.charCodeAt(at - 1))) return true;
    at = line.indexOf('panic: ', at + 7);
  }
  return false;
}

function endsWithIntro(line: string): boolean {
  let end = line.length;
  while (end > 0 && line.charCodeAt(end - 1) === 32) end--;
  if (line.charCodeAt(end - 1) !== 58) return false;
  const before = line.slice(Math.max(0, end - 10), end - 1).toLowerCase();
  return before.endsWith('error') || before.endsWith('exception');
}

/**
 * Every start marker that may sit anywhere in a line, in one pattern: one regex pass costs a
 * third of testing them one by one, and most lines match none.
 */
const MAY_START = /(?:Exception|Error|Throwable)(?:[:[(]|$)|panic[: ]|exception '|:in [`']|Error \(/;

/** The state a line opens, or None when it cannot start a trace. Runs on every line: cheap checks first. */
function startState(line: string): State {
  const first = line.charCodeAt(0);
  // Structured lines are whole records.
  if (line.length < 5 || first === 123) return State.None;
  if (first === 84 && line.startsWith('Traceback (most recent call last):')) return State.PythonTraceback;
  if (first === 85 && line === 'Unhandled exception:') return State.DartHeader;
  if (first === 80 && (line.startsWith('PHP Fatal error:') || line.startsWith('PHP Parse error:') || line.startsWith('PHP Warning:') || line.startsWith('PHP Notice:'))) return State.PhpStart;
  if (first === 86 && line.startsWith('V8 errors stack trace')) return State.JavaStart;
  if (!MAY_START.test(line)) return endsWithIntro(line) ? State.JavaNested : State.None;
  if (line.includes("exception '")) return State.PhpStart;
  if (line.includes('http: panic serving')) return State.GoGoroutine;
  if (hasGoPanic(line)) return State.GoPanic;
  if (line.includes(':in ') && isRubyFrame(line)) return State.RubyStart;
  if (line.endsWith('):') && line.includes('Error (')) return State.RubyStart;
  if (endsWithIntro(line)) return State.JavaNested;
  if (hasExceptionWord(line)) return State.JavaStart;
  return State.None;
}

export class StackTraceJoiner {
  private state = State.None;
  private readonly held: LineEntry[] = [];
  /** `held[0, strongCount)` is a proven trace; the lines after it are weak. */
  private strongCount = 0;
  private heldBytes = 0;
  private dartHeaderLines = 0;
  /** Lines waiting to be looked at: the weak tail of a trace that ended, then the line that ended it. */
  private queue: LineEntry[] = [];
  private queueAt = 0;
  private lastLineMs = 0;
  private verdict = Verdict.Reject;

  constructor(
    private readonly options: StackTraceJoinerOptions,
    private readonly emit: JoinedRecordSink,
  ) {}

  /** Offset of the first line held or waiting, or Infinity: where a checkpoint must not pass. */
  get heldStartOffset(): number {
    const first = this.held[0] ?? this.queue[this.queueAt];
    return first === undefined ? Infinity : first.startOffset;
  }

  get isHolding(): boolean {
    return this.held.length > 0;
  }

  /** Takes the next message of the stream; `nowMs` times the flush timeout. */
  push(message: string, timestampMs: number | undefined, startOffset: number, endOffset: number, nowMs: number): void {
    this.lastLineMs = nowMs;
    if (this.state === State.None && this.queueAt === this.queue.length) {
      // The common case: nothing held, and a line that starts nothing goes straight out.
      const start = startState(message);
      if (start === State.None) {
        this.emit(message, timestampMs, startOffset, endOffset, 1);
        return;
      }
      this.open({ message, timestampMs, startOffset, endOffset }, start);
      return;
    }
    this.queue.push({ message, timestampMs, startOffset, endOffset });
    this.drain();
  }

  /** Emits what is held when no line came for `flushMs`. */
  flushDue(nowMs: number, flushMs: number): void {
    if (this.held.length > 0 && nowMs - this.lastLineMs >= flushMs) this.flush();
  }

  /** Emits everything held, as the trace it proved to be or as single lines. */
  flush(): void {
    while (this.held.length > 0) {
      this.release(undefined);
      this.drain();
    }
  }

  private drain(): void {
    while (this.queueAt < this.queue.length) {
      const entry = this.queue[this.queueAt++] as LineEntry;
      this.step(entry);
    }
    this.queue = [];
    this.queueAt = 0;
  }

  private open(entry: LineEntry, state: State): void {
    this.held.push(entry);
    this.heldBytes = utf8ByteLength(entry.message);
    this.strongCount = 0;
    this.dartHeaderLines = 0;
    this.state = state;
  }

  private step(entry: LineEntry): void {
    if (this.state === State.None) {
      const start = startState(entry.message);
      if (start === State.None) this.emit(entry.message, entry.timestampMs, entry.startOffset, entry.endOffset, 1);
      else this.open(entry, start);
      return;
    }
    const next = this.transition(entry.message);
    const verdict = this.verdict;
    if (verdict === Verdict.Reject) {
      this.release(entry);
      return;
    }
    const bytes = utf8ByteLength(entry.message);
    if (this.held.length >= this.options.maxLines || this.heldBytes + 1 + bytes > this.options.maxBytes) {
      // Too big to hold more: what is held goes out as it is, and the trace goes on in a new record.
      const full = this.held.slice();
      this.held.length = 0;
      this.heldBytes = 0;
      this.strongCount = 0;
      emitJoined(full, this.emit);
    }
    this.heldBytes += this.held.length > 0 ? 1 + bytes : bytes;
    this.held.push(entry);
    if (verdict !== Verdict.Weak) this.strongCount = this.held.length;
    this.state = next;
    if (verdict === Verdict.End) this.release(undefined);
  }

  /**
   * Ends the held trace: its proven part goes out joined (or, when nothing was proven, its first
   * line alone), and the remaining lines, then `ending`, are looked at again.
   */
  private release(ending: LineEntry | undefined): void {
    const count = this.strongCount > 0 ? this.strongCount : 1;
    const rest = this.held.slice(count);
    if (ending !== undefined) rest.push(ending);
    for (let i = this.queueAt; i < this.queue.length; i++) rest.push(this.queue[i] as LineEntry);
    const emitted = this.held.slice(0, count);
    this.held.length = 0;
    this.strongCount = 0;
    this.heldBytes = 0;
    this.state = State.None;
    this.queue = rest;
    this.queueAt = 0;
    emitJoined(emitted, this.emit);
  }

  private javaTransition(line: string, indent: number, blank: boolean): State {
    if (blank) {
      this.verdict = Verdict.Weak;
      return this.state;
    }
    if (indent > 0 && (line.startsWith('at ', indent) || line.startsWith('eval at ', indent))) return State.JavaFrames;
    if (line.startsWith('... ', indent) && isDigit(line.charCodeAt(indent + 4))) return State.JavaFrames;
    if (line.startsWith('--- End of ', indent)) return State.JavaFrames;
    if (line.startsWith('Caused by: ', indent) || line.startsWith('Suppressed: ', indent)) return State.JavaStart;
    if (line.startsWith('nested exception is:', indent)) return State.JavaNested;
    if (line.startsWith('Stack trace:', indent)) return State.PhpFrames;
    this.verdict = Verdict.Reject;
    return State.None;
  }

  /** The state after `line`, with `this.verdict` set to how the line relates to the trace. */
  private transition(line: string): State {
    const indent = indentOf(line);
    const blank = indent === line.length;
    this.verdict = Verdict.Strong;
    switch (this.state) {
      case State.JavaNested:
        if (!blank && indent === 0 && hasExceptionWord(line)) {
          this.verdict = Verdict.Weak;
          return State.JavaStart;
        }
        // An announced exception may also be followed at once by frames.
        return this.javaTransition(line, indent, blank);
      case State.JavaStart:
      case State.JavaFrames:
        return this.javaTransition(line, indent, blank);
      case State.PythonTraceback:
        if (indent > 0 && line.startsWith('File "', indent)) return State.PythonFrames;
        break;
      case State.PythonFrames:
        if (blank) break;
        // Frames, their source lines and 3.11's `^^^` markers are indented; the exception line is not.
        return indent > 0 ? State.PythonFrames : State.PythonEnd;
      case State.PythonEnd:
        this.verdict = Verdict.Weak;
        if (blank) return State.PythonEnd;
        if (line.startsWith('During handling of the above exception') || line.startsWith('The above exception was the direct cause')) return State.PythonEnd;
        if (line.startsWith('Traceback (most recent call last):')) return State.PythonTraceback;
        break;
      case State.GoPanic:
        if (blank) {
          this.verdict = Verdict.Weak;
          return State.GoGoroutine;
        }
        if (line.startsWith('[signal ')) {
          this.verdict = Verdict.Weak;
          return State.GoSignal;
        }
        if (indent > 0 && line.startsWith('panic: ', indent)) {
          this.verdict = Verdict.Weak;
          return State.GoPanic;
        }
        if (isGoroutineHeader(line)) return State.GoFunction;
        break;
      case State.GoSignal:
        if (blank) {
          this.verdict = Verdict.Weak;
          return State.GoGoroutine;
        }
        if (isGoroutineHeader(line)) return State.GoFunction;
        break;
      case State.GoGoroutine:
        if (isGoroutineHeader(line)) return State.GoFunction;
        break;
      case State.GoFunction:
        if (blank) {
          this.verdict = Verdict.Weak;
          return State.GoGoroutine;
        }
        if (indent === 0 && (line.endsWith(')') || line.startsWith('created by ') || line.startsWith('...'))) return State.GoLocation;
        break;
      case State.GoLocation:
        if (indent > 0 && !blank) return State.GoFunction;
        break;
      case State.RubyStart:
        if (blank) {
          this.verdict = Verdict.Weak;
          return State.RubyStart;
        }
        if (indent > 0 && isRubyFrame(line)) return State.RubyFrames;
        break;
      case State.RubyFrames:
        if (indent > 0 && isRubyFrame(line)) return State.RubyFrames;
        break;
      case State.PhpStart:
        if (line.startsWith('Stack trace:', indent)) return State.PhpFrames;
        break;
      case State.PhpFrames:
        if (isHashFrame(line)) return State.PhpFrames;
        if (line.startsWith('thrown in ', indent)) {
          this.verdict = Verdict.End;
          return State.None;
        }
        break;
      case State.DartHeader:
        if (isHashFrame(line)) return State.DartFrames;
        if (this.dartHeaderLines < DART_HEADER_MAX_LINES) {
          this.dartHeaderLines++;
          this.verdict = Verdict.Weak;
          return State.DartHeader;
        }
        break;
      case State.DartFrames:
        if (isHashFrame(line) || line === '<asynchronous suspension>') return State.DartFrames;
        break;
      case State.None:
        break;
    }
    this.verdict = Verdict.Reject;
    return State.None;
  }
}

function emitJoined(entries: readonly LineEntry[], emit: JoinedRecordSink): void {
  const first = entries[0];
  const last = entries[entries.length - 1];
  if (first === undefined || last === undefined) return;
  let message = first.message;
  for (let i = 1; i < entries.length; i++) message += '\n' + (entries[i] as LineEntry).message;
  emit(message, first.timestampMs, first.startOffset, last.endOffset, entries.length);
}
