import { appendFileSync, closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RawLine } from '../logLine.js';
import { LineReader } from './lineReader.js';

let dir: string;
const fds: number[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'linereader-'));
});
afterEach(() => {
  for (const fd of fds.splice(0)) closeSync(fd);
  rmSync(dir, { recursive: true, force: true });
});

function fileWith(content: string | Buffer): { path: string; reader: (maxLineBytes?: number, offset?: number) => LineReader } {
  const path = join(dir, 'f.log');
  writeFileSync(path, content);
  return {
    path,
    reader: (maxLineBytes = 1 << 20, offset = 0) => {
      const fd = openSync(path, 'r');
      fds.push(fd);
      return new LineReader(fd, offset, maxLineBytes);
    },
  };
}

async function readAll(reader: LineReader, bufferBytes: number): Promise<RawLine[]> {
  const out: RawLine[] = [];
  const buffer = Buffer.alloc(bufferBytes);
  for (let i = 0; i < 10_000; i++) if ((await reader.step(buffer, Infinity, out)).atEnd) break;
  return out;
}

/** Every piece's bytes, joined, must give back the file: offsets are contiguous. */
function expectContiguous(lines: readonly RawLine[], from = 0): void {
  let at = from;
  for (const line of lines) {
    expect(line.startOffset).toBe(at);
    at = line.endOffset;
  }
}

describe('LineReader', () => {
  const text = 'α line one\nzwei: ßü\n三行目のテキスト\n🙂 emoji 🙂\nplain\n';
  for (const bufferBytes of [4, 5, 7, 16, 64, 4096]) {
    it(`decodes UTF-8 lines whole with a ${bufferBytes}-byte buffer`, async () => {
      const lines = await readAll(fileWith(text).reader(), bufferBytes);
      expect(lines.map((l) => l.text)).toEqual(text.split('\n').slice(0, -1));
      expect(lines.every((l) => l.more === undefined)).toBe(true);
      expectContiguous(lines);
      expect(lines.at(-1)?.endOffset).toBe(Buffer.byteLength(text));
    });
  }

  it('holds back an incomplete last line until its newline arrives', async () => {
    const { path, reader } = fileWith('first\nsecond half');
    const r = reader();
    expect((await readAll(r, 64)).map((l) => l.text)).toEqual(['first']);
    expect(r.emittedOffset).toBe(6);
    appendFileSync(path, ' and the rest\nthird');
    const more = await readAll(r, 64);
    expect(more).toEqual([{ text: 'second half and the rest', startOffset: 6, endOffset: 31 }]);
  });

  it('keeps a line longer than the buffer but within the limit whole', async () => {
    const long = 'x'.repeat(100);
    const lines = await readAll(fileWith(`${long}\nshort\n`).reader(1000), 8);
    expect(lines.map((l) => l.text)).toEqual([long, 'short']);
    expectContiguous(lines);
  });

  it('gives a line over the limit in pieces marked more, cut on character boundaries', async () => {
    const long = 'ab€cd€ef€gh€'.repeat(5); // € is 3 bytes
    for (const bufferBytes of [4, 9, 64]) {
      const lines = await readAll(fileWith(`${long}\nok\n`).reader(10), bufferBytes);
      const pieces = lines.slice(0, -1);
      expect(pieces.slice(0, -1).every((l) => l.more === true)).toBe(true);
      expect(pieces.at(-1)?.more).toBeUndefined();
      expect(pieces.map((l) => l.text).join('')).toBe(long);
      expect(pieces.every((l) => l.endOffset - l.startOffset <= 11 && !l.text.includes('\uFFFD'))).toBe(true);
      expect(lines.at(-1)?.text).toBe('ok');
      expectContiguous(lines);
    }
  });

  it('gives a line of exactly the limit whole', async () => {
    const lines = await readAll(fileWith('0123456789\n').reader(10), 4);
    expect(lines).toEqual([{ text: '0123456789', startOffset: 0, endOffset: 11 }]);
  });

  it('gives a step the lines that fit in its budget, one at least, and goes on from there', async () => {
    const r = fileWith('aaaa\nbbbb\ncccc\ndddd\n').reader();
    const out: RawLine[] = [];
    const buffer = Buffer.alloc(64);
    expect(await r.step(buffer, 12, out)).toEqual({ emittedBytes: 10, atEnd: false });
    expect(out.map((l) => l.text)).toEqual(['aaaa', 'bbbb']);
    expect(await r.step(buffer, 1, out)).toEqual({ emittedBytes: 5, atEnd: false });
    expect(out.map((l) => l.text)).toEqual(['aaaa', 'bbbb', 'cccc']);
    expect(await r.step(buffer, 100, out)).toEqual({ emittedBytes: 5, atEnd: true });
  });

  it('finish gives out the incomplete last line', async () => {
    const r = fileWith('one\ntwo\nthree without newline').reader();
    const out: RawLine[] = [];
    await r.finish(Buffer.alloc(8), out);
    expect(out.map((l) => l.text)).toEqual(['one', 'two', 'three without newline']);
    expect(out.at(-1)?.endOffset).toBe(29);
  });

  it('resumes at an offset', async () => {
    const lines = await readAll(fileWith('one\ntwo\n').reader(100, 4), 64);
    expect(lines).toEqual([{ text: 'two', startOffset: 4, endOffset: 8 }]);
  });
});
