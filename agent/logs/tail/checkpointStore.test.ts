import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CheckpointEntry } from './checkpointStore.js';
import { CheckpointStore } from './checkpointStore.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'checkpoints-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const entry: CheckpointEntry = {
  key: '2049-1234-abcd0123',
  offset: 4096,
  path: '/var/log/containers/p_ns_c-1.log',
  realPath: '/var/log/pods/ns_p_u/c/0.log.20240101-120000',
  baseName: '0.log',
  dev: '2049',
  ino: '18446744073709551615',
  fingerprint: { sha1: 'a'.repeat(40), bytes: 1024 },
};

describe('CheckpointStore', () => {
  it('reports a missing file as missing', async () => {
    expect(await new CheckpointStore(join(dir, 'none.json')).load()).toEqual({ kind: 'missing' });
  });

  it('gives back what it saved, leaving no temporary file', async () => {
    const store = new CheckpointStore(join(dir, 'cp.json'));
    expect(await store.save([entry], 1234)).toEqual({ ok: true });
    expect(await store.load()).toEqual({ kind: 'loaded', entries: [entry], knownAsOfMs: 1234 });
    expect(readdirSync(dir)).toEqual(['cp.json']);
  });

  it('reports a failed save as an outcome', async () => {
    const saved = await new CheckpointStore(join(dir, 'no-such-dir', 'cp.json')).save([entry], 1);
    expect(saved).toEqual({ ok: false, error: 'ENOENT' });
  });

  const corrupt: [name: string, content: string][] = [
    ['not JSON', '{"version":1,"files":{'],
    ['empty', ''],
    ['an array', '[]'],
    ['another version', '{"version":2,"knownAsOfMs":1,"files":{}}'],
    ['no files', '{"version":1,"knownAsOfMs":1}'],
    ['a negative offset', JSON.stringify({ version: 1, knownAsOfMs: 1, files: { k: { ...entry, key: undefined, offset: -1 } } })],
    ['a bad fingerprint', JSON.stringify({ version: 1, knownAsOfMs: 1, files: { k: { ...entry, fingerprint: { sha1: 'x', bytes: 3 } } } })],
    ['a numeric inode', JSON.stringify({ version: 1, knownAsOfMs: 1, files: { k: { ...entry, ino: 5 } } })],
  ];
  for (const [name, content] of corrupt) {
    it(`reports ${name} as corrupt`, async () => {
      writeFileSync(join(dir, 'cp.json'), content);
      expect((await new CheckpointStore(join(dir, 'cp.json')).load()).kind).toBe('corrupt');
    });
  }
});
