/**
 * The raw-descriptor file calls the tailer makes, as promises. Raw descriptors rather than
 * `FileHandle`s: the tailer keeps many open for a long time and closes each itself.
 */
import { close, fstat, open, read } from 'node:fs';
import type { BigIntStats } from 'node:fs';

export function openForRead(path: string): Promise<number> {
  return new Promise((done, fail) => open(path, 'r', (error, fd) => (error ? fail(error) : done(fd))));
}

/** Reads up to `length` bytes at `position` into the start of `buffer`; resolves the count read. */
export function readAt(fd: number, buffer: Buffer, length: number, position: number): Promise<number> {
  return new Promise((done, fail) =>
    read(fd, buffer, 0, Math.min(length, buffer.length), position, (error, bytesRead) => (error ? fail(error) : done(bytesRead))),
  );
}

export function statOf(fd: number): Promise<BigIntStats> {
  return new Promise((done, fail) => fstat(fd, { bigint: true }, (error, stats) => (error ? fail(error) : done(stats))));
}

/** Closes `fd`; a failure to close a descriptor we only read is of no consequence. */
export function closeQuietly(fd: number): Promise<void> {
  return new Promise((done) => close(fd, () => done()));
}

/** Device and inode as one key. */
export function identityOf(stats: { readonly dev: bigint; readonly ino: bigint }): string {
  return `${stats.dev}:${stats.ino}`;
}

/** Whether an error means the file is not there (any more). */
export function isGone(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

export function errorText(error: unknown): string {
  const e = error as NodeJS.ErrnoException | null;
  return e?.code ?? (error instanceof Error ? error.message : String(error));
}
