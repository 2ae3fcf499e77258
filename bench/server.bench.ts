/**
 * The server's sinks against each store's own ingest ceiling, measured in the same run
 * on the same points: the real k8s 1.25 kubelet page, parsed and mapped by the agent's
 * own code, replicated over synthetic nodes and scrapes, delivered in batches of 5,000.
 *
 * - InfluxDB 1.x: `InfluxdbV1Sink.deliver` into a real influxd (Debian's 1.6.7, started
 *   on loopback) against plain `fetch` POSTs of the same points pre-encoded as line
 *   protocol. Every repetition writes into fresh databases, so both sides create the
 *   same new series; the two sides alternate so that a warming or filling influxd
 *   favours neither.
 * - The embedded store: `SqliteSink.deliver` into a fresh file-backed database (WAL, as
 *   `openDatabase` sets it up) against the least SQL it must run: one prepared
 *   `INSERT INTO points` per point, one transaction per batch, the series created up
 *   front. The sink is timed twice: on a fresh database (it creates every series) and
 *   again on the next scrapes (every series known), which is its steady state.
 *
 * Informational rows: the line-protocol encoder alone per batch (the CPU the InfluxDB sink
 * adds to the ceiling's work, in series with it), a multi-row INSERT (the room above the
 * one-row SQLite ceiling), and the largest RSS growth seen between batches while a sink
 * delivers (GC slack included, so a rough figure).
 *
 * Each figure is the median of a few whole-workload repetitions rather than of
 * `medianMs`'s many short calls: a store's ingest rate only shows over many batches.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseExposition } from '../agent/exposition/parseExposition.js';
import { mapCadvisorSamples } from '../agent/kubelet/cadvisorMetrics.js';
import { metricEnvelope, type MetricEnvelope } from '../core/envelope.js';
import { defaultTenantMapping, tenantOf } from '../core/tenant.js';
import type { InfluxdbConfig } from '../server/influxdb/config.js';
import { InfluxdbV1Sink } from '../server/influxdb/influxdbV1Sink.js';
import { encodeBatch } from '../server/influxdb/lineProtocol.js';
import { parseQueryResponse } from '../server/influxdb/v1Http.js';
import { dimensionsKey, openDatabase, type SqliteDatabase } from '../server/sqlite/database.js';
import { SqliteSink } from '../server/sqlite/sqliteSink.js';
import { startInfluxd } from '../test/influxdb/influxd.js';
import { benchResult, medianMs, type BenchResult } from './harness.js';

const PAGE_FILE = new URL('../test/fixtures/prometheus/nri-k8s__k8s-1.25.13-containerd1.6__kubelet_metrics_cadvisor.prom', import.meta.url);
const NODES = 50;
const SCRAPES = 5;
const SCRAPE_INTERVAL_MS = 30_000;
const BATCH_SIZE = 5_000;
/** Timed repetitions per side; the median is reported. The first, untimed, is a warm-up. */
const REPETITIONS = 5;
const REGION = 'RegionOne';
/** Points per statement of the multi-row ceiling; gains level off from about 50. */
const MULTI_ROW_STATEMENT_ROWS = 100;
const WORKLOAD_LABEL = `k8s 1.25 kubelet page × ${NODES} nodes × ${SCRAPES} scrapes, ${BATCH_SIZE.toLocaleString('en-US')}-point batches`;
const INFLUXDB_GOAL = '>= 0.8x ceiling';

/**
 * The page mapped once per synthetic node (its hostname is a dimension, so each node has
 * its own series), then repeated for each scrape `SCRAPE_INTERVAL_MS` apart. Scrape-major
 * order: every node's points of one scrape arrive before the next scrape's, as on the bus.
 */
function buildWorkload(page: string, firstScrape: number, scrapes: number): MetricEnvelope[] {
  const samples = parseExposition(page).samples;
  const perNode = Array.from({ length: NODES }, (_, node) => {
    const hostname = `node-${String(node).padStart(3, '0')}`;
    return mapCadvisorSamples(samples, { hostname, scrapeTimeMs: Date.now() }).measurements;
  });
  const nowMs = Date.now();
  const envelopes: MetricEnvelope[] = [];
  for (let scrape = firstScrape; scrape < firstScrape + scrapes; scrape++) {
    for (const measurements of perNode) {
      for (const metric of measurements) {
        const tenantId = tenantOf(metric.dimensions['namespace'] ?? '', defaultTenantMapping);
        if (tenantId === undefined) continue;
        envelopes.push(metricEnvelope({ ...metric, timestamp: metric.timestamp + scrape * SCRAPE_INTERVAL_MS }, { tenantId, region: REGION }, nowMs));
      }
    }
  }
  return envelopes;
}

function inBatches<T>(items: readonly T[]): T[][] {
  const batches: T[][] = [];
  for (let start = 0; start < items.length; start += BATCH_SIZE) batches.push(items.slice(start, start + BATCH_SIZE));
  return batches;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[middle] ?? NaN) : ((sorted[middle - 1] ?? NaN) + (sorted[middle] ?? NaN)) / 2;
}

/** Milliseconds of one run of `task`, and the largest RSS growth it reported between batches. */
interface Timed {
  readonly ms: number;
  readonly peakRssGrowthBytes: number;
}

async function timed(task: (afterBatch: () => void) => Promise<void>): Promise<Timed> {
  const rssBefore = process.memoryUsage.rss();
  let peakRss = rssBefore;
  const afterBatch = (): void => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
  };
  const start = performance.now();
  await task(afterBatch);
  const ms = performance.now() - start;
  return { ms, peakRssGrowthBytes: peakRss - rssBefore };
}

function requireDelivered(outcome: Awaited<ReturnType<InfluxdbV1Sink['deliver']>>, what: string): void {
  if (outcome.kind !== 'delivered') throw new Error(`${what}: ${outcome.kind}: ${outcome.reason}`);
}

// --- InfluxDB 1.x -------------------------------------------------------------------------

async function influxQuery(url: string, statement: string, database?: string): Promise<ReturnType<typeof parseQueryResponse>> {
  const form = new URLSearchParams({ q: statement, epoch: 'ms' });
  if (database !== undefined) form.set('db', database);
  const response = await fetch(`${url}/query`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() });
  const body = await response.text();
  if (response.status !== 200) throw new Error(`influxd /query ${JSON.stringify(statement)} answered ${response.status}: ${body.slice(0, 300)}`);
  const parsed = parseQueryResponse(body);
  const problem = parsed.ok ? parsed.results[0]?.error : parsed.error;
  if (problem !== undefined) throw new Error(`influxd /query ${JSON.stringify(statement)}: ${problem}`);
  return parsed;
}

async function createDatabase(url: string, database: string): Promise<void> {
  await influxQuery(url, `CREATE DATABASE "${database}"`);
}

async function dropDatabase(url: string, database: string): Promise<void> {
  await influxQuery(url, `DROP DATABASE "${database}"`);
}

/** Points stored in `database`, summed over its measurements. */
async function countPoints(url: string, database: string): Promise<number> {
  const parsed = await influxQuery(url, 'SELECT count("value") FROM /.*/', database);
  if (!parsed.ok) return NaN;
  let total = 0;
  for (const series of parsed.results[0]?.series ?? []) total += Number(series.values[0]?.[1] ?? 0);
  return total;
}

async function deliverToInfluxdb(url: string, database: string, batches: readonly (readonly MetricEnvelope[])[], afterBatch: () => void): Promise<void> {
  const config: InfluxdbConfig = { version: 1, url, database, timeoutMs: 60_000, batchSize: BATCH_SIZE };
  const sink = new InfluxdbV1Sink(config);
  try {
    for (const batch of batches) {
      requireDelivered(await sink.deliver(batch), `InfluxdbV1Sink into ${database}`);
      afterBatch();
    }
  } finally {
    await sink.close();
  }
}

async function postLineProtocol(url: string, database: string, bodies: readonly string[], afterBatch: () => void): Promise<void> {
  const target = `${url}/write?db=${encodeURIComponent(database)}&precision=ms`;
  for (const body of bodies) {
    const response = await fetch(target, { method: 'POST', headers: { 'content-type': 'text/plain; charset=utf-8' }, body });
    const text = await response.text();
    if (response.status !== 204) throw new Error(`influxd /write into ${database} answered ${response.status}: ${text.slice(0, 300)}`);
    afterBatch();
  }
}

interface InfluxdbFigures {
  readonly sinkMs: number;
  readonly ceilingMs: number;
  readonly encodeMs: number;
  readonly sinkPeakRssGrowthBytes: number;
  readonly ceilingPeakRssGrowthBytes: number;
}

async function measureInfluxdb(workload: readonly MetricEnvelope[]): Promise<InfluxdbFigures> {
  const batches = inBatches(workload);
  const bodies = batches.map((batch) => {
    const encoded = encodeBatch(batch);
    if (encoded.unencodable.length > 0) throw new Error(`the workload has unencodable points: ${encoded.unencodable[0]?.reason}`);
    return encoded.lines.join('\n');
  });
  // What the sink adds to the ceiling's work, timed the way it runs: one batch at a time.
  const fullBatches = batches.filter((batch) => batch.length === BATCH_SIZE);
  let next = 0;
  const encodeBatchMs = medianMs(() => encodeBatch(fullBatches[next++ % fullBatches.length] ?? []).lines.join('\n'), { warmupMs: 500, durationMs: 2_000 });
  const encodeMs = (encodeBatchMs / BATCH_SIZE) * workload.length;

  const influxd = await startInfluxd();
  try {
    const sinkRuns: Timed[] = [];
    const ceilingRuns: Timed[] = [];
    // Repetition 0 is the warm-up (JIT, keep-alive connections, influxd's first shard).
    for (let repetition = 0; repetition <= REPETITIONS; repetition++) {
      const sinkDatabase = `bench_sink_${repetition}`;
      const ceilingDatabase = `bench_ceiling_${repetition}`;
      await createDatabase(influxd.url, sinkDatabase);
      await createDatabase(influxd.url, ceilingDatabase);
      // Alternate which side goes first, so that neither always meets the fuller influxd.
      const sinkFirst = repetition % 2 === 0;
      const runSink = () => timed((afterBatch) => deliverToInfluxdb(influxd.url, sinkDatabase, batches, afterBatch));
      const runCeiling = () => timed((afterBatch) => postLineProtocol(influxd.url, ceilingDatabase, bodies, afterBatch));
      let sink: Timed;
      let ceiling: Timed;
      if (sinkFirst) {
        sink = await runSink();
        ceiling = await runCeiling();
      } else {
        ceiling = await runCeiling();
        sink = await runSink();
      }
      if (repetition === 0) {
        // Both sides must have stored the same points, or the ratio compares different work.
        const [sinkPoints, ceilingPoints] = [await countPoints(influxd.url, sinkDatabase), await countPoints(influxd.url, ceilingDatabase)];
        if (sinkPoints !== ceilingPoints || sinkPoints !== workload.length) {
          throw new Error(`influxd stored ${sinkPoints} points from the sink and ${ceilingPoints} from the ceiling, of ${workload.length}`);
        }
      } else {
        sinkRuns.push(sink);
        ceilingRuns.push(ceiling);
      }
      // Dropped so that influxd's in-memory index holds one repetition's series at a time.
      await dropDatabase(influxd.url, sinkDatabase);
      await dropDatabase(influxd.url, ceilingDatabase);
    }
    return {
      sinkMs: median(sinkRuns.map((r) => r.ms)),
      ceilingMs: median(ceilingRuns.map((r) => r.ms)),
      encodeMs,
      sinkPeakRssGrowthBytes: Math.max(...sinkRuns.map((r) => r.peakRssGrowthBytes)),
      ceilingPeakRssGrowthBytes: Math.max(...ceilingRuns.map((r) => r.peakRssGrowthBytes)),
    };
  } finally {
    await influxd.stop();
  }
}

// --- The embedded store (SQLite through libsql) -------------------------------------------

type PointRow = readonly [seriesId: number, timestampMs: number, value: number, valueMeta: string | null];

/** The series of `workload` inserted up front, and its points as the rows the ceiling inserts. */
function preparePointRows(db: SqliteDatabase, workload: readonly MetricEnvelope[]): PointRow[] {
  const insertSeries = db.prepare('INSERT INTO series (tenant_id, region, name, dimensions_key, dimensions) VALUES (?, ?, ?, ?, ?)');
  const ids = new Map<string, number>();
  const rows: PointRow[] = [];
  db.transaction(() => {
    for (const { metric, meta } of workload) {
      const key = dimensionsKey(metric.dimensions);
      const seriesKey = `${meta.tenantId}\u0000${metric.name}\u0000${key}`;
      let id = ids.get(seriesKey);
      if (id === undefined) {
        id = Number(insertSeries.run(meta.tenantId, meta.region, metric.name, key, JSON.stringify(metric.dimensions)).lastInsertRowid);
        ids.set(seriesKey, id);
      }
      rows.push([id, metric.timestamp, metric.value, metric.value_meta ? JSON.stringify(metric.value_meta) : null]);
    }
  })();
  return rows;
}

/**
 * Milliseconds to insert `rowBatches`, one transaction per batch, `rowsPerStatement`
 * points per prepared INSERT (the remainder of a batch one by one). Nothing else: the
 * series exist and their ids are known.
 */
function insertBare(db: SqliteDatabase, rowBatches: readonly (readonly PointRow[])[], rowsPerStatement: number): number {
  const insert = (rows: number) => db.prepare(`INSERT INTO points (series_id, timestamp_ms, value, value_meta) VALUES ${Array<string>(rows).fill('(?, ?, ?, ?)').join(', ')}`);
  const insertMany = insert(rowsPerStatement);
  const insertOne = insert(1);
  const insertBatch = db.transaction((rows: readonly PointRow[]) => {
    let at = 0;
    if (rowsPerStatement > 1) for (; at + rowsPerStatement <= rows.length; at += rowsPerStatement) insertMany.run(...rows.slice(at, at + rowsPerStatement).flat());
    for (; at < rows.length; at++) insertOne.run(...(rows[at] ?? []));
  });
  const start = performance.now();
  for (const rows of rowBatches) insertBatch(rows);
  return performance.now() - start;
}

interface SqliteFigures {
  readonly newSeriesMs: number;
  readonly knownSeriesMs: number;
  readonly ceilingMs: number;
  readonly multiRowMs: number;
  readonly sinkPeakRssGrowthBytes: number;
}

async function measureSqlite(workload: readonly MetricEnvelope[], nextScrapes: readonly MetricEnvelope[]): Promise<SqliteFigures> {
  const batches = inBatches(workload);
  const nextBatches = inBatches(nextScrapes);
  const dir = mkdtempSync(join(tmpdir(), 'kansoku-bench-sqlite-'));
  try {
    const newSeriesRuns: Timed[] = [];
    const knownSeriesRuns: Timed[] = [];
    const ceilingRuns: number[] = [];
    const multiRowRuns: number[] = [];
    for (let repetition = 0; repetition <= REPETITIONS; repetition++) {
      const sinkDb = openDatabase(join(dir, `sink-${repetition}.db`));
      const ceilingDb = openDatabase(join(dir, `ceiling-${repetition}.db`));
      const multiRowDb = openDatabase(join(dir, `multi-row-${repetition}.db`));
      try {
        const sink = new SqliteSink(sinkDb);
        const deliverAll = (list: readonly (readonly MetricEnvelope[])[]) => async (afterBatch: () => void) => {
          for (const batch of list) {
            requireDelivered(await sink.deliver(batch), 'SqliteSink');
            afterBatch();
          }
        };
        const newSeries = await timed(deliverAll(batches));
        const knownSeries = await timed(deliverAll(nextBatches));

        const ceilingMs = insertBare(ceilingDb, inBatches(preparePointRows(ceilingDb, workload)), 1);
        const multiRowMs = insertBare(multiRowDb, inBatches(preparePointRows(multiRowDb, workload)), MULTI_ROW_STATEMENT_ROWS);

        const count = (db: SqliteDatabase): number => (db.prepare('SELECT count(*) AS n FROM points').get() as { n: number }).n;
        const [sunk, stored, storedMultiRow] = [count(sinkDb), count(ceilingDb), count(multiRowDb)];
        if (sunk !== workload.length + nextScrapes.length || stored !== workload.length || storedMultiRow !== workload.length) {
          throw new Error(`sqlite stored ${sunk} points from the sink (of ${workload.length + nextScrapes.length}), ${stored} and ${storedMultiRow} from the ceilings (of ${workload.length})`);
        }
        if (repetition > 0) {
          newSeriesRuns.push(newSeries);
          knownSeriesRuns.push(knownSeries);
          ceilingRuns.push(ceilingMs);
          multiRowRuns.push(multiRowMs);
        }
      } finally {
        sinkDb.close();
        ceilingDb.close();
        multiRowDb.close();
      }
    }
    return {
      newSeriesMs: median(newSeriesRuns.map((r) => r.ms)),
      knownSeriesMs: median(knownSeriesRuns.map((r) => r.ms)),
      ceilingMs: median(ceilingRuns),
      multiRowMs: median(multiRowRuns),
      sinkPeakRssGrowthBytes: Math.max(...[...newSeriesRuns, ...knownSeriesRuns].map((r) => r.peakRssGrowthBytes)),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(): Promise<BenchResult[]> {
  const page = readFileSync(PAGE_FILE, 'utf8');
  const workload = buildWorkload(page, 0, SCRAPES);
  const nextScrapes = buildWorkload(page, SCRAPES, SCRAPES);
  const points = workload.length;
  const perSecond = (ms: number): number => points / (ms / 1000);
  const megabytes = (bytes: number): number => bytes / 1e6;

  const influxdb = await measureInfluxdb(workload);
  const sqlite = await measureSqlite(workload, nextScrapes);

  const ceiling = 'influxd /write of pre-encoded line protocol, same points, same batches';
  const sqliteCeiling = 'bare prepared INSERT INTO points, one transaction per batch, series pre-created';
  return [
    benchResult({ name: `InfluxdbV1Sink.deliver into influxd 1.6, ${WORKLOAD_LABEL}`, unit: 'points/s', value: perSecond(influxdb.sinkMs), baseline: ceiling, baseline_value: perSecond(influxdb.ceilingMs), goal: INFLUXDB_GOAL }),
    benchResult({
      name: `encodeBatch + join('\\n') alone, per ${BATCH_SIZE.toLocaleString('en-US')}-point batch of the same points`,
      unit: 'points/s',
      value: perSecond(influxdb.encodeMs),
      baseline: ceiling,
      baseline_value: perSecond(influxdb.ceilingMs),
      goal: 'informational; >= 4x lets a sink that encodes then writes reach 0.8x',
    }),
    benchResult({
      name: `peak RSS growth while InfluxdbV1Sink delivers, ${WORKLOAD_LABEL}`,
      unit: 'MB',
      value: megabytes(influxdb.sinkPeakRssGrowthBytes),
      baseline: 'the same while posting pre-encoded line protocol',
      baseline_value: megabytes(influxdb.ceilingPeakRssGrowthBytes),
      goal: 'informational',
    }),
    benchResult({ name: `SqliteSink.deliver, new series (fresh file database, WAL), ${WORKLOAD_LABEL}`, unit: 'points/s', value: perSecond(sqlite.newSeriesMs), baseline: sqliteCeiling, baseline_value: perSecond(sqlite.ceilingMs), goal: '>= 0.8x ceiling' }),
    benchResult({ name: `SqliteSink.deliver, known series (the next ${SCRAPES} scrapes), ${WORKLOAD_LABEL}`, unit: 'points/s', value: perSecond(sqlite.knownSeriesMs), baseline: sqliteCeiling, baseline_value: perSecond(sqlite.ceilingMs), goal: '>= 0.8x ceiling' }),
    benchResult({
      name: `bare multi-row INSERT INTO points (${MULTI_ROW_STATEMENT_ROWS} rows/statement), same rows and batches`,
      unit: 'points/s',
      value: perSecond(sqlite.multiRowMs),
      baseline: sqliteCeiling,
      baseline_value: perSecond(sqlite.ceilingMs),
      goal: 'informational: the room above the one-row ceiling',
    }),
    benchResult({
      name: `peak RSS growth while SqliteSink delivers, ${WORKLOAD_LABEL}`,
      unit: 'MB',
      value: megabytes(sqlite.sinkPeakRssGrowthBytes),
      baseline: 'the line protocol of the workload, for scale',
      baseline_value: megabytes(Buffer.byteLength(encodeBatch(workload).lines.join('\n'))),
      goal: 'informational',
    }),
  ];
}
