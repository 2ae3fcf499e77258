/**
 * Cuts one open file into `RawLine`s. It reads into a buffer the tailer lends it (one
 * buffer for every file, so that reading allocates nothing per chunk), scans for `\n`
 * with `indexOf` and decodes only complete lines, so a multi-byte character is never cut.
 *
 * An incomplete line at the end of a chunk is read again with the next chunk rather than
 * copied; only a line longer than the whole buffer is held, in copies, up to
 * `maxLineBytes`; beyond that it is given out in pieces marked `more`, each cut on a
 * character boundary.
 */
import type { RawLine } from '../logLine.js';
import { readAt } from './fileIo.js';
import { FINGERPRINT_BYTES } from './fingerprint.js';

export interface ReadStep {
  /** Bytes of the lines given out by this step. */
  readonly emittedBytes: number;
  /** The read reached the end of the file (no more complete lines there now). */
  readonly atEnd: boolean;
}

const NEWLINE = 0x0a;
const MIN_READ_BYTES = 4096;

export class LineReader {
  /** Offset of the next byte to read. */
  private nextRead: number;
  /** Offset just past the last line given out: where the line being read starts. */
  private lineStart: number;
  /** Copies of the start of a line longer than the buffer, in order. */
  private held: Buffer[] = [];
  private heldBytes = 0;
  /**
   * The file's first bytes as this reader read them (when it started at 0): the fingerprint
   * is made from them, so that it describes the bytes lines were cut from, and not what a
   * later look at a file truncated meanwhile would find.
   */
  private readonly head: Buffer | undefined;
  private headLength = 0;

  constructor(
    readonly fd: number,
    offset: number,
    private readonly maxLineBytes: number,
  ) {
    this.nextRead = offset;
    this.lineStart = offset;
    this.head = offset === 0 ? Buffer.alloc(FINGERPRINT_BYTES) : undefined;
  }

  /** The first bytes of the file as read, when this reader started at 0. */
  readHead(): Buffer | undefined {
    return this.head?.subarray(0, this.headLength);
  }

  /** Offset just past the last line (or piece) given out. */
  get emittedOffset(): number {
    return this.lineStart;
  }

  /** Offset just past the last byte read (held bytes included). */
  get readOffset(): number {
    return this.nextRead;
  }

  /**
   * Reads up to one buffer's worth and appends the complete lines in it to `out`, as many
   * as fit in `budgetBytes` (always one at least, so that a small budget still makes progress).
   */
  async step(buffer: Buffer, budgetBytes: number, out: RawLine[]): Promise<ReadStep> {
    const base = this.nextRead;
    // Read little more than the budget: what is read beyond it is read again next time.
    const wanted = Math.min(buffer.length, Math.max(budgetBytes + MIN_READ_BYTES, MIN_READ_BYTES));
    const length = await readAt(this.fd, buffer, wanted, base);
    if (length === 0) return { emittedBytes: 0, atEnd: true };
    if (this.head && base <= this.headLength && this.headLength < FINGERPRINT_BYTES) {
      const to = Math.min(length, FINGERPRINT_BYTES - base);
      if (to > this.headLength - base) {
        buffer.copy(this.head, this.headLength, this.headLength - base, to);
        this.headLength = base + to;
      }
    }
    const view = length === buffer.length ? buffer : buffer.subarray(0, length);
    let start = 0;
    let emitted = 0;
    for (;;) {
      const newline = view.indexOf(NEWLINE, start);
      if (newline === -1) break;
      if (emitted > 0 && emitted + this.heldBytes + newline + 1 - start > budgetBytes) {
        this.nextRead = base + start;
        return { emittedBytes: emitted, atEnd: false };
      }
      emitted += this.emitLine(view, start, newline, out);
      start = newline + 1;
    }
    const full = length === wanted;
    if (start === length) {
      this.nextRead = base + length;
    } else if (this.heldBytes === 0 && (start > 0 || !full)) {
      // The incomplete line fits in a buffer: read it again with what follows it.
      this.nextRead = base + start;
    } else {
      this.hold(view, start, length);
      this.nextRead = base + length;
      emitted += this.emitHeldPieces(out);
    }
    return { emittedBytes: emitted, atEnd: !full };
  }

  /**
   * Reads to the end of the file and gives out everything, the incomplete last line as a
   * line of its own: the file was rotated away and nothing more will be written to it.
   */
  async finish(buffer: Buffer, out: RawLine[]): Promise<number> {
    let emitted = 0;
    for (;;) {
      const step = await this.step(buffer, Number.POSITIVE_INFINITY, out);
      emitted += step.emittedBytes;
      if (step.atEnd) break;
    }
    // After an end-of-file step the incomplete tail is either held or still to be read.
    for (;;) {
      const length = await readAt(this.fd, buffer, buffer.length, this.nextRead);
      if (length === 0) break;
      this.hold(buffer, 0, length);
      this.nextRead += length;
    }
    if (this.heldBytes > 0) {
      const bytes = this.takeHeld();
      emitted += this.emitPieces(bytes, this.lineStart, true, 0, out);
    }
    return emitted;
  }

  private emitLine(view: Buffer, start: number, newline: number, out: RawLine[]): number {
    const startOffset = this.lineStart;
    if (this.heldBytes === 0 && newline - start <= this.maxLineBytes) {
      const endOffset = startOffset + (newline - start) + 1;
      out.push({ text: view.toString('utf8', start, newline), startOffset, endOffset });
      this.lineStart = endOffset;
      return endOffset - startOffset;
    }
    const bytes = this.heldBytes === 0 ? view.subarray(start, newline) : Buffer.concat([...this.takeHeld(), view.subarray(start, newline)]);
    return this.emitPieces(bytes, startOffset, true, 1, out);
  }

  private hold(view: Buffer, start: number, end: number): void {
    this.held.push(Buffer.from(view.subarray(start, end)));
    this.heldBytes += end - start;
  }

  private takeHeld(): Buffer[] {
    const held = this.held;
    this.held = [];
    this.heldBytes = 0;
    return held;
  }

  /** Gives out the held start of a line in pieces while more than `maxLineBytes` is held. */
  private emitHeldPieces(out: RawLine[]): number {
    if (this.heldBytes <= this.maxLineBytes) return 0;
    const bytes = Buffer.concat(this.takeHeld());
    return this.emitPieces(bytes, this.lineStart, false, 0, out);
  }

  /**
   * Gives out `bytes` (a line, or the start of one when not `complete`) in pieces of at most
   * `maxLineBytes`, each ending on a character boundary. A complete line's last piece
   * carries no `more` and ends past its `newlineBytes`; an incomplete line's rest is held.
   */
  private emitPieces(bytes: Buffer | Buffer[], startOffset: number, complete: boolean, newlineBytes: number, out: RawLine[]): number {
    const all = Array.isArray(bytes) ? Buffer.concat(bytes) : bytes;
    let at = 0;
    while (all.length - at > this.maxLineBytes) {
      let cut = at + this.maxLineBytes;
      // Never start the next piece on a UTF-8 continuation byte (10xxxxxx).
      while (cut > at && ((all[cut] ?? 0) & 0xc0) === 0x80) cut--;
      if (cut === at) cut = at + this.maxLineBytes;
      out.push({ text: all.toString('utf8', at, cut), startOffset: startOffset + at, endOffset: startOffset + cut, more: true });
      at = cut;
    }
    if (complete) {
      out.push({ text: all.toString('utf8', at, all.length), startOffset: startOffset + at, endOffset: startOffset + all.length + newlineBytes });
      this.lineStart = startOffset + all.length + newlineBytes;
    } else {
      this.lineStart = startOffset + at;
      if (at < all.length) {
        this.held = [Buffer.from(all.subarray(at))];
        this.heldBytes = all.length - at;
      }
    }
    return this.lineStart - startOffset;
  }
}
