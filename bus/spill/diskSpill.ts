import { appendFileSync, closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A bounded on-disk buffer for what an agent read but the bus has not taken yet (Kafka
 * away longer than the in-memory queue lasts). Metrics and logs use the same one, each in
 * its own directory.
 *
 * Records are JSON lines in numbered segment files, oldest first. When the total passes
 * `maxBytes`, whole segments go, oldest first, and their records are counted through
 * `onDrop` (newer data is worth more to an operator, as in the memory queue). A segment
 * is loaded whole by the publisher when its queue has room, and its file is deleted only
 * once every record of it left the queue (`release`): a crash in between replays the
 * segment (at-least-once; log ids make that harmless).
 *
 * Writes are not fsynced: the spill outlives the process (a crash, a restart), not the
 * machine. Its size and file count are small enough for synchronous I/O on the agent's loop.
 */
export interface DiskSpillOptions<T> {
  readonly dir: string;
  readonly maxBytes: number;
  /** A segment is closed past this size or this many records, whichever comes first. */
  readonly segmentBytes: number;
  readonly segmentRecords: number;
  readonly serialize: (record: T) => string;
  /** Undefined for a line that does not read back (a torn write at a crash): counted through onCorrupt. */
  readonly deserialize: (line: string) => T | undefined;
  readonly onDrop: (count: number) => void;
  readonly onCorrupt?: (count: number) => void;
}

interface Segment {
  readonly seq: number;
  readonly path: string;
  bytes: number;
  records: number;
  /** Loaded into the publisher's queue: not loaded again, deleted on release. */
  loaded: boolean;
}

const SUFFIX = '.spill';

export interface LoadedSegment<T> {
  readonly records: T[];
  /** Every record of the segment left the queue (delivered, refused or dropped): the file goes. */
  release(): void;
}

export class DiskSpill<T> {
  private readonly segments: Segment[] = [];
  private writing: Segment | undefined;
  private nextSeq = 1;

  constructor(private readonly options: DiskSpillOptions<T>) {
    mkdirSync(options.dir, { recursive: true });
    const found = readdirSync(options.dir)
      .filter((name) => name.endsWith(SUFFIX))
      .map((name) => Number.parseInt(name, 10))
      .filter((seq) => Number.isSafeInteger(seq) && seq > 0)
      .sort((a, b) => a - b);
    for (const seq of found) {
      const path = this.pathOf(seq);
      const text = readFileSync(path, 'latin1');
      let records = 0;
      for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) records++;
      this.segments.push({ seq, path, bytes: statSync(path).size, records, loaded: false });
      this.nextSeq = seq + 1;
    }
  }

  /** Records on disk not yet loaded into a queue. */
  get depth(): number {
    let records = 0;
    for (const segment of this.segments) if (!segment.loaded) records += segment.records;
    return records;
  }

  get bytes(): number {
    let bytes = 0;
    for (const segment of this.segments) bytes += segment.bytes;
    return bytes;
  }

  append(records: readonly T[]): void {
    if (records.length === 0) return;
    const { serialize, segmentBytes, segmentRecords } = this.options;
    let text = '';
    let count = 0;
    const writeOut = (): void => {
      if (count === 0) return;
      const segment = this.writableSegment();
      appendFileSync(segment.path, text);
      segment.bytes += Buffer.byteLength(text);
      segment.records += count;
      if (segment.bytes >= segmentBytes || segment.records >= segmentRecords) this.writing = undefined;
      text = '';
      count = 0;
    };
    for (const record of records) {
      text += `${serialize(record)}\n`;
      count++;
      const segment = this.writing;
      if ((segment?.records ?? 0) + count >= segmentRecords || (segment?.bytes ?? 0) + text.length >= segmentBytes) writeOut();
    }
    writeOut();
    this.enforceLimit();
  }

  /** How many records the next `loadOldest` brings, if any. */
  oldestRecords(): number | undefined {
    return this.segments.find((s) => !s.loaded)?.records;
  }

  /** The oldest segment not yet loaded, read whole; undefined when the spill is empty. */
  loadOldest(): LoadedSegment<T> | undefined {
    const segment = this.segments.find((s) => !s.loaded);
    if (segment === undefined) return undefined;
    if (segment === this.writing) this.writing = undefined;
    segment.loaded = true;
    const records: T[] = [];
    let corrupt = 0;
    let text: string;
    try {
      text = readFileSync(segment.path, 'utf8');
    } catch {
      text = '';
      corrupt += segment.records;
    }
    let start = 0;
    for (let end = text.indexOf('\n'); end !== -1; end = text.indexOf('\n', start)) {
      const record = this.options.deserialize(text.slice(start, end));
      if (record === undefined) corrupt++;
      else records.push(record);
      start = end + 1;
    }
    // A torn last line (no newline) is a write the crash interrupted.
    if (start < text.length) corrupt++;
    if (corrupt > 0) this.options.onCorrupt?.(corrupt);
    let released = false;
    return {
      records,
      release: () => {
        if (released) return;
        released = true;
        this.remove(segment);
      },
    };
  }

  private writableSegment(): Segment {
    if (this.writing === undefined) {
      const seq = this.nextSeq++;
      const path = this.pathOf(seq);
      closeSync(openSync(path, 'a'));
      this.writing = { seq, path, bytes: 0, records: 0, loaded: false };
      this.segments.push(this.writing);
    }
    return this.writing;
  }

  /** Oldest segments go until the spill fits; a loaded one is in memory already and only its file goes. */
  private enforceLimit(): void {
    while (this.bytes > this.options.maxBytes && this.segments.length > 1) {
      const oldest = this.segments[0] as Segment;
      if (!oldest.loaded) this.options.onDrop(oldest.records);
      this.remove(oldest);
    }
  }

  private remove(segment: Segment): void {
    const index = this.segments.indexOf(segment);
    if (index === -1) return;
    this.segments.splice(index, 1);
    if (this.writing === segment) this.writing = undefined;
    rmSync(segment.path, { force: true });
  }

  private pathOf(seq: number): string {
    return join(this.options.dir, `${String(seq).padStart(12, '0')}${SUFFIX}`);
  }
}
