/**
 * The Prometheus protobuf exposition format: what client_golang's promhttp (and so the
 * kubelet) serves for `Accept: application/vnd.google.protobuf;
 * proto=io.prometheus.client.MetricFamily; encoding=delimited`. The body is a sequence of
 * `MetricFamily` messages (prometheus/client_model `metrics.proto`), each preceded by
 * its length as a varint.
 *
 * Decoded by hand, not with protobufjs (measured in `parseProtobuf.bench.ts` on the
 * kubelet's 1.25 cAdvisor page): protobufjs's reflection decoder builds an object per
 * message, label pair and value, which then have to become samples; this decoder reads
 * fields straight into `Sample`s (~2.1× faster to the same `Sample[]`), and passes over
 * the families nobody wants by their length without decoding their metrics (~4× with
 * the agent's cAdvisor filter, which protobufjs cannot apply). It also had to frame
 * messages itself anyway, to decode a page arriving in pieces and to go on after a bad
 * message, where protobufjs throws and leaves no position to resume from.
 *
 * It yields what `parseExposition` yields for the same page in text: one `Sample` per
 * text line, named and labelled as the text format names and labels them (a summary's
 * `{quantile=…}`, `_sum`, `_count`; a histogram's `_bucket{le=…}` with the `+Inf` bucket,
 * `_sum`, `_count`). Native histogram fields have no text form and are passed over.
 *
 * It never throws. A message that does not decode is an `ExpositionError` (its `line` is
 * the message's 1-based ordinal) and none of its samples are kept; decoding then looks
 * for the next byte offset where a plausible family starts (length, then a valid metric
 * name as field 1, then the whole message decoding), so that garbage in the middle of a
 * page costs the garbage and not the rest of the page. Families before it are kept.
 * An error's `text` is the message's first bytes in hex, or the family's name when one
 * metric of a family that decoded could not be a sample (a bad or duplicate label, more
 * than `MAX_LABELS_PER_SAMPLE` labels, a label value that is not valid UTF-8).
 */
import { MAX_LABELS_PER_SAMPLE, type ExpositionError, type ExpositionResult, type MetricType, type Sample } from './parseExposition.js';

/** The Content-Type (and Accept) of the delimited protobuf format. */
export const PROTOBUF_EXPOSITION_TYPE = 'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited';

/** `MetricType` enum values of metrics.proto, by number. GAUGE_HISTOGRAM (5) reads as a histogram. */
const FAMILY_TYPES: readonly MetricType[] = ['counter', 'gauge', 'summary', 'untyped', 'histogram', 'histogram'];

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

/** The first byte of a family message from client_golang: field 1 (name), length-delimited. */
const NAME_KEY = (1 << 3) | WIRE_LEN;
/** A LabelPair's value: field 2, length-delimited. */
const VALUE_KEY = (2 << 3) | WIRE_LEN;
const ERROR_BYTES_SHOWN = 40;
/** A candidate family found while resynchronising is not believed beyond this size. */
const MAX_CANDIDATE_BYTES = 64 * 1024 * 1024;

const EMPTY = Buffer.alloc(0);

function isMetricNameByte(c: number, first: boolean): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c === 58 || (!first && c >= 48 && c <= 57);
}

function isLabelNameByte(c: number, first: boolean): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || (!first && c >= 48 && c <= 57);
}

/** A float as Go's `strconv.FormatFloat(f, 'g', -1, 64)` writes it, which is how the text format writes `le` and `quantile`. */
export function formatGoFloat(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  if (value === 0) return Object.is(value, -0) ? '-0' : '0';
  const exponential = value.toExponential(); // shortest round-trip digits, like Go's -1 precision
  const e = exponential.indexOf('e');
  const exponent = Number(exponential.slice(e + 1));
  if (exponent < -4 || exponent >= 6) {
    const digits = Math.abs(exponent) < 10 ? `0${Math.abs(exponent)}` : String(Math.abs(exponent));
    return `${exponential.slice(0, e)}e${exponent < 0 ? '-' : '+'}${digits}`;
  }
  return String(value);
}

export function parseProtobufExposition(page: Uint8Array, wanted?: (familyName: string) => boolean): ExpositionResult {
  const parser = new ProtobufExpositionParser(wanted);
  parser.push(Buffer.from(page.buffer, page.byteOffset, page.byteLength));
  return parser.finish();
}

/**
 * One pass over one page, fed in pieces as they come off the socket. A piece is decoded
 * up to its last complete message; the rest waits, and once a message's length is known
 * nothing is joined again until enough bytes are there (so a 10 MB message arriving in
 * 64 KB pieces is joined once, not 160 times). Methods that can fail return the next
 * position, or -1 after setting `reason`, so that bad input costs no exception.
 */
export class ProtobufExpositionParser {
  private readonly samples: Sample[] = [];
  private readonly errors: ExpositionError[] = [];
  private readonly types = new Map<string, MetricType>();
  private skipped = 0;

  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Bytes `pending` must hold before decoding is worth trying again. */
  private neededBytes = 0;
  /** Page offset of `pending`'s first byte, for error messages. */
  private pageOffset = 0;
  private messageNumber = 0;
  /** False after a message failed, until a plausible family start is found again. */
  private synced = true;

  /** The buffer being decoded, and the position after the last varint read from it. */
  private buf: Buffer = EMPTY;
  private p = 0;
  private reason = '';
  /** [start, end) of each metric of the family being decoded. */
  private readonly metricRanges: number[] = [];
  /** The previous metric's label names by index, reused when the bytes repeat (they nearly always do). */
  private readonly labelNames: string[] = [];

  private previousFamilyName = '';
  private previousFamilyBytes: Buffer = EMPTY;

  /**
   * `wanted`, when given, says which families to read; the metrics of the others are
   * passed over by their length. Each of their would-be text lines counts in `skipped`
   * (for a summary or histogram these are counted by decoding it, as text counts lines).
   */
  constructor(private readonly wanted?: (familyName: string) => boolean) {}

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes >= this.neededBytes) this.drain(false);
  }

  finish(): ExpositionResult {
    if (this.pendingBytes > 0) this.drain(true);
    return { samples: this.samples, errors: this.errors, types: this.types, skipped: this.skipped };
  }

  private drain(final: boolean): void {
    const data = this.pending.length === 1 ? (this.pending[0] as Buffer) : Buffer.concat(this.pending, this.pendingBytes);
    const used = this.decodeMessages(data, final);
    this.pageOffset += used;
    const rest = data.subarray(used);
    this.pending = rest.length === 0 ? [] : [rest];
    this.pendingBytes = rest.length;
    // The decoded buffer is not kept alive by what was read from it: strings are copies.
    this.buf = EMPTY;
  }

  /** Decodes whole messages from `data`; returns how many bytes were used and sets `neededBytes` for the rest. */
  private decodeMessages(data: Buffer, final: boolean): number {
    this.buf = data;
    this.neededBytes = 0;
    let p = 0;
    while (p < data.length) {
      const bodyStart = this.varint(p, data.length);
      const length = this.p;
      const end = bodyStart + length;
      if (this.synced) {
        if (bodyStart === -2) {
          this.messageNumber++;
          this.error(p, data, 'invalid message length');
          this.synced = false;
          p++;
          continue;
        }
        if (bodyStart === -1 || end > data.length) {
          if (!final) return this.wait(p, bodyStart === -1 ? data.length - p + 1 : end - p);
          this.messageNumber++;
          this.error(p, data, `message truncated: ${bodyStart === -1 ? 'its length is' : `${end - data.length} of its ${length} bytes are`} missing at the end of the page`);
          // A garbage length can claim more than the page has: what follows may still be families.
          this.synced = false;
          p++;
          continue;
        }
        this.messageNumber++;
        if (this.family(bodyStart, end)) p = end;
        else {
          this.error(p, data, this.reason);
          this.synced = false;
          p++;
        }
        continue;
      }
      // Looking for a plausible family start: a length, the name key, a valid metric name.
      if (bodyStart < 0 || length > MAX_CANDIDATE_BYTES || length < 2) {
        if (bodyStart === -1 && !final) return this.wait(p, data.length - p + 1);
        p++;
        continue;
      }
      const plausible = this.plausibleStart(bodyStart, Math.min(end, data.length));
      if (plausible === false) {
        p++;
        continue;
      }
      if (end > data.length || plausible === undefined) {
        if (!final) return this.wait(p, end - p);
        p++;
        continue;
      }
      if (this.family(bodyStart, end, true)) {
        this.synced = true;
        this.messageNumber++;
        p = end;
      } else p++;
    }
    return p;
  }

  private wait(p: number, neededBytes: number): number {
    this.neededBytes = neededBytes;
    return p;
  }

  /** Whether [start, end) begins like a family: true, false, or undefined when too few bytes are there to tell. */
  private plausibleStart(start: number, end: number): boolean | undefined {
    const buf = this.buf;
    if (start >= end) return undefined;
    if (buf[start] !== NAME_KEY) return false;
    const nameStart = this.varint(start + 1, end);
    if (nameStart === -1) return undefined;
    if (nameStart === -2 || this.p === 0) return false;
    const nameEnd = nameStart + this.p;
    for (let q = nameStart; q < Math.min(nameEnd, end); q++) if (!isMetricNameByte(buf[q] as number, q === nameStart)) return false;
    return nameEnd <= end ? true : undefined;
  }

  private error(start: number, data: Buffer, reason: string): void {
    const shown = data.subarray(start, Math.min(data.length, start + ERROR_BYTES_SHOWN)).toString('hex');
    this.errors.push({ line: this.messageNumber, reason: `${reason} (message at byte ${this.pageOffset + start})`, text: shown });
  }

  /**
   * Reads a varint of up to 32 bits at p: returns the position after it and leaves the
   * value in `this.p`; -1 when the buffer ends inside it, -2 when it is not a valid
   * length (more than five bytes, or beyond 2^31).
   */
  private varint(p: number, end: number): number {
    const buf = this.buf;
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (p >= end) return -1;
      const b = buf[p++] as number;
      value += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) {
        if (value > 0x7fffffff) return -2;
        this.p = value;
        return p;
      }
    }
    return -2;
  }

  /** A 64-bit varint at p as a signed number (exact up to 2^53); the value goes to `value64`. */
  private value64 = 0;
  private varint64(p: number, end: number): number {
    const buf = this.buf;
    // The first 28 bits; most varints (every timestamp after 1970 but for 8 days' worth) end later, few before.
    let low = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      if (p >= end) return this.failAt('a varint runs past the end of its message');
      const b = buf[p++] as number;
      low |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.value64 = low;
        return p;
      }
    }
    // Then the two 32-bit halves as integers, so that a negative int64 (ten bytes of two's
    // complement, e.g. a timestamp before 1970) comes out exact: as one float sum near
    // 2^64 it would lose its low bits.
    if (p >= end) return this.failAt('a varint runs past the end of its message');
    let b = buf[p++] as number;
    low |= (b & 0x0f) << 28;
    let high = (b & 0x7f) >> 4;
    for (let shift = 3; b >= 0x80; shift += 7) {
      if (shift > 31) return this.failAt('a varint is longer than ten bytes');
      if (p >= end) return this.failAt('a varint runs past the end of its message');
      b = buf[p++] as number;
      high |= (b & 0x7f) << shift;
    }
    this.value64 = (high | 0) * 4294967296 + (low >>> 0);
    return p;
  }

  /** Skips one field's value of the given wire type at p; returns the position after it. */
  private skip(wire: number, p: number, end: number): number {
    let next: number;
    if (wire === WIRE_VARINT) next = this.varint64(p, end);
    else if (wire === WIRE_I64) next = p + 8;
    else if (wire === WIRE_I32) next = p + 4;
    else if (wire === WIRE_LEN) {
      next = this.varint(p, end);
      if (next < 0) return this.failAt('invalid field length');
      next += this.p;
    } else return this.failAt(`unsupported wire type ${wire}`);
    if (next === -1 || next > end) return this.failAt('a field runs past the end of its message');
    return next;
  }

  /** Reads the key at p (field number × 8 + wire type) into `this.p`. */
  private key(p: number, end: number): number {
    const next = this.varint(p, end);
    if (next < 0) return this.failAt('invalid field key');
    return next;
  }

  /** The length-delimited field's [start, end) at p: returns its start, its length in `this.p`. */
  private lengthDelimited(p: number, end: number): number {
    const start = this.varint(p, end);
    if (start < 0 || start + this.p > end) return this.failAt('a field runs past the end of its message');
    return start;
  }

  /** One family's samples, all or none: a family that fails leaves no samples, errors or counts behind. */
  private family(start: number, end: number, candidate = false): boolean {
    const samplesBefore = this.samples.length;
    const errorsBefore = this.errors.length;
    const skippedBefore = this.skipped;
    if (this.familyFields(start, end, candidate)) return true;
    this.samples.length = samplesBefore;
    this.errors.length = errorsBefore;
    this.skipped = skippedBefore;
    return false;
  }

  /**
   * `candidate`: found while resynchronising, so believed only with at least one metric.
   * (client_golang never writes an empty family, and a label pair inside a family, read
   * from its length on, would otherwise pass for one: name, then help.)
   */
  private familyFields(start: number, end: number, candidate: boolean): boolean {
    const ranges = this.metricRanges;
    ranges.length = 0;
    let nameStart = -1;
    let nameEnd = -1;
    let type = 0; // proto2 default: COUNTER
    let p = start;
    while (p < end) {
      p = this.key(p, end);
      if (p === -1) return false;
      const key = this.p;
      const field = key >>> 3;
      const wire = key & 7;
      if (wire === WIRE_LEN && (field === 1 || field === 4)) {
        const s = this.lengthDelimited(p, end);
        if (s === -1) return false;
        p = s + this.p;
        if (field === 1) {
          nameStart = s;
          nameEnd = p;
        } else ranges.push(s, p);
      } else if (field === 3 && wire === WIRE_VARINT) {
        p = this.varint64(p, end);
        if (p === -1) return false;
        type = this.value64;
      } else {
        p = this.skip(wire, p, end);
        if (p === -1) return false;
      }
    }
    if (nameStart === -1 || nameEnd === nameStart) return this.failWith('a family without a name');
    if (candidate && ranges.length === 0) return this.failWith('a family without metrics');
    const familyType = FAMILY_TYPES[type];
    if (familyType === undefined) return this.failWith(`unknown metric type ${type}`);
    const name = this.familyName(nameStart, nameEnd);
    if (name === undefined) return this.failWith('invalid metric name');
    const wanted = this.wanted;
    const summaryLike = familyType === 'summary' || familyType === 'histogram';
    if (wanted !== undefined && !summaryLike && !wanted(name)) {
      this.types.set(name, familyType);
      this.skipped += ranges.length / 2;
      return true;
    }
    for (let i = 0; i < ranges.length; i += 2) if (!this.metric(name, familyType, ranges[i] as number, ranges[i + 1] as number)) return false;
    this.types.set(name, familyType);
    return true;
  }

  /** The family name, reused from the previous family when the bytes are the same; undefined when not a valid name. */
  private familyName(start: number, end: number): string | undefined {
    const buf = this.buf;
    const previous = this.previousFamilyBytes;
    if (previous.length === end - start && previous.equals(buf.subarray(start, end))) return this.previousFamilyName;
    for (let q = start; q < end; q++) if (!isMetricNameByte(buf[q] as number, q === start)) return undefined;
    this.previousFamilyBytes = Buffer.from(buf.subarray(start, end));
    return (this.previousFamilyName = buf.toString('latin1', start, end));
  }

  /**
   * One `Metric` → its samples. A wire-level fault fails the whole family (false); a
   * metric that decodes but cannot be a sample (bad label, no value of the family's type)
   * is an error of its own and the family goes on.
   */
  private metric(name: string, type: MetricType, start: number, end: number): boolean {
    const buf = this.buf;
    const labels: Record<string, string> = {};
    let labelCount = 0;
    let problem: string | undefined;
    let valueStart = -1;
    let valueEnd = -1;
    let timestampMs: number | undefined;
    const valueField = type === 'counter' ? 3 : type === 'gauge' ? 2 : type === 'untyped' ? 5 : type === 'summary' ? 4 : 7;
    let p = start;
    while (p < end) {
      // Fast path for the common field: a label pair under 128 bytes (key 0A, one length byte).
      const short = buf[p] === NAME_KEY && (buf[p + 1] as number) < 0x80;
      if (short) p += 2;
      else {
        p = this.key(p, end);
        if (p === -1) return false;
      }
      const field = short ? 1 : this.p >>> 3;
      const wire = short ? WIRE_LEN : this.p & 7;
      if (wire === WIRE_LEN && field === 1) {
        let s = p;
        if (short) {
          p += buf[p - 1] as number;
          if (p > end) return this.failWith('a field runs past the end of its message');
        } else {
          s = this.lengthDelimited(p, end);
          if (s === -1) return false;
          p = s + this.p;
        }
        if (problem !== undefined) continue;
        if (labelCount === MAX_LABELS_PER_SAMPLE) {
          problem = `more than ${MAX_LABELS_PER_SAMPLE} labels`;
          continue;
        }
        const labelProblem = this.label(s, p, labelCount++, labels);
        if (labelProblem === false) return false;
        if (labelProblem !== true) problem = labelProblem;
      } else if (wire === WIRE_LEN && field === valueField) {
        const s = this.lengthDelimited(p, end);
        if (s === -1) return false;
        p = s + this.p;
        valueStart = s;
        valueEnd = p;
      } else if (field === 6 && wire === WIRE_VARINT) {
        p = this.varint64(p, end);
        if (p === -1) return false;
        timestampMs = this.value64;
      } else {
        p = this.skip(wire, p, end);
        if (p === -1) return false;
      }
    }
    if (problem === undefined && valueStart === -1) problem = `a metric of ${type} family ${name} has no ${type} value`;
    if (problem !== undefined) {
      if (this.wanted === undefined || this.wanted(name)) this.errors.push({ line: this.messageNumber, reason: problem, text: name });
      return true;
    }
    if (type === 'summary') return this.summary(name, labels, valueStart, valueEnd, timestampMs);
    if (type === 'histogram') return this.histogram(name, labels, valueStart, valueEnd, timestampMs);
    const value = this.doubleField(valueStart, valueEnd, 1);
    if (value === undefined) return false;
    this.samples.push({ name, labels, value, timestampMs });
    return true;
  }

  /** One LabelPair into `labels`: true, a reason the sample cannot be kept, or false for a wire fault. */
  private label(start: number, end: number, index: number, labels: Record<string, string>): true | false | string {
    const buf = this.buf;
    let nameStart = -1;
    let nameEnd = -1;
    let valueStart = -1;
    let valueEnd = -1;
    let p = start;
    // Fast path: client_golang writes name then value, each under 128 bytes: 0A n name 12 m value.
    if (buf[p] === NAME_KEY && (buf[p + 1] as number) < 0x80) {
      const n = buf[p + 1] as number;
      const afterName = p + 2 + n;
      if (buf[afterName] === VALUE_KEY && (buf[afterName + 1] as number) < 0x80 && afterName + 2 + (buf[afterName + 1] as number) === end) {
        nameStart = p + 2;
        nameEnd = afterName;
        valueStart = afterName + 2;
        valueEnd = end;
        p = end;
      }
    }
    while (p < end) {
      p = this.key(p, end);
      if (p === -1) return false;
      const field = this.p >>> 3;
      const wire = this.p & 7;
      if (wire === WIRE_LEN && (field === 1 || field === 2)) {
        const s = this.lengthDelimited(p, end);
        if (s === -1) return false;
        p = s + this.p;
        if (field === 1) {
          nameStart = s;
          nameEnd = p;
        } else {
          valueStart = s;
          valueEnd = p;
        }
      } else {
        p = this.skip(wire, p, end);
        if (p === -1) return false;
      }
    }
    if (nameStart === -1 || nameStart === nameEnd) return 'a label without a name';
    let name = this.labelNames[index];
    if (name === undefined || name.length !== nameEnd - nameStart || !sameLatin1(buf, nameStart, name)) {
      for (let q = nameStart; q < nameEnd; q++) if (!isLabelNameByte(buf[q] as number, q === nameStart)) return 'invalid label name';
      name = this.labelNames[index] = (buf as unknown as NativeSlices).latin1Slice(nameStart, nameEnd);
    }
    let value = '';
    if (valueStart !== -1 && valueEnd > valueStart) {
      // Sliced every time: comparing with the previous value's bytes to reuse its string measured slower.
      value = (buf as unknown as NativeSlices).utf8Slice(valueStart, valueEnd);
      // Invalid UTF-8 decodes to U+FFFD; the text parser refuses the same value the same way.
      if (value.includes('\uFFFD')) return `value of label ${name} is not valid UTF-8`;
    }
    if (Object.hasOwn(labels, name)) return `duplicate label ${name}`;
    // A plain assignment of "__proto__" would change the object's prototype instead.
    if (name === '__proto__') Object.defineProperty(labels, name, { value, enumerable: true, writable: true, configurable: true });
    else labels[name] = value;
    return true;
  }

  /** The double in field `field` of the message [start, end) (0 when absent, the proto2 default); undefined on a wire fault. */
  private doubleField(start: number, end: number, field: number): number | undefined {
    const buf = this.buf;
    // Fast path: the message is that one double and nothing else.
    if (end - start === 9 && buf[start] === ((field << 3) | WIRE_I64)) return buf.readDoubleLE(start + 1);
    let value = 0;
    let p = start;
    while (p < end) {
      p = this.key(p, end);
      if (p === -1) return undefined;
      const key = this.p;
      if (key === ((field << 3) | WIRE_I64)) {
        if (p + 8 > end) {
          this.reason = 'a double runs past the end of its message';
          return undefined;
        }
        value = buf.readDoubleLE(p);
        p += 8;
      } else {
        p = this.skip(key & 7, p, end);
        if (p === -1) return undefined;
      }
    }
    return value;
  }

  private summary(name: string, labels: Record<string, string>, start: number, end: number, timestampMs: number | undefined): boolean {
    let count = 0;
    let sum = 0;
    const quantiles: number[] = [];
    let p = start;
    while (p < end) {
      p = this.key(p, end);
      if (p === -1) return false;
      const field = this.p >>> 3;
      const wire = this.p & 7;
      if (field === 1 && wire === WIRE_VARINT) {
        p = this.varint64(p, end);
        if (p === -1) return false;
        count = this.value64;
      } else if (field === 2 && wire === WIRE_I64 && p + 8 <= end) {
        sum = this.buf.readDoubleLE(p);
        p += 8;
      } else if (field === 3 && wire === WIRE_LEN) {
        const s = this.lengthDelimited(p, end);
        if (s === -1) return false;
        p = s + this.p;
        const quantile = this.doubleField(s, p, 1);
        const value = this.doubleField(s, p, 2);
        if (quantile === undefined || value === undefined) return false;
        quantiles.push(quantile, value);
      } else {
        p = this.skip(wire, p, end);
        if (p === -1) return false;
      }
    }
    for (let i = 0; i < quantiles.length; i += 2) this.emit(name, withLabel(labels, 'quantile', formatGoFloat(quantiles[i] as number)), quantiles[i + 1] as number, timestampMs);
    this.emit(`${name}_sum`, labels, sum, timestampMs);
    this.emit(`${name}_count`, labels, count, timestampMs);
    return true;
  }

  private histogram(name: string, labels: Record<string, string>, start: number, end: number, timestampMs: number | undefined): boolean {
    let count = 0;
    let countFloat: number | undefined;
    let sum = 0;
    const buckets: number[] = [];
    let p = start;
    while (p < end) {
      p = this.key(p, end);
      if (p === -1) return false;
      const field = this.p >>> 3;
      const wire = this.p & 7;
      if (field === 1 && wire === WIRE_VARINT) {
        p = this.varint64(p, end);
        if (p === -1) return false;
        count = this.value64;
      } else if ((field === 2 || field === 4) && wire === WIRE_I64 && p + 8 <= end) {
        if (field === 2) sum = this.buf.readDoubleLE(p);
        else countFloat = this.buf.readDoubleLE(p);
        p += 8;
      } else if (field === 3 && wire === WIRE_LEN) {
        const s = this.lengthDelimited(p, end);
        if (s === -1) return false;
        p = s + this.p;
        const bucket = this.bucket(s, p);
        if (bucket === false) return false;
        buckets.push(this.bucketBound, this.bucketCount);
      } else {
        p = this.skip(wire, p, end);
        if (p === -1) return false;
      }
    }
    const total = countFloat ?? count;
    const bucketName = `${name}_bucket`;
    for (let i = 0; i < buckets.length; i += 2) this.emit(bucketName, withLabel(labels, 'le', formatGoFloat(buckets[i] as number)), buckets[i + 1] as number, timestampMs);
    // The text format always ends the buckets with +Inf, holding the count.
    if (buckets.length === 0 || buckets[buckets.length - 2] !== Infinity) this.emit(bucketName, withLabel(labels, 'le', '+Inf'), total, timestampMs);
    this.emit(`${name}_sum`, labels, sum, timestampMs);
    this.emit(`${name}_count`, labels, total, timestampMs);
    return true;
  }

  private bucketBound = 0;
  private bucketCount = 0;
  private bucket(start: number, end: number): boolean {
    let count = 0;
    let countFloat: number | undefined;
    let bound = 0;
    let p = start;
    while (p < end) {
      p = this.key(p, end);
      if (p === -1) return false;
      const field = this.p >>> 3;
      const wire = this.p & 7;
      if (field === 1 && wire === WIRE_VARINT) {
        p = this.varint64(p, end);
        if (p === -1) return false;
        count = this.value64;
      } else if ((field === 2 || field === 4) && wire === WIRE_I64 && p + 8 <= end) {
        if (field === 2) bound = this.buf.readDoubleLE(p);
        else countFloat = this.buf.readDoubleLE(p);
        p += 8;
      } else {
        p = this.skip(wire, p, end);
        if (p === -1) return false;
      }
    }
    this.bucketBound = bound;
    this.bucketCount = countFloat ?? count;
    return true;
  }

  /** A summary's or histogram's sample, filtered by its own name as the text parser filters lines. */
  private emit(name: string, labels: Record<string, string>, value: number, timestampMs: number | undefined): void {
    if (this.wanted !== undefined && !this.wanted(name)) this.skipped++;
    else this.samples.push({ name, labels, value, timestampMs });
  }

  private failWith(reason: string): false {
    this.reason = reason;
    return false;
  }

  private failAt(reason: string): -1 {
    this.reason = reason;
    return -1;
  }
}

/**
 * Buffer's own slice methods, which `toString(encoding, start, end)` calls after checking
 * its arguments; called directly they cost a third as much, on the hot path of every label.
 */
interface NativeSlices {
  latin1Slice(start: number, end: number): string;
  utf8Slice(start: number, end: number): string;
}

function sameLatin1(buf: Buffer, start: number, text: string): boolean {
  for (let i = 0; i < text.length; i++) if (buf[start + i] !== text.charCodeAt(i)) return false;
  return true;
}

function withLabel(labels: Record<string, string>, name: string, value: string): Record<string, string> {
  return { ...labels, [name]: value };
}
