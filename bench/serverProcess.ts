/**
 * The whole `kansoku server` process, from the bus into InfluxDB, against InfluxDB's own
 * ingest ceiling, in the same run on the same influxd:
 *
 * - the workload is the real k8s 1.25 kubelet page mapped by the agent's code once per
 *   synthetic node (`NODES` nodes, every point its own series), published to librdkafka's
 *   mock cluster (3 brokers, `metrics` with 12 partitions) by the agent's Publisher over a
 *   KafkaProducer, in the batched wire or the Monasca one;
 * - the server is built with `tsc -p tsconfig.build.json` and run as users run it,
 *   `node dist/cmd/kansoku.js server`, on a fresh consumer group and an existing database;
 * - the ceiling is the same points as line protocol (`encodeBatch`), POSTed to
 *   `/write?precision=ms` in 5,000-line requests, one after another, with plain fetch.
 *
 * The mock cluster answers a fetch with one record batch per partition (what one publish
 * call put there, ~530 envelopes here), where a real broker returns up to the consumer's
 * 1 MB per partition; so the server writes smaller requests than the ceiling's 5,000
 * lines. A second ceiling, informational, posts the same points in exactly the server's
 * requests, to tell the server's own overhead from the cost of the request size.
 *
 * Both sides are timed on two workloads: into a fresh database (every series new, which
 * is what InfluxDB 1.x is slowest at) and then the next scrape (timestamps
 * `SCRAPE_INTERVAL_MS` later) into the same database (every series known, the steady
 * state). Each ceiling is timed once before the server's runs and once after, into its
 * own databases, and the mean time taken, so that a machine that gets busier or quieter
 * meanwhile favours neither side. The server's window
 * runs from the first point it reports written (`kansoku_server_written_total`, polled
 * every `POLL_MS`) to the last, so start-up and the group join are not counted; its CPU
 * is utime + stime from /proc over that window. Afterwards InfluxDB must hold every
 * point (`SELECT count(value)`), or this throws: a figure over lost points is worthless.
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MetricEnvelope } from '../core/envelope.js';
import type { WireMode } from '../bus/wire.js';
import { encodeBatch } from '../server/influxdb/lineProtocol.js';
import { parseQueryResponse } from '../server/influxdb/v1Http.js';
import { startInfluxd } from '../test/influxdb/influxd.js';
import { startKafkaMockCluster } from '../test/kafka/mockCluster.js';
import { buildKansoku, startBuiltKansoku, type BuiltKansoku } from '../test/support/builtKansoku.js';
import { freePort } from '../test/support/kansokuProcess.js';
import { openLoadProducer, publishEnvelopes, requireFitsMockCluster, requireTopicIntact, topicLoad } from '../test/support/metricsTopicLoad.js';
import { clockTicksPerSecond, cpuTicks } from '../test/support/procStat.js';
import { replicatedEnvelopes, shiftedEnvelopes } from '../test/support/replicatedWorkload.js';
import { benchResult, type BenchResult } from './harness.js';

/** 631 measurements per node on the k8s 1.25 page: 126,200 envelopes, ~4.7 MiB on the fullest partition (monasca wire). */
export const NODES = 200;
const REGION = 'RegionOne';
const SCRAPE_INTERVAL_MS = 30_000;
const LINES_PER_WRITE = 5_000;
const BROKERS = 3;
/** The topics `kansoku server` checks for at start-up. */
const TOPIC_PARTITIONS = { metrics: 12, 'kansoku-dead-letter': 1 } as const;
const POLL_MS = 50;
/** The server must write something within this long of starting, and then make progress at least this often. */
const STALL_MS = 120_000;
/** Long enough for a profiled process to write its profile on the way out. */
const STOP_DEADLINE_MS = 30_000;
const GOAL = '>= 0.8x ceiling';

// --- InfluxDB -----------------------------------------------------------------------------

/** One InfluxQL statement straight to influxd; throws on any error, as a bench must. */
export async function influxQuery(url: string, statement: string, database?: string): Promise<ReturnType<typeof parseQueryResponse>> {
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

export async function createDatabase(url: string, database: string): Promise<void> {
  await influxQuery(url, `CREATE DATABASE "${database}"`);
}

/** Points stored in `database`, summed over its measurements. */
export async function countPoints(url: string, database: string): Promise<number> {
  const parsed = await influxQuery(url, 'SELECT count("value") FROM /.*/', database);
  if (!parsed.ok) return NaN;
  let total = 0;
  for (const series of parsed.results[0]?.series ?? []) total += Number(series.values[0]?.[1] ?? 0);
  return total;
}

export async function requirePoints(url: string, database: string, expected: number, what: string): Promise<void> {
  const stored = await countPoints(url, database);
  if (stored !== expected) throw new Error(`${what}: InfluxDB database ${database} holds ${stored} points where ${expected} were written`);
}

/** Line protocol request bodies, one per group of envelopes. */
export function lineProtocolBodies(groups: readonly (readonly MetricEnvelope[])[]): string[] {
  return groups.map((group) => {
    const encoded = encodeBatch(group);
    if (encoded.unencodable.length > 0) throw new Error(`the workload has unencodable points: ${encoded.unencodable[0]?.reason}`);
    return encoded.lines.join('\n');
  });
}

function inRequests(envelopes: readonly MetricEnvelope[]): MetricEnvelope[][] {
  const groups: MetricEnvelope[][] = [];
  for (let start = 0; start < envelopes.length; start += LINES_PER_WRITE) groups.push(envelopes.slice(start, start + LINES_PER_WRITE));
  return groups;
}

interface CeilingRun {
  readonly ms: number;
  /** CPU of this process (fetch, undici) while it posted. */
  readonly cpuMs: number;
}

/** POSTs the bodies to /write one after another, as fast as influxd answers. */
async function postLineProtocol(url: string, database: string, bodies: readonly string[]): Promise<CeilingRun> {
  const target = `${url}/write?db=${encodeURIComponent(database)}&precision=ms`;
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  for (const body of bodies) {
    const response = await fetch(target, { method: 'POST', headers: { 'content-type': 'text/plain; charset=utf-8' }, body });
    const text = await response.text();
    if (response.status !== 204) throw new Error(`influxd /write into ${database} answered ${response.status}: ${text.slice(0, 300)}`);
  }
  const ms = performance.now() - start;
  const cpu = process.cpuUsage(cpuBefore);
  return { ms, cpuMs: (cpu.user + cpu.system) / 1000 };
}

// --- the server process ---------------------------------------------------------------------

/** `kansoku server` consuming a mock cluster into InfluxDB, with its API (and /metrics) on a free port. */
export interface BenchServer {
  readonly process: BuiltKansoku;
  readonly apiUrl: string;
  /** Its /metrics counters, each summed over its label sets. */
  counters(): Promise<Map<string, number>>;
  stop(): Promise<void>;
}

export async function startBenchServer(options: { brokers: readonly string[]; influxUrl: string; database: string; nodeArgs?: readonly string[] }): Promise<BenchServer> {
  const port = await freePort();
  const server = startBuiltKansoku(
    ['server'],
    {
      KANSOKU_BUS__KIND: 'kafka',
      KANSOKU_KAFKA_BROKERS: options.brokers.join(','),
      KANSOKU_BUS__KAFKA__SESSION_TIMEOUT_MS: '6000',
      KANSOKU_BUS__KAFKA__HEARTBEAT_INTERVAL_MS: '500',
      KANSOKU_BUS__KAFKA__MAX_WAIT_TIME_MS: '100',
      KANSOKU_SERVER__STORE: 'influxdb',
      KANSOKU_INFLUXDB_URL: options.influxUrl,
      KANSOKU_SERVER__INFLUXDB__DATABASE: options.database,
      KANSOKU_SERVER__API__PORT: String(port),
      KANSOKU_AUTH_TOKENS: 't:t:monasca-user',
      KANSOKU_LOG_LEVEL: 'warn',
    },
    options.nodeArgs ?? [],
  );
  const apiUrl = `http://127.0.0.1:${port}`;
  return {
    process: server,
    apiUrl,
    counters: () => readCounters(`${apiUrl}/metrics`),
    stop: () => server.stop(STOP_DEADLINE_MS),
  };
}

async function readCounters(url: string): Promise<Map<string, number>> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`${url} answered ${response.status}`);
  const sums = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const nameEnd = line.search(/[{ ]/);
    const name = line.slice(0, nameEnd);
    sums.set(name, (sums.get(name) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return sums;
}

const WRITTEN = 'kansoku_server_written_total';
/** Counters that must stay at 0: anything decoded badly or refused is a point not written. */
const MUST_BE_ZERO = ['kansoku_server_decode_errors_total', 'kansoku_server_rejected_total', 'kansoku_server_dead_lettered_total'] as const;

export interface ServerRun {
  readonly points: number;
  /** Points written inside the window (all but those of the first write seen). */
  readonly windowPoints: number;
  readonly windowMs: number;
  readonly cpuMs: number;
  /** Kafka messages the points travelled in. */
  readonly messages: number;
  /** Batches the sink asked to retry (`kansoku_server_retries_total`). */
  readonly retries: number;
  /** Deliveries to the sink (InfluxDB requests of up to 5,000 points) and the consumed batches they joined. */
  readonly sinkDeliveries: number;
  readonly consumedBatches: number;
}

export interface ServerRunInput {
  readonly influxUrl: string;
  /** Must exist; the server's sink would otherwise create it on its first write. */
  readonly database: string;
  readonly envelopes: readonly MetricEnvelope[];
  readonly wire: WireMode;
  /** e.g. `--cpu-prof`, to profile the server under the bench's load. */
  readonly nodeArgs?: readonly string[];
}

/**
 * A fresh mock cluster preloaded with `envelopes`, then a server process that consumes
 * them all into `database`; returns its window. dist/ must be built.
 */
export async function runServerOnce(input: ServerRunInput): Promise<ServerRun> {
  const points = input.envelopes.length;
  const load = topicLoad(input.envelopes, input.wire, TOPIC_PARTITIONS.metrics);
  requireFitsMockCluster(load, `${points} envelopes on the ${input.wire} wire`);
  const ticksPerSecond = clockTicksPerSecond();
  const cluster = await startKafkaMockCluster({ brokers: BROKERS, topics: TOPIC_PARTITIONS });
  try {
    const loader = await openLoadProducer(cluster.brokers);
    try {
      await publishEnvelopes(loader.producer, input.envelopes, input.wire);
    } finally {
      await loader.close();
    }
    await requireTopicIntact(cluster.brokers, 'metrics', load.messages);

    const server = await startBenchServer({ brokers: cluster.brokers, influxUrl: input.influxUrl, database: input.database, nodeArgs: input.nodeArgs ?? [] });
    try {
      const read = async (): Promise<Map<string, number> | undefined> => {
        if (server.process.exited()) throw new Error(`the server exited (${String(server.process.child.exitCode ?? server.process.child.signalCode)}):\n${server.process.output()}`);
        return server.counters().catch(() => undefined); // not listening yet
      };
      const startedMs = performance.now();
      let first: { readonly ms: number; readonly written: number; readonly ticks: number } | undefined;
      let last = { ms: startedMs, written: 0 };
      for (;;) {
        const counters = await read();
        const written = counters?.get(WRITTEN) ?? 0;
        const nowMs = performance.now();
        if (written > 0 && first === undefined) first = { ms: nowMs, written, ticks: cpuTicks(server.process.pid) };
        if (written >= points) {
          const ticks = cpuTicks(server.process.pid);
          if (first === undefined) throw new Error('unreachable: the first write was not recorded');
          for (const name of MUST_BE_ZERO) {
            if ((counters?.get(name) ?? 0) !== 0) throw new Error(`the server counted ${counters?.get(name)} ${name}: not every point was written as sent\n${server.process.output()}`);
          }
          if (written !== points) throw new Error(`the server wrote ${written} points where ${points} were published (a batch written twice?)`);
          if (written - first.written < points / 2) throw new Error(`the server wrote ${first.written} of ${points} points before the first poll saw any: too little load to time`);
          return {
            points,
            windowPoints: written - first.written,
            windowMs: nowMs - first.ms,
            cpuMs: ((ticks - first.ticks) * 1000) / ticksPerSecond,
            messages: load.messages,
            retries: counters?.get('kansoku_server_retries_total') ?? 0,
            sinkDeliveries: counters?.get('kansoku_server_sink_deliveries_total') ?? 0,
            consumedBatches: counters?.get('kansoku_server_sink_delivered_batches_total') ?? 0,
          };
        }
        if (written > last.written) last = { ms: nowMs, written };
        else if (nowMs - last.ms > STALL_MS) {
          throw new Error(`the server wrote ${written} of ${points} points and nothing more for ${STALL_MS / 1000} s:\n${server.process.output()}`);
        }
        await sleep(POLL_MS);
      }
    } finally {
      await server.stop();
    }
  } finally {
    await cluster.stop();
  }
}

// --- the rows ------------------------------------------------------------------------------

export interface ServerProcessInput {
  readonly page: string;
  /** e.g. "k8s 1.25 kubelet /metrics/cadvisor", for the row names. */
  readonly pageLabel: string;
}

function describe(label: string, run: ServerRun): string {
  const perSecond = run.windowPoints / (run.windowMs / 1000);
  return `${label}: ${Math.round(perSecond).toLocaleString('en-US')} points/s over ${(run.windowMs / 1000).toFixed(1)} s, ${((run.cpuMs * 1000) / run.windowPoints).toFixed(1)} µs CPU/point (${((run.cpuMs / run.windowMs) * 100).toFixed(0)} % of a core), ${run.messages.toLocaleString('en-US')} messages, ${run.retries} retries`;
}

/** The server e2e rows, in both wires, against the ceiling into the same influxd. */
export async function measureServerProcess(input: ServerProcessInput): Promise<BenchResult[]> {
  await buildKansoku();
  const firstScrape = replicatedEnvelopes(input.page, { nodes: NODES, region: REGION, scrapeTimeMs: Date.now() });
  const nextScrape = shiftedEnvelopes(firstScrape, SCRAPE_INTERVAL_MS);
  const points = firstScrape.length;
  const firstBodies = lineProtocolBodies(inRequests(firstScrape));
  const nextBodies = lineProtocolBodies(inRequests(nextScrape));
  // The requests the server makes: one per record batch the mock hands out (either wire, either scrape: the keys decide).
  const serverRequests = topicLoad(firstScrape, 'batched', TOPIC_PARTITIONS.metrics).recordBatches;
  const firstBodiesAsServer = lineProtocolBodies(serverRequests);
  const nextBodiesAsServer = lineProtocolBodies(topicLoad(nextScrape, 'batched', TOPIC_PARTITIONS.metrics).recordBatches);
  const linesPerServerRequest = points / serverRequests.length;
  const suffix = `${process.pid}_${Date.now()}`;
  // Two of each ceiling database: one timed before the server runs and one after, so that a drifting machine favours neither side.
  const databases = {
    ceiling: [`ceiling_a_${suffix}`, `ceiling_b_${suffix}`],
    ceilingAsServer: [`ceiling_as_server_a_${suffix}`, `ceiling_as_server_b_${suffix}`],
    batched: `e2e_batched_${suffix}`,
    monasca: `e2e_monasca_${suffix}`,
  } as const;

  const influxd = await startInfluxd();
  try {
    for (const database of [...databases.ceiling, ...databases.ceilingAsServer, databases.batched, databases.monasca]) await createDatabase(influxd.url, database);
    const log = (line: string): void => console.error(`server e2e, ${line}; 1-minute load average ${(loadavg()[0] ?? NaN).toFixed(1)}`);
    /** One ceiling side: `bodies` into `database`, checked to hold `expected` points after. */
    const ceiling = async (label: string, database: string, bodies: readonly string[], expected: number): Promise<CeilingRun> => {
      const run = await postLineProtocol(influxd.url, database, bodies);
      await requirePoints(influxd.url, database, expected, label);
      log(`${label}: ${Math.round(points / (run.ms / 1000)).toLocaleString('en-US')} points/s over ${(run.ms / 1000).toFixed(1)} s, client ${((run.cpuMs * 1000) / points).toFixed(1)} µs CPU/point`);
      return run;
    };
    const server = async (label: string, database: string, envelopes: readonly MetricEnvelope[], wire: WireMode, expected: number): Promise<ServerRun> => {
      const run = await runServerOnce({ influxUrl: influxd.url, database, envelopes, wire });
      await requirePoints(influxd.url, database, expected, label);
      log(describe(label, run));
      return run;
    };
    const both = (before: CeilingRun, after: CeilingRun): CeilingRun => ({ ms: (before.ms + after.ms) / 2, cpuMs: (before.cpuMs + after.cpuMs) / 2 });
    const asServer = `ceiling in the server's ${serverRequests.length} requests`;

    // First scrape, every series new: the ceilings, both wires, the ceilings again into fresh databases.
    const ceilingNewBefore = await ceiling('ceiling, new series (before)', databases.ceiling[0], firstBodies, points);
    const asServerNewBefore = await ceiling(`${asServer}, new series (before)`, databases.ceilingAsServer[0], firstBodiesAsServer, points);
    const batchedNew = await server('server, batched wire, new series', databases.batched, firstScrape, 'batched', points);
    const monascaNew = await server('server, monasca wire, new series', databases.monasca, firstScrape, 'monasca', points);
    const ceilingNewAfter = await ceiling('ceiling, new series (after)', databases.ceiling[1], firstBodies, points);
    const asServerNewAfter = await ceiling(`${asServer}, new series (after)`, databases.ceilingAsServer[1], firstBodiesAsServer, points);
    // The next scrape into each of those databases, every series known; the wires in the other order.
    const ceilingKnownBefore = await ceiling('ceiling, known series (before)', databases.ceiling[0], nextBodies, 2 * points);
    const asServerKnownBefore = await ceiling(`${asServer}, known series (before)`, databases.ceilingAsServer[0], nextBodiesAsServer, 2 * points);
    const monascaKnown = await server('server, monasca wire, known series', databases.monasca, nextScrape, 'monasca', 2 * points);
    const batchedKnown = await server('server, batched wire, known series', databases.batched, nextScrape, 'batched', 2 * points);
    const ceilingKnownAfter = await ceiling('ceiling, known series (after)', databases.ceiling[1], nextBodies, 2 * points);
    const asServerKnownAfter = await ceiling(`${asServer}, known series (after)`, databases.ceilingAsServer[1], nextBodiesAsServer, 2 * points);
    const ceilingNew = both(ceilingNewBefore, ceilingNewAfter);
    const ceilingKnown = both(ceilingKnownBefore, ceilingKnownAfter);
    const ceilingNewAsServer = both(asServerNewBefore, asServerNewAfter);
    const ceilingKnownAsServer = both(asServerKnownBefore, asServerKnownAfter);

    const workload = `${input.pageLabel} × ${NODES} nodes (${points.toLocaleString('en-US')} points, one series each)`;
    const pathLabel = (wire: WireMode): string => `kansoku server process, Kafka (mock, 3 brokers, 12 partitions, ${wire} wire) → InfluxDB 1.6`;
    const ceilingLabel = (series: string): string =>
      `influxd /write of the same points as line protocol, ${LINES_PER_WRITE.toLocaleString('en-US')}-line requests one after another (plain fetch), ${series}; mean time of a run before and one after the server's`;
    const newSeries = 'fresh database: every series new';
    const knownSeries = `the next scrape (+${SCRAPE_INTERVAL_MS / 1000} s) into that database: every series known`;
    const ceilingNewLabel = ceilingLabel(newSeries);
    const ceilingKnownLabel = ceilingLabel(knownSeries);
    const asServerLabel = (series: string): string =>
      `influxd /write of the same points in the requests the server makes (one per Kafka record batch the mock cluster hands out per fetch: ${serverRequests.length} requests, ${Math.round(linesPerServerRequest)} lines on average), one after another (plain fetch), ${series}; mean time of a run before and one after the server's`;
    const rate = (run: ServerRun): number => run.windowPoints / (run.windowMs / 1000);
    const ceilingRate = (run: CeilingRun): number => points / (run.ms / 1000);
    const cpuPerPoint = (run: ServerRun): number => (run.cpuMs * 1000) / run.windowPoints;
    const clientCpuPerPoint = (run: CeilingRun): number => (run.cpuMs * 1000) / points;
    const throughputRow = (wire: WireMode, series: 'new' | 'known', run: ServerRun, ceiling: CeilingRun): BenchResult =>
      benchResult({
        name: `${pathLabel(wire)}, ${series} series (fresh consumer group; first to last point written), ${workload}`,
        unit: 'points/s',
        value: rate(run),
        baseline: series === 'new' ? ceilingNewLabel : ceilingKnownLabel,
        baseline_value: ceilingRate(ceiling),
        goal: GOAL,
      });
    const asServerRow = (wire: WireMode, series: 'new' | 'known', run: ServerRun, ceiling: CeilingRun): BenchResult =>
      benchResult({
        name: `${pathLabel(wire)}, ${series} series, against InfluxDB in the server's own request sizes, ${workload}`,
        unit: 'points/s',
        value: rate(run),
        baseline: asServerLabel(series === 'new' ? newSeries : knownSeries),
        baseline_value: ceilingRate(ceiling),
        goal: "informational: the server's own overhead, request sizes aside",
      });
    const cpuRow = (wire: WireMode, series: 'new' | 'known', run: ServerRun, ceiling: CeilingRun): BenchResult =>
      benchResult({
        name: `server process CPU (utime + stime) per point, ${wire} wire, ${series} series, ${workload}`,
        unit: 'µs CPU/point',
        value: cpuPerPoint(run),
        baseline: `the client CPU per point of posting pre-encoded line protocol in the server's request sizes (plain fetch, ${series} series): the HTTP part of the server's work alone`,
        baseline_value: clientCpuPerPoint(ceiling),
        goal: 'informational',
      });
    return [
      throughputRow('batched', 'new', batchedNew, ceilingNew),
      throughputRow('batched', 'known', batchedKnown, ceilingKnown),
      throughputRow('monasca', 'new', monascaNew, ceilingNew),
      throughputRow('monasca', 'known', monascaKnown, ceilingKnown),
      asServerRow('batched', 'new', batchedNew, ceilingNewAsServer),
      asServerRow('batched', 'known', batchedKnown, ceilingKnownAsServer),
      asServerRow('monasca', 'new', monascaNew, ceilingNewAsServer),
      asServerRow('monasca', 'known', monascaKnown, ceilingKnownAsServer),
      cpuRow('batched', 'new', batchedNew, ceilingNewAsServer),
      cpuRow('batched', 'known', batchedKnown, ceilingKnownAsServer),
      cpuRow('monasca', 'new', monascaNew, ceilingNewAsServer),
      cpuRow('monasca', 'known', monascaKnown, ceilingKnownAsServer),
    ];
  } finally {
    await influxd.stop();
  }
}
