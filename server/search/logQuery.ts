/**
 * A `LogQuery` as an Elasticsearch / OpenSearch search, and its hits as `LogEntry`s.
 * User input reaches the engine only as terms and as text for the message's own analyzer
 * (`match`, `match_phrase`), never as query syntax (`query_string`), and every search is
 * filtered on the exact tenant.
 */
import type { LogEntry, LogQuery } from '../../core/query.js';
import { logTerms } from '../../core/query.js';
import { LOG_SEARCH_DEFAULTS } from './config.js';
import { SOURCE_FIELDS, type LogDocumentSource } from './logDocument.js';

/** A page beyond what the engines serve (from + size over index.max_result_window); the API answers 400. */
export class LogSearchWindowError extends Error {
  readonly statusCode = 400;
  constructor(offset: number, limit: number) {
    super(`offset + limit is ${offset + limit}; log search pages reach ${LOG_SEARCH_DEFAULTS.maxResultWindow} records at most: narrow the time window instead`);
    this.name = 'LogSearchWindowError';
  }
}

type Clause = Record<string, unknown>;

export function searchBody(query: LogQuery): Record<string, unknown> {
  const from = Math.max(0, Math.floor(query.offset ?? 0));
  const size = Math.max(0, Math.floor(query.limit));
  if (from + size > LOG_SEARCH_DEFAULTS.maxResultWindow) throw new LogSearchWindowError(from, size);

  const filter: Clause[] = [{ term: { 'tenant.id': query.tenantId } }];
  for (const [key, values] of Object.entries(query.dimensions)) {
    if (values === null) filter.push({ term: { 'kansoku.dimension_keys': key } });
    else filter.push({ terms: { 'kansoku.dimensions': values.map((value) => `${key}=${value}`) } });
  }
  if (query.levels !== undefined) filter.push({ terms: { 'log.level': [...query.levels] } });
  if (query.startMs !== undefined || query.endMs !== undefined) {
    const range: Clause = { format: 'epoch_millis' };
    if (query.startMs !== undefined) range['gte'] = query.startMs;
    if (query.endMs !== undefined) range['lt'] = query.endMs;
    filter.push({ range: { '@timestamp': range } });
  }
  const terms = logTerms(query.q);
  if (terms.words.length > 0) filter.push({ match: { message: { query: terms.words.join(' '), operator: 'and' } } });
  for (const phrase of terms.phrases) filter.push({ match_phrase: { message: { query: phrase.join(' ') } } });
  const mustNot: Clause[] = terms.excluded.map((word) => ({ match: { message: { query: word } } }));

  return {
    from,
    size,
    track_total_hits: false,
    _source: [...SOURCE_FIELDS],
    query: { bool: { filter, ...(mustNot.length > 0 ? { must_not: mustNot } : {}) } },
    sort: [{ '@timestamp': { order: 'desc' } }, { 'kansoku.id': { order: 'desc' } }],
  };
}

interface Hit {
  readonly _id?: unknown;
  readonly _source?: LogDocumentSource;
  readonly sort?: readonly unknown[];
}

export function hitsOf(body: unknown): readonly Hit[] {
  const hits = typeof body === 'object' && body !== null ? (body as { hits?: { hits?: unknown } }).hits?.hits : undefined;
  return Array.isArray(hits) ? (hits as Hit[]) : [];
}

/** Only own string values: `labels` comes from a tenant (a `__proto__` key stays a key). */
function dimensionsOf(labels: unknown): Record<string, string> {
  if (typeof labels !== 'object' || labels === null) return {};
  return Object.fromEntries(Object.entries(labels).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
}

export function logEntryOf(hit: Hit): LogEntry {
  const source = hit._source ?? {};
  const sortedMs = hit.sort?.[0];
  const timestampMs = typeof sortedMs === 'number' ? sortedMs : Number(source['@timestamp']);
  const id = typeof source.kansoku?.id === 'string' ? source.kansoku.id : String(hit._id);
  const entry: { -readonly [K in keyof LogEntry]: LogEntry[K] } = {
    id,
    timestampMs,
    message: typeof source.message === 'string' ? source.message : '',
    dimensions: dimensionsOf(source.labels),
  };
  if (typeof source.log?.level === 'string') entry.level = source.log.level;
  if (source.kansoku?.truncated === true) entry.truncated = true;
  if (source.kansoku?.split === true) entry.split = true;
  if (typeof source.kansoku?.parse_error === 'string') entry.parseError = source.kansoku.parse_error;
  return entry;
}
