/**
 * Turns the raw lines of one container log file into log records: pieces of an over-long raw
 * line joined back, CRI or Docker framing read, a runtime's partial lines joined per stream,
 * stack traces joined per stream, too-long messages split, a level put on each record, and each
 * record given the offset a checkpoint may move to once it is delivered.
 */

import type { LogStream, ParsedLog, RawLine } from '../logLine.js';
import { parseCriLine, type CriLine } from './criLine.js';
import { parseDockerLine, type DockerLine } from './dockerLine.js';
import { detectLevel, statedLevel, type LogLevel } from './level.js';
import { StackTraceJoiner } from './multiline.js';
import { fitsUtf8, splitUtf8, utf8ByteLength } from './utf8.js';

export interface LogFileParserOptions {
  /** `auto` reads a line starting with `{` as Docker json-file and any other as CRI. Default `auto`. */
  readonly format?: 'auto' | 'cri' | 'docker';
  /** Join stack traces into one record. */
  readonly multiline: boolean;
  /** A stack trace held this long after its last line is emitted as it is. */
  readonly multilineFlushMs: number;
  /** No record's message is longer than this many UTF-8 bytes: longer ones are split. */
  readonly maxMessageBytes: number;
}

/** A trace longer than this many lines goes on in a new record. */
const MULTILINE_MAX_LINES = 1000;

/** The runtime's partial lines of one stream, waiting for the line that ends them. */
interface PartialLine {
  readonly parts: string[];
  readonly startOffset: number;
  endOffset: number;
  readonly timestampMs: number;
  chars: number;
  /** Split pieces already emitted because the joined line outgrew the size limit. */
  piecesEmitted: number;
  level: LogLevel | undefined;
  /** One of its raw lines was cut at the raw-line limit. */
  truncated: boolean;
}

type Framed = CriLine | DockerLine;

export class LogFileParser {
  private readonly format: 'auto' | 'cri' | 'docker';
  private readonly maxMessageBytes: number;
  private readonly flushMs: number;
  /** Pieces of a raw line cut by the tailer are joined up to this many chars; the rest is dropped and the record marked truncated. */
  private readonly maxRawLineChars: number;

  private readonly rawPieces: string[] = [];
  private rawPiecesStart = 0;
  private rawPiecesChars = 0;
  private rawPiecesTruncated = false;
  private lastRawPieceEnd = 0;

  /** Partial lines by framing and stream: a file mixing both keeps them apart, as the runtimes do. */
  private criStdout: PartialLine | undefined;
  private criStderr: PartialLine | undefined;
  private dockerStdout: PartialLine | undefined;
  private dockerStderr: PartialLine | undefined;

  private readonly stdoutTraces: StackTraceJoiner | undefined;
  private readonly stderrTraces: StackTraceJoiner | undefined;

  private nowMs = 0;
  /** End of the last raw line taken in (emitted or held): nothing before it is still unread. */
  private consumedOffset = 0;
  private out: ParsedLog[] = [];

  constructor(options: LogFileParserOptions) {
    this.format = options.format ?? 'auto';
    this.maxMessageBytes = Math.max(4, Math.floor(options.maxMessageBytes));
    this.flushMs = options.multilineFlushMs;
    this.maxRawLineChars = Math.max(4 * this.maxMessageBytes, 1 << 20);
    if (options.multiline) {
      const joinerOptions = { maxBytes: this.maxMessageBytes, maxLines: MULTILINE_MAX_LINES };
      this.stdoutTraces = new StackTraceJoiner(joinerOptions, (message, timestampMs, startOffset, endOffset, lineCount) => {
        this.emit(message, timestampMs, 'stdout', startOffset, endOffset, lineCount > 1 ? (statedLevel(message) ?? 'error') : detectLevel(message, 'stdout'));
      });
      this.stderrTraces = new StackTraceJoiner(joinerOptions, (message, timestampMs, startOffset, endOffset) => {
        this.emit(message, timestampMs, 'stderr', startOffset, endOffset, detectLevel(message, 'stderr'));
      });
    }
  }

  /** The records the lines complete, in the order they complete; stack traces that timed out come first. */
  push(lines: readonly RawLine[], nowMs: number): ParsedLog[] {
    const out: ParsedLog[] = [];
    this.out = out;
    this.nowMs = nowMs;
    this.flushTraces(nowMs);
    for (const line of lines) {
      if (line.more === true) {
        this.addRawPiece(line);
      } else if (this.rawPieces.length > 0) {
        this.addRawPiece(line);
        this.endRawPieces(line.endOffset);
      } else {
        this.parseLine(line.text, line.startOffset, line.endOffset, false);
      }
      this.consumedOffset = line.endOffset;
    }
    this.out = [];
    return out;
  }

  /** Stack traces whose last line came `multilineFlushMs` or longer ago. */
  flushDue(nowMs: number): ParsedLog[] {
    const out: ParsedLog[] = [];
    this.out = out;
    this.flushTraces(nowMs);
    this.out = [];
    return out;
  }

  /** Everything held: the file ended (rotated away, deleted, or a one-shot read reached its end). */
  end(): ParsedLog[] {
    const out: ParsedLog[] = [];
    this.out = out;
    if (this.rawPieces.length > 0) this.endRawPieces(Infinity);
    this.flushPartials();
    this.stdoutTraces?.flush();
    this.stderrTraces?.flush();
    this.out = [];
    return out;
  }

  private flushTraces(nowMs: number): void {
    this.stdoutTraces?.flushDue(nowMs, this.flushMs);
    this.stderrTraces?.flushDue(nowMs, this.flushMs);
  }

  private addRawPiece(line: RawLine): void {
    if (this.rawPieces.length === 0) {
      this.rawPiecesStart = line.startOffset;
      this.rawPiecesChars = 0;
      this.rawPiecesTruncated = false;
    }
    this.lastRawPieceEnd = line.endOffset;
    const room = this.maxRawLineChars - this.rawPiecesChars;
    if (line.text.length > room) {
      this.rawPiecesTruncated = true;
      if (room <= 0) return;
      this.rawPieces.push(line.text.slice(0, room));
      this.rawPiecesChars += room;
      return;
    }
    this.rawPieces.push(line.text);
    this.rawPiecesChars += line.text.length;
  }

  private endRawPieces(endOffset: number): void {
    const text = this.rawPieces.join('');
    const start = this.rawPiecesStart;
    this.rawPieces.length = 0;
    this.parseLine(text, start, Number.isFinite(endOffset) ? endOffset : this.lastRawPieceEnd, this.rawPiecesTruncated);
  }

  private parseLine(text: string, startOffset: number, endOffset: number, truncated: boolean): void {
    const docker = this.format === 'docker' || (this.format === 'auto' && text.charCodeAt(0) === 123);
    const framed = docker ? parseDockerLine(text) : parseCriLine(text);
    if (typeof framed === 'string') {
      this.malformed(text, framed, startOffset, endOffset, truncated);
      return;
    }
    this.framed(docker, framed, startOffset, endOffset, truncated);
  }

  /**
   * A line that is neither format. The framing can no longer be trusted to continue what it
   * left open, so the partial lines held are emitted first (as Fluent Bit does), then this line as it is.
   */
  private malformed(text: string, reason: string, startOffset: number, endOffset: number, truncated: boolean): void {
    this.flushPartials();
    const split = !fitsUtf8(text, this.maxMessageBytes);
    if (!split) {
      this.emitMarked(text, undefined, undefined, startOffset, endOffset, detectLevel(text, undefined), truncated, reason, -1, false);
      return;
    }
    const level = detectLevel(text, undefined);
    const pieces = splitUtf8(text, this.maxMessageBytes);
    for (let i = 0; i < pieces.length; i++) {
      this.emitMarked(pieces[i] as string, undefined, undefined, startOffset, endOffset, level, truncated, reason, i, i < pieces.length - 1);
    }
  }

  private framed(docker: boolean, line: Framed, startOffset: number, endOffset: number, truncated: boolean): void {
    const stream = line.stream;
    const partial = docker ? (stream === 'stdout' ? this.dockerStdout : this.dockerStderr) : stream === 'stdout' ? this.criStdout : this.criStderr;
    if (line.partial) {
      if (partial === undefined) {
        this.setPartial(docker, stream, {
          parts: [line.message],
          startOffset,
          endOffset,
          timestampMs: line.timestampMs,
          chars: line.message.length,
          piecesEmitted: 0,
          level: undefined,
          truncated,
        });
      } else {
        partial.parts.push(line.message);
        partial.chars += line.message.length;
        partial.endOffset = endOffset;
        partial.truncated ||= truncated;
        if (partial.chars * 3 > this.maxMessageBytes) this.splitEarly(partial, stream);
      }
      return;
    }
    if (partial === undefined) {
      this.deliver(line.message, line.timestampMs, stream, startOffset, endOffset, truncated, 0, undefined);
      return;
    }
    this.setPartial(docker, stream, undefined);
    partial.parts.push(line.message);
    this.deliver(partial.parts.join(''), partial.timestampMs, stream, partial.startOffset, endOffset, truncated || partial.truncated, partial.piecesEmitted, partial.level);
  }

  private setPartial(docker: boolean, stream: LogStream, partial: PartialLine | undefined): void {
    if (docker) {
      if (stream === 'stdout') this.dockerStdout = partial;
      else this.dockerStderr = partial;
    } else if (stream === 'stdout') this.criStdout = partial;
    else this.criStderr = partial;
  }

  /** A partial line grown past the size limit: its full pieces go out now, so that memory stays bounded. */
  private splitEarly(partial: PartialLine, stream: LogStream): void {
    const joined = partial.parts.join('');
    if (utf8ByteLength(joined) <= this.maxMessageBytes) return;
    const pieces = splitUtf8(joined, this.maxMessageBytes);
    const last = pieces.pop() as string;
    this.tracesOf(stream)?.flush();
    if (partial.level === undefined) partial.level = detectLevel(joined, stream);
    for (const piece of pieces) {
      this.emitMarked(piece, partial.timestampMs, stream, partial.startOffset, partial.endOffset, partial.level, partial.truncated, undefined, partial.piecesEmitted++, true);
    }
    partial.parts.length = 0;
    partial.parts.push(last);
    partial.chars = last.length;
  }

  /** Emits every partial line held, earliest first. */
  private flushPartials(): void {
    for (;;) {
      let earliest: PartialLine | undefined;
      let docker = false;
      let stream: LogStream = 'stdout';
      const candidates: [PartialLine | undefined, boolean, LogStream][] = [
        [this.criStdout, false, 'stdout'],
        [this.criStderr, false, 'stderr'],
        [this.dockerStdout, true, 'stdout'],
        [this.dockerStderr, true, 'stderr'],
      ];
      for (const [candidate, isDocker, candidateStream] of candidates) {
        if (candidate !== undefined && (earliest === undefined || candidate.startOffset < earliest.startOffset)) {
          earliest = candidate;
          docker = isDocker;
          stream = candidateStream;
        }
      }
      if (earliest === undefined) return;
      this.setPartial(docker, stream, undefined);
      this.deliver(earliest.parts.join(''), earliest.timestampMs, stream, earliest.startOffset, earliest.endOffset, earliest.truncated, earliest.piecesEmitted, earliest.level);
    }
  }

  private tracesOf(stream: LogStream): StackTraceJoiner | undefined {
    return stream === 'stdout' ? this.stdoutTraces : this.stderrTraces;
  }

  /** A whole message of one stream: split when too long, else on to the stack-trace joiner, else out. */
  private deliver(message: string, timestampMs: number, stream: LogStream, startOffset: number, endOffset: number, truncated: boolean, piecesEmitted: number, level: LogLevel | undefined): void {
    const traces = this.tracesOf(stream);
    if (piecesEmitted > 0 || !fitsUtf8(message, this.maxMessageBytes)) {
      traces?.flush();
      const pieces = splitUtf8(message, this.maxMessageBytes);
      const pieceLevel = level ?? detectLevel(message, stream);
      // Until its last piece is out, a message must be read again from its start.
      for (let i = 0; i < pieces.length; i++) {
        this.emitMarked(pieces[i] as string, timestampMs, stream, startOffset, endOffset, pieceLevel, truncated, undefined, piecesEmitted + i, i < pieces.length - 1);
      }
      return;
    }
    if (traces === undefined || truncated) {
      traces?.flush();
      this.emitMarked(message, timestampMs, stream, startOffset, endOffset, detectLevel(message, stream), truncated, undefined, -1, false);
      return;
    }
    traces.push(message, timestampMs, startOffset, endOffset, this.nowMs);
  }

  /** Offset of the first raw line of anything still held, or Infinity. */
  private heldStartOffset(): number {
    let held = this.rawPieces.length > 0 ? this.rawPiecesStart : Infinity;
    if (this.criStdout !== undefined && this.criStdout.startOffset < held) held = this.criStdout.startOffset;
    if (this.criStderr !== undefined && this.criStderr.startOffset < held) held = this.criStderr.startOffset;
    if (this.dockerStdout !== undefined && this.dockerStdout.startOffset < held) held = this.dockerStdout.startOffset;
    if (this.dockerStderr !== undefined && this.dockerStderr.startOffset < held) held = this.dockerStderr.startOffset;
    if (this.stdoutTraces !== undefined) held = Math.min(held, this.stdoutTraces.heldStartOffset);
    if (this.stderrTraces !== undefined) held = Math.min(held, this.stderrTraces.heldStartOffset);
    return held;
  }

  private emit(message: string, timestampMs: number | undefined, stream: LogStream, startOffset: number, endOffset: number, level: LogLevel | undefined): void {
    this.out.push({ message, timestampMs, stream, level, startOffset, resumeOffset: this.resumeOffset(startOffset, endOffset, false) });
  }

  /**
   * Where reading may start again after `record`: past everything read (or at least past the
   * record), but never past anything held. A piece with more of its message to come keeps it at
   * the message's start, so that a restart reads the message again.
   */
  private resumeOffset(startOffset: number, endOffset: number, moreToCome: boolean): number {
    const readUpTo = moreToCome ? startOffset : Math.max(endOffset, this.consumedOffset);
    return Math.min(readUpTo, this.heldStartOffset());
  }

  /** One record with the marks a plain one does not carry; `piece` -1 when not split. */
  private emitMarked(
    message: string,
    timestampMs: number | undefined,
    stream: LogStream | undefined,
    startOffset: number,
    endOffset: number,
    level: LogLevel | undefined,
    truncated: boolean,
    parseError: string | undefined,
    piece: number,
    moreToCome: boolean,
  ): void {
    const record: { -readonly [K in keyof ParsedLog]: ParsedLog[K] } = { message, timestampMs, stream, level, startOffset, resumeOffset: this.resumeOffset(startOffset, endOffset, moreToCome) };
    if (truncated) record.truncated = true;
    if (piece >= 0) {
      record.split = true;
      record.piece = piece;
    }
    if (parseError !== undefined) record.parseError = parseError;
    this.out.push(record);
  }
}
