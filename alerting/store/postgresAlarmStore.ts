import pg from 'pg';
import type { AlarmStore } from './alarmStore.js';
import { ALARM_STORE_SCHEMA, toPostgresPlaceholders } from './alarmStoreSchema.js';
import type { Row, SqlValue } from './alarmRows.js';
import { SqlAlarmStore, inTransaction, type SqlConnection, type SqlSession } from './sqlAlarmStore.js';

/**
 * Replicas creating the schema at once would race on PostgreSQL's catalog (CREATE TABLE IF
 * NOT EXISTS is not safe against itself); a transaction-scoped advisory lock orders them.
 */
const SCHEMA_LOCK_KEY = 0x6b616e73; // 'kans'

interface Queryable {
  query(text: string, values: unknown[]): Promise<{ rows: unknown[]; rowCount: number | null }>;
}

/** A pg pool as the store's connection; a transaction holds one client from BEGIN to COMMIT. */
class PostgresConnection implements SqlConnection {
  private readonly texts = new Map<string, string>();
  private readonly pooled: SqlSession;

  constructor(private readonly pool: pg.Pool) {
    this.pooled = this.sessionOf(pool);
  }

  private text(sql: string): string {
    let text = this.texts.get(sql);
    if (text === undefined) {
      text = toPostgresPlaceholders(sql);
      this.texts.set(sql, text);
    }
    return text;
  }

  private sessionOf(client: Queryable): SqlSession {
    return {
      all: async (sql, params = []) => (await client.query(this.text(sql), [...params])).rows as Row[],
      run: async (sql, params = []) => (await client.query(this.text(sql), [...params])).rowCount ?? 0,
      runEach: async (sql, items, params) => {
        // One after another: pg no longer lets a client take a query while one runs.
        let changes = 0;
        for (const item of items) changes += (await client.query(this.text(sql), [...params(item)])).rowCount ?? 0;
        return changes;
      },
    };
  }

  all(sql: string, params?: readonly SqlValue[]): Promise<readonly Row[]> {
    return this.pooled.all(sql, params);
  }

  run(sql: string, params?: readonly SqlValue[]): Promise<number> {
    return this.pooled.run(sql, params);
  }

  runEach<T>(sql: string, items: readonly T[], params: (item: T) => readonly SqlValue[]): Promise<number> {
    return this.transaction((tx) => tx.runEach(sql, items, params));
  }

  /** READ COMMITTED for writes (their compare-and-set is in each UPDATE's WHERE); REPEATABLE READ for a snapshot. */
  async transaction<T>(work: (tx: SqlSession) => Promise<T>, mode: 'write' | 'snapshot' = 'write'): Promise<T> {
    const client = await this.pool.connect();
    try {
      return await inTransaction(this.sessionOf(client), work, mode === 'write' ? 'BEGIN' : 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/**
 * The alarm store several engine replicas and notifiers share. Claims lock the rows they
 * lease with SKIP LOCKED, so concurrent claimers divide the due deliveries between them;
 * checkpoint transitions are compare-and-set under the row lock their UPDATE takes.
 */
export class PostgresAlarmStore extends SqlAlarmStore implements AlarmStore {
  constructor(pool: pg.Pool) {
    super(new PostgresConnection(pool), { claimLockClause: 'FOR UPDATE SKIP LOCKED', ordersWritesById: true, windowsPerStatement: 1 });
  }
}

export interface PostgresAlarmStoreOptions {
  /** Connections at most in the pool; pg's default is 10. */
  readonly maxConnections?: number;
}

/** Opens a pool and creates the schema if it is not there yet (safe with replicas starting together). */
export async function openPostgresAlarmStore(connectionString: string, options: PostgresAlarmStoreOptions = {}): Promise<PostgresAlarmStore> {
  const pool = new pg.Pool({ connectionString, max: options.maxConnections ?? 10 });
  // An idle client losing its connection emits here; unhandled, that would end the process.
  // The pool drops that client, and the next query reports the failure to its caller.
  pool.on('error', () => undefined);
  const connection = new PostgresConnection(pool);
  try {
    await connection.transaction(async (tx) => {
      await tx.all('SELECT pg_advisory_xact_lock(?)', [SCHEMA_LOCK_KEY]);
      for (const statement of ALARM_STORE_SCHEMA) await tx.run(statement);
    });
  } catch (error) {
    await connection.close();
    throw error;
  }
  return new PostgresAlarmStore(pool);
}
