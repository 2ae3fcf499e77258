/**
 * Follows container log files through rotation without losing lines, and keeps durable
 * checkpoints of what the consumer committed.
 *
 * A file is known by device + inode + a fingerprint of its first bytes, never by name, and
 * read through the descriptor opened when it was first seen. Each `poll`:
 *  1. discovers the files matching the glob; a path that now names another file (or none)
 *     means the file we followed was rotated away: it keeps being read through its
 *     descriptor until it has been quiet for `rotateWaitMs`, then its incomplete last line
 *     is given out and it is closed. Its directory is searched for rotated siblings
 *     (`<name>.<suffix>`, not compressed) we never saw, so that a file created and rotated
 *     between two polls is read as well; so is the directory of a file newly found at a path
 *     (the path was missing between a rename and the create, maybe several times) and, after
 *     a restart, that of every checkpointed file;
 *  2. reads new lines round-robin across the open files within the byte budget;
 *  3. checks the fingerprint of each live file that changed: a file that shrank below what
 *     we read or whose first bytes changed was truncated. When a rotated sibling with our
 *     fingerprint and at least our offset exists (copytruncate), the lines read this poll are
 *     dropped and reading continues in the copy from the last verified offset, under the
 *     same key; the truncated file is then read from 0 under a new key. A live file that
 *     changed while its fingerprint was still empty may have been copied and truncated any
 *     number of times unseen: its directory is searched for rotated siblings as well;
 *  4. closes the rotated files that are read and quiet, and writes checkpoints when due.
 *
 * Offsets given to `commit` are persisted, never offsets merely read, so a restart may give
 * lines again but never skips one.
 */
import { randomBytes } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { RawLine } from '../logLine.js';
import type { CheckpointEntry } from './checkpointStore.js';
import { CheckpointStore } from './checkpointStore.js';
import { closeQuietly, errorText, identityOf, openForRead, statOf } from './fileIo.js';
import type { Fingerprint } from './fingerprint.js';
import { EMPTY_FINGERPRINT, FINGERPRINT_BYTES, checkFingerprint, fingerprintOf, fingerprintOfBytes } from './fingerprint.js';
import { expandGlob } from './globPattern.js';
import { LineReader } from './lineReader.js';
import type { FileTailerOptions, ResolvedTailerOptions } from './tailerOptions.js';
import { resolveTailerOptions } from './tailerOptions.js';

export interface TailedFile {
  /** Stable identity of the file's content for `commit`; kept across renames and restarts. */
  readonly key: string;
  /** The glob-matched path the file was found under (for a rotated sibling: its live file's). */
  readonly path: string;
  /** Where the file is now. */
  readonly realPath: string;
}

export interface TailChunk {
  readonly file: TailedFile;
  readonly lines: readonly RawLine[];
  /** The file was rotated away and is read to its end: the consumer flushes what it holds for it. */
  readonly ended: boolean;
  /**
   * Names the content being read, the same in a copytruncate copy as in the file it copied
   * and across restarts: record ids built on it and an offset come out the same however
   * the bytes are read again. Absent until the file's first line is complete.
   */
  readonly contentId?: string;
}

export interface TailStats {
  /** Files open for reading (live and rotated ones still being drained). */
  readonly filesWatched: number;
  /** Files known, including finished ones kept until they disappear. */
  readonly filesKnown: number;
  readonly bytesRead: number;
  readonly linesRead: number;
  readonly rotations: { readonly rename: number; readonly truncate: number };
  /** Truncations with no copy to finish from: what was unread then is lost. */
  readonly truncationsWithoutCopy: number;
  /** Sum over open files of size − offset given out. */
  readonly bytesBehind: number;
  readonly readErrors: number;
  readonly checkpointWrites: number;
  readonly checkpointWriteErrors: number;
  /** The checkpoint file was unreadable or corrupt at start (it was then treated as empty). */
  readonly checkpointLoadErrors: number;
}

type Phase = 'active' | 'draining' | 'finished';

interface Followed {
  readonly key: string;
  file: TailedFile;
  readonly baseName: string;
  id: string;
  dev: bigint;
  ino: bigint;
  fingerprint: Fingerprint;
  committed: number;
  phase: Phase;
  reader: LineReader | undefined;
  sizeBytes: number;
  mtimeNs: bigint;
  /** When a draining file last grew. */
  lastGrowthMs: number;
  /** A live file's size or mtime changed, or it shrank below what we read: check its fingerprint. */
  changed: boolean;
  shrunk: boolean;
  /** The last read step of this poll reached the end of the file. */
  atEnd: boolean;
  /** Offset given out when the fingerprint last matched: where a copy is resumed. */
  verifiedOffset: number;
  renameCounted: boolean;
  /** Lines of this poll, not yet returned. */
  lines: RawLine[];
  ended: boolean;
}

/** Compressed or half-written rotations (the kubelet writes `<name>.<time>.tmp` while gzipping). */
const NOT_TEXT_SUFFIXES = ['.gz', '.bz2', '.xz', '.zst', '.zip', '.tmp'];

/**
 * A sibling unknown to us is old, and ignored, when it was last written this long before
 * the tailer started (or before its last checkpoint): file mtimes lag the wall clock by up to
 * a kernel tick, and a file rotated in that second is better read twice than lost.
 */
const OLD_FILE_SLACK_MS = 1000;

export function isRotatedSibling(name: string, baseName: string): boolean {
  return name.length > baseName.length + 1 && name.startsWith(`${baseName}.`) && !NOT_TEXT_SUFFIXES.some((s) => name.endsWith(s));
}

export class FileTailer {
  private readonly options: ResolvedTailerOptions;
  private readonly store: CheckpointStore | undefined;
  private readonly buffer: Buffer;
  private readonly scratch = Buffer.alloc(FINGERPRINT_BYTES);
  private readonly byKey = new Map<string, Followed>();
  /** Device:inode → the file followed under it. */
  private readonly byId = new Map<string, Followed>();
  /** Glob path → the live file followed at it. */
  private readonly byPath = new Map<string, Followed>();
  /** Glob paths naming a file followed under another path, or a finished one: path → device:inode. */
  private readonly ignored = new Map<string, string>();
  /** Checkpoint entries not found yet, by device:inode (only until the first discovery ends). */
  private restored = new Map<string, CheckpointEntry>();
  /** Checkpoint entries whose file was found truncated at the first discovery after a restart. */
  private truncatedWhileDown: CheckpointEntry[] = [];
  private readonly touched = new Set<Followed>();
  private started = false;
  private closed = false;
  private firstStart = true;
  private discovered = false;
  private oldBeforeMs = 0;
  /** Wall-clock time the last discovery started: every file that existed then is known (or old). */
  private lastDiscoveryWallMs = Date.now();
  private dirty = false;
  private lastFlushMs = 0;
  private lastSweepMs = 0;
  private roundRobin = 0;
  private polling = false;
  private running: Promise<unknown> = Promise.resolve();
  private flushChain: Promise<void> = Promise.resolve();
  private readonly counts = {
    bytesRead: 0,
    linesRead: 0,
    rename: 0,
    truncate: 0,
    truncationsWithoutCopy: 0,
    readErrors: 0,
    checkpointWrites: 0,
    checkpointWriteErrors: 0,
    checkpointLoadErrors: 0,
  };

  constructor(options: FileTailerOptions) {
    this.options = resolveTailerOptions(options);
    this.buffer = Buffer.allocUnsafe(this.options.readChunkBytes);
    this.store = this.options.checkpointPath !== undefined && this.options.mode === 'follow' ? new CheckpointStore(this.options.checkpointPath) : undefined;
  }

  /** Loads the checkpoints. A corrupt checkpoint file is reported, counted and treated as empty. */
  async start(): Promise<void> {
    if (this.started) throw new Error('FileTailer.start: already started');
    this.started = true;
    const wallMs = Date.now();
    this.oldBeforeMs = wallMs - OLD_FILE_SLACK_MS;
    this.lastFlushMs = this.lastSweepMs = this.options.now();
    this.lastDiscoveryWallMs = wallMs;
    if (!this.store) return;
    const loaded = await this.store.load();
    if (loaded.kind === 'loaded') {
      this.firstStart = false;
      this.oldBeforeMs = Math.min(loaded.knownAsOfMs, wallMs) - OLD_FILE_SLACK_MS;
      for (const entry of loaded.entries) this.restored.set(`${entry.dev}:${entry.ino}`, entry);
    } else {
      // Missing: the very first start. Corrupt: we cannot know what was read, so files are
      // read from their beginning (duplicates rather than loss). Either way, write one now.
      this.firstStart = loaded.kind === 'missing';
      this.dirty = true;
      if (loaded.kind === 'corrupt') {
        this.counts.checkpointLoadErrors++;
        this.options.log.error({ path: this.store.path, reason: loaded.reason }, 'checkpoint file is corrupt; starting without checkpoints');
      }
    }
  }

  /**
   * New complete lines, about `maxBytes` of them at most, taken round-robin across files.
   * Polls must not overlap; call again when there is room for more.
   */
  async poll(maxBytes: number): Promise<TailChunk[]> {
    if (!this.started || this.closed) throw new Error('FileTailer.poll: not started, or closed');
    if (this.polling) throw new Error('FileTailer.poll: a poll is already running');
    this.polling = true;
    const run = this.pollOnce(maxBytes);
    this.running = run;
    try {
      return await run;
    } finally {
      this.polling = false;
    }
  }

  /** `once` mode: every matching file has been read to its end. */
  isDone(): boolean {
    return this.discovered && [...this.byKey.values()].every((f) => f.reader === undefined);
  }

  /** Everything of the file before `resumeOffset` is delivered: reading may resume there after a restart. */
  commit(fileKey: string, resumeOffset: number): void {
    const followed = this.byKey.get(fileKey);
    if (!followed || resumeOffset <= followed.committed) return;
    followed.committed = resumeOffset;
    this.dirty = true;
  }

  /**
   * Writes the checkpoint file now if anything changed since the last write. `poll` writes it
   * when `checkpointIntervalMs` has passed, and `close` at the end; there is no timer of its
   * own, so a caller that stops reading but still commits polls with a budget of 0.
   */
  flushCheckpoints(): Promise<void> {
    const run = this.flushChain.then(() => this.writeCheckpoints());
    this.flushChain = run;
    return run;
  }

  /** Waits for a running poll, writes the checkpoints and closes every file. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.running.catch(() => undefined);
    await this.flushCheckpoints();
    for (const followed of this.byKey.values()) {
      if (followed.reader) await closeQuietly(followed.reader.fd);
      followed.reader = undefined;
    }
  }

  stats(): TailStats {
    let filesWatched = 0;
    let bytesBehind = 0;
    for (const f of this.byKey.values()) {
      if (!f.reader) continue;
      filesWatched++;
      bytesBehind += Math.max(0, f.sizeBytes - f.reader.emittedOffset);
    }
    const c = this.counts;
    return {
      filesWatched,
      filesKnown: this.byKey.size,
      bytesRead: c.bytesRead,
      linesRead: c.linesRead,
      rotations: { rename: c.rename, truncate: c.truncate },
      truncationsWithoutCopy: c.truncationsWithoutCopy,
      bytesBehind,
      readErrors: c.readErrors,
      checkpointWrites: c.checkpointWrites,
      checkpointWriteErrors: c.checkpointWriteErrors,
      checkpointLoadErrors: c.checkpointLoadErrors,
    };
  }

  private async pollOnce(maxBytes: number): Promise<TailChunk[]> {
    const now = this.options.now();
    if (this.options.mode === 'follow' || !this.discovered) await this.discover(now);
    await this.readRoundRobin(maxBytes);
    await this.verifyLiveFiles(now);
    await this.nameRotatedContents();
    await this.finishQuietFiles(now);
    if (now - this.lastSweepMs >= this.options.checkpointIntervalMs) {
      this.lastSweepMs = now;
      await this.forgetVanishedFiles();
    }
    const chunks = this.takeChunks();
    await this.flushIfDue();
    return chunks;
  }

  // ---- discovery ----

  private async discover(now: number): Promise<void> {
    const discoveryWallMs = Date.now();
    const paths = await expandGlob(this.options.include);
    const seen = new Set<string>();
    const scans = new Map<string, { dir: string; baseName: string; path: string }>();
    const scanDir = (dir: string, baseName: string, path: string): void => {
      if (this.options.mode === 'follow') scans.set(`${dir}\0${baseName}`, { dir, baseName, path });
    };
    const scan = (f: Followed): void => scanDir(dirname(f.file.realPath), f.baseName, f.file.path);
    for (const path of paths) {
      let stats: BigIntStats;
      try {
        stats = await stat(path, { bigint: true });
      } catch {
        continue;
      }
      if (!stats.isFile()) continue;
      seen.add(path);
      const id = identityOf(stats);
      const current = this.byPath.get(path);
      if (current?.id === id) {
        this.noteStats(current, stats);
        continue;
      }
      if (current) {
        this.rotatedAway(current, now, true);
        scan(current);
      }
      if (this.ignored.get(path) === id) continue;
      this.ignored.delete(path);
      await this.followPath(path, now);
      // A file newly at the path: the files that were there since we last looked (while the
      // path was missing, e.g. between a rename and the create) may have been rotated already.
      const followed = this.byPath.get(path);
      if (followed && (this.discovered || !this.firstStart)) scan(followed);
    }
    for (const [path, followed] of this.byPath) {
      if (seen.has(path)) continue;
      this.rotatedAway(followed, now, false);
      scan(followed);
    }
    for (const path of this.ignored.keys()) if (!seen.has(path)) this.ignored.delete(path);
    if (!this.discovered && !this.firstStart) {
      // After a restart, files rotated while we were down are siblings of what we followed,
      // whether or not its path names a file right now.
      for (const f of this.byPath.values()) scan(f);
      for (const entry of this.restored.values()) scanDir(dirname(entry.realPath), entry.baseName, entry.path);
    }
    for (const s of scans.values()) await this.scanSiblings(s.dir, s.baseName, s.path);
    if (!this.discovered) {
      await this.resumeRestoredElsewhere();
      this.truncatedWhileDown = [];
      this.discovered = true;
    }
    this.lastDiscoveryWallMs = discoveryWallMs;
  }

  private noteStats(f: Followed, stats: BigIntStats): void {
    const size = Number(stats.size);
    if (size !== f.sizeBytes || stats.mtimeNs !== f.mtimeNs) f.changed = true;
    if (f.reader && size < f.reader.readOffset) f.shrunk = true;
    f.sizeBytes = size;
    f.mtimeNs = stats.mtimeNs;
  }

  /** The path no longer names the file: finish reading it through its descriptor. */
  private rotatedAway(f: Followed, now: number, renamed: boolean): void {
    if (this.byPath.get(f.file.path) === f) this.byPath.delete(f.file.path);
    if (f.phase !== 'active') return;
    f.phase = 'draining';
    f.lastGrowthMs = now;
    if (renamed) this.countRename(f);
  }

  private countRename(f: Followed): void {
    if (f.renameCounted) return;
    f.renameCounted = true;
    this.counts.rename++;
  }

  private async followPath(path: string, now: number): Promise<void> {
    const opened = await this.open(path);
    if (!opened) return;
    const { fd, stats } = opened;
    const id = identityOf(stats);
    const size = Number(stats.size);
    const known = this.byId.get(id);
    if (known) {
      const check = await checkFingerprint(fd, known.fingerprint, this.scratch);
      if (known.phase !== 'finished' || check.matches) {
        // Another path to a file we follow, or a rotated file we finished that the glob matches.
        this.ignored.set(path, id);
        await closeQuietly(fd);
        return;
      }
      this.forget(known); // its inode number was reused by a new file
    }
    let offset = this.options.mode === 'once' || this.firstStart === false || this.discovered || this.options.startAt === 'beginning' ? 0 : size;
    let key: string | undefined;
    const entry = this.restored.get(id);
    const check = await checkFingerprint(fd, entry?.fingerprint ?? EMPTY_FINGERPRINT, this.scratch);
    if (entry) {
      this.restored.delete(id);
      this.dirty = true;
      if (check.matches && entry.offset <= size) {
        key = entry.key;
        offset = entry.offset;
      } else {
        // Truncated while we were down (or a new file on a reused inode): its copy, if any, is a sibling.
        this.truncatedWhileDown.push(entry);
        this.counts.truncate++;
      }
    }
    let realPath = path;
    try {
      realPath = await realpath(path);
    } catch {
      // Gone again: follow it under the name we opened.
    }
    const once = this.options.mode === 'once';
    const f = this.addFollowed({
      key,
      path,
      realPath,
      baseName: basename(realPath),
      fd,
      stats,
      fingerprint: check.current,
      offset,
      committed: offset,
      phase: once ? 'draining' : 'active',
      now,
    });
    if (!once) this.byPath.set(path, f);
  }

  /**
   * Looks in a directory for rotated siblings of `baseName`: a known file gets its new name;
   * a checkpointed one resumes; an unknown one written since we started is read from 0 (it
   * was created and rotated between two polls); an unknown one whose fingerprint is that of
   * the live file is a copytruncate copy, left for the truncation to find.
   */
  private async scanSiblings(dir: string, baseName: string, globPath: string): Promise<void> {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return;
    }
    for (const name of names.sort()) {
      if (!isRotatedSibling(name, baseName)) continue;
      const path = join(dir, name);
      let stats: BigIntStats;
      try {
        stats = await stat(path, { bigint: true });
      } catch {
        continue;
      }
      if (!stats.isFile()) continue;
      const id = identityOf(stats);
      let known = this.byId.get(id);
      if (known?.phase === 'finished' && (Number(stats.size) !== known.sizeBytes || stats.mtimeNs !== known.mtimeNs)) {
        // Written since we finished it: a new file on the inode of one we finished, or late writes.
        const reopened = await this.open(path);
        const check = reopened ? await checkFingerprint(reopened.fd, known.fingerprint, this.scratch) : undefined;
        if (reopened) await closeQuietly(reopened.fd);
        if (check && !check.matches) {
          this.forget(known);
          known = undefined;
        } else {
          known.sizeBytes = Number(stats.size);
          known.mtimeNs = stats.mtimeNs;
        }
      }
      if (known) {
        if (known.phase !== 'active' && known.file.realPath !== path) {
          known.file = { ...known.file, realPath: path };
          this.countRename(known);
          this.dirty = true;
        }
        continue;
      }
      const entry = this.restored.get(id);
      if (!entry && Number(stats.mtimeMs) < this.oldBeforeMs) continue;
      const opened = await this.open(path);
      if (!opened || identityOf(opened.stats) !== id) {
        if (opened) await closeQuietly(opened.fd);
        continue;
      }
      if (entry) {
        this.restored.delete(id);
        this.dirty = true;
        const check = await checkFingerprint(opened.fd, entry.fingerprint, this.scratch);
        if (check.matches) {
          this.resumeDraining(entry, path, opened.fd, opened.stats, check.current);
          continue;
        }
        if (Number(stats.mtimeMs) < this.oldBeforeMs) {
          await closeQuietly(opened.fd);
          continue;
        }
      }
      const fingerprint = await fingerprintOf(opened.fd, this.scratch);
      const truncatedEntry = await this.truncatedEntryCopiedTo(opened.fd, Number(opened.stats.size), dir);
      if (truncatedEntry) {
        this.resumeDraining(truncatedEntry, path, opened.fd, opened.stats, fingerprint);
        continue;
      }
      if (await this.isCopyOfLiveFile(opened.fd, dir, baseName)) {
        await closeQuietly(opened.fd);
        continue;
      }
      const f = this.addFollowed({
        path: globPath,
        realPath: path,
        baseName,
        fd: opened.fd,
        stats: opened.stats,
        fingerprint,
        offset: 0,
        committed: 0,
        phase: 'draining',
        now: this.options.now(),
      });
      this.countRename(f);
    }
  }

  private async truncatedEntryCopiedTo(fd: number, size: number, dir: string): Promise<CheckpointEntry | undefined> {
    for (const [i, entry] of this.truncatedWhileDown.entries()) {
      if (entry.fingerprint.bytes === 0 || size < entry.offset || dirname(entry.realPath) !== dir) continue;
      if ((await checkFingerprint(fd, entry.fingerprint, this.scratch)).matches) {
        this.truncatedWhileDown.splice(i, 1);
        return entry;
      }
    }
    return undefined;
  }

  private async isCopyOfLiveFile(fd: number, dir: string, baseName: string): Promise<boolean> {
    for (const live of this.byPath.values()) {
      if (live.baseName !== baseName || live.fingerprint.bytes === 0 || dirname(live.file.realPath) !== dir) continue;
      if ((await checkFingerprint(fd, live.fingerprint, this.scratch)).matches) return true;
    }
    return false;
  }

  /** After a restart: checkpointed files neither at a glob path nor a rotated sibling, found where they were last. */
  private async resumeRestoredElsewhere(): Promise<void> {
    const byDir = new Map<string, CheckpointEntry[]>();
    for (const entry of this.restored.values()) {
      const dir = dirname(entry.realPath);
      byDir.set(dir, [...(byDir.get(dir) ?? []), entry]);
    }
    for (const dir of byDir.keys()) {
      let names: string[];
      try {
        names = await readdir(dir);
      } catch {
        continue;
      }
      for (const name of names.sort()) {
        if (NOT_TEXT_SUFFIXES.some((s) => name.endsWith(s))) continue;
        const path = join(dir, name);
        const opened = await this.open(path);
        if (!opened) continue;
        const entry = this.restored.get(identityOf(opened.stats));
        const check = entry && opened.stats.isFile() ? await checkFingerprint(opened.fd, entry.fingerprint, this.scratch) : undefined;
        if (!entry || !check?.matches) {
          await closeQuietly(opened.fd);
          continue;
        }
        this.restored.delete(identityOf(opened.stats));
        this.resumeDraining(entry, path, opened.fd, opened.stats, check.current);
      }
    }
    if (this.restored.size > 0) this.dirty = true; // the rest are gone
    this.restored = new Map();
  }

  private resumeDraining(entry: CheckpointEntry, realPath: string, fd: number, stats: BigIntStats, fingerprint: Fingerprint): void {
    const size = Number(stats.size);
    const offset = entry.offset <= size ? entry.offset : 0;
    if (entry.offset > size) this.counts.truncate++;
    this.addFollowed({
      key: entry.key,
      path: entry.path,
      realPath,
      baseName: entry.baseName,
      fd,
      stats,
      fingerprint,
      offset,
      committed: offset,
      phase: 'draining',
      now: this.options.now(),
    });
  }

  private async open(path: string): Promise<{ fd: number; stats: BigIntStats } | undefined> {
    let fd: number;
    try {
      fd = await openForRead(path);
    } catch {
      return undefined;
    }
    try {
      return { fd, stats: await statOf(fd) };
    } catch {
      await closeQuietly(fd);
      return undefined;
    }
  }

  private addFollowed(a: {
    key?: string | undefined;
    path: string;
    realPath: string;
    baseName: string;
    fd: number | undefined;
    stats: BigIntStats;
    fingerprint: Fingerprint;
    offset: number;
    committed: number;
    phase: Phase;
    now: number;
  }): Followed {
    const key = a.key ?? `${a.stats.dev}-${a.stats.ino}-${randomBytes(4).toString('hex')}`;
    const f: Followed = {
      key,
      file: { key, path: a.path, realPath: a.realPath },
      baseName: a.baseName,
      id: identityOf(a.stats),
      dev: a.stats.dev,
      ino: a.stats.ino,
      fingerprint: a.fingerprint,
      committed: a.committed,
      phase: a.phase,
      reader: a.fd === undefined ? undefined : new LineReader(a.fd, a.offset, this.options.maxLineBytes),
      sizeBytes: Number(a.stats.size),
      mtimeNs: a.stats.mtimeNs,
      lastGrowthMs: a.now,
      changed: false,
      shrunk: false,
      atEnd: false,
      verifiedOffset: a.offset,
      renameCounted: false,
      lines: [],
      ended: false,
    };
    this.byKey.set(key, f);
    this.byId.set(f.id, f);
    this.dirty = true;
    return f;
  }

  private forget(f: Followed): void {
    this.byKey.delete(f.key);
    if (this.byId.get(f.id) === f) this.byId.delete(f.id);
    if (this.byPath.get(f.file.path) === f) this.byPath.delete(f.file.path);
    if (f.reader) void closeQuietly(f.reader.fd);
    f.reader = undefined;
    this.dirty = true;
  }

  // ---- reading ----

  private async readRoundRobin(maxBytes: number): Promise<void> {
    let order = [...this.byKey.values()].filter((f) => f.reader !== undefined);
    for (const f of order) f.atEnd = false;
    if (order.length > 0) {
      const first = this.roundRobin++ % order.length;
      order = [...order.slice(first), ...order.slice(0, first)];
    }
    let remaining = maxBytes;
    while (remaining > 0 && order.length > 0) {
      const next: Followed[] = [];
      // Each file of the round gets an equal share of what is left.
      const share = Math.min(Math.ceil(remaining / order.length), this.buffer.length);
      for (const f of order) {
        if (remaining <= 0) break;
        if (!f.reader) continue;
        try {
          const step = await f.reader.step(this.buffer, Math.min(share, remaining), f.lines);
          remaining -= step.emittedBytes;
          if (f.lines.length > 0) this.touched.add(f);
          if (step.atEnd) f.atEnd = true;
          else next.push(f);
        } catch (error) {
          this.counts.readErrors++;
          this.options.log.warn({ path: f.file.realPath, error: errorText(error) }, 'cannot read a log file; trying again next poll');
        }
      }
      order = next;
    }
  }

  /** Fingerprints of the live files that changed: a mismatch means the file was truncated. */
  private async verifyLiveFiles(now: number): Promise<void> {
    for (const f of [...this.byPath.values()]) {
      if (f.phase !== 'active' || !f.reader || !(f.changed || f.shrunk || f.lines.length > 0)) continue;
      // What the file must still begin with: the bytes we read, when we read them from its start.
      let expected = f.fingerprint;
      const previousBytes = f.fingerprint.bytes;
      let consistent = true;
      const head = f.reader.readHead();
      if (head && head.length > expected.bytes) {
        consistent = fingerprintOfBytes(head.subarray(0, expected.bytes)).sha1 === expected.sha1;
        expected = fingerprintOfBytes(head);
      }
      let check: Awaited<ReturnType<typeof checkFingerprint>>;
      try {
        check = await checkFingerprint(f.reader.fd, expected, this.scratch);
      } catch {
        continue;
      }
      if (!consistent || !check.matches || f.shrunk) {
        // Its copy, if any, begins as the file did when last verified. Only when nothing was
        // verified yet, by the bytes read this poll (later bytes may come from the next generation).
        await this.truncated(f, now, f.fingerprint.bytes === 0 && consistent ? expected : f.fingerprint);
        continue;
      }
      // A print shorter than what we read is completed from the file only while all we read is
      // within it; otherwise it would describe whatever the file holds now.
      const completed = expected.bytes >= f.reader.readOffset && check.current.bytes > expected.bytes ? check.current : expected;
      if (completed.bytes > f.fingerprint.bytes) {
        f.fingerprint = completed;
        this.dirty = true;
      }
      f.verifiedOffset = f.reader.emittedOffset;
      // With nothing verified before, a change cannot be told from a truncation: the file may
      // have gone through whole generations since it was empty, copied and truncated between two
      // polls. Their copies are unknown siblings (once the print above is set, a copy of what
      // we just read is recognised as the live file's and left to the truncation).
      const unverified = f.changed && previousBytes === 0;
      f.changed = false;
      if (unverified) await this.scanSiblings(dirname(f.file.realPath), f.baseName, f.file.path);
    }
  }

  /**
   * A rotated file opened while it was still empty, and renamed away before a poll saw it
   * grow, has no head in its print: verifyLiveFiles completes only live files. Its lines would
   * then be named by its key, not by its content, while a restarted agent finds the same file
   * with its head and names it by that: records read on both sides of a crash would get two
   * ids, and Elasticsearch would store them twice. So the print is completed from the file
   * before its lines are given out; a rotated file is no longer written from its start.
   */
  private async nameRotatedContents(): Promise<void> {
    for (const f of this.touched) if (f.phase !== 'active') await this.completeHead(f);
  }

  private async completeHead(f: Followed): Promise<void> {
    if (f.lines.length === 0 || f.fingerprint.head !== undefined || !f.reader) return;
    let check: Awaited<ReturnType<typeof checkFingerprint>>;
    try {
      check = await checkFingerprint(f.reader.fd, f.fingerprint, this.scratch);
    } catch {
      return;
    }
    if (check.matches && check.current.bytes > f.fingerprint.bytes) {
      f.fingerprint = check.current;
      this.dirty = true;
    }
  }

  /**
   * The live file was truncated. If a rotated copy holds what we had not read, the key moves
   * to the copy (read on from the last verified offset; this poll's lines, possibly read from
   * the truncated file, are dropped); otherwise the key ends. The file itself starts again
   * from 0 under a new key.
   */
  private async truncated(f: Followed, now: number, readPrint: Fingerprint): Promise<void> {
    const reader = f.reader;
    if (!reader) return;
    this.counts.truncate++;
    const resumeAt = f.verifiedOffset;
    const originalRealPath = f.file.realPath;
    const copy = readPrint.bytes > 0 ? await this.findCopy(f, readPrint) : undefined;
    let fresh: BigIntStats;
    let fingerprint: Fingerprint;
    try {
      fresh = await statOf(reader.fd);
      fingerprint = await fingerprintOf(reader.fd, this.scratch);
    } catch {
      return;
    }
    const path = f.file.path;
    if (copy && Number(copy.stats.size) >= resumeAt) {
      f.lines = [];
      f.reader = new LineReader(copy.fd, resumeAt, this.options.maxLineBytes);
      f.id = identityOf(copy.stats);
      f.dev = copy.stats.dev;
      f.ino = copy.stats.ino;
      f.file = { ...f.file, realPath: copy.path };
      if (readPrint.bytes > f.fingerprint.bytes) f.fingerprint = readPrint;
      f.phase = 'draining';
      f.lastGrowthMs = now;
      f.sizeBytes = Number(copy.stats.size);
      this.byId.set(f.id, f);
    } else {
      this.counts.truncationsWithoutCopy++;
      this.options.log.warn({ path: f.file.realPath, offset: resumeAt }, 'log file truncated with no copy to finish from; unread lines are lost');
      if (copy) {
        // A copy we had read beyond: known, finished, never to be read again.
        await closeQuietly(copy.fd);
        this.addFollowed({
          path,
          realPath: copy.path,
          baseName: f.baseName,
          fd: undefined,
          stats: copy.stats,
          fingerprint: readPrint,
          offset: Number(copy.stats.size),
          committed: Number(copy.stats.size),
          phase: 'finished',
          now,
        });
      }
      f.reader = undefined;
      f.phase = 'finished';
      f.ended = true;
      this.touched.add(f);
      this.byKey.delete(f.key);
    }
    if (this.byPath.get(path) === f) this.byPath.delete(path);
    const next = this.addFollowed({
      path,
      realPath: originalRealPath,
      baseName: f.baseName,
      fd: reader.fd,
      stats: fresh,
      fingerprint,
      offset: 0,
      committed: 0,
      phase: 'active',
      now,
    });
    this.byPath.set(path, next);
    // Generations copied and truncated between two polls are unknown copies beside it.
    await this.scanSiblings(dirname(originalRealPath), f.baseName, path);
  }

  private async findCopy(f: Followed, print: Fingerprint): Promise<{ fd: number; stats: BigIntStats; path: string } | undefined> {
    const dir = dirname(f.file.realPath);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return undefined;
    }
    let best: { fd: number; stats: BigIntStats; path: string } | undefined;
    for (const name of names) {
      if (!isRotatedSibling(name, f.baseName)) continue;
      const path = join(dir, name);
      const opened = await this.open(path);
      if (!opened) continue;
      const known = this.byId.has(identityOf(opened.stats));
      const matches = !known && opened.stats.isFile() && (await checkFingerprint(opened.fd, print, this.scratch)).matches;
      if (matches && (!best || opened.stats.mtimeNs > best.stats.mtimeNs)) {
        if (best) await closeQuietly(best.fd);
        best = { ...opened, path };
      } else {
        await closeQuietly(opened.fd);
      }
    }
    return best;
  }

  /** Rotated files that have been read to their end and quiet for `rotateWaitMs` are finished and closed. */
  private async finishQuietFiles(now: number): Promise<void> {
    for (const f of [...this.byKey.values()]) {
      if (f.phase !== 'draining' || !f.reader) continue;
      let size = f.sizeBytes;
      try {
        const stats = await statOf(f.reader.fd);
        size = Number(stats.size);
        f.mtimeNs = stats.mtimeNs;
      } catch {
        // keep the last size
      }
      if (size !== f.sizeBytes) {
        f.sizeBytes = size;
        f.lastGrowthMs = now;
      }
      const quiet = this.options.mode === 'once' || now - f.lastGrowthMs >= this.options.rotateWaitMs;
      if (!quiet || !f.atEnd || size - f.reader.readOffset > this.buffer.length) continue;
      try {
        await f.reader.finish(this.buffer, f.lines);
      } catch (error) {
        this.counts.readErrors++;
        this.options.log.warn({ path: f.file.realPath, error: errorText(error) }, 'cannot read the end of a rotated log file');
      }
      await this.completeHead(f); // its last lines may be its first
      await closeQuietly(f.reader.fd);
      f.reader = undefined;
      f.phase = 'finished';
      f.ended = true;
      this.touched.add(f);
      if (this.options.mode === 'once') this.byKey.delete(f.key);
    }
  }

  /** Finished files are kept (so that they are not read again) until they are gone from their directory. */
  private async forgetVanishedFiles(): Promise<void> {
    const byDir = new Map<string, Followed[]>();
    for (const f of this.byKey.values()) {
      if (f.phase !== 'finished') continue;
      const dir = dirname(f.file.realPath);
      byDir.set(dir, [...(byDir.get(dir) ?? []), f]);
    }
    for (const [dir, files] of byDir) {
      const present = new Map<string, string>();
      let names: string[] = [];
      try {
        names = await readdir(dir);
      } catch {
        // the directory is gone: so are its files
      }
      for (const name of names) {
        try {
          present.set(identityOf(await stat(join(dir, name), { bigint: true })), join(dir, name));
        } catch {
          // gone meanwhile
        }
      }
      for (const f of files) {
        const path = present.get(f.id);
        if (path === undefined) this.forget(f);
        else if (path !== f.file.realPath) {
          f.file = { ...f.file, realPath: path };
          this.dirty = true;
        }
      }
    }
  }

  private takeChunks(): TailChunk[] {
    const chunks: TailChunk[] = [];
    for (const f of this.touched) {
      if (f.lines.length === 0 && !f.ended) continue;
      for (const line of f.lines) this.counts.bytesRead += line.endOffset - line.startOffset;
      this.counts.linesRead += f.lines.length;
      const contentId = f.fingerprint.head;
      chunks.push(contentId === undefined ? { file: f.file, lines: f.lines, ended: f.ended } : { file: f.file, lines: f.lines, ended: f.ended, contentId });
      f.lines = [];
      f.ended = false;
    }
    this.touched.clear();
    return chunks;
  }

  // ---- checkpoints ----

  private async flushIfDue(): Promise<void> {
    if (this.store && this.dirty && this.options.now() - this.lastFlushMs >= this.options.checkpointIntervalMs) await this.flushCheckpoints();
  }

  private async writeCheckpoints(): Promise<void> {
    if (!this.store || !this.dirty) return;
    this.dirty = false;
    const entries: CheckpointEntry[] = [...this.byKey.values()].map((f) => ({
      key: f.key,
      offset: f.committed,
      path: f.file.path,
      realPath: f.file.realPath,
      baseName: f.baseName,
      dev: String(f.dev),
      ino: String(f.ino),
      fingerprint: f.fingerprint,
    }));
    const saved = await this.store.save(entries, this.lastDiscoveryWallMs);
    this.lastFlushMs = this.options.now();
    if (saved.ok) {
      this.counts.checkpointWrites++;
      return;
    }
    this.dirty = true;
    this.counts.checkpointWriteErrors++;
    this.options.log.error({ path: this.store.path, error: saved.error }, 'cannot write the checkpoint file; will try again');
  }
}
