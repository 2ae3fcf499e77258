/**
 * Container log lines from a file to Kafka: the whole `kansoku agent` process against
 * rsyslog (imfile → omkafka) shipping the same file, each on a fresh mock cluster of the
 * same shape, one after the other in the same run.
 *
 * - The file (containerLogFile.ts) is written once before anything is timed: 1,000,000
 *   CRI lines of ~170 bytes, 5 % of them lines of 10-line Java stack traces.
 * - Kansoku is built with `tsc -p tsconfig.build.json` and run as a user runs it,
 *   `node dist/cmd/kansoku.js agent`, following the file from its beginning (a fresh
 *   checkpoint file) and publishing to librdkafka's mock cluster (3 brokers). It is done
 *   when its `/metrics` (polled every `POLL_MS`) says it read every line
 *   (`kansoku_agent_log_lines_total`) and Kafka acknowledged every record
 *   (`kansoku_agent_published_total{topic="logs"}`): the stack traces joined, 955,000.
 * - rsyslog (rsyslogProcess.ts) reads the same file with imfile from its beginning and
 *   sends every line as one message with omkafka; it is done when the topic's high
 *   watermarks (polled every `POLL_MS` through a kafkajs admin client) add up to the
 *   lines.
 *
 * Each is timed from its spawn to done, start-up included, as a user waits for it. CPU is
 * utime + stime of the process (all its threads) from /proc when done, peak RSS its VmHWM.
 * The two alternate (`ROUNDS` each, the first in turn), and each figure is the mean, so that
 * a machine that gets busier or quieter favours neither. The page cache holds the file for
 * both: neither pays for the disk.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { createKafka } from '../bus/kafka/kafkaClient.js';
import { startKafkaMockCluster, type KafkaMockCluster } from '../test/kafka/mockCluster.js';
import { buildKansoku, startBuiltKansoku } from '../test/support/builtKansoku.js';
import { freePort } from '../test/support/kansokuProcess.js';
import { clockTicksPerSecond, cpuTicks } from '../test/support/procStat.js';
import { writeContainerLogFile, TRACE_EVERY, TRACE_LINES, type ContainerLogFile } from './containerLogFile.js';
import { benchResult, type BenchResult } from './harness.js';
import { ensureRsyslogInstalled, OMKAFKA_PRODUCER_SETTINGS, startRsyslog } from './rsyslogProcess.js';

export const LOG_LINES = 1_000_000;
const ROUNDS = 2;
const BROKERS = 3;
/** The topics a production cluster has; the agent checks at start-up that `logs` exists. */
const TOPIC_PARTITIONS = { metrics: 12, logs: 2, 'kansoku-dead-letter': 1, 'alarm-state-transitions': 1 } as const;
const LOGS_TOPIC = 'logs';
const POLL_MS = 50;
/** Either must make progress at least this often (start-up included), or the run is given up. */
const STALL_MS = 60_000;
/** Long enough for a profiled agent to write its profile on the way out. */
const STOP_DEADLINE_MS = 30_000;
const LINES_GOAL_PER_SECOND = 150_000;
const BYTES_PER_MB = 1e6;

export interface ShipperRun {
  readonly wallMs: number;
  readonly cpuSeconds: number;
  readonly peakRssBytes: number;
  readonly lines: number;
  /** Records the shipper made of the lines (stack traces joined by Kansoku; one per line for rsyslog). */
  readonly records: number;
  /** Kafka messages on the topic when done. */
  readonly messages: number;
}

/** VmHWM: the largest resident set the process has had. */
function peakRssBytes(pid: number): number {
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match?.[1]) throw new Error(`/proc/${pid}/status has no VmHWM line (has the process exited?)`);
  return Number(match[1]) * 1024;
}

/**
 * The sum of `name` over the label sets of a Prometheus text page that have every label
 * of `labels`; 0 when there is none.
 */
export function sampleSum(page: string, name: string, labels: Readonly<Record<string, string>> = {}): number {
  const wanted = Object.entries(labels).map(([label, value]) => `${label}="${value}"`);
  let sum = 0;
  for (const line of page.split('\n')) {
    if (!(line.startsWith(`${name} `) || line.startsWith(`${name}{`))) continue;
    const labelText = line.startsWith(`${name}{`) ? line.slice(name.length + 1, line.lastIndexOf('}')) : '';
    if (wanted.every((pair) => labelText.split(',').includes(pair))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

async function topicMessages(admin: ReturnType<ReturnType<typeof createKafka>['admin']>, topic: string): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((sum, { high }) => sum + Number(high), 0);
}

/** A fresh mock cluster, and a connected admin client on it. */
async function freshCluster(): Promise<{ cluster: KafkaMockCluster; admin: ReturnType<ReturnType<typeof createKafka>['admin']>; close(): Promise<void> }> {
  const cluster = await startKafkaMockCluster({ brokers: BROKERS, topics: TOPIC_PARTITIONS });
  const admin = createKafka({ brokers: cluster.brokers, clientId: 'kansoku-bench-admin' }).admin();
  try {
    await admin.connect();
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return {
    cluster,
    admin,
    close: async () => {
      await admin.disconnect();
      await cluster.stop();
    },
  };
}

/** Polls `progress` until `done` says so; throws when it stalls or `failed` says the process is gone. */
async function untilDone(what: string, progress: () => Promise<number>, done: () => boolean, failed: () => string | undefined): Promise<void> {
  let last = { value: -1, ms: performance.now() };
  for (;;) {
    const problem = failed();
    if (problem !== undefined) throw new Error(problem);
    const value = await progress();
    if (done()) return;
    const nowMs = performance.now();
    if (value > last.value) last = { value, ms: nowMs };
    else if (nowMs - last.ms > STALL_MS) throw new Error(`${what} made no progress for ${STALL_MS / 1000} s (at ${value})`);
    await sleep(POLL_MS);
  }
}

/**
 * `kansoku agent` following `file` from its beginning onto a fresh mock cluster, until
 * Kafka has acknowledged every record. dist/ must be built. `nodeArgs` (e.g. `--cpu-prof`)
 * is for profiling the agent under this load by hand.
 */
export async function runKansokuAgent(file: ContainerLogFile, nodeArgs: readonly string[] = []): Promise<ShipperRun> {
  const dir = mkdtempSync(join(tmpdir(), 'kansoku-bench-agent-'));
  const kafka = await freshCluster();
  try {
    const telemetryPort = await freePort();
    const metricsUrl = `http://127.0.0.1:${telemetryPort}/metrics`;
    const startedMs = performance.now();
    const agent = startBuiltKansoku(
      ['agent'],
      {
        KANSOKU_BUS__KIND: 'kafka',
        KANSOKU_KAFKA_BROKERS: kafka.cluster.brokers.join(','),
        KANSOKU_AGENT__LOGS__ENABLED: 'true',
        KANSOKU_AGENT__LOGS__INCLUDE: file.include,
        KANSOKU_AGENT__LOGS__START_AT: 'beginning',
        KANSOKU_AGENT__LOGS__CHECKPOINT_PATH: join(dir, 'cp.json'),
        KANSOKU_AGENT__HOSTNAME: 'bench',
        KANSOKU_AGENT__TELEMETRY__PORT: String(telemetryPort),
        KANSOKU_LOG_LEVEL: 'warn',
      },
      nodeArgs,
    );
    try {
      let page = '';
      const lines = (): number => sampleSum(page, 'kansoku_agent_log_lines_total');
      const published = (): number => sampleSum(page, 'kansoku_agent_published_total', { topic: LOGS_TOPIC });
      const madeRecords = (): number => sampleSum(page, 'kansoku_agent_log_records_total');
      let doneMs = 0;
      let cpu = 0;
      let peak = 0;
      await untilDone(
        'the Kansoku agent',
        async () => {
          page = await fetch(metricsUrl, { signal: AbortSignal.timeout(5_000) })
            .then((response) => (response.ok ? response.text() : ''))
            .catch(() => ''); // not listening yet
          return lines() + published();
        },
        () => {
          // Every line read, and every record it made of them acknowledged: a record held for a continuation would still be missing.
          if (lines() < file.lines || published() < madeRecords() || published() < file.records) return false;
          doneMs = performance.now();
          cpu = cpuTicks(agent.pid);
          peak = peakRssBytes(agent.pid);
          return true;
        },
        () => (agent.exited() ? `the agent exited (${String(agent.child.exitCode ?? agent.child.signalCode)}) before shipping the file:\n${agent.output()}` : undefined),
      );
      const problems = [
        lines() === file.lines ? '' : `it read ${lines()} lines of ${file.lines}`,
        published() === madeRecords() ? '' : `it published ${published()} of the ${madeRecords()} records it made`,
        // Fewer records than that is lines lost or joined wrongly; more is a stack trace not joined whole (reported, not refused).
        published() >= file.records && published() <= file.lines ? '' : `it published ${published()} records where the file makes ${file.records} (${TRACE_LINES}-line stack traces joined)`,
        sampleSum(page, 'kansoku_agent_dropped_total') === 0 ? '' : `it dropped ${sampleSum(page, 'kansoku_agent_dropped_total')} records`,
      ].filter((problem) => problem !== '');
      if (problems.length > 0) throw new Error(`the agent did not ship the file as written: ${problems.join('; ')}.\nagent output:\n${agent.output()}`);
      if (published() > file.records) {
        console.error(`the agent made ${published() - file.records} records more than the file's ${file.records.toLocaleString('en-US')}: stack traces it did not join whole`);
      }
      return { wallMs: doneMs - startedMs, cpuSeconds: cpu / clockTicksPerSecond(), peakRssBytes: peak, lines: lines(), records: published(), messages: await topicMessages(kafka.admin, LOGS_TOPIC) };
    } finally {
      await agent.stop(STOP_DEADLINE_MS);
    }
  } finally {
    await kafka.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** rsyslogd shipping `file` from its beginning onto a fresh mock cluster, until the topic holds every line. */
export async function runRsyslog(file: ContainerLogFile): Promise<ShipperRun> {
  const kafka = await freshCluster();
  try {
    const startedMs = performance.now();
    const rsyslog = await startRsyslog({ file: file.path, brokers: kafka.cluster.brokers, topic: LOGS_TOPIC });
    try {
      let messages = 0;
      let doneMs = 0;
      let cpu = 0;
      let peak = 0;
      await untilDone(
        'rsyslog',
        async () => (messages = await topicMessages(kafka.admin, LOGS_TOPIC)),
        () => {
          if (messages < file.lines) return false;
          doneMs = performance.now();
          cpu = cpuTicks(rsyslog.pid);
          peak = peakRssBytes(rsyslog.pid);
          return true;
        },
        () => (rsyslog.exited() ? `rsyslogd exited (${String(rsyslog.child.exitCode ?? rsyslog.child.signalCode)}) before shipping the file:\n${rsyslog.output()}\nconfiguration:\n${rsyslog.config}` : undefined),
      );
      if (messages !== file.lines) throw new Error(`rsyslog put ${messages} messages on ${LOGS_TOPIC} for ${file.lines} lines`);
      return { wallMs: doneMs - startedMs, cpuSeconds: cpu / clockTicksPerSecond(), peakRssBytes: peak, lines: messages, records: messages, messages };
    } finally {
      await rsyslog.stop();
    }
  } finally {
    await kafka.close();
  }
}

function mean(runs: readonly ShipperRun[], figure: (run: ShipperRun) => number): number {
  return runs.reduce((sum, run) => sum + figure(run), 0) / runs.length;
}

function describe(label: string, run: ShipperRun): string {
  return (
    `${label}: ${Math.round(run.lines / (run.wallMs / 1000)).toLocaleString('en-US')} lines/s (${(run.wallMs / 1000).toFixed(2)} s), ` +
    `${((run.cpuSeconds * 1e6) / run.lines).toFixed(2)} CPU-s per million lines (${((run.cpuSeconds / (run.wallMs / 1000)) * 100).toFixed(0)} % of a core), ` +
    `peak RSS ${(run.peakRssBytes / BYTES_PER_MB).toFixed(0)} MB, ${run.records.toLocaleString('en-US')} records in ${run.messages.toLocaleString('en-US')} Kafka messages; ` +
    `1-minute load average ${(loadavg()[0] ?? NaN).toFixed(1)}`
  );
}

const verdict = (met: boolean): string => (met ? 'met' : 'MISSED');

/** The file → Kafka rows: Kansoku's agent against rsyslog, or Kansoku alone with the reason when rsyslog could not be run. */
/** `lines` is for trying the bench at a smaller scale by hand (a multiple of 200); the rows are measured at `LOG_LINES`. */
export async function measureLogsToKafka(lines = LOG_LINES): Promise<BenchResult[]> {
  const installed = await ensureRsyslogInstalled();
  if (!installed.ok) {
    console.error(`\n!!! rsyslog could not be installed: the logs peer rows are NOT MEASURED.\n!!! ${installed.reason}\n!!! Kansoku's agent runs alone; its rows say that the peer was not run.\n`);
  }
  await buildKansoku();
  const root = mkdtempSync(join(tmpdir(), 'kansoku-bench-logs-'));
  try {
    const file = writeContainerLogFile(root, lines);
    console.error(`logs → Kafka: ${file.lines.toLocaleString('en-US')} lines, ${(file.bytes / BYTES_PER_MB).toFixed(0)} MB (${(file.bytes / file.lines).toFixed(0)} bytes a line), ${file.records.toLocaleString('en-US')} records once stack traces are joined: ${file.path}`);
    const ours: ShipperRun[] = [];
    const theirs: ShipperRun[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate who goes first, so that a drifting machine favours neither.
      const kansokuRun = async (): Promise<void> => {
        const run = await runKansokuAgent(file);
        console.error(describe(`Kansoku agent, round ${round + 1}`, run));
        ours.push(run);
      };
      const rsyslogRun = async (): Promise<void> => {
        if (!installed.ok) return;
        const run = await runRsyslog(file);
        console.error(describe(`rsyslog ${installed.version}, round ${round + 1}`, run));
        theirs.push(run);
      };
      if (round % 2 === 0) {
        await kansokuRun();
        await rsyslogRun();
      } else {
        await rsyslogRun();
        await kansokuRun();
      }
    }
    return rows(file, ours, theirs, installed.ok ? `rsyslog ${installed.version}` : undefined, installed.ok ? '' : installed.reason);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

function rows(file: ContainerLogFile, ours: readonly ShipperRun[], theirs: readonly ShipperRun[], peer: string | undefined, notRunReason: string): BenchResult[] {
  const linesPerSecond = (runs: readonly ShipperRun[]): number => file.lines / (mean(runs, (run) => run.wallMs) / 1000);
  const cpuPerMillion = (runs: readonly ShipperRun[]): number => (mean(runs, (run) => run.cpuSeconds) * 1e6) / file.lines;
  const linesPerCpuSecond = (runs: readonly ShipperRun[]): number => file.lines / mean(runs, (run) => run.cpuSeconds);
  const peakRssMb = (runs: readonly ShipperRun[]): number => Math.max(...runs.map((run) => run.peakRssBytes)) / BYTES_PER_MB;
  const workload =
    `one file of ${file.lines.toLocaleString('en-US')} CRI lines (~${Math.round(file.bytes / file.lines)} bytes: nginx, JSON, klog, plain, ` +
    `a ${TRACE_LINES}-line Java stack trace every ${TRACE_EVERY} lines) from its beginning → Kafka (mock, ${BROKERS} brokers, acks=all)`;
  const kansoku = `kansoku agent process, ${workload}; ${file.records.toLocaleString('en-US')} records (stack traces joined), start-up included, mean of ${ours.length} runs`;
  const baseline =
    peer === undefined
      ? `rsyslog imfile → omkafka NOT RUN: ${notRunReason}`
      : `${peer} imfile → omkafka, the same file, one message per line (${OMKAFKA_PRODUCER_SETTINGS.topic.join(', ')}, ${OMKAFKA_PRODUCER_SETTINGS.producer.join(', ')}), start-up included, mean of ${theirs.length} runs`;
  const peerValue = (figure: (runs: readonly ShipperRun[]) => number): number => (theirs.length > 0 ? figure(theirs) : NaN);
  const throughput = linesPerSecond(ours);
  const perCpu = linesPerCpuSecond(ours);
  const peerPerCpu = peerValue(linesPerCpuSecond);
  const perCpuMet = theirs.length > 0 ? verdict(perCpu >= peerPerCpu) : 'not measured (no peer)';
  return [
    benchResult({ name: `lines/s, ${kansoku}`, unit: 'lines/s', value: throughput, baseline, baseline_value: peerValue(linesPerSecond), goal: `>= ${LINES_GOAL_PER_SECOND.toLocaleString('en-US')} lines/s: ${verdict(throughput >= LINES_GOAL_PER_SECOND)}` }),
    benchResult({ name: `lines per CPU-second (utime + stime), ${kansoku}`, unit: 'lines/CPU-s', value: perCpu, baseline, baseline_value: peerPerCpu, goal: `>= 1.0x rsyslog: ${perCpuMet}` }),
    benchResult({ name: `CPU-seconds per million lines, ${kansoku}`, unit: 'CPU-s/1M lines', value: cpuPerMillion(ours), baseline, baseline_value: peerValue(cpuPerMillion), goal: `<= 1.0x rsyslog (the same goal): ${perCpuMet}` }),
    benchResult({ name: `records published per second, ${kansoku}`, unit: 'records/s', value: file.records / (mean(ours, (run) => run.wallMs) / 1000), baseline: `${baseline}: one record per line`, baseline_value: peerValue(linesPerSecond), goal: 'informational: the records Kafka acknowledged' }),
    benchResult({ name: `peak RSS (VmHWM), largest of the runs, ${kansoku}`, unit: 'MB', value: peakRssMb(ours), baseline, baseline_value: peerValue(peakRssMb), goal: 'informational' }),
  ];
}
