import { openSqliteFile, type SqliteDatabase } from '../../core/sqliteFile.js';

/**
 * The embedded store of the single-machine default (opened through core/sqliteFile.ts).
 *
 * A series is a metric (tenant, name, exact dimension set); its points are keyed by
 * (series, timestamp), so a redelivered message overwrites itself, as in InfluxDB.
 *
 * A log is a row of `logs` keyed by its `record_id` (`logRecordId`), so a redelivered
 * record is stored once. Its words are in `logs_fts` under the log's rowid (FTS5,
 * contentless: the text is in `logs.message`, the index holds only the words, which the
 * sink splits as `logTerms` splits a query; see logFts.ts). Its dimensions are those of
 * its stream, `log_streams`: one row per tenant and dimension set (a container's stdout,
 * say), so that a dimension filter picks a few streams rather than reading every log.
 */
/** The connection type the server's SQLite modules take, from the shared opener. */
export type { SqliteDatabase };

const SCHEMA = `
CREATE TABLE IF NOT EXISTS series (
  id INTEGER PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  region TEXT NOT NULL,
  name TEXT NOT NULL,
  dimensions_key TEXT NOT NULL,
  dimensions TEXT NOT NULL,
  UNIQUE (tenant_id, name, dimensions_key)
);
CREATE TABLE IF NOT EXISTS points (
  series_id INTEGER NOT NULL REFERENCES series(id),
  timestamp_ms INTEGER NOT NULL,
  value REAL NOT NULL,
  value_meta TEXT,
  PRIMARY KEY (series_id, timestamp_ms)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS log_streams (
  id INTEGER PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  dimensions_key TEXT NOT NULL,
  dimensions TEXT NOT NULL,
  UNIQUE (tenant_id, dimensions_key)
);
CREATE TABLE IF NOT EXISTS logs (
  id INTEGER PRIMARY KEY,
  record_id TEXT NOT NULL UNIQUE,
  tenant_id TEXT NOT NULL,
  region TEXT NOT NULL,
  timestamp_ms INTEGER NOT NULL,
  stream_id INTEGER NOT NULL REFERENCES log_streams(id),
  level TEXT,
  message TEXT NOT NULL,
  marks TEXT
);
CREATE INDEX IF NOT EXISTS logs_by_tenant_time ON logs (tenant_id, timestamp_ms, record_id, stream_id);
CREATE VIRTUAL TABLE IF NOT EXISTS logs_fts USING fts5 (words, content = '', contentless_delete = 1, tokenize = "unicode61 remove_diacritics 0");
`;

/**
 * Files written before logs were stored hold a `logs` table of another shape that nothing
 * ever wrote to; it makes way for the one above.
 */
function dropUnusedLogsTable(db: SqliteDatabase): void {
  const columns = db.prepare("SELECT name FROM pragma_table_info('logs')").all() as { name: string }[];
  if (columns.length > 0 && !columns.some((c) => c.name === 'stream_id')) db.exec('DROP INDEX IF EXISTS logs_by_tenant_time; DROP TABLE logs;');
}

export function openDatabase(path: string): SqliteDatabase {
  return openSqliteFile(path, (db) => {
    db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;');
    dropUnusedLogsTable(db);
    db.exec(SCHEMA);
  });
}

/** What `series.dimensions_key` holds (its text is part of the file format); here too for the benchmarks. */
export { dimensionsKey } from '../../core/seriesKey.js';
