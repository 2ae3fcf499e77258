import { TOPICS, type LogEnvelope, type LogRecord, type Meta, type MetricEnvelope, type Topic } from './envelope.js';
import { fail, ok, type Checked } from './outcome.js';
import { checkDimensions, checkMetric } from './validation.js';

/** One codec per topic: what goes on the bus and how it is read back, untrusted. */
export interface Codec<T> {
  readonly topic: Topic;
  encode(record: T): string;
  decode(bytes: Buffer | string): Checked<T>;
}

function parseJson(bytes: Buffer | string): Checked<unknown> {
  try {
    return ok(JSON.parse(typeof bytes === 'string' ? bytes : bytes.toString('utf8')) as unknown);
  } catch (error) {
    return fail(`not JSON: ${(error as Error).message}`);
  }
}

function checkMeta(input: unknown): Checked<Meta> {
  if (typeof input !== 'object' || input === null) return fail('meta must be an object');
  const { tenantId, region } = input as Record<string, unknown>;
  if (typeof tenantId !== 'string' || tenantId.length === 0) return fail('meta.tenantId must be a non-empty string');
  if (typeof region !== 'string') return fail('meta.region must be a string');
  return ok({ tenantId, region });
}

function checkCreationTime(input: unknown): Checked<number> {
  if (typeof input !== 'number' || !Number.isFinite(input)) return fail('creation_time must be a number of seconds');
  return ok(input);
}

/**
 * The shared shape of Monasca's envelopes: `{<body>: ..., meta: {tenantId, region}, creation_time}`;
 * `checkBody` checks the one field that differs per topic.
 */
function decodeEnvelope<B, T>(bytes: Buffer | string, checkBody: (raw: Record<string, unknown>) => Checked<B>, build: (body: B, meta: Meta, creationTime: number) => T): Checked<T> {
  const json = parseJson(bytes);
  if (!json.ok) return json;
  if (typeof json.value !== 'object' || json.value === null || Array.isArray(json.value)) return fail('envelope must be an object');
  const raw = json.value as Record<string, unknown>;
  const body = checkBody(raw);
  if (!body.ok) return body;
  const meta = checkMeta(raw['meta']);
  if (!meta.ok) return meta;
  const creation = checkCreationTime(raw['creation_time']);
  if (!creation.ok) return creation;
  return ok(build(body.value, meta.value, creation.value));
}

export const metricCodec: Codec<MetricEnvelope> = {
  topic: TOPICS.metrics,
  encode: (envelope) => JSON.stringify(envelope),
  decode: (bytes) =>
    decodeEnvelope(
      bytes,
      (raw) => {
        const metric = checkMetric(raw['metric']);
        return metric.ok ? metric : fail(`metric: ${metric.error}`);
      },
      (metric, meta, creation_time) => ({ metric, meta, creation_time }),
    ),
};

function checkLog(log: unknown): Checked<LogRecord> {
  if (typeof log !== 'object' || log === null) return fail('log must be an object');
  const { message, dimensions, timestamp } = log as Record<string, unknown>;
  if (typeof message !== 'string') return fail('log.message must be a string');
  const dims = checkDimensions(dimensions);
  if (!dims.ok) return fail(`log: ${dims.error}`);
  if (timestamp !== undefined && (typeof timestamp !== 'number' || !Number.isFinite(timestamp))) return fail('log.timestamp must be a number');
  return ok(timestamp === undefined ? { message, dimensions: dims.value } : { message, dimensions: dims.value, timestamp });
}

export const logCodec: Codec<LogEnvelope> = {
  topic: TOPICS.logs,
  encode: (envelope) => JSON.stringify(envelope),
  decode: (bytes) => decodeEnvelope(bytes, (raw) => checkLog(raw['log']), (log, meta, creation_time) => ({ log, meta, creation_time })),
};
