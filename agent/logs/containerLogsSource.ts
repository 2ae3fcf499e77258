import type { Counters } from '../../core/counters.js';
import { logEnvelope, type LogRecord, type Meta } from '../../core/envelope.js';
import { containerFileInfo } from './containerFile.js';
import type { LogStream, ParsedLog, RawLine } from './logLine.js';
import type { PositionedLog } from './positionedLog.js';

/** What the source needs of the tailer: chunks of new lines per file, and where a file may resume. */
export interface LogTailer {
  poll(maxBytes: number): Promise<readonly TailedChunk[]>;
  commit(fileKey: string, resumeOffset: number): void;
  /** Writes committed offsets now, if any moved (a poll does it too, when it is due). */
  flushCheckpoints(): Promise<void>;
}

export interface TailedChunk {
  readonly file: { readonly key: string; readonly path: string };
  readonly lines: readonly RawLine[];
  /** The file was rotated away and read to its end: what the parser holds for it is complete. */
  readonly ended: boolean;
  /** Names the content read, the same in a copytruncate copy as in its original (see FileTailer). */
  readonly contentId?: string;
}

/** What the source needs of a parser, one per file. */
export interface LogParser {
  push(lines: readonly RawLine[], nowMs: number): ParsedLog[];
  flushDue(nowMs: number): ParsedLog[];
  end(): ParsedLog[];
}

export interface ContainerLogsSourceOptions {
  readonly tailer: LogTailer;
  readonly newParser: () => LogParser;
  readonly hostname: string;
  readonly region: string;
  /**
   * The tenant every record is given here. Records of a namespace (the kubelet's file
   * names say which) are moved to its tenant by `enrichWithPodMetadata`; the others keep it.
   */
  readonly defaultTenant: string;
  readonly counters: Counters;
  readonly now: () => number;
}

/** Per file: its parser and what every record of it carries. */
interface FileState {
  readonly parser: LogParser;
  /** The content's name, once the tailer has it; else the file's key. */
  contentId: string | undefined;
  /** The glob-matched path: the container's, also for a rotated file read after it. */
  readonly path: string;
  /** One dimensions object per stream and one meta per file, shared by their records (the codec encodes each once). */
  readonly byStream: Partial<Record<LogStream, Readonly<Record<string, string>>>>;
  meta: Meta | undefined;
  readonly dimensions: Readonly<Record<string, string>>;
  /** The parser's clock: it moves only while the file is at its end (see `read`). */
  clockMs: number;
  /** The last poll gave the file no lines. */
  quiet: boolean;
}

const LABELS = { source: 'container_logs' };

/**
 * The agent's container logs: new lines of every followed file, parsed (CRI or Docker,
 * partials and stack traces joined), stamped with the file's pod, container and tenant,
 * and positioned, so that the file's checkpoint moves only past what the bus took.
 *
 * The tenant comes from the namespace in the file's name, through the same mapping as
 * metrics. Files of a namespace the mapping drops are read and passed over (their
 * checkpoint moves at once), counted.
 */
export class ContainerLogsSource {
  readonly name = 'container_logs';
  private readonly files = new Map<string, FileState>();

  constructor(private readonly options: ContainerLogsSourceOptions) {}

  /** Reads up to about `maxBytes` of new lines; returns the records complete so far, multiline timeouts included. */
  async read(maxBytes: number): Promise<PositionedLog[]> {
    const { tailer, counters } = this.options;
    const nowMs = this.options.now();
    const out: PositionedLog[] = [];
    const polled = new Set<string>();
    for (const chunk of await tailer.poll(maxBytes)) {
      const state = this.stateOf(chunk.file.key, chunk.file.path);
      counters.add('kansoku_agent_log_lines_total', LABELS, chunk.lines.length);
      if (chunk.lines.length > 0) {
        polled.add(chunk.file.key);
        // The multiline timeout is for a file gone quiet, not for one the agent is behind
        // on: while a file has lines waiting, its clock stands still, so a stack trace cut
        // by a read budget is not sent in pieces because the bus was slow in between.
        if (state.quiet) state.clockMs = nowMs;
        state.quiet = false;
      }
      const parsed = chunk.lines.length > 0 ? state.parser.push(chunk.lines, state.clockMs) : [];
      if (chunk.ended) {
        parsed.push(...state.parser.end());
        this.files.delete(chunk.file.key);
      }
      if (chunk.contentId !== undefined) state.contentId = chunk.contentId;
      this.emit(chunk.file.key, state, parsed, nowMs, out);
    }
    for (const [key, state] of this.files) {
      if (polled.has(key)) continue;
      // Nothing new this poll: every file with lines gets some each poll, so this one is at its end.
      if (!state.quiet) {
        state.quiet = true;
        state.clockMs = nowMs;
      }
      this.emit(key, state, state.parser.flushDue(nowMs), nowMs, out);
    }
    return out;
  }

  /** Everything the parsers still hold, as records (`--once`, or a file that is gone). */
  drain(): PositionedLog[] {
    const nowMs = this.options.now();
    const out: PositionedLog[] = [];
    for (const [key, state] of this.files) this.emit(key, state, state.parser.end(), nowMs, out);
    return out;
  }

  /** The bus has these records: each file's checkpoint may move past them. */
  delivered(records: readonly PositionedLog[]): void {
    // Records of one file are delivered in order, so its last one carries the furthest safe offset.
    const furthest = new Map<string, number>();
    for (const record of records) furthest.set(record.fileKey, Math.max(furthest.get(record.fileKey) ?? 0, record.resumeOffset));
    for (const [key, offset] of furthest) this.options.tailer.commit(key, offset);
  }

  /** Persists the checkpoints the bus's acknowledgements moved, while no reading does it (the queue is full). */
  persist(): Promise<void> {
    return this.options.tailer.flushCheckpoints();
  }

  private stateOf(key: string, path: string): FileState {
    const known = this.files.get(key);
    if (known) return known;
    const { hostname } = this.options;
    const info = containerFileInfo(path);
    const dimensions: Record<string, string> = { hostname };
    if (info) {
      dimensions['namespace'] = info.namespace;
      dimensions['pod_name'] = info.podName;
      dimensions['container_name'] = info.containerName;
      if (info.containerId !== undefined) dimensions['container_id'] = info.containerId;
    } else {
      dimensions['path'] = path;
    }
    const state: FileState = { parser: this.options.newParser(), dimensions, contentId: undefined, path, byStream: {}, meta: undefined, clockMs: this.options.now(), quiet: true };
    this.files.set(key, state);
    return state;
  }

  private emit(fileKey: string, state: FileState, parsed: readonly ParsedLog[], nowMs: number, out: PositionedLog[]): void {
    if (parsed.length === 0) return;
    const { counters, hostname, region } = this.options;
    const meta = (state.meta ??= { tenantId: this.options.defaultTenant, region });
    let parseErrors = 0;
    for (const p of parsed) {
      const dimensions = p.stream === undefined ? state.dimensions : (state.byStream[p.stream] ??= { ...state.dimensions, stream: p.stream });
      const log: LogRecord = {
        message: p.message,
        dimensions,
        timestamp: p.timestampMs ?? nowMs,
        // Where the line is in the content, not in a file: read again from a copytruncate copy
        // or after a restart, it gets the same origin, so the same id, and is stored once.
        origin: `${hostname}|${state.path}|${state.contentId ?? fileKey}|${p.startOffset}${p.piece === undefined ? '' : `.${p.piece}`}`,
        ...(p.level !== undefined ? { level: p.level } : {}),
        ...(p.truncated ? { truncated: true } : {}),
        ...(p.split ? { split: true } : {}),
        ...(p.parseError !== undefined ? { parse_error: p.parseError } : {}),
      };
      if (p.parseError !== undefined) parseErrors++;
      out.push({ envelope: logEnvelope(log, meta, nowMs), fileKey, resumeOffset: p.resumeOffset });
    }
    counters.add('kansoku_agent_log_records_total', LABELS, parsed.length);
    if (parseErrors > 0) counters.add('kansoku_agent_log_parse_errors_total', LABELS, parseErrors);
  }
}
