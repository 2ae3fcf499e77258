import type { FastifyRequest } from 'fastify';
import type { DimensionFilter, LogEntry, LogStore } from '../../core/query.js';
import type { ApiDeps } from './apiDeps.js';
import { ApiError, forbidden, unprocessable } from './errors.js';
import { parseDimensionFilter } from './params.js';
import { authorize } from './request.js';

/**
 * What the log search and the log tail share: the filter's query parameters, read strictly
 * (anything odd is a 422 that says what was wrong), and the element a log is shown as.
 */

/** Severity levels as records carry them, and the spellings a client may send for them. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;
const LEVEL_ALIASES: Readonly<Record<string, string>> = { warning: 'warn', critical: 'fatal', err: 'error' };

/** A level as a record stores it, or undefined when the text names none. */
export function normalLevel(text: string): string | undefined {
  const word = text.trim().toLowerCase();
  const level = LEVEL_ALIASES[word] ?? word;
  return (LOG_LEVELS as readonly string[]).includes(level) ? level : undefined;
}

/** Characters of `q` at most: the store reads 32 words of it, and a longer one is a mistake or an attack. */
export const MAX_Q_LENGTH = 1024;

export interface LogFilter {
  readonly tenantId: string;
  readonly q?: string;
  readonly dimensions: DimensionFilter;
  readonly levels?: readonly string[];
}

export interface LogFilterParams {
  readonly q?: string | undefined;
  readonly dimensions?: string | undefined;
  readonly level?: string | undefined;
  readonly tenant_id?: string | undefined;
}

/** The store behind the log routes, or 501 when the server was built without one. */
export function requireLogStore(deps: ApiDeps): LogStore {
  if (deps.logStore === undefined) throw new ApiError(501, 'Not Implemented', 'log search needs a log store, and this server has none configured.');
  return deps.logStore;
}

/** The filter of a search or a tail; the tenant is always the token's own. */
export function parseLogFilter(request: FastifyRequest, params: LogFilterParams): LogFilter {
  const principal = authorize(request, 'read');
  // Logs are read by their own tenant only: no admin cross-tenant read here.
  if (params.tenant_id !== undefined && params.tenant_id !== '' && params.tenant_id !== principal.tenantId) throw forbidden('Logs are read by their own tenant only.');
  if (params.q !== undefined && params.q.length > MAX_Q_LENGTH) throw unprocessable(`q is longer than ${MAX_Q_LENGTH} characters`);
  let levels: string[] | undefined;
  if (params.level !== undefined && params.level.trim() !== '') {
    levels = params.level.split(',').map((text) => {
      const level = normalLevel(text);
      if (level === undefined) throw unprocessable(`level must be a comma-separated list of ${LOG_LEVELS.join(', ')}`);
      return level;
    });
  }
  return {
    tenantId: principal.tenantId,
    ...(params.q !== undefined && params.q.trim() !== '' ? { q: params.q } : {}),
    dimensions: parseDimensionFilter(params.dimensions),
    ...(levels !== undefined ? { levels: [...new Set(levels)] } : {}),
  };
}

/** A non-negative whole number no larger than `max`, or `fallback` when absent. */
export function parseCount(name: string, text: string | undefined, fallback: number, max: number): number {
  if (text === undefined || text === '') return fallback;
  if (!/^\d{1,9}$/.test(text)) throw unprocessable(`${name} must be a whole number from 0 to ${max}`);
  const n = Number(text);
  if (n > max) throw unprocessable(`${name} must be a whole number from 0 to ${max}`);
  return n;
}

/** A log as the API shows it: `timestamp` in ISO 8601 with milliseconds, marks only when set. */
export function logElement(entry: LogEntry) {
  return {
    id: entry.id,
    timestamp: new Date(entry.timestampMs).toISOString(),
    message: entry.message,
    dimensions: entry.dimensions,
    ...(entry.level !== undefined ? { level: entry.level } : {}),
    ...(entry.truncated === true ? { truncated: true } : {}),
    ...(entry.split === true ? { split: true } : {}),
    ...(entry.parseError !== undefined ? { parse_error: entry.parseError } : {}),
  };
}
