import type { MetricEnvelope } from '../../core/envelope.js';
import { delivered, retryable, type DeliveryOutcome } from '../../core/outcome.js';
import type { Health, Sink } from '../../core/pipeline.js';
import { dimensionsKey, type SqliteDatabase } from './database.js';

/** Writes metric envelopes into the embedded store, one transaction per batch. */
export class SqliteSink implements Sink<MetricEnvelope> {
  readonly name = 'sqlite';
  private readonly upsertSeries;
  private readonly findSeries;
  private readonly upsertPoint;
  private readonly writeBatch;

  constructor(private readonly db: SqliteDatabase) {
    this.upsertSeries = db.prepare(
      'INSERT INTO series (tenant_id, region, name, dimensions_key, dimensions) VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant_id, name, dimensions_key) DO NOTHING',
    );
    this.findSeries = db.prepare('SELECT id FROM series WHERE tenant_id = ? AND name = ? AND dimensions_key = ?');
    this.upsertPoint = db.prepare('INSERT OR REPLACE INTO points (series_id, timestamp_ms, value, value_meta) VALUES (?, ?, ?, ?)');
    const seriesIds = new Map<string, number>();
    this.writeBatch = db.transaction((batch: readonly MetricEnvelope[]) => {
      for (const { metric, meta } of batch) {
        const key = dimensionsKey(metric.dimensions);
        const cacheKey = `${meta.tenantId}\u0000${metric.name}\u0000${key}`;
        let id = seriesIds.get(cacheKey);
        if (id === undefined) {
          this.upsertSeries.run(meta.tenantId, meta.region, metric.name, key, JSON.stringify(metric.dimensions));
          id = (this.findSeries.get(meta.tenantId, metric.name, key) as { id: number }).id;
          seriesIds.set(cacheKey, id);
        }
        this.upsertPoint.run(id, metric.timestamp, metric.value, metric.value_meta ? JSON.stringify(metric.value_meta) : null);
      }
    });
  }

  deliver(batch: readonly MetricEnvelope[]): Promise<DeliveryOutcome<MetricEnvelope>> {
    try {
      this.writeBatch(batch);
      return Promise.resolve(delivered);
    } catch (error) {
      // SQLITE_BUSY/FULL/IOERR pass: the batch is whole or absent (one transaction), so retrying is safe.
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
