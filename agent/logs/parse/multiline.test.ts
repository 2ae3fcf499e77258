import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { StackTraceJoiner, type LineEntry } from './multiline.js';
import { LOG_FIXTURES, linesOf, logFixture, rawLines } from './testLines.js';

interface Emitted {
  message: string;
  startOffset: number;
  endOffset: number;
  lineCount: number;
}

function joiner(options = { maxBytes: 1 << 20, maxLines: 1000 }): { joiner: StackTraceJoiner; emitted: Emitted[] } {
  const emitted: Emitted[] = [];
  const j = new StackTraceJoiner(options, (message, _timestampMs, startOffset, endOffset, lineCount) => {
    emitted.push({ message, startOffset, endOffset, lineCount });
  });
  return { joiner: j, emitted };
}

/** Feeds lines to a fresh joiner, then flushes it; the messages that came out. */
function join(lines: readonly string[]): string[] {
  const { joiner: j, emitted } = joiner();
  for (const line of rawLines(lines)) j.push(line.text, undefined, line.startOffset, line.endOffset, 0);
  j.flush();
  return emitted.map((e) => e.message);
}

const BEFORE = '2024-01-01 12:00:00 INFO starting request';
const AFTER = 'request finished in 12 ms';

describe('stack traces of fluent-plugin-detect-exceptions', () => {
  const dir = new URL('stacktraces-detect-exceptions/', LOG_FIXTURES);
  const files = readdirSync(dir).filter((name) => name.endsWith('.txt')).sort();
  const traces = files.filter((name) => name !== 'ARBITRARY_TEXT.txt');
  // Every trace in the set is supported; a file listed here would be asserted to come out unjoined.
  const KNOWN_UNSUPPORTED: Record<string, string> = {};

  it('are all here', () => {
    expect(files).toHaveLength(39);
  });

  it.each(traces.filter((name) => KNOWN_UNSUPPORTED[name] === undefined))('%s comes out as one record, between ordinary lines', (name) => {
    const text = logFixture(`stacktraces-detect-exceptions/${name}`);
    const trace = text.endsWith('\n') ? text.slice(0, -1) : text;
    expect(join([BEFORE, ...linesOf(text), AFTER])).toEqual([BEFORE, trace, AFTER]);
  });

  it.each(traces.filter((name) => KNOWN_UNSUPPORTED[name] !== undefined))('%s (known unsupported) comes out unjoined', (name) => {
    const lines = linesOf(logFixture(`stacktraces-detect-exceptions/${name}`));
    expect(join(lines)).toEqual(lines);
  });

  it.each(traces)('%s comes out as one record at the end of the input too', (name) => {
    const text = logFixture(`stacktraces-detect-exceptions/${name}`);
    if (KNOWN_UNSUPPORTED[name] !== undefined) return;
    expect(join(linesOf(text))).toEqual([text.slice(0, -1)]);
  });

  it('ARBITRARY_TEXT is not joined', () => {
    const lines = linesOf(logFixture('stacktraces-detect-exceptions/ARBITRARY_TEXT.txt'));
    expect(join([BEFORE, ...lines, AFTER])).toEqual([BEFORE, ...lines, AFTER]);
  });

  it('two traces back to back stay two records', () => {
    const java = logFixture('stacktraces-detect-exceptions/JAVA_EXC.txt').slice(0, -1);
    const python = logFixture('stacktraces-detect-exceptions/PYTHON_EXC.txt').slice(0, -1);
    expect(join([...java.split('\n'), ...python.split('\n'), ...java.split('\n')])).toEqual([java, python, java]);
  });
});

describe('stack-trace vectors of Fluent Bit', () => {
  interface Vector {
    input_records: string[];
    expected_output_records: string[];
  }
  const vector = (name: string): Vector => JSON.parse(logFixture(`fluent-bit-multiline-test-vectors/${name}`)) as Vector;
  // Fluent Bit's records keep the line's newline; a joined message here carries none at its end.
  const chomp = (text: string): string => (text.endsWith('\n') ? text.slice(0, -1) : text);

  it.each(['java.json', 'python.json', 'go.json', 'ruby.json', 'elastic.json'])('%s', (name) => {
    const { input_records: input, expected_output_records: expected } = vector(name);
    expect(join(input.map(chomp))).toEqual(expected.map(chomp));
  });

  // These two test Fluent Bit's user-defined regex rules, not a built-in language: there is no
  // such configuration here, so each line stays its own record.
  const KNOWN_UNSUPPORTED = {
    'endswith.json': 'a user-defined rule (a line ending in a backslash continues); not a stack trace',
    'issue_3817_1.json': 'a user-defined rule (`[DEBUG] … start multiline` then any line); not a stack trace',
  };
  it.each(Object.entries(KNOWN_UNSUPPORTED))('%s is known unsupported (%s): its lines come out unjoined', (name) => {
    const input = vector(name).input_records.map(chomp);
    expect(join(input)).toEqual(input);
  });
});

describe('StackTraceJoiner', () => {
  const trace = ['java.lang.IllegalStateException: boom', '\tat a.B.c(B.java:1)', '\tat a.B.d(B.java:2)'];

  it('passes an ordinary line through at once', () => {
    const { joiner: j, emitted } = joiner();
    j.push('hello', undefined, 0, 6, 0);
    expect(emitted).toEqual([{ message: 'hello', startOffset: 0, endOffset: 6, lineCount: 1 }]);
    expect(j.isHolding).toBe(false);
  });

  it('holds a trace until a line that is not part of it, and reports where it started', () => {
    const { joiner: j, emitted } = joiner();
    const lines = rawLines([...trace, 'next'], 100);
    for (const line of lines.slice(0, 3)) j.push(line.text, undefined, line.startOffset, line.endOffset, 0);
    expect(emitted).toEqual([]);
    expect(j.heldStartOffset).toBe(100);
    const last = lines[3] as (typeof lines)[number];
    j.push(last.text, undefined, last.startOffset, last.endOffset, 0);
    expect(emitted).toEqual([
      { message: trace.join('\n'), startOffset: 100, endOffset: last.startOffset, lineCount: 3 },
      { message: 'next', startOffset: last.startOffset, endOffset: last.endOffset, lineCount: 1 },
    ]);
    expect(j.heldStartOffset).toBe(Infinity);
  });

  it('lets a line that only looked like a start go out alone', () => {
    expect(join(['Error: connection refused', 'retrying in 5s'])).toEqual(['Error: connection refused', 'retrying in 5s']);
  });

  it('does not keep blank lines that followed the end of a trace', () => {
    expect(join([...trace, '', '', 'next'])).toEqual([trace.join('\n'), '', '', 'next']);
  });

  it('keeps a blank line followed by more of the trace', () => {
    expect(join([...trace, '', '\tat a.B.e(B.java:3)'])).toEqual([[...trace, '', '\tat a.B.e(B.java:3)'].join('\n')]);
  });

  it('joins a chained Python traceback', () => {
    const chained = [
      'Traceback (most recent call last):',
      '  File "a.py", line 1, in <module>',
      'KeyError: 1',
      '',
      'During handling of the above exception, another exception occurred:',
      '',
      'Traceback (most recent call last):',
      '  File "a.py", line 3, in <module>',
      'ValueError: 2',
    ];
    expect(join([...chained, 'next'])).toEqual([chained.join('\n'), 'next']);
  });

  it('ends a PHP trace at its `thrown in` line without waiting', () => {
    const { joiner: j, emitted } = joiner();
    const lines = ["PHP Fatal error:  Uncaught Exception: x in /a.php:3", 'Stack trace:', '#0 {main}', '  thrown in /a.php on line 3'];
    for (const line of rawLines(lines)) j.push(line.text, undefined, line.startOffset, line.endOffset, 0);
    expect(emitted.map((e) => e.message)).toEqual([lines.join('\n')]);
  });

  it('emits what it holds once flushMs passed since the last line', () => {
    const { joiner: j, emitted } = joiner();
    rawLines(trace).forEach((line, i) => j.push(line.text, undefined, line.startOffset, line.endOffset, 1000 + i));
    j.flushDue(1000 + 2 + 499, 500);
    expect(emitted).toEqual([]);
    j.flushDue(1000 + 2 + 500, 500);
    expect(emitted.map((e) => e.message)).toEqual([trace.join('\n')]);
  });

  it('lets a held start line go out alone at the timeout', () => {
    const { joiner: j, emitted } = joiner();
    j.push('Error: connection refused', undefined, 0, 26, 0);
    j.flushDue(1000, 1000);
    expect(emitted.map((e) => e.message)).toEqual(['Error: connection refused']);
  });

  it('cuts a trace at maxLines and goes on with the rest', () => {
    const { joiner: j, emitted } = joiner({ maxBytes: 1 << 20, maxLines: 2 });
    const frames = [...trace, '\tat a.B.e(B.java:3)', '\tat a.B.f(B.java:4)'];
    for (const line of rawLines(frames)) j.push(line.text, undefined, line.startOffset, line.endOffset, 0);
    j.flush();
    expect(emitted.map((e) => e.message)).toEqual([frames.slice(0, 2).join('\n'), frames.slice(2, 4).join('\n'), frames[4]]);
  });

  it('cuts a trace before it outgrows maxBytes', () => {
    const maxBytes = trace[0]!.length + 1 + trace[1]!.length;
    const { joiner: j, emitted } = joiner({ maxBytes, maxLines: 1000 });
    for (const line of rawLines(trace)) j.push(line.text, undefined, line.startOffset, line.endOffset, 0);
    j.flush();
    expect(emitted.map((e) => e.message)).toEqual([trace.slice(0, 2).join('\n'), trace[2]]);
    for (const e of emitted) expect(Buffer.byteLength(e.message)).toBeLessThanOrEqual(maxBytes);
  });

  it('reports as held the lines it is about to look at again', () => {
    const seen: number[] = [];
    const j: StackTraceJoiner = new StackTraceJoiner({ maxBytes: 1 << 20, maxLines: 1000 }, () => seen.push(j.heldStartOffset));
    const lines: LineEntry[] = rawLines([...trace, '', 'Error: again', 'x']).map((l) => ({ message: l.text, timestampMs: undefined, startOffset: l.startOffset, endOffset: l.endOffset }));
    for (const l of lines) j.push(l.message, undefined, l.startOffset, l.endOffset, 0);
    // The trace went out while the blank line (offset of lines[3]) was still to be looked at again.
    expect(seen[0]).toBe(lines[3]!.startOffset);
  });
});
