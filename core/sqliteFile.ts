import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'libsql';

/**
 * A libsql connection. libsql rather than better-sqlite3: it ships prebuilt Node-API
 * binaries, so `npm install` needs no compiler and one build loads under Node 20 and
 * Node 24 alike (better-sqlite3 is built per Node ABI).
 */
export type SqliteDatabase = InstanceType<typeof Database>;

/** How long opening waits, in all, for other processes setting up the same file. */
const SETUP_DEADLINE_MS = 15_000;
const RETRY_PAUSE_MS = [10, 25, 50, 100, 200] as const;

/** SQLITE_BUSY and its extended codes (BUSY_RECOVERY, BUSY_SNAPSHOT, …). */
function isBusy(error: unknown): boolean {
  const e = error as { code?: unknown; rawCode?: unknown } | null;
  return (typeof e?.code === 'string' && e.code.startsWith('SQLITE_BUSY')) || (typeof e?.rawCode === 'number' && (e.rawCode & 0xff) === 5);
}

/**
 * Opens a SQLite file that other processes may be opening at the same instant (two servers
 * started together, or `kansoku server` and `kansoku alerting` on one alarm file), and runs
 * `setup` on it: the WAL switch, the schema. Statements in `setup` must be idempotent.
 *
 * `busy_timeout` comes first, so most contention is waited out inside SQLite. But SQLite
 * does not call its busy handler where waiting could deadlock: a connection holding a read
 * lock that wants to write while another holds the write lock gets SQLITE_BUSY at once,
 * and on a new file, still in rollback-journal mode while one process switches it to WAL
 * and others read its schema, that happens. Such a setup is run again after a short pause,
 * until `deadlineMs` has passed; any other error, or a lock held past the deadline, is thrown.
 * The pause blocks the thread: this runs once, while the process starts.
 */
export function openSqliteFile(path: string, setup: (db: SqliteDatabase) => void, deadlineMs = SETUP_DEADLINE_MS): SqliteDatabase {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.exec('PRAGMA busy_timeout = 5000;');
  const deadline = Date.now() + deadlineMs;
  for (let attempt = 0; ; attempt++) {
    try {
      setup(db);
      return db;
    } catch (error) {
      if (!isBusy(error) || Date.now() >= deadline) {
        db.close();
        throw error;
      }
      const pause = RETRY_PAUSE_MS[Math.min(attempt, RETRY_PAUSE_MS.length - 1)] as number;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, pause * (0.5 + Math.random()));
    }
  }
}
