/**
 * A file's fingerprint: a hash of its first bytes with their count. Together with device
 * and inode it tells a file we followed from a new file that got the same inode number,
 * and a file that was truncated (its first bytes change) from one that only grew.
 */
import { createHash } from 'node:crypto';
import { readAt } from './fileIo.js';

/** How many leading bytes identify a file; a shorter file's fingerprint is completed as it grows. */
export const FINGERPRINT_BYTES = 1024;

export interface Fingerprint {
  /** SHA-1 of the first `bytes` bytes, hex. */
  readonly sha1: string;
  readonly bytes: number;
  /**
   * SHA-1 of the file's first line (its `\n` included), or of all FINGERPRINT_BYTES when no
   * line ends in them; absent while neither is there. Unlike `sha1` it is final as soon as
   * it exists, and a copytruncate copy has the same one as the file it copied: it names
   * the content, whatever file holds it (see `TailChunk.contentId`).
   */
  readonly head?: string;
}

export const EMPTY_FINGERPRINT: Fingerprint = { sha1: hashOf(Buffer.alloc(0), 0), bytes: 0 };

/** The fingerprint of bytes in hand (the first bytes of a file, as read). */
export function fingerprintOfBytes(bytes: Buffer): Fingerprint {
  return printOf(bytes, Math.min(bytes.length, FINGERPRINT_BYTES));
}

function printOf(buffer: Buffer, length: number): Fingerprint {
  const newline = buffer.subarray(0, length).indexOf(0x0a);
  const headLength = newline !== -1 ? newline + 1 : length === FINGERPRINT_BYTES ? length : 0;
  const print = { sha1: hashOf(buffer, length), bytes: length };
  return headLength > 0 ? { ...print, head: hashOf(buffer, headLength) } : print;
}

function hashOf(buffer: Buffer, length: number): string {
  return createHash('sha1').update(buffer.subarray(0, length)).digest('hex');
}

/**
 * Reads the first bytes of `fd` once and returns whether they still match `expected`
 * (the first `expected.bytes` bytes hash the same) and the fingerprint of what is there
 * now. One read, so that a truncation cannot slip in between the check and the new print.
 */
export async function checkFingerprint(
  fd: number,
  expected: Fingerprint,
  scratch: Buffer,
): Promise<{ readonly matches: boolean; readonly current: Fingerprint }> {
  const length = await readAt(fd, scratch, FINGERPRINT_BYTES, 0);
  const current = printOf(scratch, length);
  if (length < expected.bytes) return { matches: false, current };
  const matches = length === expected.bytes ? current.sha1 === expected.sha1 : hashOf(scratch, expected.bytes) === expected.sha1;
  return { matches, current };
}

/** The fingerprint of what `fd` holds now. */
export async function fingerprintOf(fd: number, scratch: Buffer): Promise<Fingerprint> {
  return (await checkFingerprint(fd, EMPTY_FINGERPRINT, scratch)).current;
}

export function isFingerprint(value: unknown): value is Fingerprint {
  const v = value as Partial<Fingerprint> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.sha1 === 'string' &&
    /^[0-9a-f]{40}$/.test(v.sha1) &&
    Number.isInteger(v.bytes) &&
    (v.bytes as number) >= 0 &&
    (v.bytes as number) <= FINGERPRINT_BYTES
  );
}
