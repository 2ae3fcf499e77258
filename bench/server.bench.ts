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
 *   `openDatabase` sets it up), timed twice: on the first scrapes (it creates every
 *   series) and then on the next ones (every series known), its steady state. Against
 *   the least SQL it must run, bare, into a second database taken through the same
 *   states: per batch one transaction, a plain `INSERT INTO series` for each series the
 *   batch is first to name, then its points `POINTS_PER_STATEMENT` to a prepared
 *   multi-row `INSERT INTO points`, as the sink writes them; every id known beforehand.
 *
 * Informational rows: the line-protocol encoder alone per batch (the CPU the InfluxDB sink
 * adds to the ceiling's work, in series with it), the multi-row INSERT against the
 * one-row INSERT of the earlier SQLite ceiling (series pre-created, fresh databases), and
 * the largest RSS growth seen between batches while a sink delivers (GC slack included,
 * so a rough figure).
 *
 * Each figure is the median of a few whole-workload repetitions rather than of
 * `medianMs`'s many short calls: a store's ingest rate only shows over many batches.
 *
 * Last, the whole `kansoku server` process from Kafka into InfluxDB, in both wires, new
 * and known series, against the same ceiling in the same influxd (serverProcess.ts).
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
import { dimensionsKey, openDatabase, type SqliteDatabase } from '../server/sqlite/database.js';
import { POINTS_PER_STATEMENT, SqliteSink } from '../server/sqlite/sqliteSink.js';
import { startInfluxd } from '../test/influxdb/influxd.js';
import { benchResult, medianMs, type BenchResult } from './harness.js';
import { influxQuery, measureServerProcess } from './serverProcess.js';

const PAGE_FILE = new URL('../test/fixtures/prometheus/nri-k8s__k8s-1.25.13-containerd1.6__kubelet_metrics_cadvisor.prom', import.meta.url);
const NODES = 50;
const SCRAPES = 5;
const SCRAPE_INTERVAL_MS = 30_000;
const BATCH_SIZE = 5_000;
/** Timed repetitions per side; the median is reported. The first, untimed, is a warm-up. */
const REPETITIONS = 5;
const REGION = 'RegionOne';
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
type SeriesRow = readonly [id: number, tenantId: string, region: string, name: string, dimensionsKey: string, dimensions: string];

/** What a ceiling inserts for one batch: the series the batch is first to name, then its points. */
interface RowBatch {
  readonly series: readonly SeriesRow[];
  readonly points: readonly PointRow[];
}

/**
 * The rows of `batches`, computed before any timing. Series ids are assigned here in order
 * of first appearance; `ids` carries them from one workload to the next.
 */
function rowBatches(batches: readonly (readonly MetricEnvelope[])[], ids: Map<string, number>): RowBatch[] {
  return batches.map((batch) => {
    const series: SeriesRow[] = [];
    const points: PointRow[] = [];
    for (const { metric, meta } of batch) {
      const key = dimensionsKey(metric.dimensions);
      const seriesKey = JSON.stringify([meta.tenantId, metric.name, key]);
      let id = ids.get(seriesKey);
      if (id === undefined) {
        id = ids.size + 1;
        ids.set(seriesKey, id);
        series.push([id, meta.tenantId, meta.region, metric.name, key, JSON.stringify(metric.dimensions)]);
      }
      points.push([id, metric.timestamp, metric.value, metric.value_meta ? JSON.stringify(metric.value_meta) : null]);
    }
    return { series, points };
  });
}

const INSERT_SERIES = 'INSERT INTO series (id, tenant_id, region, name, dimensions_key, dimensions) VALUES (?, ?, ?, ?, ?, ?)';

/** The series of `batches` inserted in one untimed transaction; returns the batches' points alone. */
function preCreateSeries(db: SqliteDatabase, batches: readonly RowBatch[]): RowBatch[] {
  const insertSeries = db.prepare(INSERT_SERIES);
  db.transaction(() => {
    for (const { series } of batches) for (const row of series) insertSeries.run(row);
  })();
  return batches.map(({ points }) => ({ series: [], points }));
}

/**
 * Milliseconds to insert `batches`, one transaction per batch: a bare INSERT per new
 * series, then the points `rowsPerStatement` to a prepared INSERT (the remainder of a
 * batch one by one). Nothing else: every id is known, and every statement's parameters
 * are laid out in one array, before the clock starts.
 */
function insertBare(db: SqliteDatabase, batches: readonly RowBatch[], rowsPerStatement: number): number {
  const insertSeries = db.prepare(INSERT_SERIES);
  const insert = (rows: number) => db.prepare(`INSERT INTO points (series_id, timestamp_ms, value, value_meta) VALUES ${Array<string>(rows).fill('(?, ?, ?, ?)').join(', ')}`);
  const insertMany = insert(rowsPerStatement);
  const insertOne = insert(1);
  const bound = batches.map(({ series, points }) => {
    const whole = points.length - (points.length % rowsPerStatement);
    const statements: PointRow[number][][] = [];
    for (let at = 0; at < whole; at += rowsPerStatement) statements.push(points.slice(at, at + rowsPerStatement).flat());
    return { series, statements, rest: points.slice(whole) };
  });
  const insertBatch = db.transaction(({ series, statements, rest }: (typeof bound)[number]) => {
    for (const row of series) insertSeries.run(row);
    for (const params of statements) insertMany.run(params);
    for (const row of rest) insertOne.run(row);
  });
  const start = performance.now();
  for (const batch of bound) insertBatch(batch);
  return performance.now() - start;
}

interface SqliteFigures {
  readonly newSeriesMs: number;
  readonly knownSeriesMs: number;
  readonly newSeriesCeilingMs: number;
  readonly knownSeriesCeilingMs: number;
  readonly oneRowMs: number;
  readonly multiRowMs: number;
  readonly sinkPeakRssGrowthBytes: number;
}

async function measureSqlite(workload: readonly MetricEnvelope[], nextScrapes: readonly MetricEnvelope[]): Promise<SqliteFigures> {
  const batches = inBatches(workload);
  const nextBatches = inBatches(nextScrapes);
  const ids = new Map<string, number>();
  const rows = rowBatches(batches, ids);
  const nextRows = rowBatches(nextBatches, ids);
  if (nextRows.some(({ series }) => series.length > 0)) throw new Error('the next scrapes name series the first ones do not');
  const dir = mkdtempSync(join(tmpdir(), 'kansoku-bench-sqlite-'));
  try {
    const newSeriesRuns: Timed[] = [];
    const knownSeriesRuns: Timed[] = [];
    const newSeriesCeilingRuns: number[] = [];
    const knownSeriesCeilingRuns: number[] = [];
    const oneRowRuns: number[] = [];
    const multiRowRuns: number[] = [];
    for (let repetition = 0; repetition <= REPETITIONS; repetition++) {
      const sinkDb = openDatabase(join(dir, `sink-${repetition}.db`));
      const ceilingDb = openDatabase(join(dir, `ceiling-${repetition}.db`));
      const oneRowDb = openDatabase(join(dir, `one-row-${repetition}.db`));
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

        // The sink's statements, bare, through the same database states, batches and transactions.
        const newSeriesCeilingMs = insertBare(ceilingDb, rows, POINTS_PER_STATEMENT);
        const knownSeriesCeilingMs = insertBare(ceilingDb, nextRows, POINTS_PER_STATEMENT);
        const oneRowMs = insertBare(oneRowDb, preCreateSeries(oneRowDb, rows), 1);
        const multiRowMs = insertBare(multiRowDb, preCreateSeries(multiRowDb, rows), POINTS_PER_STATEMENT);

        const count = (db: SqliteDatabase, table: 'points' | 'series'): number => (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
        const stored = [count(sinkDb, 'points'), count(ceilingDb, 'points'), count(oneRowDb, 'points'), count(multiRowDb, 'points'), count(sinkDb, 'series'), count(ceilingDb, 'series')];
        const both = workload.length + nextScrapes.length;
        const expected = [both, both, workload.length, workload.length, ids.size, ids.size];
        if (stored.join() !== expected.join()) throw new Error(`sqlite stored ${stored.join(', ')} points and series where ${expected.join(', ')} were expected`);
        if (repetition > 0) {
          newSeriesRuns.push(newSeries);
          knownSeriesRuns.push(knownSeries);
          newSeriesCeilingRuns.push(newSeriesCeilingMs);
          knownSeriesCeilingRuns.push(knownSeriesCeilingMs);
          oneRowRuns.push(oneRowMs);
          multiRowRuns.push(multiRowMs);
        }
      } finally {
        sinkDb.close();
        ceilingDb.close();
        oneRowDb.close();
        multiRowDb.close();
      }
    }
    return {
      newSeriesMs: median(newSeriesRuns.map((r) => r.ms)),
      knownSeriesMs: median(knownSeriesRuns.map((r) => r.ms)),
      newSeriesCeilingMs: median(newSeriesCeilingRuns),
      knownSeriesCeilingMs: median(knownSeriesCeilingRuns),
      oneRowMs: median(oneRowRuns),
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
  // Last, once the timing loops above have left the CPU to the processes it measures.
  const processRows = await measureServerProcess({ page, pageLabel: 'k8s 1.25 kubelet /metrics/cadvisor' });

  const ceiling = 'influxd /write of pre-encoded line protocol, same points, same batches';
  const statementRows = `${POINTS_PER_STATEMENT} rows/statement`;
  const newSeriesCeiling = `bare INSERT INTO series per new series + multi-row INSERT INTO points (${statementRows}), fresh database, one transaction per batch: the least SQL the sink must run`;
  const knownSeriesCeiling = `bare multi-row INSERT INTO points (${statementRows}) of the next scrapes into that database, one transaction per batch: the least SQL the sink must run`;
  const oneRowCeiling = 'bare one-row INSERT INTO points, series pre-created, fresh database (the ceiling before the sink wrote multi-row statements)';
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
    benchResult({ name: `SqliteSink.deliver, new series (fresh file database, WAL), ${WORKLOAD_LABEL}`, unit: 'points/s', value: perSecond(sqlite.newSeriesMs), baseline: newSeriesCeiling, baseline_value: perSecond(sqlite.newSeriesCeilingMs), goal: '>= 0.8x ceiling' }),
    benchResult({ name: `SqliteSink.deliver, known series (the next ${SCRAPES} scrapes), ${WORKLOAD_LABEL}`, unit: 'points/s', value: perSecond(sqlite.knownSeriesMs), baseline: knownSeriesCeiling, baseline_value: perSecond(sqlite.knownSeriesCeilingMs), goal: '>= 0.8x ceiling' }),
    benchResult({
      name: `bare multi-row INSERT INTO points (${statementRows}), series pre-created, fresh database, same rows and batches`,
      unit: 'points/s',
      value: perSecond(sqlite.multiRowMs),
      baseline: oneRowCeiling,
      baseline_value: perSecond(sqlite.oneRowMs),
      goal: 'informational: what multi-row statements gain',
    }),
    benchResult({
      name: `peak RSS growth while SqliteSink delivers, ${WORKLOAD_LABEL}`,
      unit: 'MB',
      value: megabytes(sqlite.sinkPeakRssGrowthBytes),
      baseline: 'the line protocol of the workload, for scale',
      baseline_value: megabytes(Buffer.byteLength(encodeBatch(workload).lines.join('\n'))),
      goal: 'informational',
    }),
    ...processRows,
  ];
}
