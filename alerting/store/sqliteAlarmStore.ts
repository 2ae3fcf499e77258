import { openSqliteFile, type SqliteDatabase } from '../../core/sqliteFile.js';
import type { AlarmStore } from './alarmStore.js';
import { ALARM_STORE_SCHEMA } from './alarmStoreSchema.js';
import type { Row, SqlValue } from './alarmRows.js';
import { SqlAlarmStore, inTransaction, type SqlConnection, type SqlSession } from './sqlAlarmStore.js';

/** The part of a libsql statement the store uses. */
interface Statement {
  all(...params: unknown[]): unknown[];
  run(...params: unknown[]): { changes: number };
}

/**
 * One libsql connection behind the async SqlConnection. libsql is synchronous, but the
 * store's transactions await between statements, so without a turn order another call
 * could run its statements inside (or BEGIN on top of) an open transaction. Every call
 * therefore waits for the one before it; the calls are synchronous underneath, so the
 * queue costs no concurrency that SQLite would have given.
 */
class SqliteConnection implements SqlConnection {
  private readonly statements = new Map<string, Statement>();
  private turn: Promise<unknown> = Promise.resolve();
  private readonly direct: SqlSession = {
    all: async (sql, params = []) => this.statement(sql).all(...params) as Row[],
    run: async (sql, params = []) => this.statement(sql).run(...params).changes,
    runEach: async (sql, items, params) => {
      const statement = this.statement(sql);
      let changes = 0;
      for (const item of items) changes += statement.run(...params(item)).changes;
      return changes;
    },
  };

  constructor(private readonly db: SqliteDatabase) {}

  private statement(sql: string): Statement {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  private inTurn<T>(work: () => Promise<T>): Promise<T> {
    const result = this.turn.then(work);
    this.turn = result.catch(() => undefined);
    return result;
  }

  all(sql: string, params?: readonly SqlValue[]): Promise<readonly Row[]> {
    return this.inTurn(() => this.direct.all(sql, params));
  }

  run(sql: string, params?: readonly SqlValue[]): Promise<number> {
    return this.inTurn(() => this.direct.run(sql, params));
  }

  runEach<T>(sql: string, items: readonly T[], params: (item: T) => readonly SqlValue[]): Promise<number> {
    return this.inTurn(() => this.direct.runEach(sql, items, params));
  }

  /**
   * A writer takes the write lock at BEGIN (IMMEDIATE), so another process's writer makes it
   * wait rather than fail mid-transaction; a reader's deferred BEGIN is a WAL snapshot.
   */
  transaction<T>(work: (tx: SqlSession) => Promise<T>, mode: 'write' | 'snapshot' = 'write'): Promise<T> {
    return this.inTurn(() => inTransaction(this.direct, work, mode === 'write' ? 'BEGIN IMMEDIATE' : 'BEGIN'));
  }

  close(): Promise<void> {
    return this.inTurn(async () => {
      this.statements.clear();
      this.db.close();
    });
  }
}

/** SQLite's page cache: 64 MiB holds the alarms table of about 100,000 alarms. */
const PAGE_CACHE_KIB = 65_536;

function openConnection(path: string): SqliteDatabase {
  return openSqliteFile(path, (db) => {
    // cache_size: a checkpoint rewrites every alarm a batch touched, in an order that is not the
    // rows' order on disk; with SQLite's 2 MiB default most of those pages are read again each time.
    db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -${PAGE_CACHE_KIB};`);
    db.exec(ALARM_STORE_SCHEMA.join(';\n'));
  });
}

/** The alarm store of the single-machine default: one SQLite file (or ':memory:'). */
export class SqliteAlarmStore extends SqlAlarmStore implements AlarmStore {
  constructor(path: string) {
    super(new SqliteConnection(openConnection(path)), { claimLockClause: '', ordersWritesById: false, windowsPerStatement: 200 });
  }
}

export function openSqliteAlarmStore(path: string): Promise<SqliteAlarmStore> {
  return Promise.resolve(new SqliteAlarmStore(path));
}
