import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { RawLine } from '../logLine.js';
import type { TailChunk } from './fileTailer.js';
import { FileTailer } from './fileTailer.js';
import type { FileTailerOptions } from './tailerOptions.js';

let dir: string;
let logs: string;
let checkpointPath: string;
let clock: { ms: number };
const tailers: FileTailer[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tailer-'));
  logs = join(dir, 'logs');
  mkdirSync(logs);
  mkdirSync(join(dir, 'state'));
  checkpointPath = join(dir, 'state', 'checkpoints.json');
  clock = { ms: 0 };
});
afterEach(async () => {
  for (const t of tailers.splice(0)) await t.close();
  rmSync(dir, { recursive: true, force: true });
});

async function tailer(options: Partial<FileTailerOptions> = {}): Promise<FileTailer> {
  const t = new FileTailer({ include: join(logs, '*.log'), checkpointPath, startAt: 'beginning', rotateWaitMs: 100, now: () => clock.ms, ...options });
  tailers.push(t);
  await t.start();
  return t;
}

const lines = (...texts: string[]): string => texts.map((t) => `${t}\n`).join('');
const texts = (chunks: readonly TailChunk[]): string[] => chunks.flatMap((c) => c.lines.map((l) => l.text));

/** Polls until a poll brings nothing; returns every chunk. */
async function pollAll(t: FileTailer, maxBytes = 1 << 20): Promise<TailChunk[]> {
  const all: TailChunk[] = [];
  for (let i = 0; i < 100; i++) {
    const chunks = await t.poll(maxBytes);
    if (chunks.length === 0) return all;
    all.push(...chunks);
  }
  throw new Error('the tailer never ran dry');
}

/** Advances the clock past the rotate wait and polls, so rotated files finish. */
async function afterRotateWait(t: FileTailer): Promise<TailChunk[]> {
  clock.ms += 1000;
  return pollAll(t);
}

describe('FileTailer: reading', () => {
  it('follows appends, offsets in bytes', async () => {
    const path = join(logs, 'app.log');
    writeFileSync(path, lines('a', 'bé'));
    const t = await tailer();
    const first = await pollAll(t);
    expect(first.flatMap((c) => c.lines)).toEqual([
      { text: 'a', startOffset: 0, endOffset: 2 },
      { text: 'bé', startOffset: 2, endOffset: 6 },
    ]);
    expect(first[0]?.file.path).toBe(path);
    appendFileSync(path, lines('c'));
    expect((await pollAll(t)).flatMap((c) => c.lines)).toEqual([{ text: 'c', startOffset: 6, endOffset: 8 }]);
    expect(t.stats()).toMatchObject({ filesWatched: 1, linesRead: 3, bytesRead: 8, bytesBehind: 0 });
  });

  it('holds an incomplete last line until its newline arrives', async () => {
    const path = join(logs, 'app.log');
    writeFileSync(path, 'a\nb');
    const t = await tailer();
    expect(texts(await pollAll(t))).toEqual(['a']);
    clock.ms += 10_000;
    expect(texts(await pollAll(t))).toEqual([]);
    appendFileSync(path, 'c\n');
    expect(texts(await pollAll(t))).toEqual(['bc']);
  });

  it('gives a long line in pieces and decodes characters across read chunks', async () => {
    const long = '€'.repeat(40); // 120 bytes
    writeFileSync(join(logs, 'app.log'), lines(long, 'ünïcödé ✓'));
    const t = await tailer({ maxLineBytes: 50, readChunkBytes: 7 });
    const got = (await pollAll(t)).flatMap((c) => c.lines);
    expect(got.map((l) => l.more)).toEqual([true, true, undefined, undefined]);
    expect(got.slice(0, 3).map((l) => l.text).join('')).toBe(long);
    expect(got[3]?.text).toBe('ünïcödé ✓');
  });

  const startCases: [name: string, startAt: 'end' | 'beginning', expected: string[]][] = [
    ['startAt end skips what a file held at the first start', 'end', ['new in old', 'later file']],
    ['startAt beginning reads it all', 'beginning', ['old', 'new in old', 'later file']],
  ];
  for (const [name, startAt, expected] of startCases) {
    it(`${name}; a file appearing later is read from its beginning`, async () => {
      writeFileSync(join(logs, 'old.log'), lines('old'));
      const t = await tailer({ startAt });
      const atStart = await pollAll(t);
      appendFileSync(join(logs, 'old.log'), lines('new in old'));
      writeFileSync(join(logs, 'later.log'), lines('later file'));
      const got = [...atStart, ...(await pollAll(t))];
      expect(texts(got).sort()).toEqual([...expected].sort());
      expect(texts(got.filter((c) => c.file.path.endsWith('later.log')))).toEqual(['later file']);
    });
  }

  it('after the first start, a file found without a checkpoint entry is read from its beginning', async () => {
    writeFileSync(join(logs, 'a.log'), lines('a1'));
    const first = await tailer({ startAt: 'end' });
    await pollAll(first);
    await first.close();
    writeFileSync(join(logs, 'b.log'), lines('b1'));
    appendFileSync(join(logs, 'a.log'), lines('a2'));
    const second = await tailer({ startAt: 'end' });
    expect(texts(await pollAll(second)).sort()).toEqual(['a2', 'b1']);
  });

  it('respects the byte budget, round-robin across files', async () => {
    const line = 'x'.repeat(99); // 100 bytes with its newline
    for (const name of ['a', 'b', 'c']) writeFileSync(join(logs, `${name}.log`), lines(...Array.from({ length: 50 }, () => line)));
    const t = await tailer({ readChunkBytes: 1024 });
    const first = await t.poll(1000);
    const bytes = first.flatMap((c) => c.lines).reduce((sum, l) => sum + l.endOffset - l.startOffset, 0);
    expect(bytes).toBeGreaterThanOrEqual(1000);
    expect(bytes).toBeLessThanOrEqual(1100);
    expect(new Set(first.map((c) => c.file.path)).size).toBe(3);
    let total = bytes;
    for (let i = 0; i < 100 && total < 15_000; i++) {
      const chunks = await t.poll(1000);
      const got = chunks.flatMap((c) => c.lines).reduce((sum, l) => sum + l.endOffset - l.startOffset, 0);
      expect(got).toBeLessThanOrEqual(1100);
      total += got;
    }
    expect(total).toBe(15_000);
    expect(t.stats().bytesBehind).toBe(0);
  });

  it('once mode reads every file from its beginning to its end, then is done', async () => {
    writeFileSync(join(logs, 'a.log'), lines('a1', 'a2') + 'a-tail');
    writeFileSync(join(logs, 'b.log'), lines('b1'));
    const t = await tailer({ mode: 'once', startAt: 'end' });
    const got = await pollAll(t);
    expect(texts(got).sort()).toEqual(['a-tail', 'a1', 'a2', 'b1']);
    expect(got.filter((c) => c.ended).length).toBe(2);
    expect(t.isDone()).toBe(true);
  });
});

describe('FileTailer: rotation', () => {
  it('rename + create: finishes the old file through its descriptor, late writes included, then reads the new one', async () => {
    const path = join(logs, 'app.log');
    writeFileSync(path, lines('1', '2'));
    const t = await tailer();
    expect(texts(await pollAll(t))).toEqual(['1', '2']);
    appendFileSync(path, lines('3'));
    renameSync(path, `${path}.1`);
    appendFileSync(`${path}.1`, '4 late, no newline');
    writeFileSync(path, lines('new 1'));
    const got = await pollAll(t);
    expect(texts(got)).toEqual(['3', 'new 1']);
    expect(got.some((c) => c.ended)).toBe(false);
    const end = await afterRotateWait(t);
    expect(end).toHaveLength(1);
    expect(end[0]).toMatchObject({ ended: true, file: { path, realPath: `${path}.1` } });
    expect(texts(end)).toEqual(['4 late, no newline']);
    expect(t.stats()).toMatchObject({ filesWatched: 1, rotations: { rename: 1, truncate: 0 } });
  });

  it('reads a file created and rotated between two polls', async () => {
    const path = join(logs, 'app.log');
    writeFileSync(path, lines('a1'));
    const t = await tailer();
    await pollAll(t);
    appendFileSync(path, lines('a2'));
    renameSync(path, `${path}.1`);
    writeFileSync(path, lines('b1', 'b2'));
    renameSync(path, `${path}.2`);
    writeFileSync(`${path}.3.gz`, 'compressed, never read\n');
    writeFileSync(path, lines('c1'));
    const got = [...(await pollAll(t)), ...(await afterRotateWait(t))];
    expect(texts(got).sort()).toEqual(['a2', 'b1', 'b2', 'c1']);
    expect(got.filter((c) => c.ended).map((c) => c.file.realPath).sort()).toEqual([`${path}.1`, `${path}.2`]);
    expect(t.stats().rotations.rename).toBe(2);
  });

  it('ignores rotated siblings from before it started', async () => {
    const path = join(logs, 'app.log');
    writeFileSync(`${path}.1`, lines('old rotated'));
    const old = new Date(Date.now() - 3_600_000);
    const { utimesSync } = await import('node:fs');
    utimesSync(`${path}.1`, old, old);
    writeFileSync(path, lines('a1'));
    const t = await tailer();
    await pollAll(t);
    renameSync(path, `${path}.2`);
    writeFileSync(path, lines('b1'));
    expect(texts([...(await pollAll(t)), ...(await afterRotateWait(t))])).toEqual(['b1']);
  });

  it('follows a /var/log/containers symlink to its target through the kubelet rotation', async () => {
    const podDir = join(dir, 'pods', 'ns_pod_uid', 'app');
    mkdirSync(podDir, { recursive: true });
    const target = join(podDir, '0.log');
    const link = join(logs, 'pod_ns_app-0123.log');
    writeFileSync(target, lines('before'));
    symlinkSync(target, link);
    const t = await tailer();
    const first = await pollAll(t);
    expect(first[0]?.file).toMatchObject({ path: link, realPath: target });
    appendFileSync(target, lines('last of old'));
    renameSync(target, `${target}.20240101-120000`);
    writeFileSync(target, lines('first of new'));
    const got = [...(await pollAll(t)), ...(await afterRotateWait(t))];
    expect(texts(got)).toEqual(['last of old', 'first of new']);
    expect(got.every((c) => c.file.path === link)).toBe(true);
    expect(got.find((c) => c.ended)?.file.realPath).toBe(`${target}.20240101-120000`);
  });

  it('copytruncate: reads what was unread from the copy, then the truncated file from 0', async () => {
    const path = join(logs, 'app.log');
    writeFileSync(path, lines('1', '2', '3'));
    const t = await tailer();
    const first = await pollAll(t);
    const key = first[0]?.file.key;
    appendFileSync(path, lines('4', '5'));
    copyFileSync(path, `${path}.1`);
    truncateSync(path, 0);
    appendFileSync(path, lines('6'));
    const got = [...(await pollAll(t)), ...(await afterRotateWait(t))];
    expect(texts(got.filter((c) => c.file.key === key))).toEqual(['4', '5']);
    expect(got.filter((c) => c.file.key !== key).flatMap((c) => c.lines)).toEqual([{ text: '6', startOffset: 0, endOffset: 2 }]);
    expect(got.find((c) => c.file.key === key && c.ended)?.file.realPath).toBe(`${path}.1`);
    expect(t.stats()).toMatchObject({ rotations: { rename: 0, truncate: 1 }, truncationsWithoutCopy: 0 });
  });

  it('copytruncate when the truncated file grew past our offset before the poll', async () => {
    const path = join(logs, 'app.log');
    writeFileSync(path, lines('1', '2'));
    const t = await tailer();
    const key = (await pollAll(t))[0]?.file.key;
    appendFileSync(path, lines('3'));
    copyFileSync(path, `${path}.1`);
    truncateSync(path, 0);
    appendFileSync(path, lines('new-1 is long', 'new-2 is long'));
    const got = [...(await pollAll(t)), ...(await afterRotateWait(t))];
    expect(texts(got.filter((c) => c.file.key === key))).toEqual(['3']);
    expect(texts(got.filter((c) => c.file.key !== key))).toEqual(['new-1 is long', 'new-2 is long']);
  });

  it.each([
    ['holding a later generation', lines('c1')],
    ['empty again', ''],
  ])('copytruncate, twice between two polls, of a file followed while empty, now %s', async (_, last) => {
    const path = join(logs, 'app.log');
    writeFileSync(path, '');
    const t = await tailer();
    expect(await pollAll(t)).toEqual([]);
    await new Promise((done) => setTimeout(done, 20)); // a later mtime than the one we saw
    appendFileSync(path, lines('a1', 'a2'));
    copyFileSync(path, `${path}.1`);
    truncateSync(path, 0);
    appendFileSync(path, lines('b1'));
    copyFileSync(path, `${path}.2`);
    truncateSync(path, 0);
    if (last !== '') appendFileSync(path, last);
    const got = [...(await pollAll(t)), ...(await afterRotateWait(t))];
    expect(texts(got).sort()).toEqual(['a1', 'a2', 'b1', ...(last === '' ? [] : ['c1'])]);
  });

  it('rename + create: a generation created and rotated while the path was missing, between two polls', async () => {
    const path = join(logs, 'app.log');
    writeFileSync(path, lines('a1'));
    const t = await tailer();
    expect(texts(await pollAll(t))).toEqual(['a1']);
    renameSync(path, `${path}.1`); // seen between the rename and the create: the path is missing
    const got = await pollAll(t);
    writeFileSync(path, lines('b1', 'b2'));
    renameSync(path, `${path}.2`);
    writeFileSync(path, lines('c1'));
    got.push(...(await pollAll(t)), ...(await afterRotateWait(t)));
    expect(texts(got).sort()).toEqual(['b1', 'b2', 'c1']);
  });

  it('plain truncation: counted, read again from 0', async () => {
    const path = join(logs, 'app.log');
    writeFileSync(path, lines('1', '2'));
    const t = await tailer();
    const key = (await pollAll(t))[0]?.file.key;
    truncateSync(path, 0);
    appendFileSync(path, lines('x'));
    const got = await pollAll(t);
    expect(got.find((c) => c.file.key === key)).toMatchObject({ ended: true, lines: [] });
    expect(got.filter((c) => c.file.key !== key).flatMap((c) => c.lines)).toEqual([{ text: 'x', startOffset: 0, endOffset: 2 }]);
    expect(t.stats()).toMatchObject({ rotations: { truncate: 1 }, truncationsWithoutCopy: 1 });
  });
});

describe('FileTailer: checkpoints', () => {
  const readCheckpoint = (): { files: Record<string, { offset: number; dev: string; ino: string }> } =>
    JSON.parse(readFileSync(checkpointPath, 'utf8')) as { files: Record<string, { offset: number; dev: string; ino: string }> };

  it('resumes at the committed offset after a crash, never at the read offset', async () => {
    const path = join(logs, 'app.log');
    writeFileSync(path, lines('1', '2', '3', '4'));
    const first = await tailer();
    const chunks = await pollAll(first);
    const key = chunks[0]!.file.key;
    first.commit(key, (chunks[0]!.lines[1] as RawLine).endOffset);
    await first.flushCheckpoints();
    tailers.splice(tailers.indexOf(first), 1); // crashed: never closed
    const second = await tailer();
    const again = await pollAll(second);
    expect(texts(again)).toEqual(['3', '4']);
    expect(again[0]?.file.key).toBe(key);
  });

  it('after a crash, finds the files rotated while it was down even when its first look finds the path missing', async () => {
    const path = join(logs, 'app.log');
    writeFileSync(path, lines('a1'));
    const first = await tailer();
    const chunks = await pollAll(first);
    first.commit(chunks[0]!.file.key, (chunks[0]!.lines[0] as RawLine).endOffset);
    await first.flushCheckpoints();
    tailers.splice(tailers.indexOf(first), 1); // crashed: never closed
    renameSync(path, `${path}.1`);
    writeFileSync(path, lines('b1', 'b2'));
    renameSync(path, `${path}.2`); // the path is missing at the restart
    const second = await tailer();
    const got = await pollAll(second);
    writeFileSync(path, lines('c1'));
    got.push(...(await pollAll(second)), ...(await afterRotateWait(second)));
    expect(texts(got).sort()).toEqual(['b1', 'b2', 'c1']);
  });

  it('names a file by its content even when it was empty while live, so a crash re-reads it under the same name', async () => {
    // The kubelet's rename leaves a new, empty file; a poll may open it before its first line
    // and the next find it already renamed away. Its lines must still carry the content's
    // id: a restarted agent names the same file by its content, and a record's id is built on it.
    const path = join(logs, 'app.log');
    writeFileSync(path, '');
    const first = await tailer();
    expect(await pollAll(first)).toEqual([]);
    appendFileSync(path, lines('a1', 'a2', 'a3'));
    renameSync(path, `${path}.1`);
    writeFileSync(path, '');
    const before = (await first.poll(1 << 20)).filter((c) => c.lines.length > 0);
    expect(texts(before)).toEqual(['a1', 'a2', 'a3']);
    const contentId = before[0]?.contentId;
    expect(contentId, 'the rotated file was read without a content id').toBeDefined();
    first.commit(before[0]!.file.key, (before[0]!.lines[0] as RawLine).endOffset);
    await first.flushCheckpoints();
    tailers.splice(tailers.indexOf(first), 1); // crashed: never closed
    const second = await tailer();
    const again = [...(await pollAll(second)), ...(await afterRotateWait(second))].filter((c) => c.lines.length > 0);
    expect(texts(again)).toEqual(['a2', 'a3']);
    expect(again.map((c) => c.contentId)).toEqual([contentId]);
    expect(again[0]?.lines.map((l) => l.startOffset)).toEqual(before[0]?.lines.slice(1).map((l) => l.startOffset));
  });

  it('commits persist at most every interval and at close', async () => {
    writeFileSync(join(logs, 'app.log'), lines('1', '2'));
    const t = await tailer({ checkpointIntervalMs: 1000 });
    const chunk = (await pollAll(t))[0] as TailChunk;
    clock.ms += 1000;
    await t.poll(1 << 20);
    t.commit(chunk.file.key, 2);
    await t.poll(1 << 20);
    expect(Object.values(readCheckpoint().files).map((e) => e.offset)).toEqual([0]);
    t.commit(chunk.file.key, 1); // offsets only increase
    await t.close();
    expect(Object.values(readCheckpoint().files).map((e) => e.offset)).toEqual([2]);
  });

  it('resumes a file rotated while it was down from its checkpoint', async () => {
    const path = join(logs, 'app.log');
    writeFileSync(path, lines('1', '2', '3'));
    const first = await tailer();
    const got = await pollAll(first);
    first.commit(got[0]!.file.key, 2);
    await first.close();
    renameSync(path, `${path}.1`);
    writeFileSync(path, lines('new'));
    const second = await tailer();
    const again = [...(await pollAll(second)), ...(await afterRotateWait(second))];
    expect(texts(again.filter((c) => c.file.key === got[0]!.file.key))).toEqual(['2', '3']);
    expect(texts(again.filter((c) => c.file.key !== got[0]!.file.key))).toEqual(['new']);
  });

  it('resumes from the copy when the file was copytruncated while it was down', async () => {
    const path = join(logs, 'app.log');
    writeFileSync(path, lines('1', '2', '3'));
    const first = await tailer();
    const got = await pollAll(first);
    first.commit(got[0]!.file.key, 4);
    await first.close();
    copyFileSync(path, `${path}.1`);
    truncateSync(path, 0);
    writeFileSync(path, lines('new'));
    const second = await tailer();
    const again = [...(await pollAll(second)), ...(await afterRotateWait(second))];
    expect(texts(again).sort()).toEqual(['3', 'new']);
  });

  it('treats a new file on a checkpointed inode with another fingerprint as new (inode reuse)', async () => {
    const path = join(logs, 'app.log');
    writeFileSync(path, lines('old content', 'more old'));
    const first = await tailer();
    const got = await pollAll(first);
    first.commit(got[0]!.file.key, 21);
    await first.close();
    unlinkSync(path);
    writeFileSync(path, lines('brand new file'));
    // The kernel may or may not reuse the number: make the checkpoint name the new file's inode.
    const { dev, ino } = statSync(path, { bigint: true });
    const document = readCheckpoint();
    for (const entry of Object.values(document.files)) Object.assign(entry, { dev: String(dev), ino: String(ino) });
    writeFileSync(checkpointPath, JSON.stringify(document));
    const second = await tailer();
    const again = (await pollAll(second)).flatMap((c) => c.lines);
    expect(again).toEqual([{ text: 'brand new file', startOffset: 0, endOffset: 15 }]);
  });

  it('reports a corrupt checkpoint file, counts it and reads files from their beginning', async () => {
    writeFileSync(join(logs, 'app.log'), lines('1', '2'));
    writeFileSync(checkpointPath, '{"version":1,"files":');
    const log = { warn: vi.fn(), error: vi.fn() };
    const t = await tailer({ startAt: 'end', log });
    expect(texts(await pollAll(t))).toEqual(['1', '2']);
    expect(t.stats().checkpointLoadErrors).toBe(1);
    expect(log.error).toHaveBeenCalledOnce();
    await t.close();
    expect(Object.keys(readCheckpoint().files)).toHaveLength(1);
  });

  it('counts checkpoint write errors and keeps running', async () => {
    writeFileSync(join(logs, 'app.log'), lines('1'));
    const t = await tailer({ checkpointPath: join(dir, 'missing-dir', 'cp.json') });
    expect(texts(await pollAll(t))).toEqual(['1']);
    await t.flushCheckpoints();
    expect(t.stats().checkpointWriteErrors).toBe(1);
  });

  it('forgets finished files once they are gone', async () => {
    const path = join(logs, 'app.log');
    writeFileSync(path, lines('1'));
    const t = await tailer();
    await pollAll(t);
    renameSync(path, `${path}.1`);
    writeFileSync(path, lines('2'));
    await pollAll(t);
    await afterRotateWait(t);
    expect(t.stats().filesKnown).toBe(2);
    unlinkSync(`${path}.1`);
    clock.ms += 2000;
    await t.poll(1 << 20);
    expect(t.stats()).toMatchObject({ filesKnown: 1, filesWatched: 1 });
    await t.close();
    expect(Object.keys(readCheckpoint().files)).toHaveLength(1);
  });
});
