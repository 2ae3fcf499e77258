/**
 * Where the tailer may resume each file after a restart, in one JSON file. Only offsets
 * the consumer committed (delivered downstream) are written, never offsets merely read.
 * Each save replaces the file atomically: write a temporary file, fsync it, rename it over
 * the old one, fsync the directory, so a crash leaves the old or the new file, never half.
 */
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { errorText, isGone } from './fileIo.js';
import type { Fingerprint } from './fingerprint.js';
import { isFingerprint } from './fingerprint.js';

export interface CheckpointEntry {
  /** The tailer's stable key for the file. */
  readonly key: string;
  /** Committed resume offset. */
  readonly offset: number;
  /** The glob-matched path the file was found under. */
  readonly path: string;
  /** Where the file was last seen (a rotated file's new name). */
  readonly realPath: string;
  /** Name of the live file in its directory: its rotated siblings are `<baseName>.<suffix>`. */
  readonly baseName: string;
  /** Device and inode, decimal (inode numbers may exceed 2^53). */
  readonly dev: string;
  readonly ino: string;
  readonly fingerprint: Fingerprint;
}

export type CheckpointLoad =
  | { readonly kind: 'missing' }
  /**
   * `knownAsOfMs`: wall-clock time as of which the saving tailer knew every file (the start of
   * its last discovery); a rotated file written before that and not in `entries` is old.
   */
  | { readonly kind: 'loaded'; readonly entries: readonly CheckpointEntry[]; readonly knownAsOfMs: number }
  | { readonly kind: 'corrupt'; readonly reason: string };

export type CheckpointSave = { readonly ok: true } | { readonly ok: false; readonly error: string };

const FORMAT_VERSION = 1;

export class CheckpointStore {
  constructor(readonly path: string) {}

  async load(): Promise<CheckpointLoad> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if (isGone(error)) return { kind: 'missing' };
      return { kind: 'corrupt', reason: `unreadable: ${errorText(error)}` };
    }
    let document: unknown;
    try {
      document = JSON.parse(text);
    } catch (error) {
      return { kind: 'corrupt', reason: `not JSON: ${errorText(error)}` };
    }
    return parseDocument(document);
  }

  async save(entries: readonly CheckpointEntry[], knownAsOfMs: number): Promise<CheckpointSave> {
    const files: Record<string, Omit<CheckpointEntry, 'key'>> = {};
    for (const { key, ...rest } of entries) files[key] = rest;
    const text = JSON.stringify({ version: FORMAT_VERSION, knownAsOfMs, files });
    const temporary = `${this.path}.tmp-${process.pid}`;
    try {
      await writeAndSync(temporary, text);
      await rename(temporary, this.path);
      await syncDirectory(dirname(this.path));
      return { ok: true };
    } catch (error) {
      await unlink(temporary).catch(() => undefined);
      return { ok: false, error: errorText(error) };
    }
  }
}

function parseDocument(document: unknown): CheckpointLoad {
  const d = document as { version?: unknown; knownAsOfMs?: unknown; files?: unknown } | null;
  if (typeof d !== 'object' || d === null || Array.isArray(d)) return { kind: 'corrupt', reason: 'not an object' };
  if (d.version !== FORMAT_VERSION) return { kind: 'corrupt', reason: `unknown version ${JSON.stringify(d.version)}` };
  if (typeof d.knownAsOfMs !== 'number' || !Number.isFinite(d.knownAsOfMs)) return { kind: 'corrupt', reason: 'knownAsOfMs missing' };
  if (typeof d.files !== 'object' || d.files === null || Array.isArray(d.files)) return { kind: 'corrupt', reason: 'files missing' };
  const entries: CheckpointEntry[] = [];
  for (const [key, value] of Object.entries(d.files as Record<string, unknown>)) {
    const entry = parseEntry(key, value);
    if (!entry) return { kind: 'corrupt', reason: `bad entry ${JSON.stringify(key)}` };
    entries.push(entry);
  }
  return { kind: 'loaded', entries, knownAsOfMs: d.knownAsOfMs };
}

function parseEntry(key: string, value: unknown): CheckpointEntry | undefined {
  const v = value as Partial<Record<keyof CheckpointEntry, unknown>> | null;
  if (typeof v !== 'object' || v === null) return undefined;
  const { offset, path, realPath, baseName, dev, ino, fingerprint } = v;
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) return undefined;
  if (typeof path !== 'string' || typeof realPath !== 'string' || typeof baseName !== 'string') return undefined;
  if (typeof dev !== 'string' || !/^\d+$/.test(dev) || typeof ino !== 'string' || !/^\d+$/.test(ino)) return undefined;
  if (!isFingerprint(fingerprint)) return undefined;
  // `head` names the content in record ids: a resumed file must keep the one it had, or its lines read again get new ids.
  const head = (fingerprint as { head?: unknown }).head;
  return { key, offset, path, realPath, baseName, dev, ino, fingerprint: typeof head === 'string' ? { sha1: fingerprint.sha1, bytes: fingerprint.bytes, head } : { sha1: fingerprint.sha1, bytes: fingerprint.bytes } };
}

async function writeAndSync(path: string, text: string): Promise<void> {
  const handle = await open(path, 'w', 0o644);
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Makes the rename durable. */
async function syncDirectory(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
