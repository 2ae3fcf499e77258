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
}

export const EMPTY_FINGERPRINT: Fingerprint = { sha1: hashOf(Buffer.alloc(0), 0), bytes: 0 };

/** The fingerprint of bytes in hand (the first bytes of a file, as read). */
export function fingerprintOfBytes(bytes: Buffer): Fingerprint {
  const length = Math.min(bytes.length, FINGERPRINT_BYTES);
  return { sha1: hashOf(bytes, length), bytes: length };
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
  const current: Fingerprint = { sha1: hashOf(scratch, length), bytes: length };
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
