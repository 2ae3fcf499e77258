import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'libsql';

/**
 * The embedded store of the single-machine default. libsql rather than better-sqlite3:
 * it ships prebuilt Node-API binaries, so `npm install` needs no compiler and one build
 * loads under Node 20 and Node 24 alike (better-sqlite3 is built per Node ABI).
 *
 * A series is a metric (tenant, name, exact dimension set); its points are keyed by
 * (series, timestamp), so a redelivered message overwrites itself, as in InfluxDB.
 */
export type SqliteDatabase = InstanceType<typeof Database>;

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
CREATE TABLE IF NOT EXISTS logs (
  id INTEGER PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  region TEXT NOT NULL,
  timestamp_ms INTEGER NOT NULL,
  message TEXT NOT NULL,
  dimensions TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS logs_by_tenant_time ON logs (tenant_id, timestamp_ms);
`;

export function openDatabase(path: string): SqliteDatabase {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;');
  db.exec(SCHEMA);
  return db;
}

/** What `series.dimensions_key` holds (its text is part of the file format); here too for the benchmarks. */
export { dimensionsKey } from '../../core/seriesKey.js';
