import { matchesDimensions, type MeasurementQuery, type MetricDefinition, type MetricListQuery, type MetricStore, type Point, type Series } from '../../core/query.js';
import type { SqliteDatabase } from './database.js';

interface SeriesRow {
  id: number;
  name: string;
  dimensions: string;
}

interface PointRow {
  timestamp_ms: number;
  value: number;
  value_meta: string | null;
}

/**
 * Answers the tenant API from the embedded store. The tenant is a bound parameter of
 * every statement; dimension filters run in memory over the tenant's own series.
 */
export class SqliteStore implements MetricStore {
  constructor(private readonly db: SqliteDatabase) {}

  private series(tenantId: string, name: string | undefined): SeriesRow[] {
    return (name === undefined
      ? this.db.prepare('SELECT id, name, dimensions FROM series WHERE tenant_id = ? ORDER BY name, dimensions_key').all(tenantId)
      : this.db.prepare('SELECT id, name, dimensions FROM series WHERE tenant_id = ? AND name = ? ORDER BY dimensions_key').all(tenantId, name)) as SeriesRow[];
  }

  listMetrics(query: MetricListQuery): Promise<readonly MetricDefinition[]> {
    const inWindow = this.db.prepare('SELECT 1 FROM points WHERE series_id = ? AND timestamp_ms >= ? AND timestamp_ms <= ? LIMIT 1');
    const out: MetricDefinition[] = [];
    for (const row of this.series(query.tenantId, query.name)) {
      if (out.length >= query.limit) break;
      const dimensions = JSON.parse(row.dimensions) as Record<string, string>;
      if (!matchesDimensions(dimensions, query.dimensions)) continue;
      if (query.startMs !== undefined && !inWindow.get(row.id, query.startMs, query.endMs ?? Number.MAX_SAFE_INTEGER)) continue;
      out.push({ name: row.name, dimensions });
    }
    return Promise.resolve(out);
  }

  listMeasurements(query: MeasurementQuery): Promise<readonly Series[]> {
    const points = this.db.prepare(
      'SELECT timestamp_ms, value, value_meta FROM points WHERE series_id = ? AND timestamp_ms >= ? AND timestamp_ms <= ? AND timestamp_ms > ? ORDER BY timestamp_ms LIMIT ?',
    );
    const out: Series[] = [];
    for (const row of this.series(query.tenantId, query.name)) {
      const dimensions = JSON.parse(row.dimensions) as Record<string, string>;
      if (!matchesDimensions(dimensions, query.dimensions)) continue;
      const rows = points.all(row.id, query.startMs, query.endMs ?? Number.MAX_SAFE_INTEGER, query.afterMs ?? -1, query.limit) as PointRow[];
      if (rows.length === 0) continue;
      out.push({
        name: row.name,
        dimensions,
        points: rows.map((p): Point => ({ timestampMs: p.timestamp_ms, value: p.value, valueMeta: p.value_meta ? (JSON.parse(p.value_meta) as Record<string, string>) : null })),
      });
    }
    return Promise.resolve(out);
  }
}
