/**
 * What passes between the stages of the container-logs path on the node:
 * the tailer reads `RawLine`s from a file, the parser turns them into `ParsedLog`s,
 * and the source stamps tenant and dimensions on them.
 */

/** One line of a container log file, as the tailer read it. */
export interface RawLine {
  /** The line without its trailing `\n`, decoded as UTF-8. */
  readonly text: string;
  /** Byte offset of the line's first byte in the file. */
  readonly startOffset: number;
  /** Byte offset just past the line's `\n` (or past this piece, when `more`). */
  readonly endOffset: number;
  /**
   * The line was longer than the tailer's limit: this is one piece of it, and the next
   * `RawLine` of the same file continues it (the last piece has no `more`).
   */
  readonly more?: boolean;
}

export type LogStream = 'stdout' | 'stderr';

/** One log record made of one or more raw lines (CRI partials joined, a stack trace joined). */
export interface ParsedLog {
  readonly message: string;
  /** From the line's own timestamp; undefined when the line had none that parsed. */
  readonly timestampMs: number | undefined;
  readonly stream: LogStream | undefined;
  /** Lower-case: fatal, error, warn, info, debug, trace. */
  readonly level?: string;
  /** The message was cut at the record size limit. */
  readonly truncated?: boolean;
  /** One of several records a too-long line was split into; `piece` numbers them from 0. */
  readonly split?: boolean;
  readonly piece?: number;
  /** The line did not parse as its format; `message` is then the raw text. */
  readonly parseError?: string;
  /** Offset of the first raw line of the record: with `piece`, it names the record uniquely in its file. */
  readonly startOffset: number;
  /**
   * Where reading may start again once this record and every record before it are
   * delivered, without losing anything: never past a line still held (a partial CRI line
   * of the other stream, a stack trace still being joined). Non-decreasing from record
   * to record of one file.
   */
  readonly resumeOffset: number;
}
