import type { DimensionFilter, LogEntry, LogQuery, LogStore } from '../../core/query.js';
import type { SqliteDatabase } from './database.js';
import { ftsQuery } from './logFts.js';
import type { LogMarks } from './sqliteLogSink.js';

interface LogRow {
  record_id: string;
  timestamp_ms: number;
  level: string | null;
  message: string;
  dimensions: string;
  marks: string | null;
}

type Param = string | number;

/** Stream ids bound one by one into a search at most; more are asked as a subquery (SQLite binds 32,766 parameters at most). */
const MAX_BOUND_STREAMS = 1000;

/**
 * The conditions of a search, every one a bound parameter: the tenant always first, the
 * words as `id IN (SELECT rowid FROM logs_fts …)`. The IN form has SQLite gather the
 * word's rowids once and walk the tenant's time index newest first, stopping at the limit.
 * The JOIN form (`JOIN logs_fts ON rowid = id … MATCH ?`) runs the full-text query again
 * for every log it walks: on 100,000 logs, 8 ms against 315 ms for a word in one log of
 * eight, 13 ms against 1.6 s for a word in none of the tenant's, 5 ms against 65 s for two
 * words that never meet.
 */
function whereClause(query: LogQuery, streams: { sql: string; params: Param[] } | undefined, streamIds: readonly number[] | undefined): { sql: string; params: Param[] } {
  const conditions = ['logs.tenant_id = ?'];
  const params: Param[] = [query.tenantId];
  if (query.startMs !== undefined) {
    conditions.push('timestamp_ms >= ?');
    params.push(query.startMs);
  }
  if (query.endMs !== undefined) {
    conditions.push('timestamp_ms < ?');
    params.push(query.endMs);
  }
  if (query.levels !== undefined) {
    conditions.push(query.levels.length === 0 ? '0' : `level IN (${query.levels.map(() => '?').join(', ')})`);
    params.push(...query.levels);
  }
  const fts = ftsQuery(query.q);
  if (fts.match !== undefined) {
    conditions.push('logs.id IN (SELECT rowid FROM logs_fts WHERE logs_fts MATCH ?)');
    params.push(fts.match);
  }
  if (fts.exclude !== undefined) {
    conditions.push('logs.id NOT IN (SELECT rowid FROM logs_fts WHERE logs_fts MATCH ?)');
    params.push(fts.exclude);
  }
  if (streams !== undefined && streamIds !== undefined && streamIds.length <= MAX_BOUND_STREAMS) {
    // Bound as a list: checked from the time index, which holds stream_id, row by row.
    conditions.push(`logs.stream_id IN (${streamIds.map(() => '?').join(', ')})`);
    params.push(...streamIds);
  } else if (streams !== undefined) {
    conditions.push(`logs.stream_id IN (${streams.sql})`);
    params.push(...streams.params);
  }
  return { sql: conditions.join(' AND '), params };
}

/**
 * A dimension filter picks streams (tenant and dimension set: a container's stdout, say), a
 * few rows per container, before any log is read; the logs are then those of the streams
 * picked. Undefined when the filter is empty; an empty list when no stream passes it.
 */
function streamsSql(tenantId: string, filter: DimensionFilter): { sql: string; params: Param[] } | undefined {
  const conditions: string[] = [];
  const params: Param[] = [tenantId];
  for (const [key, values] of Object.entries(filter)) {
    if (values === null) {
      conditions.push('EXISTS (SELECT 1 FROM json_each(dimensions) AS d WHERE d.key = ?)');
      params.push(key);
    } else if (values.length === 0) {
      conditions.push('0');
    } else {
      conditions.push(`EXISTS (SELECT 1 FROM json_each(dimensions) AS d WHERE d.key = ? AND d.value IN (${values.map(() => '?').join(', ')}))`);
      params.push(key, ...values);
    }
  }
  if (conditions.length === 0) return undefined;
  return { sql: `SELECT id FROM log_streams WHERE tenant_id = ? AND ${conditions.join(' AND ')}`, params };
}

function entryOf(row: LogRow): LogEntry {
  const marks = row.marks === null ? {} : (JSON.parse(row.marks) as LogMarks);
  return {
    id: row.record_id,
    timestampMs: row.timestamp_ms,
    message: row.message,
    dimensions: JSON.parse(row.dimensions) as Record<string, string>,
    ...(row.level !== null ? { level: row.level } : {}),
    ...(marks.truncated === true ? { truncated: true } : {}),
    ...(marks.split === true ? { split: true } : {}),
    ...(marks.parse_error !== undefined ? { parseError: marks.parse_error } : {}),
  };
}

/** Searches the logs the SqliteLogSink wrote, newest first, one tenant per query. */
export class SqliteLogStore implements LogStore {
  constructor(private readonly db: SqliteDatabase) {}

  searchLogs(query: LogQuery): Promise<readonly LogEntry[]> {
    const streams = streamsSql(query.tenantId, query.dimensions);
    const streamIds = streams && (this.db.prepare(streams.sql).all(...streams.params) as { id: number }[]).map((r) => r.id);
    if (streamIds?.length === 0) return Promise.resolve([]);
    const { sql, params } = whereClause(query, streams, streamIds);
    const rows = this.db
      .prepare(
        `SELECT record_id, timestamp_ms, level, message, log_streams.dimensions AS dimensions, marks FROM logs JOIN log_streams ON log_streams.id = logs.stream_id
         WHERE ${sql} ORDER BY timestamp_ms DESC, record_id DESC LIMIT ? OFFSET ?`,
      )
      .all(...params, query.limit, query.offset ?? 0) as LogRow[];
    return Promise.resolve(rows.map(entryOf));
  }
}
