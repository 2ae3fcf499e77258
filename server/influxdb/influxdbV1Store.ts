/**
 * The tenant API's questions answered by InfluxQL on `/query`, which InfluxDB 1.x has and
 * 2.x/3.x keep for compatibility. Every statement is built by influxql.ts: names and
 * values only ever appear quoted, and the tenant's own `_tenant_id` condition is ANDed
 * to every filter, so a tenant reads its own series and nothing else.
 *
 * Query failures throw: the MetricStore interface has no error channel, and the API's
 * edge turns them into a 5xx without leaking the message.
 */
import type { MeasurementQuery, MetricDefinition, MetricListQuery, MetricStore, Point, Series } from '../../core/query.js';
import { seriesKey } from '../../core/seriesKey.js';
import { targetDatabase, type InfluxdbConfig } from './config.js';
import { quoteIdentifier, tenantConditions, timeLiteral } from './influxql.js';
import { RESERVED_TAG_KEYS, parseSeriesKey } from './lineProtocol.js';
import { InfluxdbV1Http, parseQueryResponse, type QuerySeries } from './v1Http.js';
import { describeError, errorText } from './writeOutcome.js';

export class InfluxdbQueryError extends Error {
  override readonly name = 'InfluxdbQueryError';
}

/**
 * Tags as a metric's dimensions: ours left out, and '' (InfluxDB's "no such tag" in GROUP BY *) dropped.
 * So series that differ only in `_region` have one seriesKey: they are one Monasca metric.
 */
function dimensionsOf(tags: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(tags).filter(([key, value]) => !RESERVED_TAG_KEYS.has(key) && value !== ''));
}

/** value_meta as written: JSON of an object of strings, `{}` for none. Anything else reads as none. */
function valueMetaOf(raw: unknown): Record<string, string> | null {
  if (typeof raw !== 'string') return null;
  try {
    const json = JSON.parse(raw) as unknown;
    if (typeof json !== 'object' || json === null || Array.isArray(json)) return null;
    const entries = Object.entries(json).filter((e): e is [string, string] => typeof e[1] === 'string');
    return entries.length === 0 ? null : Object.fromEntries(entries);
  } catch {
    return null;
  }
}

function pointsOf(series: QuerySeries): Point[] {
  const [time, value, valueMeta] = ['time', 'value', 'value_meta'].map((c) => series.columns.indexOf(c));
  const points: Point[] = [];
  for (const row of series.values) {
    const t = row[time ?? -1];
    const v = row[value ?? -1];
    // Another writer may have put a string or a null here; such a row is not a Monasca measurement.
    if (typeof t !== 'number' || typeof v !== 'number') continue;
    points.push({ timestampMs: t, value: v, valueMeta: valueMetaOf(row[valueMeta ?? -1]) });
  }
  return points;
}

export class InfluxdbV1Store implements MetricStore {
  private readonly http: InfluxdbV1Http;
  private readonly database: string;

  constructor(private readonly config: InfluxdbConfig) {
    // The store has nothing to abort on close; each request is bounded by timeoutMs.
    this.http = new InfluxdbV1Http(config, new AbortController().signal);
    this.database = targetDatabase(config);
  }

  async listMetrics(query: MetricListQuery): Promise<readonly MetricDefinition[]> {
    const conditions = tenantConditions(query.tenantId, query.dimensions);
    const limit = Math.floor(query.limit);
    if (conditions === undefined || !(limit > 0)) return [];
    if (query.startMs !== undefined || query.endMs !== undefined) return this.listMetricsInWindow(query, conditions, limit);
    // SHOW SERIES reads the index only; it ignores time but for whole shards, hence the other path for a window.
    const from = query.name !== undefined ? ` FROM ${quoteIdentifier(query.name)}` : '';
    const series = await this.select(`SHOW SERIES${from} WHERE ${conditions.join(' AND ')} LIMIT ${limit}`);
    const definitions = new Map<string, MetricDefinition>();
    for (const row of series.flatMap((s) => s.values)) {
      const key = typeof row[0] === 'string' ? parseSeriesKey(row[0]) : undefined;
      if (!key?.ok) continue;
      const dimensions = dimensionsOf(key.value.tags);
      definitions.set(seriesKey(key.value.measurement, dimensions), { name: key.value.measurement, dimensions });
    }
    return [...definitions.values()];
  }

  /** Metrics with a measurement in the window: one count per series, exact to the millisecond. */
  private async listMetricsInWindow(query: MetricListQuery, conditions: string[], limit: number): Promise<readonly MetricDefinition[]> {
    const window = [...conditions];
    if (query.startMs !== undefined) window.push(`time >= ${timeLiteral(Math.ceil(query.startMs))}`);
    if (query.endMs !== undefined) window.push(`time <= ${timeLiteral(Math.floor(query.endMs))}`);
    const from = this.source(query.name !== undefined ? quoteIdentifier(query.name) : '/.*/');
    const series = await this.select(`SELECT count("value") FROM ${from} WHERE ${window.join(' AND ')} GROUP BY * SLIMIT ${limit}`);
    const definitions = new Map<string, MetricDefinition>();
    for (const s of series) {
      if (s.name === undefined) continue;
      const dimensions = dimensionsOf(s.tags);
      definitions.set(seriesKey(s.name, dimensions), { name: s.name, dimensions });
    }
    return [...definitions.values()];
  }

  async listMeasurements(query: MeasurementQuery): Promise<readonly Series[]> {
    const conditions = tenantConditions(query.tenantId, query.dimensions);
    const limit = Math.floor(query.limit);
    if (conditions === undefined || !(limit > 0)) return [];
    conditions.push(`time >= ${timeLiteral(Math.ceil(query.startMs))}`);
    if (query.endMs !== undefined) conditions.push(`time <= ${timeLiteral(Math.floor(query.endMs))}`);
    if (query.afterMs !== undefined) conditions.push(`time > ${timeLiteral(Math.floor(query.afterMs))}`);
    // GROUP BY * gives one series per tag set; LIMIT then counts points per series.
    const statement = `SELECT "value", "value_meta" FROM ${this.source(quoteIdentifier(query.name))} WHERE ${conditions.join(' AND ')} GROUP BY * ORDER BY time ASC LIMIT ${limit}`;
    const bySeries = new Map<string, { name: string; dimensions: Record<string, string>; points: Point[] }>();
    for (const s of await this.select(statement)) {
      const dimensions = dimensionsOf(s.tags);
      const key = seriesKey(query.name, dimensions);
      const entry = bySeries.get(key) ?? { name: query.name, dimensions, points: [] };
      entry.points.push(...pointsOf(s));
      bySeries.set(key, entry);
    }
    return [...bySeries.values()]
      .map((s) => ({ ...s, points: s.points.sort((a, b) => a.timestampMs - b.timestampMs).slice(0, limit) }))
      .filter((s) => s.points.length > 0);
  }

  /** A measurement (or /regex/) in the configured retention policy, when there is one. */
  private source(measurement: string): string {
    return this.config.retentionPolicy !== undefined ? `${quoteIdentifier(this.config.retentionPolicy)}.${measurement}` : measurement;
  }

  private async select(statement: string): Promise<readonly QuerySeries[]> {
    const answer = await this.http.query(statement, this.database);
    if (answer.kind === 'unreachable') throw new InfluxdbQueryError(`InfluxDB is unreachable: ${describeError(answer.error)}`);
    const { response } = answer;
    const parsed = parseQueryResponse(response.body);
    if (response.status !== 200 || !parsed.ok) throw new InfluxdbQueryError(`InfluxDB query failed (${response.status}): ${parsed.ok ? errorText(response) : parsed.error}`);
    const result = parsed.results[0];
    // Nothing written yet means nothing to list, not a failure.
    if (result?.error !== undefined && /database not found/i.test(result.error)) return [];
    if (result?.error !== undefined) throw new InfluxdbQueryError(`InfluxDB query failed: ${result.error}`);
    return result?.series ?? [];
  }
}
