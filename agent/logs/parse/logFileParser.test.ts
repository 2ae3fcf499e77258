import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ParsedLog, RawLine } from '../logLine.js';
import { LogFileParser, type LogFileParserOptions } from './logFileParser.js';
import { linesOf, logFixture, rawLines } from './testLines.js';

const OPTIONS: LogFileParserOptions = { multiline: true, multilineFlushMs: 1000, maxMessageBytes: 64 * 1024 };

function parseAll(lines: readonly RawLine[], options: Partial<LogFileParserOptions> = {}): ParsedLog[] {
  const parser = new LogFileParser({ ...OPTIONS, ...options });
  return [...parser.push(lines, 0), ...parser.end()];
}

const TS = '2024-01-02T03:04:05.000000000Z';
const cri = (stream: 'stdout' | 'stderr', tag: 'P' | 'F', message: string): string => `${TS} ${stream} ${tag} ${message}`;

/** Checks what every returned batch must satisfy: resume offsets never go back. */
function expectNonDecreasing(records: readonly ParsedLog[]): void {
  for (let i = 1; i < records.length; i++) expect(records[i]!.resumeOffset).toBeGreaterThanOrEqual(records[i - 1]!.resumeOffset);
}

describe('Fluent Bit container vectors', () => {
  interface Vector {
    input_records: string[];
    expected_output_records: string[];
  }
  const chomp = (text: string): string => (text.endsWith('\n') ? text.slice(0, -1) : text);
  it.each(['cri.json', 'docker.json', 'container_mix.json', 'docker_cri_chain.json'])('%s', (name) => {
    const vector = JSON.parse(logFixture(`fluent-bit-multiline-test-vectors/${name}`)) as Vector;
    for (const multiline of [false, true]) {
      const records = parseAll(rawLines(vector.input_records), { multiline });
      expect(records.map((r) => r.message)).toEqual(vector.expected_output_records.map(chomp));
      expectNonDecreasing(records);
    }
  });

  it('cri.json keeps each stream to itself, with the first chunk\'s time', () => {
    const records = parseAll(rawLines(linesOf(logFixture('fluent-bit-multiline-test-vectors/cri_input.log'))));
    expect(records.slice(0, 2).map((r) => [r.message, r.stream, r.timestampMs])).toEqual([
      ['1a. some multiline log', 'stdout', Date.parse('2019-05-07T18:57:50.904Z')],
      ['1b. some multiline log', 'stderr', Date.parse('2019-05-07T18:57:50.904Z')],
    ]);
  });
});

describe('LogFileParser', () => {
  it('reads the kubelet TestReadLogs json-file', () => {
    const records = parseAll(rawLines(linesOf(logFixture('kubelet-parser-vectors/kubelet_TestReadLogs_docker-json.log'))));
    expect(records.map((r) => [r.message, r.stream, r.timestampMs])).toEqual([1, 2, 3].map((n) => [`line${n}`, 'stdout', Date.parse(`2020-09-27T11:18:0${n}Z`)]));
  });

  it('makes one record of the containerd Java/Hadoop stack trace', () => {
    const text = logFixture('fluent-bit__cri_java_hadoop_stacktrace.log');
    const lines = rawLines(linesOf(text));
    const records = parseAll(lines);
    expect(records).toHaveLength(1);
    const record = records[0]!;
    expect(record.message.split('\n')).toHaveLength(lines.length);
    expect(record.message.startsWith('hdfsExists: invokeMethod((Lorg/apache/hadoop/fs/Path;)Z) error:\norg.apache.hadoop.ipc.RemoteException(')).toBe(true);
    expect(record.message.endsWith('\tat org.apache.hadoop.fs.FileSystem.exists(FileSystem.java:1424)')).toBe(true);
    expect(record).toMatchObject({ stream: 'stderr', level: 'error', startOffset: 0, resumeOffset: Buffer.byteLength(text), timestampMs: Date.parse('2020-08-19T21:06:24.337Z') });
  });

  it('leaves the Hadoop lines apart without multiline', () => {
    const lines = rawLines(linesOf(logFixture('fluent-bit__cri_java_hadoop_stacktrace.log')));
    expect(parseAll(lines, { multiline: false })).toHaveLength(lines.length);
  });

  describe('partial lines of two streams', () => {
    const lines = rawLines([
      cri('stdout', 'P', 'out-a '), // 0
      cri('stderr', 'P', 'err-a '), // 1
      cri('stdout', 'F', 'out-b'), // 2
      cri('stderr', 'F', 'err-b'), // 3
      cri('stdout', 'F', 'whole'), // 4
    ]);
    const at = (i: number): RawLine => lines[i]!;

    it('joins each stream on its own and resumes before whatever is still held', () => {
      const parser = new LogFileParser(OPTIONS);
      const records = parser.push(lines, 0);
      expect(records).toEqual([
        { message: 'out-a out-b', timestampMs: Date.parse(TS), stream: 'stdout', level: undefined, startOffset: at(0).startOffset, resumeOffset: at(1).startOffset },
        { message: 'err-a err-b', timestampMs: Date.parse(TS), stream: 'stderr', level: 'error', startOffset: at(1).startOffset, resumeOffset: at(3).endOffset },
        { message: 'whole', timestampMs: Date.parse(TS), stream: 'stdout', level: undefined, startOffset: at(4).startOffset, resumeOffset: at(4).endOffset },
      ]);
    });

    it('keeps a partial line across pushes and resumes before it', () => {
      const parser = new LogFileParser(OPTIONS);
      expect(parser.push(lines.slice(0, 2), 0)).toEqual([]);
      const second = parser.push(lines.slice(2, 3), 0);
      expect(second.map((r) => [r.message, r.resumeOffset])).toEqual([['out-a out-b', at(1).startOffset]]);
      const third = parser.push(lines.slice(3), 0);
      expect(third.map((r) => [r.message, r.resumeOffset])).toEqual([
        ['err-a err-b', at(3).endOffset],
        ['whole', at(4).endOffset],
      ]);
    });

    it('emits a partial line that never ended when the file ends', () => {
      const parser = new LogFileParser(OPTIONS);
      expect(parser.push(lines.slice(0, 1), 0)).toEqual([]);
      expect(parser.end().map((r) => [r.message, r.startOffset, r.resumeOffset])).toEqual([['out-a ', 0, at(0).endOffset]]);
    });
  });

  describe('messages over maxMessageBytes', () => {
    const cases: { name: string; lines: string[]; maxMessageBytes: number; want: string[] }[] = [
      { name: 'an ASCII line in three pieces', lines: [cri('stdout', 'F', 'abcdefghijklmnopqrstuvwxy')], maxMessageBytes: 10, want: ['abcdefghij', 'klmnopqrst', 'uvwxy'] },
      { name: 'a line of exactly the limit is not split', lines: [cri('stdout', 'F', 'abcdefghij')], maxMessageBytes: 10, want: ['abcdefghij'] },
      { name: 'two-byte characters are not cut', lines: [cri('stdout', 'F', 'aééééé')], maxMessageBytes: 4, want: ['aé', 'éé', 'éé'] },
      { name: 'a surrogate pair stays whole', lines: [cri('stdout', 'F', 'ab😀cd😀')], maxMessageBytes: 5, want: ['ab', '😀c', 'd😀'] },
      {
        name: 'a partial line that outgrows the limit is split as it comes',
        lines: [cri('stdout', 'P', 'aaaaaaa'), cri('stdout', 'P', 'bbbbbbb'), cri('stdout', 'F', 'ccc')],
        maxMessageBytes: 5,
        want: ['aaaaa', 'aabbb', 'bbbbc', 'cc'],
      },
      { name: 'a docker line', lines: ['{"log":"0123456789\\n","stream":"stdout","time":"2024-01-01T00:00:00Z"}'], maxMessageBytes: 4, want: ['0123', '4567', '89'] },
      { name: 'a malformed line', lines: ['not a log line at all'], maxMessageBytes: 8, want: ['not a lo', 'g line a', 't all'] },
    ];
    it.each(cases)('$name', ({ lines, maxMessageBytes, want }) => {
      const raw = rawLines(lines);
      const records = parseAll(raw, { maxMessageBytes });
      expect(records.map((r) => r.message)).toEqual(want);
      if (want.length > 1) {
        expect(records.map((r) => [r.split, r.piece, r.startOffset])).toEqual(want.map((_, i) => [true, i, 0]));
      } else {
        expect(records[0]!.split).toBeUndefined();
      }
      for (const record of records) expect(Buffer.byteLength(record.message)).toBeLessThanOrEqual(maxMessageBytes);
      expectNonDecreasing(records);
    });

    it('resumes at the start of a split partial line until its end is read', () => {
      const parser = new LogFileParser({ ...OPTIONS, maxMessageBytes: 5 });
      const raw = rawLines([cri('stdout', 'P', 'aaaaaaa'), cri('stdout', 'P', 'bbbbbbb'), cri('stdout', 'F', 'ccc')]);
      const early = parser.push(raw.slice(0, 2), 0);
      expect(early.map((r) => [r.message, r.resumeOffset])).toEqual([
        ['aaaaa', 0],
        ['aabbb', 0],
      ]);
      expect(parser.push(raw.slice(2), 0).map((r) => [r.message, r.piece, r.resumeOffset])).toEqual([
        // More of the line is to come after this piece: a restart must read it again.
        ['bbbbc', 2, 0],
        ['cc', 3, raw[2]!.endOffset],
      ]);
    });
  });

  describe('malformed lines', () => {
    it('become records with the raw text and a reason, and never throw', () => {
      const texts = ['garbage', '', '{"log":', '2024-01-02T03:04:05Z stdin F x', '\u0000\uffff'];
      const records = parseAll(rawLines(texts));
      expect(records.map((r) => r.message)).toEqual(texts);
      for (const record of records) {
        expect(record.parseError).toMatch(/^(cri|docker): /);
        expect(record.stream).toBeUndefined();
        expect(record.timestampMs).toBeUndefined();
      }
    });

    it('end the partial lines held before them', () => {
      const raw = rawLines([cri('stdout', 'P', 'half '), cri('stderr', 'F', 'other'), 'garbage', cri('stdout', 'F', 'next')]);
      const records = parseAll(raw);
      expect(records.map((r) => [r.message, r.parseError !== undefined])).toEqual([
        ['other', false],
        ['half ', false],
        ['garbage', true],
        ['next', false],
      ]);
      // The partial line goes out once the line after it was read: its resume offset is that line's start.
      expect(records.map((r) => r.resumeOffset)).toEqual([0, raw[2]!.startOffset, raw[2]!.endOffset, raw[3]!.endOffset]);
    });

    it('a docker line read as CRI is malformed when the format is fixed', () => {
      const records = parseAll(rawLines(['{"log":"x\\n","stream":"stdout","time":"2024-01-01T00:00:00Z"}']), { format: 'cri' });
      expect(records[0]!.parseError).toBeDefined();
    });
  });

  it('joins the pieces of a raw line the tailer cut', () => {
    const full = cri('stderr', 'F', 'E0102 15:04:05.123456 1 x.go:1] ' + 'y'.repeat(50));
    const pieces: RawLine[] = [
      { text: full.slice(0, 20), startOffset: 0, endOffset: 20, more: true },
      { text: full.slice(20, 40), startOffset: 20, endOffset: 40, more: true },
      { text: full.slice(40), startOffset: 40, endOffset: full.length + 1 },
    ];
    const parser = new LogFileParser(OPTIONS);
    expect(parser.push(pieces.slice(0, 2), 0)).toEqual([]);
    expect(parser.push(pieces.slice(2), 0)).toEqual([
      { message: full.slice(full.indexOf('E0102')), timestampMs: Date.parse(TS), stream: 'stderr', level: 'error', startOffset: 0, resumeOffset: full.length + 1 },
    ]);
  });

  it('keeps at most four times maxMessageBytes (at least 1 MiB) of a cut raw line, and marks what it kept truncated', () => {
    const maxMessageBytes = 300_000;
    const head = cri('stdout', 'F', '');
    const chunk = 'x'.repeat(100_000);
    const pieces: RawLine[] = [{ text: head, startOffset: 0, endOffset: head.length, more: true }];
    for (let i = 0; i < 13; i++) pieces.push({ text: chunk, startOffset: head.length + i * chunk.length, endOffset: head.length + (i + 1) * chunk.length, more: i < 12 });
    const records = parseAll(pieces, { maxMessageBytes });
    expect(records.map((r) => r.message.length)).toEqual([300_000, 300_000, 300_000, 300_000 - head.length]);
    for (const record of records) expect(record).toMatchObject({ truncated: true, split: true, startOffset: 0 });
    expect(records[records.length - 1]!.resumeOffset).toBe(pieces[pieces.length - 1]!.endOffset);
  });

  it('holds the resume offset before a cut raw line', () => {
    const parser = new LogFileParser(OPTIONS);
    const raw = rawLines([cri('stdout', 'F', 'one')]);
    const cut: RawLine = { text: TS, startOffset: raw[0]!.endOffset, endOffset: raw[0]!.endOffset + TS.length, more: true };
    expect(parser.push([...raw, cut], 0).map((r) => r.resumeOffset)).toEqual([raw[0]!.endOffset]);
  });

  describe('stack traces', () => {
    const trace = ['java.lang.IllegalStateException: boom', '\tat a.B.c(B.java:1)', '\tat a.B.d(B.java:2)'];

    it('are joined per stream, apart from the other stream\'s lines', () => {
      const raw = rawLines([cri('stdout', 'F', trace[0]!), cri('stderr', 'F', 'unrelated'), cri('stdout', 'F', trace[1]!), cri('stdout', 'F', trace[2]!), cri('stdout', 'F', 'done')]);
      const records = parseAll(raw);
      expect(records.map((r) => [r.message, r.stream, r.level, r.startOffset, r.resumeOffset])).toEqual([
        ['unrelated', 'stderr', 'error', raw[1]!.startOffset, 0],
        [trace.join('\n'), 'stdout', 'error', 0, raw[3]!.endOffset],
        ['done', 'stdout', undefined, raw[4]!.startOffset, raw[4]!.endOffset],
      ]);
    });

    it('come out once multilineFlushMs passed since their last line (injected clock)', () => {
      const parser = new LogFileParser(OPTIONS);
      const raw = rawLines(trace.map((t) => cri('stdout', 'F', t)));
      expect(parser.push(raw, 5000)).toEqual([]);
      expect(parser.flushDue(5999)).toEqual([]);
      expect(parser.flushDue(6000).map((r) => [r.message, r.resumeOffset])).toEqual([[trace.join('\n'), raw[2]!.endOffset]]);
      expect(parser.end()).toEqual([]);
    });

    it('a push after the timeout first emits what timed out', () => {
      const parser = new LogFileParser(OPTIONS);
      const raw = rawLines([...trace, 'later'].map((t) => cri('stdout', 'F', t)));
      expect(parser.push(raw.slice(0, 3), 0)).toEqual([]);
      expect(parser.push(raw.slice(3), 2000).map((r) => r.message)).toEqual([trace.join('\n'), 'later']);
    });

    it('are not joined when multiline is off', () => {
      const records = parseAll(rawLines(trace.map((t) => cri('stdout', 'F', t))), { multiline: false });
      expect(records.map((r) => r.message)).toEqual(trace);
    });
  });

  describe('resume offsets (property)', () => {
    type Kind = 'P' | 'F' | 'trace-start' | 'frame' | 'garbage' | 'more';
    const step = fc.record({
      stream: fc.constantFrom<'stdout' | 'stderr'>('stdout', 'stderr'),
      kind: fc.constantFrom<Kind>('P', 'F', 'F', 'trace-start', 'frame', 'garbage', 'more'),
      batchEnd: fc.boolean(),
      advanceMs: fc.constantFrom(0, 10, 2000),
    });

    it('never pass a line not yet emitted, never go back, and nothing is lost or doubled', () => {
      fc.assert(
        fc.property(fc.array(step, { minLength: 1, maxLength: 60 }), fc.constantFrom(6, 64, 1 << 16), fc.boolean(), (steps, maxMessageBytes, multiline) => {
          // Every line carries a token `<n>`; a record's text shows which lines it delivered.
          const raw: RawLine[] = [];
          let offset = 0;
          const add = (text: string, more = false): void => {
            const bytes = Buffer.byteLength(text) + (more ? 0 : 1);
            raw.push(more ? { text, startOffset: offset, endOffset: offset + bytes, more } : { text, startOffset: offset, endOffset: offset + bytes });
            offset += bytes;
          };
          steps.forEach(({ stream, kind }, n) => {
            const token = `<${n}>`;
            if (kind === 'P') add(cri(stream, 'P', token));
            else if (kind === 'F') add(cri(stream, 'F', token));
            else if (kind === 'trace-start') add(cri(stream, 'F', `java.lang.Error: ${token}`));
            else if (kind === 'frame') add(cri(stream, 'F', `\tat ${token}`));
            else if (kind === 'garbage') add(`garbage ${token}`);
            else {
              const text = cri(stream, 'F', token);
              add(text.slice(0, 7), true);
              add(text.slice(7));
            }
          });
          const tokenLine = new Map<number, RawLine>();
          raw.forEach((line) => {
            const match = /<(\d+)>/.exec(line.text);
            if (match !== null) tokenLine.set(Number(match[1]), line);
          });

          const parser = new LogFileParser({ multiline, multilineFlushMs: 1000, maxMessageBytes });
          const records: ParsedLog[] = [];
          const textByRecord = new Map<number, string>();
          const delivered = new Map<number, number>();
          let nowMs = 0;
          let pushedUpTo = 0;
          const check = (batch: ParsedLog[]): void => {
            for (const record of batch) {
              expect(Buffer.byteLength(record.message)).toBeLessThanOrEqual(maxMessageBytes);
              const previous = records[records.length - 1];
              if (previous !== undefined) expect(record.resumeOffset).toBeGreaterThanOrEqual(previous.resumeOffset);
              records.push(record);
              const text = (textByRecord.get(record.startOffset) ?? '') + record.message;
              textByRecord.set(record.startOffset, text);
              for (const match of text.matchAll(/<(\d+)>/g)) delivered.set(Number(match[1]), record.startOffset);
              // Every line read so far whose token has not come out must lie at or after the resume offset.
              for (const [token, line] of tokenLine) {
                if (line.startOffset < pushedUpTo && !delivered.has(token)) expect(record.resumeOffset).toBeLessThanOrEqual(line.startOffset);
              }
            }
          };
          let batchStart = 0;
          steps.forEach(({ batchEnd, advanceMs }, n) => {
            const last = n === steps.length - 1;
            if (!batchEnd && !last) return;
            const lastToken = tokenLine.get(n)!;
            const batchEndIndex = raw.indexOf(lastToken) + 1;
            const batch = raw.slice(batchStart, batchEndIndex);
            batchStart = batchEndIndex;
            pushedUpTo = batch[batch.length - 1]!.endOffset;
            nowMs += advanceMs;
            check(parser.push(batch, nowMs));
            check(parser.flushDue(nowMs));
          });
          check(parser.end());
          // Lossless: every token came out, and exactly once.
          expect([...delivered.keys()].sort((a, b) => a - b)).toEqual(steps.map((_, n) => n));
          const all = [...textByRecord.values()].join('');
          expect(all.match(/<\d+>/g)?.length).toBe(steps.length);
          expect(records[records.length - 1]!.resumeOffset).toBe(offset);
        }),
        { numRuns: 300 },
      );
    });
  });
});
