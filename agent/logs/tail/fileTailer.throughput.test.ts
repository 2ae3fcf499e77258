/** How fast one file is cut into lines on one core: well over 200k lines/s of ~170 bytes is the aim. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileTailer } from './fileTailer.js';

const dir = mkdtempSync(join(tmpdir(), 'tailer-speed-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('FileTailer throughput', () => {
  it('reads ~170-byte lines at more than 200k lines/s', async () => {
    const lineCount = 300_000;
    const line = `2024-01-01T12:00:00.000000000Z stdout F {"level":"info","msg":"request served","path":"/api/v1/items","status":200,"durationMs":12.5,"é":"ü","pad":"abcdefghijklmnopq"} `;
    const parts: string[] = [];
    for (let i = 0; i < lineCount; i++) parts.push(`${line}${String(i).padStart(7, '0')}\n`);
    writeFileSync(join(dir, 'big.log'), parts.join(''));
    const tailer = new FileTailer({ include: join(dir, '*.log'), startAt: 'beginning' });
    await tailer.start();
    const started = performance.now();
    let lines = 0;
    for (let i = 0; i < 10_000 && lines < lineCount; i++) for (const chunk of await tailer.poll(4 << 20)) lines += chunk.lines.length;
    const seconds = (performance.now() - started) / 1000;
    await tailer.close();
    const perSecond = Math.round(lines / seconds);
    console.log(`${lines} lines of ${Buffer.byteLength(line) + 8} bytes in ${seconds.toFixed(3)} s: ${perSecond} lines/s`);
    expect(lines).toBe(lineCount);
    // A loose floor: the machine running the tests is shared.
    expect(perSecond).toBeGreaterThan(100_000);
  }, 60_000);
});
