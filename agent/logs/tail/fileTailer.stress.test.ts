/**
 * A writer appends numbered lines and rotates every few milliseconds while the tailer polls;
 * the consumer commits every line's end offset as it goes, and the tailer "crashes" (is
 * dropped without close) and restarts from its checkpoint twice. Every line must be seen,
 * and a line seen twice only when a crash came between its two sightings.
 */
import { closeSync, copyFileSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileTailer } from './fileTailer.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tailer-stress-'));
  mkdirSync(join(dir, 'logs'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

type Rotation = 'rename' | 'copytruncate';

/** Writes numbered lines to `<dir>/logs/app.log` as a container runtime would, rotating as told. */
class Writer {
  next = 0;
  rotations = 0;
  private fd: number;
  private readonly path: string;

  constructor(
    logs: string,
    private readonly rotation: Rotation,
  ) {
    this.path = join(logs, 'app.log');
    this.fd = openSync(this.path, 'a');
  }

  write(count: number): void {
    let text = '';
    for (let i = 0; i < count; i++) text += `${String(this.next++).padStart(8, '0')} ${'payload '.repeat(10)}\n`;
    writeSync(this.fd, text);
  }

  rotate(): void {
    const rotated = `${this.path}.${String(++this.rotations).padStart(5, '0')}`;
    if (this.rotation === 'copytruncate') {
      copyFileSync(this.path, rotated);
      ftruncateSync(this.fd, 0);
      return;
    }
    renameSync(this.path, rotated);
    this.write(2); // the runtime writes on to the renamed file until it reopens
    const fresh = openSync(this.path, 'a');
    closeSync(this.fd);
    this.fd = fresh;
  }

  close(): void {
    closeSync(this.fd);
  }
}

async function run(rotation: Rotation): Promise<void> {
  const logs = join(dir, 'logs');
  const checkpointPath = join(dir, 'checkpoints.json');
  const writer = new Writer(logs, rotation);
  const make = async (): Promise<FileTailer> => {
    const t = new FileTailer({ include: join(logs, '*.log'), checkpointPath, startAt: 'beginning', rotateWaitMs: 30, checkpointIntervalMs: 20 });
    await t.start();
    return t;
  };
  const firstSeenEpoch = new Map<number, number>();
  /** Where each line was first seen, as the agent names it in a record's origin: the content's id (or the file key without one) and the offset. */
  const firstSeenAt = new Map<number, string>();
  const duplicates: { line: number; epoch: number; firstEpoch: number }[] = [];
  /** A line seen again, after a crash, under another name than the first time: it would be stored twice. */
  const renamed: { line: number; first: string; again: string }[] = [];
  let epoch = 0;
  let tailer = await make();

  const consume = async (): Promise<void> => {
    for (const chunk of await tailer.poll(256 * 1024)) {
      for (const line of chunk.lines) {
        const n = Number(line.text.slice(0, 8));
        expect(line.text).toMatch(/^\d{8} (payload ){10}$/);
        const at = `${chunk.file.path}|${chunk.contentId ?? `key ${chunk.file.key}`}|${line.startOffset}`;
        const first = firstSeenEpoch.get(n);
        if (first === undefined) {
          firstSeenEpoch.set(n, epoch);
          firstSeenAt.set(n, at);
        } else {
          duplicates.push({ line: n, epoch, firstEpoch: first });
          if (firstSeenAt.get(n) !== at) renamed.push({ line: n, first: firstSeenAt.get(n) ?? '', again: at });
        }
        tailer.commit(chunk.file.key, line.endOffset);
      }
    }
  };

  let tick = 0;
  const writing = setInterval(() => {
    writer.write(3);
    if (++tick % 4 === 0) writer.rotate();
  }, 1);
  const startedMs = Date.now();
  const crashesAtMs = [600, 1200];
  // At least 1.8 s and 120 rotations: a loaded machine runs the 1 ms writer timer less often.
  while ((Date.now() - startedMs < 1800 || writer.rotations < 120 || crashesAtMs.length > 0) && Date.now() - startedMs < 20_000) {
    await consume();
    if (crashesAtMs.length > 0 && Date.now() - startedMs >= (crashesAtMs[0] as number)) {
      crashesAtMs.shift();
      epoch++;
      tailer = await make(); // the old one is dropped without close: its checkpoint is what a crash leaves
    }
    await sleep(2);
  }
  clearInterval(writing);
  writer.close();
  const deadline = Date.now() + 10_000;
  while (firstSeenEpoch.size < writer.next && Date.now() < deadline) {
    await consume();
    await sleep(5);
  }
  await tailer.close();

  const missing: number[] = [];
  for (let n = 0; n < writer.next && missing.length < 10; n++) if (!firstSeenEpoch.has(n)) missing.push(n);
  expect(writer.rotations).toBeGreaterThan(100);
  expect(epoch).toBe(2);
  expect(missing).toEqual([]);
  expect(firstSeenEpoch.size).toBe(writer.next);
  expect(duplicates.filter((d) => d.epoch <= d.firstEpoch)).toEqual([]);
  expect(renamed.slice(0, 3), `${renamed.length} lines seen again under another name`).toEqual([]);
  console.log(`${rotation}: ${writer.next} lines, ${writer.rotations} rotations, ${duplicates.length} seen again after a crash`);
}

describe('FileTailer under rotation, with crashes', () => {
  it('loses no line with rename + create rotation', () => run('rename'), 30_000);
  it('loses no line with copytruncate rotation', () => run('copytruncate'), 30_000);
});
