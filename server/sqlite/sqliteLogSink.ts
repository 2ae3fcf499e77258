import type { LogEnvelope } from '../../core/envelope.js';
import { logRecordId } from '../../core/logRecordId.js';
import { dimensionsKey } from '../../core/seriesKey.js';
import type { DeliveryOutcome } from '../../core/outcome.js';
import type { Health, Sink } from '../../core/pipeline.js';
import type { SqliteDatabase } from './database.js';
import { deliverInTransaction, sqliteHealth } from './sqliteDelivery.js';
import { indexedWords } from './logFts.js';

/** What `logs.marks` holds: the record's optional marks, as JSON, or NULL when it has none. */
export interface LogMarks {
  readonly truncated?: true;
  readonly split?: true;
  readonly parse_error?: string;
}

function marksOf(envelope: LogEnvelope): string | null {
  const { truncated, split, parse_error } = envelope.log;
  if (truncated !== true && split !== true && parse_error === undefined) return null;
  const marks: LogMarks = { ...(truncated === true ? { truncated } : {}), ...(split === true ? { split } : {}), ...(parse_error !== undefined ? { parse_error } : {}) };
  return JSON.stringify(marks);
}

/**
 * Stream ids the sink has seen, by tenant and canonical dimension set. Bounded: when full it
 * is emptied and fills again from the database (a stream costs one indexed SELECT to find).
 */
const MAX_CACHED_STREAMS = 100_000;

/**
 * Writes log envelopes into the embedded store, one transaction per batch. A record whose
 * id (`logRecordId`) is already stored is passed over, words included, so a batch the bus
 * delivers again is stored once.
 *
 * A log's dimensions are stored once per stream (`log_streams`: tenant and dimension set),
 * not per log: five dimensions in a table of their own, one row each, cost 70 µs a log to
 * insert, against 28 µs for the log itself and 35 µs for its words (30,000 logs, in memory);
 * a stream id costs a map lookup. Searching json_each of every log instead cost 37 ms for
 * one pod of 500 on 100,000 logs.
 */
export class SqliteLogSink implements Sink<LogEnvelope> {
  readonly name = 'sqlite-logs';
  private readonly streamIds = new Map<string, number>();
  private readonly writeBatch;

  constructor(private readonly db: SqliteDatabase) {
    const insertLog = db.prepare(
      'INSERT OR IGNORE INTO logs (record_id, tenant_id, region, timestamp_ms, stream_id, level, message, marks) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    const insertWords = db.prepare('INSERT INTO logs_fts (rowid, words) VALUES (?, ?)');
    const createStream = db.prepare('INSERT INTO log_streams (tenant_id, dimensions_key, dimensions) VALUES (?, ?, ?) ON CONFLICT (tenant_id, dimensions_key) DO NOTHING');
    const findStream = db.prepare('SELECT id FROM log_streams WHERE tenant_id = ? AND dimensions_key = ?');
    const streamId = (tenantId: string, dimensions: Readonly<Record<string, string>>): number => {
      const key = dimensionsKey(dimensions);
      const cacheKey = `${tenantId}\0${key}`;
      let id = this.streamIds.get(cacheKey);
      if (id !== undefined) return id;
      const created = createStream.run(tenantId, key, JSON.stringify(dimensions));
      id = created.changes === 1 ? Number(created.lastInsertRowid) : (findStream.get(tenantId, key) as { id: number }).id;
      if (this.streamIds.size >= MAX_CACHED_STREAMS) this.streamIds.clear();
      this.streamIds.set(cacheKey, id);
      return id;
    };
    this.writeBatch = db.transaction((batch: readonly LogEnvelope[]) => {
      for (const envelope of batch) {
        const { log, meta } = envelope;
        const inserted = insertLog.run(
          logRecordId(envelope),
          meta.tenantId,
          meta.region,
          log.timestamp ?? envelope.creation_time * 1000,
          streamId(meta.tenantId, log.dimensions),
          log.level ?? null,
          log.message,
          marksOf(envelope),
        );
        if (inserted.changes === 1) insertWords.run(inserted.lastInsertRowid, indexedWords(log.message));
      }
    });
  }

  deliver(batch: readonly LogEnvelope[]): Promise<DeliveryOutcome<LogEnvelope>> {
    return deliverInTransaction(
      () => this.writeBatch(batch),
      // The rollback took back any row this batch created, and its id may go to another: forget them all.
      () => this.streamIds.clear(),
    );
  }

  health(): Promise<Health> {
    return sqliteHealth(this.db);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
