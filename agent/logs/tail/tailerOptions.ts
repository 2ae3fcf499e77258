/** The tailer's options and their defaults, in one place. */

export interface FileTailerOptions {
  /** Glob of the files to follow: `*` and `?` within a segment, in any segment. */
  readonly include: string;
  /** Where committed offsets are kept; without it nothing survives a restart. */
  readonly checkpointPath?: string;
  /**
   * Where to start a file found at the very first start (no checkpoint file yet). Files that
   * appear later, or are found without a checkpoint entry after that, are read from 0.
   */
  readonly startAt?: 'end' | 'beginning';
  /** `once`: read every matching file from its beginning to its end, then stop (no checkpoints). */
  readonly mode?: 'follow' | 'once';
  /** Longer lines come out in pieces marked `more`. */
  readonly maxLineBytes?: number;
  /** The one read buffer, shared by all files. Below 128 KiB: larger allocations are slow here. */
  readonly readChunkBytes?: number;
  /** A rotated-away file is closed once it has not grown for this long and is read to its end. */
  readonly rotateWaitMs?: number;
  /** Checkpoints are written at most this often (and at close). */
  readonly checkpointIntervalMs?: number;
  /** Monotonic clock for waits and intervals; file mtimes are always compared with `Date.now()`. */
  readonly now?: () => number;
  readonly log?: TailLog;
}

/** What the tailer logs: rare events only (per-line events are counted in `stats()`). pino's Logger fits. */
export interface TailLog {
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

export interface ResolvedTailerOptions {
  readonly include: string;
  readonly checkpointPath: string | undefined;
  readonly startAt: 'end' | 'beginning';
  readonly mode: 'follow' | 'once';
  readonly maxLineBytes: number;
  readonly readChunkBytes: number;
  readonly rotateWaitMs: number;
  readonly checkpointIntervalMs: number;
  readonly now: () => number;
  readonly log: TailLog;
}

export const TAILER_DEFAULTS = {
  include: '/var/log/containers/*.log',
  startAt: 'end',
  mode: 'follow',
  maxLineBytes: 1024 * 1024,
  readChunkBytes: 64 * 1024,
  // The kubelet renames the file and then asks the runtime to reopen it; writes in between
  // land in the old file. A second of quiet is ample for that and keeps few files open.
  rotateWaitMs: 1000,
  checkpointIntervalMs: 1000,
} as const;

const silentLog: TailLog = { warn: () => undefined, error: () => undefined };

/** Fills in defaults; throws on values that are programmer errors (checked once, at construction). */
export function resolveTailerOptions(options: FileTailerOptions): ResolvedTailerOptions {
  const resolved: ResolvedTailerOptions = {
    include: options.include,
    checkpointPath: options.checkpointPath,
    startAt: options.startAt ?? TAILER_DEFAULTS.startAt,
    mode: options.mode ?? TAILER_DEFAULTS.mode,
    maxLineBytes: options.maxLineBytes ?? TAILER_DEFAULTS.maxLineBytes,
    readChunkBytes: options.readChunkBytes ?? TAILER_DEFAULTS.readChunkBytes,
    rotateWaitMs: options.rotateWaitMs ?? TAILER_DEFAULTS.rotateWaitMs,
    checkpointIntervalMs: options.checkpointIntervalMs ?? TAILER_DEFAULTS.checkpointIntervalMs,
    now: options.now ?? (() => performance.now()),
    log: options.log ?? silentLog,
  };
  if (resolved.include.length === 0) throw new Error('tailer: include must not be empty');
  for (const name of ['maxLineBytes', 'readChunkBytes'] as const) {
    if (!Number.isSafeInteger(resolved[name]) || resolved[name] < 4) throw new Error(`tailer: ${name} must be an integer of at least 4`);
  }
  for (const name of ['rotateWaitMs', 'checkpointIntervalMs'] as const) {
    if (!Number.isFinite(resolved[name]) || resolved[name] < 0) throw new Error(`tailer: ${name} must be a non-negative number`);
  }
  return Object.freeze(resolved);
}
