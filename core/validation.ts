import type { Metric } from './envelope.js';
import { fail, ok, type Checked } from './outcome.js';

/** Monasca's limits (monasca-api-spec.md, "Metric Name and Dimensions" and "Value Meta"). */
export const LIMITS = {
  nameLength: 255,
  dimensionLength: 255,
  valueMetaEntries: 16,
  valueMetaKeyLength: 255,
  valueMetaJsonLength: 2048,
} as const;

// Characters Monasca forbids: in names `> < = { } ( ) , ' " \ ; &`, in dimensions the same less the parentheses.
// Control characters are refused on purpose (Monasca: "should not be used in metric names").
// eslint-disable-next-line no-control-regex
const RESTRICTED_NAME = /[><={}(),'"\\;&\u0000-\u001f\u007f]/;
// eslint-disable-next-line no-control-regex
const RESTRICTED_DIMENSION = /[><={},'"\\;&\u0000-\u001f\u007f]/;

/** Whether Monasca takes this as a dimension value (non-empty, short enough, no restricted character). */
export function isDimensionValue(value: string): boolean {
  return value.length > 0 && value.length <= LIMITS.dimensionLength && !RESTRICTED_DIMENSION.test(value);
}

export function checkMetricName(name: unknown): Checked<string> {
  if (typeof name !== 'string' || name.length === 0) return fail('metric name must be a non-empty string');
  if (name.length > LIMITS.nameLength) return fail(`metric name is longer than ${LIMITS.nameLength} characters`);
  if (RESTRICTED_NAME.test(name)) return fail(`metric name ${JSON.stringify(name.slice(0, 64))} has a restricted character`);
  return ok(name);
}

export function checkDimensions(dimensions: unknown): Checked<Record<string, string>> {
  if (dimensions === undefined || dimensions === null) return ok({});
  if (typeof dimensions !== 'object' || Array.isArray(dimensions)) return fail('dimensions must be an object of strings');
  const out: Record<string, string> = {};
  for (const [rawKey, rawValue] of Object.entries(dimensions as Record<string, unknown>)) {
    const key = rawKey.trim();
    if (key.length === 0) return fail('dimension names must not be empty');
    if (key.length > LIMITS.dimensionLength) return fail(`dimension name is longer than ${LIMITS.dimensionLength} characters`);
    if (RESTRICTED_DIMENSION.test(key)) return fail(`dimension name ${JSON.stringify(key.slice(0, 64))} has a restricted character`);
    if (typeof rawValue !== 'string') return fail(`dimension ${JSON.stringify(key.slice(0, 64))} must have a string value`);
    const value = rawValue.trim();
    if (value.length === 0) return fail(`dimension ${JSON.stringify(key.slice(0, 64))} has an empty value`);
    if (value.length > LIMITS.dimensionLength) return fail(`dimension ${JSON.stringify(key.slice(0, 64))} value is longer than ${LIMITS.dimensionLength} characters`);
    if (RESTRICTED_DIMENSION.test(value)) return fail(`dimension ${JSON.stringify(key.slice(0, 64))} value has a restricted character`);
    out[key] = value;
  }
  return ok(out);
}

export function checkValueMeta(valueMeta: unknown): Checked<Record<string, string> | null> {
  if (valueMeta === undefined || valueMeta === null) return ok(null);
  if (typeof valueMeta !== 'object' || Array.isArray(valueMeta)) return fail('value_meta must be an object of strings');
  const entries = Object.entries(valueMeta as Record<string, unknown>);
  if (entries.length > LIMITS.valueMetaEntries) return fail(`value_meta has more than ${LIMITS.valueMetaEntries} entries`);
  const out: Record<string, string> = {};
  for (const [rawKey, value] of entries) {
    const key = rawKey.trim();
    if (key.length === 0) return fail('value_meta names must not be empty');
    if (key.length > LIMITS.valueMetaKeyLength) return fail(`value_meta name is longer than ${LIMITS.valueMetaKeyLength} characters`);
    if (typeof value !== 'string') return fail(`value_meta ${JSON.stringify(key.slice(0, 64))} must have a string value`);
    out[key] = value;
  }
  if (JSON.stringify(out).length > LIMITS.valueMetaJsonLength) return fail(`value_meta is longer than ${LIMITS.valueMetaJsonLength} characters as JSON`);
  return ok(entries.length === 0 ? null : out);
}

export function checkValue(value: unknown): Checked<number> {
  if (typeof value !== 'number') return fail('value must be a number');
  if (!Number.isFinite(value)) return fail('value must be finite (NaN and Infinity are not allowed)');
  return ok(value);
}

export function checkTimestampMs(timestamp: unknown): Checked<number> {
  if (typeof timestamp !== 'number' || !Number.isFinite(timestamp)) return fail('timestamp must be a number of milliseconds since the epoch');
  if (timestamp < 0) return fail('timestamp must not be negative');
  return ok(Math.round(timestamp));
}

/** Checks an untrusted object against Monasca's rules and returns the normalised metric. */
export function checkMetric(input: unknown): Checked<Metric> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return fail('a metric must be a JSON object');
  const raw = input as Record<string, unknown>;
  const name = checkMetricName(raw['name']);
  if (!name.ok) return name;
  const dimensions = checkDimensions(raw['dimensions']);
  if (!dimensions.ok) return dimensions;
  const timestamp = checkTimestampMs(raw['timestamp']);
  if (!timestamp.ok) return timestamp;
  const value = checkValue(raw['value']);
  if (!value.ok) return value;
  const valueMeta = checkValueMeta(raw['value_meta']);
  if (!valueMeta.ok) return valueMeta;
  return ok({ name: name.value, dimensions: dimensions.value, timestamp: timestamp.value, value: value.value, value_meta: valueMeta.value });
}
