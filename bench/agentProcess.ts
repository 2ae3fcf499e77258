/**
 * The whole `kansoku agent` process against Prometheus, both scraping the same kubelet
 * page at the same interval, side by side in the same run on the same machine:
 *
 * - the agent is built with `tsc -p tsconfig.build.json` and run as a user runs it,
 *   `node dist/cmd/kansoku.js agent`, publishing to librdkafka's mock cluster (3 brokers),
 *   with everything a cluster runs on: informers on a Kubernetes API stand-in that lists
 *   the page's pods (so every measurement is enriched with owner, labels and tenant), rates
 *   and percentages of limits, and the cardinality guard. One agent per exposition
 *   format (protobuf and text), in the same window;
 * - Prometheus 2.42 (Debian's `/usr/bin/prometheus`) scrapes the same page as its only
 *   target into a TSDB in a temp dir, `honor_timestamps: false`.
 *
 * Each has its own kubelet stand-in, so each one's scrapes are counted exactly. After a
 * warm-up, the figures are taken over one window: CPU is the growth of utime + stime in
 * /proc/<pid>/stat divided by the scrapes its stand-in served; RSS is VmRSS sampled every
 * second, median and maximum. A figure from a process that did not do the work is
 * worthless, so the agent must have published every measurement of the window's scrapes
 * (its own `kansoku_agent_published_total`) and Prometheus must report the target up,
 * every sample of the page scraped and its scrape count grown; otherwise this throws.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { startKafkaMockCluster, type KafkaMockCluster } from '../test/kafka/mockCluster.js';
import { buildKansoku, startBuiltKansoku, type BuiltKansoku } from '../test/support/builtKansoku.js';
import { freePort } from '../test/support/kansokuProcess.js';
import { podsForPage } from '../test/support/cadvisorPages.js';
import { serveKubeletPage } from '../test/support/kubeletStandIn.js';
import { KubernetesApiStandIn } from '../test/support/kubernetesApiStandIn.js';
import { clockTicksPerSecond, cpuTicks, rssBytes } from '../test/support/procStat.js';
import { counterValue } from '../test/support/selfMetrics.js';
import { PROMETHEUS, PROMETHEUS_JOB, PROMETHEUS_PACKAGE, prometheusInstalled, startPrometheus, type RunningPrometheus } from '../test/support/prometheusProcess.js';
import { benchResult, type BenchResult } from './harness.js';

const WARMUP_MS = 10_000;
const RSS_SAMPLE_EVERY_MS = 1_000;
const START_TIMEOUT_MS = 60_000;
const STOP_DEADLINE_MS = 10_000;
const BYTES_PER_MB = 1e6;
const RSS_GOAL_MB = 80;
const NODE_NAME = 'bench-node';
/** The topics a production cluster has; the agent checks at start-up that `metrics` exists. */
const TOPIC_PARTITIONS = { metrics: 12, logs: 2, 'kansoku-dead-letter': 1, 'alarm-state-transitions': 1 } as const;
/** Counts envelopes (one per measurement) the bus accepted, however many share a Kafka message. */
const PUBLISHED_COUNTER = 'kansoku_agent_published_total';
/**
 * Scrapes at either edge of the window may be collected but not yet published, or
 * published before the counter was read; the delivery check forgives that many.
 */
const EDGE_SCRAPES = 2;

export type ExpositionFormat = 'protobuf' | 'text';

export interface AgentProcessInput {
  /** The kubelet page both scrape. */
  readonly page: string;
  /** e.g. "k8s 1.25 kubelet /metrics/cadvisor", for the row names. */
  readonly pageLabel: string;
  /**
   * Cumulative measurements the agent makes of one scrape of `page` (631 for the k8s 1.25
   * page): the floor of what it must publish per scrape (rates and percentages come on top).
   */
  readonly measurementsPerScrape: number;
  /** Samples on `page` (2,985 for the k8s 1.25 page); Prometheus must ingest all of them. */
  readonly samplesPerScrape: number;
  readonly intervalSeconds: number;
  readonly windowMs: number;
  /** One agent per format, all in the same window; the first is the one the goal is about. */
  readonly formats: readonly ExpositionFormat[];
}

export interface BenchAgentOptions {
  readonly format: ExpositionFormat;
  readonly intervalSeconds: number;
  readonly nodeArgs?: readonly string[];
}

/** One agent process publishing to a mock Kafka cluster, with its own kubelet stand-in. */
export interface BenchAgent {
  readonly process: BuiltKansoku;
  readonly telemetryUrl: string;
  /** Requests the agent's kubelet stand-in has served. */
  readonly scrapes: () => number;
  /** `kansoku_agent_published_total` summed over its label sets. */
  published(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Starts the mock cluster, a kubelet stand-in and `node NODE_ARGS dist/cmd/kansoku.js agent`
 * (dist/ must be built), and waits until the agent has published. Also used by hand, e.g.
 * with `--cpu-prof` in `nodeArgs`, to profile the agent under the bench's load.
 */
export async function startBenchAgent(page: string, options: BenchAgentOptions): Promise<BenchAgent> {
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async (): Promise<void> => {
    for (const stop of stops.splice(0).reverse()) await stop();
  };
  try {
    const cluster: KafkaMockCluster = await startKafkaMockCluster({ brokers: 3, topics: TOPIC_PARTITIONS });
    stops.push(() => cluster.stop());
    const kubelet = await serveKubeletPage(page);
    stops.push(() => kubelet.close());
    const apiServer = new KubernetesApiStandIn({ pods: podsForPage(page, NODE_NAME) });
    await apiServer.start();
    stops.push(() => apiServer.close());
    const dir = mkdtempSync(join(tmpdir(), 'kansoku-bench-agent-'));
    stops.push(() => Promise.resolve(rmSync(dir, { recursive: true, force: true })));
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, apiServer.kubeConfig().exportConfig());
    const telemetryPort = await freePort();
    const telemetryUrl = `http://127.0.0.1:${telemetryPort}`;
    const agent = startBuiltKansoku(
      ['agent'],
      {
        KANSOKU_BUS__KIND: 'kafka',
        KANSOKU_KAFKA_BROKERS: cluster.brokers.join(','),
        KANSOKU_AGENT__KUBELET__ENABLED: 'true',
        KANSOKU_AGENT__KUBELET__URL: kubelet.url,
        KANSOKU_AGENT__KUBELET__FORMAT: options.format,
        KANSOKU_AGENT__KUBERNETES__ENABLED: 'true',
        KANSOKU_AGENT__KUBERNETES__KUBECONFIG: kubeconfig,
        KANSOKU_AGENT__KUBERNETES__POD_LABELS: 'app',
        KANSOKU_AGENT__RATES__ENABLED: 'true',
        KANSOKU_AGENT__INTERVAL_SECONDS: String(options.intervalSeconds),
        KANSOKU_AGENT__TELEMETRY__PORT: String(telemetryPort),
        KANSOKU_AGENT__HOSTNAME: NODE_NAME,
        KANSOKU_LOG_LEVEL: 'warn',
      },
      options.nodeArgs ?? [],
    );
    stops.push(() => agent.stop(STOP_DEADLINE_MS));
    const published = (): Promise<number> => readCounter(`${telemetryUrl}/metrics`, PUBLISHED_COUNTER);
    await until(`the agent to publish to Kafka (${PUBLISHED_COUNTER} > 0 at ${telemetryUrl}/metrics)`, async () => {
      if (agent.exited()) throw new Error(`the agent exited (${String(agent.child.exitCode ?? agent.child.signalCode)}) before publishing:\n${agent.output()}`);
      return (await published().catch(() => 0)) > 0;
    }, () => agent.output());
    if (kubelet.served(options.format) === 0) throw new Error(`the agent did not read the page as ${options.format}`);
    return { process: agent, telemetryUrl, scrapes: kubelet.requests, published, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

interface Snapshot {
  readonly cpuTicks: number;
  readonly scrapes: number;
}

interface Measured {
  readonly cpuMsPerScrape: number;
  readonly rssMedianMb: number;
  readonly rssMaxMb: number;
}

/** Empty, after a loud message on stderr, when Prometheus is not installed. */
export async function measureAgentProcess(input: AgentProcessInput): Promise<BenchResult[]> {
  if (!prometheusInstalled()) {
    console.error(
      `\n!!! ${PROMETHEUS} is missing: the agent-process rows against Prometheus are SKIPPED.\n!!! Install the Debian package "${PROMETHEUS_PACKAGE}" (apt-get install -y ${PROMETHEUS_PACKAGE}) to measure them.\n`,
    );
    return [];
  }
  if (input.measurementsPerScrape <= 0) throw new Error(`the page maps to ${input.measurementsPerScrape} measurements; a delivery check against that proves nothing`);
  await buildKansoku();
  const ticksPerSecond = clockTicksPerSecond();
  const { intervalSeconds } = input;
  const stops: (() => Promise<void>)[] = [];
  try {
    const agents: { format: ExpositionFormat; agent: BenchAgent }[] = [];
    for (const format of input.formats) {
      const agent = await startBenchAgent(input.page, { format, intervalSeconds });
      stops.push(() => agent.stop());
      agents.push({ format, agent });
    }
    const prometheusKubelet = await serveKubeletPage(input.page, { protobuf: false });
    stops.push(() => prometheusKubelet.close());
    const prometheus = await startPrometheus({ targetUrl: prometheusKubelet.url, scrapeIntervalSeconds: intervalSeconds, honorTimestamps: false });
    stops.push(() => prometheus.stop());
    await until(`Prometheus to report its target up (up{job="${PROMETHEUS_JOB}"} == 1)`, async () => (await targetUp(prometheus)) === 1, () => prometheus.output());

    await sleep(Math.max(WARMUP_MS, 3 * intervalSeconds * 1000));

    // Counters are read just outside the window, with the scrapes served up to then.
    const before = await Promise.all(agents.map(async ({ agent }) => ({ published: await agent.published(), scrapes: agent.scrapes() })));
    const prometheusScrapesStoredBefore = await scrapesStored(prometheus);

    const snapshot = (pid: number, scrapes: () => number): Snapshot => ({ cpuTicks: cpuTicks(pid), scrapes: scrapes() });
    const starts = agents.map(({ agent }) => snapshot(agent.process.pid, agent.scrapes));
    const prometheusStart = snapshot(prometheus.pid, prometheusKubelet.requests);
    const agentRss: number[][] = agents.map(() => []);
    const prometheusRss: number[] = [];
    let sampleError: unknown;
    const sampleRss = (): void => {
      try {
        agents.forEach(({ agent }, i) => agentRss[i]?.push(rssBytes(agent.process.pid)));
        prometheusRss.push(rssBytes(prometheus.pid));
      } catch (error) {
        // Thrown inside the interval it would end the bench without stopping the processes.
        sampleError ??= error;
      }
    };
    sampleRss();
    const windowStartMs = performance.now();
    const sampler = setInterval(sampleRss, RSS_SAMPLE_EVERY_MS);
    try {
      await sleep(input.windowMs);
    } finally {
      clearInterval(sampler);
    }
    for (const { agent } of agents) if (agent.process.exited()) throw new Error(`an agent exited during the window:\n${agent.process.output()}`);
    if (sampleError !== undefined) throw new Error(`reading a process's RSS failed during the window (did it exit?): ${(sampleError as Error).message}\nPrometheus output:\n${prometheus.output()}`);
    const ends = agents.map(({ agent }) => snapshot(agent.process.pid, agent.scrapes));
    const prometheusEnd = snapshot(prometheus.pid, prometheusKubelet.requests);
    const windowSeconds = (performance.now() - windowStartMs) / 1000;
    sampleRss();

    for (const [i, { agent, format }] of agents.entries()) {
      const publishedAfter = await agent.published();
      const start = before[i] ?? { published: 0, scrapes: 0 };
      const scrapesCounted = agent.scrapes() - start.scrapes;
      const required = input.measurementsPerScrape * (scrapesCounted - EDGE_SCRAPES);
      if (publishedAfter - start.published < required || ends[i]?.scrapes === starts[i]?.scrapes) {
        throw new Error(
          `the ${format} agent did not deliver what it scraped: ${PUBLISHED_COUNTER} grew by ${publishedAfter - start.published} over ${scrapesCounted} scrapes, ` +
            `short of ${required} (${input.measurementsPerScrape} measurements × (${scrapesCounted} − ${EDGE_SCRAPES})); its figures would measure an agent that publishes nothing.\n` +
            `agent output:\n${agent.process.output()}`,
        );
      }
    }
    await checkPrometheusDidTheWork(prometheus, input.samplesPerScrape, prometheusScrapesStoredBefore, prometheusEnd.scrapes - prometheusStart.scrapes);

    const measure = (start: Snapshot, end: Snapshot, rss: number[]): Measured => ({
      cpuMsPerScrape: ((end.cpuTicks - start.cpuTicks) * (1000 / ticksPerSecond)) / (end.scrapes - start.scrapes),
      rssMedianMb: median(rss) / BYTES_PER_MB,
      rssMaxMb: Math.max(...rss) / BYTES_PER_MB,
    });
    const theirs = measure(prometheusStart, prometheusEnd, prometheusRss);
    // CPU time, unlike wall time, hardly depends on other load, but caches and cores do: say how busy the machine was.
    const summary = (start: Snapshot, end: Snapshot): string => `${end.scrapes - start.scrapes} scrapes, ${(((end.cpuTicks - start.cpuTicks) / ticksPerSecond / windowSeconds) * 100).toFixed(1)} % of a core`;
    const ours = agents.map(({ format }, i) => {
      const start = starts[i] as Snapshot;
      const end = ends[i] as Snapshot;
      console.error(`agent (${format}) over ${windowSeconds.toFixed(1)} s: ${summary(start, end)}`);
      return { format, measured: measure(start, end, agentRss[i] ?? []) };
    });
    console.error(`Prometheus: ${summary(prometheusStart, prometheusEnd)}; 1-minute load average ${(loadavg()[0] ?? NaN).toFixed(1)}`);

    const workload = `${input.pageLabel} every ${intervalSeconds} s, enrichment and rates on`;
    const baseline = `Prometheus 2.42 scraping the same page every ${intervalSeconds} s into its TSDB`;
    const rows = ours.flatMap(({ format, measured }) => [
      benchResult({ name: `agent process CPU per scrape (${format}), ${workload} → Kafka`, unit: 'ms CPU/scrape', value: measured.cpuMsPerScrape, baseline, baseline_value: theirs.cpuMsPerScrape, goal: '<= 1.0x Prometheus' }),
      benchResult({ name: `agent process RSS (${format}), median over ${input.windowMs / 1000} s, ${workload}`, unit: 'MB', value: measured.rssMedianMb, baseline, baseline_value: theirs.rssMedianMb, goal: `<= ${RSS_GOAL_MB} MB` }),
      benchResult({ name: `agent process RSS (${format}), max over ${input.windowMs / 1000} s, ${workload}`, unit: 'MB', value: measured.rssMaxMb, baseline, baseline_value: theirs.rssMaxMb, goal: `<= ${RSS_GOAL_MB} MB` }),
    ]);
    const protobuf = ours.find((o) => o.format === 'protobuf');
    const text = ours.find((o) => o.format === 'text');
    if (protobuf && text) {
      rows.push(benchResult({ name: `agent process CPU per scrape, protobuf against text, ${workload}`, unit: 'ms CPU/scrape', value: protobuf.measured.cpuMsPerScrape, baseline: 'the same agent asking for text', baseline_value: text.measured.cpuMsPerScrape, goal: 'report' }));
    }
    return rows;
  } finally {
    for (const stop of stops.reverse()) await stop();
  }
}

async function targetUp(prometheus: RunningPrometheus): Promise<number | undefined> {
  return (await prometheus.query(`up{job="${PROMETHEUS_JOB}"}`))[0]?.value;
}

/** The scrapes Prometheus has stored for the target (one `up` sample each). */
async function scrapesStored(prometheus: RunningPrometheus): Promise<number> {
  return (await prometheus.query(`count_over_time(up{job="${PROMETHEUS_JOB}"}[1h])`))[0]?.value ?? 0;
}

async function checkPrometheusDidTheWork(prometheus: RunningPrometheus, samplesPerScrape: number, storedBefore: number, scrapesServed: number): Promise<void> {
  const up = await targetUp(prometheus);
  const stored = (await scrapesStored(prometheus)) - storedBefore;
  const samples = (await prometheus.query(`scrape_samples_scraped{job="${PROMETHEUS_JOB}"}`))[0]?.value;
  const problems = [
    up === 1 ? '' : `up is ${String(up)}, not 1`,
    scrapesServed > 0 && stored >= scrapesServed - EDGE_SCRAPES ? '' : `it stored ${stored} scrapes while its stand-in served ${scrapesServed}`,
    samples === samplesPerScrape ? '' : `scrape_samples_scraped is ${String(samples)}, not the page's ${samplesPerScrape}`,
  ].filter((problem) => problem !== '');
  if (problems.length > 0) throw new Error(`Prometheus did not do the work it is compared on: ${problems.join('; ')}.\nPrometheus output:\n${prometheus.output()}`);
}

/** The sum of `name` over its label sets on a Prometheus text page. */
async function readCounter(url: string, name: string): Promise<number> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  if (!response.ok) throw new Error(`GET ${url} answered ${response.status}`);
  return counterValue(await response.text(), name);
}

async function until(what: string, done: () => Promise<boolean>, output: () => string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`gave up after ${START_TIMEOUT_MS} ms waiting for ${what}:\n${output()}`);
    await sleep(250);
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[middle] ?? NaN) : ((sorted[middle - 1] ?? NaN) + (sorted[middle] ?? NaN)) / 2;
}
