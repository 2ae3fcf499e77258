import { appendFileSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DiskSpill, type DiskSpillOptions } from './diskSpill.js';

function spillIn(dir: string, options: Partial<DiskSpillOptions<number>> = {}): { spill: DiskSpill<number>; dropped: number[]; corrupt: number[] } {
  const dropped: number[] = [];
  const corrupt: number[] = [];
  const spill = new DiskSpill<number>({
    dir,
    maxBytes: 1_000,
    segmentBytes: 100,
    segmentRecords: 10,
    serialize: (n) => JSON.stringify({ n }),
    deserialize: (line) => {
      try {
        return (JSON.parse(line) as { n: number }).n;
      } catch {
        return undefined;
      }
    },
    onDrop: (count) => dropped.push(count),
    onCorrupt: (count) => corrupt.push(count),
    ...options,
  });
  return { spill, dropped, corrupt };
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

describe('DiskSpill', () => {
  it('gives back what it was given, oldest segment first, in order', () => {
    const { spill } = spillIn(mkdtempSync(join(tmpdir(), 'spill-')));
    spill.append(range(0, 25));
    expect(spill.depth).toBe(25);
    const out: number[] = [];
    for (let segment = spill.loadOldest(); segment; segment = spill.loadOldest()) {
      expect(segment.records.length).toBeLessThanOrEqual(10);
      out.push(...segment.records);
      segment.release();
    }
    expect(out).toEqual(range(0, 25));
    expect(spill.depth).toBe(0);
    expect(spill.bytes).toBe(0);
  });

  it('outlives the process: a new spill on the same directory finds unreleased segments, loaded or not', () => {
    const dir = mkdtempSync(join(tmpdir(), 'spill-'));
    const first = spillIn(dir).spill;
    first.append(range(0, 15));
    const loaded = first.loadOldest();
    expect(loaded?.records).toEqual(range(0, 10));
    // The process dies before the bus took the loaded records: they come again.
    const second = spillIn(dir).spill;
    expect(second.depth).toBe(15);
    expect(second.loadOldest()?.records).toEqual(range(0, 10));
  });

  it('drops whole oldest segments past maxBytes, and counts their records', () => {
    const dir = mkdtempSync(join(tmpdir(), 'spill-'));
    const { spill, dropped } = spillIn(dir, { maxBytes: 300 });
    spill.append(range(0, 100));
    expect(spill.bytes).toBeLessThanOrEqual(300);
    expect(dropped.reduce((a, b) => a + b, 0) + spill.depth).toBe(100);
    const kept: number[] = [];
    for (let segment = spill.loadOldest(); segment; segment = spill.loadOldest()) kept.push(...segment.records);
    // What is left is the newest records, all of them, in order.
    expect(kept).toEqual(range(100 - kept.length, 100));
    expect(kept.length).toBeGreaterThan(0);
  });

  it('counts a torn last line as corrupt and reads the rest', () => {
    const dir = mkdtempSync(join(tmpdir(), 'spill-'));
    const { spill } = spillIn(dir);
    spill.append([1, 2]);
    const [segmentFile] = readdirSync(dir);
    appendFileSync(join(dir, segmentFile as string), '{"n":3');
    const reopened = spillIn(dir);
    const segment = reopened.spill.loadOldest();
    expect(segment?.records).toEqual([1, 2]);
    expect(reopened.corrupt).toEqual([1]);
  });
});
