import type { LogEnvelope } from '../../core/envelope.js';
import { logRecordId } from '../../core/logRecordId.js';
import { delivered, retryable, type DeliveryOutcome } from '../../core/outcome.js';
import type { Health, Sink } from '../../core/pipeline.js';
import type { SqliteDatabase } from './database.js';
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
 * Writes log envelopes into the embedded store, one transaction per batch. A record whose
 * id (`logRecordId`) is already stored is passed over, words and dimensions included, so a
 * batch the bus delivers again is stored once.
 */
export class SqliteLogSink implements Sink<LogEnvelope> {
  readonly name = 'sqlite-logs';
  private readonly writeBatch;

  constructor(private readonly db: SqliteDatabase) {
    const insertLog = db.prepare(
      'INSERT OR IGNORE INTO logs (record_id, tenant_id, region, timestamp_ms, level, message, dimensions, marks) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    const insertWords = db.prepare('INSERT INTO logs_fts (rowid, words) VALUES (?, ?)');
    const insertDimension = db.prepare('INSERT OR IGNORE INTO log_dimensions (key, value, log_id) VALUES (?, ?, ?)');
    this.writeBatch = db.transaction((batch: readonly LogEnvelope[]) => {
      for (const envelope of batch) {
        const { log, meta } = envelope;
        const inserted = insertLog.run(
          logRecordId(envelope),
          meta.tenantId,
          meta.region,
          log.timestamp ?? envelope.creation_time * 1000,
          log.level ?? null,
          log.message,
          JSON.stringify(log.dimensions),
          marksOf(envelope),
        );
        if (inserted.changes !== 1) continue;
        const rowid = inserted.lastInsertRowid;
        insertWords.run(rowid, indexedWords(log.message));
        for (const key of Object.keys(log.dimensions)) insertDimension.run(key, log.dimensions[key] as string, rowid);
      }
    });
  }

  deliver(batch: readonly LogEnvelope[]): Promise<DeliveryOutcome<LogEnvelope>> {
    try {
      this.writeBatch(batch);
      return Promise.resolve(delivered);
    } catch (error) {
      // SQLITE_BUSY/FULL/IOERR: the batch is whole or absent (one transaction), so retrying is safe.
      return Promise.resolve(retryable(`sqlite: ${(error as Error).message}`, 500));
    }
  }

  health(): Promise<Health> {
    try {
      this.db.prepare('SELECT 1').get();
      return Promise.resolve({ healthy: true });
    } catch (error) {
      return Promise.resolve({ healthy: false, reason: (error as Error).message });
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
