import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { logCodec } from '../../core/codec.js';
import { logEnvelope, TOPICS, type LogEnvelope, type LogRecord, type Meta } from '../../core/envelope.js';
import { checkDimensions } from '../../core/validation.js';
import { logKey } from '../../bus/partitionKey.js';
import { frame } from '../../bus/wire.js';
import type { ApiDeps } from './apiDeps.js';
import { may } from './auth.js';
import { ApiError, badRequest, forbidden, unavailable, unprocessable } from './errors.js';
import { logElement, normalLevel, parseCount, parseLogFilter, requireLogStore } from './logsQuery.js';
import { logsTail } from './logsTail.js';
import { parseInstant, parseLimit } from './params.js';
import { authorize, selfUrl } from './request.js';

/** monasca-log-api's limits: a request body of 5 MB, a log (with its envelope) of 1 MB. */
export const MAX_LOGS_BODY_BYTES = 5 * 1024 * 1024;
export const MAX_LOG_BYTES = 1024 * 1024;
/** A page of the search: 100 logs unless asked, 1,000 at most (a log may be a megabyte). */
const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;
/** Records a search may skip: deeper pages cost the embedded store a walk over all of them. */
const MAX_OFFSET = 100_000;

const Str = Type.Optional(Type.String({ maxLength: 4096 }));
const PostQuery = Type.Object({ tenant_id: Str });
const SearchQuery = Type.Object({ q: Str, dimensions: Str, level: Str, start_time: Str, end_time: Str, limit: Str, offset: Str, tenant_id: Str });

/** The Kafka key of a posted log: its tenant and host, as the agent keys its own. */
/** Bytes `JSON.stringify` writes for one UTF-16 code unit (a surrogate half counts half a pair's 4). */
function encodedBytes(code: number): number {
  if (code === 0x22 || code === 0x5c) return 2;
  if (code < 0x20) return code === 0x08 || code === 0x09 || code === 0x0a || code === 0x0c || code === 0x0d ? 2 : 6;
  if (code < 0x80) return 1;
  if (code < 0x800) return 2;
  return 3;
}

/**
 * The longest start of `message` whose JSON string takes at most `maxBytes`, never cutting a
 * character in two; the message itself when it fits.
 */
export function truncateToJsonBytes(message: string, maxBytes: number): string {
  if (Buffer.byteLength(JSON.stringify(message)) <= maxBytes) return message;
  let bytes = 2;
  let i = 0;
  while (i < message.length) {
    const code = message.charCodeAt(i);
    const pair = code >= 0xd800 && code <= 0xdbff && i + 1 < message.length && (message.charCodeAt(i + 1) & 0xfc00) === 0xdc00;
    // A lone surrogate is escaped as \udxxx.
    const cost = pair ? 4 : (code & 0xf800) === 0xd800 ? 6 : encodedBytes(code);
    if (bytes + cost > maxBytes) break;
    bytes += cost;
    i += pair ? 2 : 1;
  }
  return message.slice(0, i);
}

/** A client's `timestamp`: milliseconds since the epoch, or an ISO 8601 instant. */
function checkTimestamp(value: unknown, index: number): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return Math.round(value);
  const ms = typeof value === 'string' ? parseInstant(`logs[${index}].timestamp`, value) : undefined;
  if (ms !== undefined) return ms;
  throw unprocessable(`logs[${index}].timestamp must be milliseconds since the epoch or an ISO 8601 instant`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The records of one POST body, each checked whole before any is published: global
 * dimensions merged under each log's own, which win.
 */
function logRecords(body: unknown, requestId: string, nowMs: number, maxEnvelopeBytes: number, meta: Meta): LogEnvelope[] {
  if (!isObject(body)) throw unprocessable('The body must be a JSON object: {"dimensions": {…}, "logs": [{"message": "…"}, …]}.');
  const global = checkDimensions(body['dimensions']);
  if (!global.ok) throw unprocessable(`dimensions: ${global.error}`);
  const logs = body['logs'];
  if (!Array.isArray(logs) || logs.length === 0) throw unprocessable('logs must be a non-empty array of log objects.');
  return logs.map((item: unknown, index): LogEnvelope => {
    if (!isObject(item)) throw unprocessable(`logs[${index}] must be an object`);
    const message = item['message'];
    if (typeof message !== 'string' || message.length === 0) throw unprocessable(`logs[${index}].message is required and must be a non-empty string`);
    const local = checkDimensions(item['dimensions']);
    if (!local.ok) throw unprocessable(`logs[${index}].dimensions: ${local.error}`);
    let level: string | undefined;
    if (item['level'] !== undefined && item['level'] !== null) {
      level = typeof item['level'] === 'string' ? normalLevel(item['level']) : undefined;
      if (level === undefined) throw unprocessable(`logs[${index}].level must be one of fatal, error, warn, info, debug, trace`);
    }
    const timestamp = item['timestamp'] === undefined || item['timestamp'] === null ? nowMs : checkTimestamp(item['timestamp'], index);
    const record: LogRecord = {
      message,
      dimensions: { ...global.value, ...local.value },
      timestamp,
      ...(level !== undefined ? { level } : {}),
      origin: `api|${requestId}|${index}`,
    };
    const envelope = logEnvelope(record, meta, nowMs);
    // The message takes what the rest of the envelope leaves of the limit.
    const rest = Buffer.byteLength(logCodec.encode(logEnvelope({ ...record, message: '', truncated: true }, meta, nowMs))) - 2;
    const cut = truncateToJsonBytes(message, maxEnvelopeBytes - rest);
    return cut === message ? envelope : logEnvelope({ ...record, message: cut, truncated: true }, meta, nowMs);
  });
}

/** The tenant a POST speaks for: the token's own, or another for a delegate (Monasca's `tenant_id`). */
function writeTenant(request: FastifyRequest, delegated: string | undefined): string {
  const principal = authorize(request, 'write');
  if (delegated === undefined || delegated === '' || delegated === principal.tenantId) return principal.tenantId;
  if (!may(principal, 'delegate')) throw forbidden('Only a delegate role may post logs for another tenant.');
  return delegated;
}

/** `POST /logs` as monasca-log-api's v3 took it, mounted under /v2.0 and /v3.0. */
export function logsPostRoute(deps: ApiDeps) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.post<{ Querystring: Static<typeof PostQuery> }>('/logs', { bodyLimit: MAX_LOGS_BODY_BYTES, schema: { querystring: PostQuery } }, async (request, reply) => {
      const tenantId = writeTenant(request, request.query.tenant_id);
      const nowMs = deps.now();
      // Unique across restarts and replicas: the origin is the record's identity in every store.
      const requestId = randomUUID();
      // Monasca's 1 MB a log, and never more than one bus message (less its batch brackets).
      const maxEnvelopeBytes = Math.min(MAX_LOG_BYTES, deps.wire.maxMessageBytes - 2);
      let envelopes: LogEnvelope[];
      try {
        envelopes = logRecords(request.body, requestId, nowMs, maxEnvelopeBytes, { tenantId, region: deps.region });
      } catch (error) {
        const count = isObject(request.body) && Array.isArray(request.body['logs']) ? Math.max(1, request.body['logs'].length) : 1;
        deps.counters.add('kansoku_api_logs_total', { outcome: 'rejected' }, count);
        throw error;
      }
      const framed = frame(envelopes, logCodec, logKey, deps.wire);
      // Cut to fit above, so only a dimension set near the bus's limit can get here.
      if (framed.tooLarge.length > 0) throw new ApiError(413, 'Request Entity Too Large', `A log is larger than the bus's largest message (${deps.wire.maxMessageBytes} bytes).`);
      const outcome = await deps.producer.publish(TOPICS.logs, framed.messages);
      if (outcome.kind === 'retryable') throw unavailable(`The message bus cannot take logs now: ${outcome.reason}`, Math.max(1, Math.ceil(outcome.delayMs / 1000)));
      if (outcome.kind === 'rejected') throw unprocessable(`The message bus refused the logs: ${outcome.reason}`);
      deps.counters.add('kansoku_api_logs_total', { outcome: 'accepted' }, envelopes.length);
      return reply.code(204).send();
    });
  };
}

/**
 * The log search (`GET /v2.0/logs`) and tail (`GET /v2.0/logs/tail`): Kansoku's extensions,
 * Monasca's log API took logs in and had no way to read them back.
 */
export function logsReadRoutes(deps: ApiDeps) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.get<{ Querystring: Static<typeof SearchQuery> }>('/logs', { schema: { querystring: SearchQuery } }, async (request) => {
      const q = request.query;
      const filter = parseLogFilter(request, q);
      const store = requireLogStore(deps);
      const limit = q.limit === undefined || q.limit === '' ? DEFAULT_PAGE : parseLimit(q.limit, Math.min(MAX_PAGE, deps.maxQueryLimit));
      const offset = parseCount('offset', q.offset, 0, MAX_OFFSET);
      const startMs = parseInstant('start_time', q.start_time);
      const endMs = parseInstant('end_time', q.end_time);
      if (startMs !== undefined && endMs !== undefined && endMs <= startMs) throw badRequest('end_time must be later than start_time');
      const found = await store.searchLogs({
        ...filter,
        ...(startMs !== undefined ? { startMs } : {}),
        ...(endMs !== undefined ? { endMs } : {}),
        limit: limit + 1,
        offset,
      });
      const links = [{ rel: 'self', href: selfUrl(request) }];
      if (found.length > limit) {
        const next = new URL(selfUrl(request));
        next.searchParams.set('offset', String(offset + limit));
        links.push({ rel: 'next', href: next.toString() });
      }
      return { links, elements: found.slice(0, limit).map(logElement) };
    });

    await app.register(logsTail(deps, deps.logTail ?? {}));
  };
}
