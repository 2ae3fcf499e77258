/**
 * What the JSON-speaking sources (the kubelet's `/stats/summary`, cAdvisor's REST API) share
 * when they turn an untrusted payload into Monasca measurements: reading a number that may be
 * anything, reading a timestamp, and keeping count of what was dropped and why. Nothing here
 * throws on bad input; every refusal is counted and, up to a cap, described.
 */
import type { Metric } from '../../core/envelope.js';
import { checkMetric } from '../../core/validation.js';

export type JsonDropReason = 'not_finite' | 'invalid';

/** The table row shape both mappings export, so that documentation is generated from the code. */
export interface MetricRow {
  /** The Monasca metric name. */
  readonly name: string;
  /** Where in the payload the value is read, as a path (`[]` marks an array element). */
  readonly field: string;
  readonly scope: 'node' | 'pod' | 'container';
  readonly unit: string;
  /** Every dimension a measurement of this row carries (optional ones end in `?`). */
  readonly dimensions: readonly string[];
}

export interface JsonMapResult {
  readonly measurements: Metric[];
  /** Values that were read but did not become measurements, by reason. */
  readonly dropped: Record<JsonDropReason, number>;
  /** Parts of the payload of the wrong shape (skipped with everything under them). */
  shapeErrors: number;
  /** Why, for the first `MAX_ERRORS_KEPT` drops and shape errors; the counts above are complete. */
  readonly errors: string[];
}

/** A hostile payload can hold millions of bad values; their descriptions are not all worth keeping. */
export const MAX_ERRORS_KEPT = 50;

export function emptyResult(): JsonMapResult {
  return { measurements: [], dropped: { not_finite: 0, invalid: 0 }, shapeErrors: 0, errors: [] };
}

export function shapeError(result: JsonMapResult, why: string): void {
  result.shapeErrors++;
  if (result.errors.length < MAX_ERRORS_KEPT) result.errors.push(why);
}

function drop(result: JsonMapResult, reason: JsonDropReason, why: string): void {
  result.dropped[reason]++;
  if (result.errors.length < MAX_ERRORS_KEPT) result.errors.push(why);
}

export type JsonObject = Readonly<Record<string, unknown>>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An own property only: payload keys such as `__proto__` or `constructor` must not reach the prototype. */
export function field(object: JsonObject, key: string): unknown {
  return Object.prototype.hasOwnProperty.call(object, key) ? object[key] : undefined;
}

/**
 * The object under `key`: undefined when absent or null (Go omits or nulls what it has not
 * measured), and a counted shape error when it is something other than an object.
 */
export function objectAt(result: JsonMapResult, object: JsonObject, key: string, where: string): JsonObject | undefined {
  const value = field(object, key);
  if (value === undefined || value === null) return undefined;
  if (isObject(value)) return value;
  shapeError(result, `${where}.${key} is ${kindOf(value)}, not an object`);
  return undefined;
}

/** The array under `key`, at most `maxItems` of it (the rest is a counted shape error). */
export function arrayAt(result: JsonMapResult, object: JsonObject, key: string, where: string, maxItems: number): readonly unknown[] {
  const value = field(object, key);
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    shapeError(result, `${where}.${key} is ${kindOf(value)}, not an array`);
    return [];
  }
  if (value.length > maxItems) {
    shapeError(result, `${where}.${key} has ${value.length} items; the first ${maxItems} are read`);
    return value.slice(0, maxItems) as unknown[];
  }
  return value as unknown[];
}

/** A non-empty string, or undefined. */
export function stringAt(object: JsonObject, key: string): string | undefined {
  const value = field(object, key);
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}

/**
 * An array item that must be an object with a `name` (a container, a volume, an interface):
 * the object and its name, or undefined after a counted shape error. A nameless object is
 * passed over without one when `namelessIsError` is false.
 */
export function namedObject(result: JsonMapResult, value: unknown, where: string, namelessIsError = true): { readonly object: JsonObject; readonly name: string } | undefined {
  if (!isObject(value)) {
    shapeError(result, `${where} is ${kindOf(value)}, not an object`);
    return undefined;
  }
  const name = stringAt(value, 'name');
  if (name === undefined) {
    if (namelessIsError) shapeError(result, `${where} has no name`);
    return undefined;
  }
  return { object: value, name };
}

export function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

const RFC3339 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;

/**
 * Milliseconds since the epoch of an RFC 3339 time as Go writes it (`2016-06-17T16:07:51.445118458Z`),
 * or undefined when the value is anything else. Go's zero time (`0001-01-01T00:00:00Z`, a
 * field never set) is refused too: it would be a measurement two thousand years old.
 */
export function parseRfc3339Ms(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const match = RFC3339.exec(value);
  if (match === null) return undefined;
  // Date.parse reads at most milliseconds reliably; nanoseconds are cut, not rounded.
  const fraction = (match[2] ?? '').slice(0, 4);
  const ms = Date.parse(`${match[1]}${fraction}${match[3]}`);
  return Number.isFinite(ms) && ms > 0 ? ms : undefined;
}

/** The time under `key`, or the fallback; a time that is present but unreadable is a counted shape error. */
export function timeAt(result: JsonMapResult, object: JsonObject, key: string, where: string, fallbackMs: number): number {
  const value = field(object, key);
  if (value === undefined || value === null) return fallbackMs;
  const ms = parseRfc3339Ms(value);
  if (ms !== undefined) return ms;
  shapeError(result, `${where}.${key} is not an RFC 3339 time: ${quoted(value)}`);
  return fallbackMs;
}

export interface Draft {
  readonly name: string;
  readonly dimensions: Readonly<Record<string, string>>;
  readonly timestampMs: number;
}

/**
 * Emits the value read from the payload as one measurement, `scale`d (e.g. 1e-9 for
 * nanoseconds to seconds). Absent or null values are skipped silently: the kubelet leaves out
 * what it has not measured. Anything but a finite, non-negative number is dropped and counted:
 * every quantity these payloads carry is a size, a count or a cumulative time.
 */
export function emitValue(result: JsonMapResult, draft: Draft, raw: unknown, scale = 1): void {
  if (raw === undefined || raw === null) return;
  const where = `${draft.name} ${JSON.stringify(draft.dimensions)}`;
  if (typeof raw !== 'number') {
    drop(result, 'invalid', `${where}: value is ${kindOf(raw)} (${quoted(raw)}), not a number`);
    return;
  }
  if (!Number.isFinite(raw)) {
    drop(result, 'not_finite', `${where}: value is not finite`);
    return;
  }
  if (raw < 0) {
    drop(result, 'invalid', `${where}: value ${raw} is negative`);
    return;
  }
  const checked = checkMetric({ name: draft.name, dimensions: draft.dimensions, timestamp: draft.timestampMs, value: raw * scale, value_meta: null });
  if (checked.ok) result.measurements.push(checked.value);
  else drop(result, 'invalid', `${where}: ${checked.error}`);
}

/** Untrusted text in an error message, short and quoted. */
export function quoted(value: unknown): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  return JSON.stringify(text.length > 64 ? `${text.slice(0, 64)}…` : text);
}
