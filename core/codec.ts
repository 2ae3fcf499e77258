import { TOPICS, type LogEnvelope, type LogRecord, type Meta, type MetricEnvelope, type Topic } from './envelope.js';
import { fail, ok, type Checked } from './outcome.js';

/**
 * One codec per topic: how one record is written on the bus and read back.
 *
 * Reading checks the shape of what arrives (types, required fields, finite numbers, a
 * tenant) and nothing more: Monasca's content rules (restricted characters, lengths,
 * value_meta size) are enforced where data enters Kansoku, by the agent's sources and
 * the tenant API, and are not paid for again on the server's hot path. A message
 * that fails the shape check is counted and dead-lettered, never written.
 */
export interface Codec<T> {
  readonly topic: Topic;
  encode(record: T): string;
  /** One record from already parsed JSON. The object is used as it is, not copied. */
  fromJson(raw: unknown): Checked<T>;
  /** One record from a message that holds exactly one (Monasca's own framing). */
  decode(bytes: Buffer | string): Checked<T>;
}

export function parseJson(bytes: Buffer | string): Checked<unknown> {
  try {
    return ok(JSON.parse(typeof bytes === 'string' ? bytes : bytes.toString('utf8')) as unknown);
  } catch (error) {
    return fail(`not JSON: ${(error as Error).message}`);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function metaProblem(meta: unknown): string | undefined {
  if (!isObject(meta)) return 'meta must be an object';
  if (typeof meta['tenantId'] !== 'string' || meta['tenantId'].length === 0) return 'meta.tenantId must be a non-empty string';
  if (typeof meta['region'] !== 'string') return 'meta.region must be a string';
  return undefined;
}

function stringMapProblem(field: string, value: unknown, optional: boolean): string | undefined {
  if (value === null || value === undefined) return optional ? undefined : `${field} must be an object of strings`;
  if (!isObject(value)) return `${field} must be an object of strings`;
  for (const key in value) if (typeof value[key] !== 'string') return `${field} ${JSON.stringify(key.slice(0, 64))} must have a string value`;
  return undefined;
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/** The shared shape of Monasca's envelopes: `{<body>: ..., meta: {tenantId, region}, creation_time}`. */
function envelopeProblem(raw: unknown, body: string, bodyProblem: (body: unknown) => string | undefined): string | undefined {
  if (!isObject(raw)) return 'envelope must be an object';
  const problem = bodyProblem(raw[body]);
  if (problem !== undefined) return `${body}: ${problem}`;
  const meta = metaProblem(raw['meta']);
  if (meta !== undefined) return meta;
  if (!isFiniteNumber(raw['creation_time'])) return 'creation_time must be a number of seconds';
  return undefined;
}

function metricProblem(metric: unknown): string | undefined {
  if (!isObject(metric)) return 'must be an object';
  const name = metric['name'];
  if (typeof name !== 'string' || name.length === 0) return 'name must be a non-empty string';
  if (!isFiniteNumber(metric['timestamp'])) return 'timestamp must be a number of milliseconds';
  if (!isFiniteNumber(metric['value'])) return 'value must be a finite number';
  return stringMapProblem('dimension', metric['dimensions'], false) ?? stringMapProblem('value_meta', metric['value_meta'], true);
}

function logProblem(log: unknown): string | undefined {
  if (!isObject(log)) return 'must be an object';
  if (typeof log['message'] !== 'string') return 'message must be a string';
  if (log['timestamp'] !== undefined && !isFiniteNumber(log['timestamp'])) return 'timestamp must be a number';
  for (const field of ['level', 'origin', 'parse_error']) {
    if (log[field] !== undefined && typeof log[field] !== 'string') return `${field} must be a string`;
  }
  for (const field of ['truncated', 'split']) {
    if (log[field] !== undefined && typeof log[field] !== 'boolean') return `${field} must be a boolean`;
  }
  return stringMapProblem('dimension', log['dimensions'], false);
}

function envelopeCodec<T>(topic: Topic, body: string, bodyProblem: (body: unknown) => string | undefined): Codec<T> {
  const fromJson = (raw: unknown): Checked<T> => {
    const problem = envelopeProblem(raw, body, bodyProblem);
    return problem === undefined ? ok(raw as T) : fail(problem);
  };
  return {
    topic,
    encode: (record) => JSON.stringify(record),
    fromJson,
    decode: (bytes) => {
      const json = parseJson(bytes);
      return json.ok ? fromJson(json.value) : json;
    },
  };
}

/**
 * JSON of an object that many records share (the dimensions of one container's stream,
 * the meta of one tenant), made once per object. Keyed by identity: a source that reuses
 * the object pays for its JSON once, one that does not pays what JSON.stringify costs.
 */
const sharedJson = new WeakMap<object, string>();

function jsonOfShared(value: object): string {
  let json = sharedJson.get(value);
  if (json === undefined) {
    json = JSON.stringify(value);
    sharedJson.set(value, json);
  }
  return json;
}

/**
 * A log envelope as JSON, the same value JSON.stringify gives, built from pieces: on the
 * agent's hot path (every log line) most of an envelope is the same dimensions and meta
 * as the line before, and only the message needs escaping.
 */
function encodeLogEnvelope(envelope: LogEnvelope): string {
  const log = envelope.log;
  let json = `{"log":{"message":${JSON.stringify(log.message)},"dimensions":${jsonOfShared(log.dimensions)}`;
  if (log.timestamp !== undefined) json += `,"timestamp":${JSON.stringify(log.timestamp)}`;
  if (log.level !== undefined) json += `,"level":${JSON.stringify(log.level)}`;
  if (log.origin !== undefined) json += `,"origin":${JSON.stringify(log.origin)}`;
  if (log.truncated !== undefined) json += `,"truncated":${JSON.stringify(log.truncated)}`;
  if (log.split !== undefined) json += `,"split":${JSON.stringify(log.split)}`;
  if (log.parse_error !== undefined) json += `,"parse_error":${JSON.stringify(log.parse_error)}`;
  return `${json}},"meta":${jsonOfShared(envelope.meta)},"creation_time":${JSON.stringify(envelope.creation_time)}}`;
}

/**
 * A metric envelope as JSON, the same value JSON.stringify gives, built from pieces like a
 * log envelope: the kubelet source hands every measurement of a series the same dimensions
 * object, scrape after scrape, so their JSON is made once per series, not per measurement.
 */
function encodeMetricEnvelope(envelope: MetricEnvelope): string {
  const metric = envelope.metric;
  let json = `{"metric":{"name":${JSON.stringify(metric.name)},"dimensions":${jsonOfShared(metric.dimensions)},"timestamp":${JSON.stringify(metric.timestamp)},"value":${JSON.stringify(metric.value)}`;
  if (metric.value_meta !== undefined) json += `,"value_meta":${metric.value_meta === null ? 'null' : JSON.stringify(metric.value_meta)}`;
  return `${json}},"meta":${jsonOfShared(envelope.meta)},"creation_time":${JSON.stringify(envelope.creation_time)}}`;
}

/** Topic `metrics`: `{metric: {name, dimensions, timestamp, value, value_meta}, meta, creation_time}`. */
export const metricCodec: Codec<MetricEnvelope> = { ...envelopeCodec<MetricEnvelope>(TOPICS.metrics, 'metric', metricProblem), encode: encodeMetricEnvelope };

/** Topic `logs`: monasca-log-api's `{log: {message, dimensions, timestamp?}, meta, creation_time}`. */
export const logCodec: Codec<LogEnvelope> = { ...envelopeCodec<LogEnvelope>(TOPICS.logs, 'log', logProblem), encode: encodeLogEnvelope };

export type { LogRecord, Meta };
