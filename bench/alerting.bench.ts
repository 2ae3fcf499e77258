/**
 * The alert engine against 10,000 definitions with `match_by: [hostname]` (1,000 tenants ×
 * 10 definitions, 10 hosts each: 100,000 alarms), all in one run:
 *
 * 1. Throughput: the whole engine (`AlarmEngine` on the in-process bus, a SQLite file
 *    store, checkpoint per batch) in its own process (bench/alertingEngineChild.ts), fed
 *    the agent's batched messages as fast as it takes them; measurements/s, CPU per 1k
 *    measurements and RSS over the window after a warm-up (goal ≥ 500,000/s).
 * 2. Latency: a fresh engine process fed a steady stream at about half the rate it just
 *    sustained, one measurement per series per period, with 2 % of the series flipping
 *    across the threshold every period so that every window close makes transitions; per
 *    transition, the time its checkpoint committed minus (the end of the slot it decided
 *    + delay_ms): p50, p99, max (goal p99 ≤ 1 s). The period is the smallest that keeps the
 *    stream at half the sustained rate; the engine accepts any period for stored definitions.
 * 3. The peer: Prometheus 2.42 scraping the same 100,000 series and evaluating one
 *    alerting rule per definition (bench/alertingPrometheus.ts); its rule CPU per series
 *    evaluated against the engine's evaluate() CPU per alarm decided.
 * 4. Micro rows, in this process: AlarmEvaluator.ingest alone on the same measurements,
 *    and the batched wire's decoding (unframe + metricCodec) alone.
 */
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { metricCodec } from '../core/codec.js';
import { Counters } from '../core/counters.js';
import { unframe } from '../bus/wire.js';
import { AlarmEvaluator } from '../alerting/evaluation/alarmEvaluator.js';
import type { AlarmDefinitionRecord } from '../alerting/store/alarmStore.js';
import { prometheusInstalled, PROMETHEUS, PROMETHEUS_PACKAGE } from '../test/support/prometheusProcess.js';
import { definitions, envelopes, framedRound, HEADLINE_SHAPE, seriesCount, stamp, type AlertingLoadShape } from './alertingLoad.js';
import type { EngineRunOptions, EngineRunResult } from './alertingEngineChild.js';
import { measurePrometheusPeer, type PrometheusPeerResult } from './alertingPrometheus.js';
import { benchResult, medianMs, type BenchResult } from './harness.js';

const CHILD = fileURLToPath(new URL('./alertingEngineChild.ts', import.meta.url));
const THROUGHPUT_GOAL = 500_000;
const LATENCY_P99_GOAL_MS = 1_000;
const THROUGHPUT_PERIOD_SECONDS = 60;
// Periods longer than delay_ms only: a window keeps two slots ahead of its view, so with a period ≤ delay_ms a
// measurement stamped now can land past them and is refused as too new (the engine counts it).
const LATENCY_PERIODS_SECONDS = [15, 20, 30, 60] as const;
const FLIP_EVERY = 50;
const DELAY_MS = 10_000;
const PROMETHEUS_INTERVAL_SECONDS = 10;
const BYTES_PER_MB = 1e6;

/** A row with its goal decided: `met` says whether the value reached it. */
type GoalRow = BenchResult & { readonly met: boolean | null; readonly note?: string };

function row(fields: Omit<BenchResult, 'ratio'>, met: boolean | null, note?: string): GoalRow {
  return { ...benchResult(fields), met, ...(note !== undefined ? { note } : {}) };
}

function runEngine(options: EngineRunOptions, nodeArgs: readonly string[] = []): EngineRunResult {
  // Synchronous on purpose: nothing else in this process should run while the child is timed.
  const stdout = execFileSync(process.execPath, [...nodeArgs, '--import', 'tsx', CHILD, JSON.stringify(options)], { encoding: 'utf8', maxBuffer: 256 * 2 ** 20, stdio: ['ignore', 'pipe', 'inherit'] });
  const last = stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(last) as EngineRunResult;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

function load(): string {
  const [one, five] = loadavg();
  return `load average ${(one ?? NaN).toFixed(1)} (1 min), ${(five ?? NaN).toFixed(1)} (5 min) on this machine's cores`;
}

/** The evaluator alone, in this process: ingest of the same measurements, decoded beforehand. */
export function microRows(shape: AlertingLoadShape): GoalRow[] {
  const counters = new Counters();
  const evaluator = new AlarmEvaluator({ delayMs: DELAY_MS, maxAlarms: 1_000_000, maxMetricsPerAlarm: 100 }, counters);
  const nowMs = Date.now();
  let n = 0;
  const records: AlarmDefinitionRecord[] = [...definitions(shape)].map((d) => ({ ...d, id: `definition-${n++}`, createdAtMs: nowMs, updatedAtMs: nowMs }));
  evaluator.setDefinitions(records, nowMs);
  const round = envelopes(shape, nowMs).map((e) => ({ ...e, metric: { ...e.metric, timestamp: nowMs } }));
  for (const e of round) evaluator.ingest(e.meta.tenantId, e.metric, 0, nowMs);
  if (evaluator.alarmCount !== round.length) throw new Error(`the evaluator made ${evaluator.alarmCount} alarms of ${round.length} series`);
  // takeChanged is part of every batch the engine checkpoints; without it the marks pile up.
  const ingestMs = medianMs(() => {
    for (const e of round) evaluator.ingest(e.meta.tenantId, e.metric, 0, nowMs);
    const changed = evaluator.takeChanged();
    return changed.alarms.length + changed.windows.length;
  });
  const framed = framedRound(shape, nowMs);
  for (const call of framed) stamp(call, nowMs, false);
  const decodeMs = medianMs(() => {
    let records = 0;
    for (const call of framed) for (const message of call.messages) {
      const decoded = unframe(message.value as Buffer, message.headers, metricCodec);
      if (decoded.ok) records += decoded.records.length;
    }
    return records;
  });
  const perSecond = (ms: number): number => round.length / (ms / 1000);
  return [
    row(
      { name: 'AlarmEvaluator.ingest + takeChanged alone (pure, in-process), 100,000 alarms, one measurement per series', unit: 'measurements/s', value: perSecond(ingestMs), baseline: 'decoding the same measurements from the batched wire (unframe + metricCodec)', baseline_value: perSecond(decodeMs), goal: 'report' },
      null,
      'What the engine could do with no store and no decoding; the ratio says whether evaluation or decoding is the heavier half of the in-memory work.',
    ),
  ];
}

export async function run(): Promise<BenchResult[]> {
  const rows: GoalRow[] = [];
  const series = seriesCount(HEADLINE_SHAPE);

  // 1. Throughput.
  const throughputShape: AlertingLoadShape = { ...HEADLINE_SHAPE, periodSeconds: THROUGHPUT_PERIOD_SECONDS, flipEvery: 0 };
  const loadBefore = load();
  const tp = runEngine({ mode: 'throughput', shape: throughputShape, warmupMs: 10_000, windowMs: 25_000 });
  const tpLoad = load();
  console.error(`alerting throughput run: ${JSON.stringify({ ...tp, latenciesMs: tp.latenciesMs.length })}`);
  checkEngineRun(tp, series);
  const sustained = tp.measurements / tp.windowSeconds;
  const cpuShare = tp.cpuMs / 1000 / tp.windowSeconds;
  console.error(`alerting throughput: ${Math.round(sustained)} measurements/s over ${tp.windowSeconds.toFixed(1)} s, ${(cpuShare * 100).toFixed(0)} % of a core; ${tpLoad}`);
  const workload = `10,000 definitions × match_by hostname = ${series.toLocaleString('en-US')} alarms, in-process bus (agent's batched wire) + SQLite file store`;
  const loadNote = `Before: ${loadBefore}; after: ${tpLoad}. The process got ${(cpuShare * 100).toFixed(0)} % of a core over the window: on a busy machine measurements/s falls with it, CPU per measurement much less.`;
  rows.push(
    row({ name: `engine process throughput, ${workload}`, unit: 'measurements/s', value: sustained, baseline: `goal ${THROUGHPUT_GOAL.toLocaleString('en-US')} measurements/s`, baseline_value: THROUGHPUT_GOAL, goal: `>= ${THROUGHPUT_GOAL.toLocaleString('en-US')} measurements/s per process` }, sustained >= THROUGHPUT_GOAL, loadNote),
    row(
      { name: `engine process CPU per 1k measurements, ${workload}`, unit: 'ms CPU/1k measurements', value: (tp.cpuMs / tp.measurements) * 1000, baseline: 'the goal rate on one core (1 s / 500 k × 1k)', baseline_value: 2, goal: '<= 2 ms (500 k/s on one core)' },
      (tp.cpuMs / tp.measurements) * 1000 <= 2,
      `Of which the store checkpoints (every 5 s, alerting.evaluation.checkpoint_interval_ms) took ${((tp.ingestCheckpoints.ms / (tp.windowSeconds * 1000)) * 100).toFixed(0)} % of the window's wall time (${tp.ingestCheckpoints.count} checkpoints, ${tp.ingestCheckpoints.alarms.toLocaleString('en-US')} alarm rows written: every alarm that had a measurement since the last, ${((tp.ingestCheckpoints.ms * 1000) / Math.max(1, tp.ingestCheckpoints.alarms)).toFixed(1)} µs each), and the in-process feeder (timestamp rewrite + the bus's copy on publish) ${((tp.feederMs / tp.cpuMs) * 100).toFixed(1)} % of the CPU.`,
    ),
    row({ name: `engine process alarms reached, ${workload}`, unit: 'alarms', value: tp.alarms, baseline: 'series × definitions matched (10 hosts × 10,000 definitions)', baseline_value: series, goal: '= 100,000' }, tp.alarms === series),
  );

  // 2. Latency, at about half the rate sustained above.
  const periodSeconds = LATENCY_PERIODS_SECONDS.find((p) => series / p <= sustained / 2) ?? 60;
  const latencyShape: AlertingLoadShape = { ...HEADLINE_SHAPE, periodSeconds, flipEvery: FLIP_EVERY };
  const latencyWindowMs = Math.max(30_000, 3 * periodSeconds * 1000 + 1_000);
  const lt = runEngine({ mode: 'latency', shape: latencyShape, warmupMs: periodSeconds * 1000 + DELAY_MS + 2_000, windowMs: latencyWindowMs });
  const ltLoad = load();
  console.error(`alerting latency run: ${JSON.stringify({ ...lt, latenciesMs: lt.latenciesMs.length })}`);
  checkEngineRun(lt, series);
  const lat = lt.latenciesMs;
  if (lat.length === 0) throw new Error('the latency run recorded no transition: nothing was measured');
  const streamRate = lt.measurements / lt.windowSeconds;
  console.error(`alerting latency: ${lat.length} transitions, p99 ${percentile(lat, 99).toFixed(0)} ms at ${Math.round(streamRate)} measurements/s, period ${periodSeconds} s; ${ltLoad}`);
  const latencyWorkload = `${workload}, period ${periodSeconds} s, ${Math.round(streamRate).toLocaleString('en-US')} measurements/s steady (${((streamRate / sustained) * 100).toFixed(0)} % of the sustained rate), ${(100 / FLIP_EVERY).toFixed(0)} % of the series crossing the threshold every period`;
  const closing = lt.evaluations.closing;
  const latencyNote =
    `${lat.length} transitions over ${lt.windowSeconds.toFixed(0)} s; latency = checkpoint committed − (end of the decided slot + delay_ms ${DELAY_MS} ms); the engine evaluates at the instant views close (and at least every 1,000 ms, alerting.evaluation.interval_ms), so no tick of waiting is built in. ` +
    `Where it goes: evaluate() on the ${closing.count} ticks that closed views took ${(closing.ms / Math.max(1, closing.count)).toFixed(0)} ms each (max ${closing.maxMs.toFixed(0)} ms) for ${series.toLocaleString('en-US')} alarms; ` +
    `the checkpoints that recorded transitions took ${(lt.evaluationCheckpoints.ms / Math.max(1, lt.evaluationCheckpoints.count)).toFixed(0)} ms each (${lt.evaluationCheckpoints.transitions} transitions, ${lt.evaluationCheckpoints.alarms} alarm rows); ` +
    `periodic checkpoints (windows and offsets, every 5 s, kept clear of the closes) took ${((lt.ingestCheckpoints.ms / (lt.windowSeconds * 1000)) * 100).toFixed(0)} % of the window (${(lt.ingestCheckpoints.ms / Math.max(1, lt.ingestCheckpoints.count)).toFixed(0)} ms each). ${ltLoad}.`;
  rows.push(
    row({ name: `window close → transition recorded, p50, ${latencyWorkload}`, unit: 'ms', value: percentile(lat, 50), baseline: 'the tick interval', baseline_value: 1_000, goal: 'report' }, null),
    row({ name: `window close → transition recorded, p99, ${latencyWorkload}`, unit: 'ms', value: percentile(lat, 99), baseline: 'the tick interval', baseline_value: 1_000, goal: `p99 <= ${LATENCY_P99_GOAL_MS} ms` }, percentile(lat, 99) <= LATENCY_P99_GOAL_MS, latencyNote),
    row({ name: `window close → transition recorded, max, ${latencyWorkload}`, unit: 'ms', value: lat[lat.length - 1] ?? NaN, baseline: 'the tick interval', baseline_value: 1_000, goal: 'report' }, null),
  );

  // 3. The peer: Prometheus evaluating equivalent rules over the same series.
  if (!prometheusInstalled()) {
    console.error(`\n!!! ${PROMETHEUS} is missing: the Prometheus peer rows are SKIPPED. Install the Debian package "${PROMETHEUS_PACKAGE}".\n`);
  } else {
    const peer = await measurePrometheusPeer({ shape: { ...HEADLINE_SHAPE, periodSeconds: THROUGHPUT_PERIOD_SECONDS }, intervalSeconds: PROMETHEUS_INTERVAL_SECONDS, warmupMs: 25_000, windowMs: 60_000 });
    const peerLoad = load();
    console.error(`alerting Prometheus peer: ${JSON.stringify(peer)}`);
    console.error(`Prometheus: rules ${peer.withRules.cpuMs.toFixed(0)} ms CPU / ${peer.withRules.windowSeconds.toFixed(0)} s, baseline ${peer.baseline.cpuMs.toFixed(0)} ms / ${peer.baseline.windowSeconds.toFixed(0)} s, ${peer.withRules.ruleEvaluations} rule evaluations; ${peerLoad}`);
    rows.push(...peerRows(peer, lt, tp, peerLoad));
  }

  // 4. The evaluator alone.
  rows.push(...microRows(throughputShape));
  return rows;
}

function peerRows(peer: PrometheusPeerResult, lt: EngineRunResult, tp: EngineRunResult, peerLoad: string): GoalRow[] {
  const closing = lt.evaluations.closing;
  const idle = lt.evaluations.idle;
  const kansokuDecideUs = (closing.ms / closing.alarmsEvaluated) * 1000;
  const kansokuIdleUs = (idle.ms / Math.max(1, idle.alarmsEvaluated)) * 1000;
  const evaluationStoreUs = (lt.evaluationCheckpoints.ms / Math.max(1, closing.alarmsEvaluated)) * 1000;
  const prometheusSamples = peer.baseline.scrapes * peer.series;
  const prometheusIngestUs = (peer.baseline.cpuMs / prometheusSamples) * 1000;
  const kansokuIngestUs = (tp.cpuMs / tp.measurements) * 1000;
  const baselineName = `Prometheus 2.42, ${peer.rules.toLocaleString('en-US')} rules avg by (hostname) (avg_over_time(m{tenant_id}[60s])) > 50 over the same ${peer.series.toLocaleString('en-US')} series, scrape and evaluation every ${PROMETHEUS_INTERVAL_SECONDS} s`;
  const comparable =
    `Comparable: both decide the same 100,000 (definition, hostname) groups against a threshold over a window. ` +
    `Not comparable: Prometheus re-reads ${60 / PROMETHEUS_INTERVAL_SECONDS} raw samples per series from its TSDB and runs PromQL each evaluation, while Kansoku reads one pre-aggregated slot per alarm; ` +
    `Kansoku's figure is the wall time of its synchronous evaluate() on ticks where every view closed (single-threaded JS, so wall ≈ CPU), without the store write of its transitions (${evaluationStoreUs.toFixed(2)} µs per alarm decided, ${lt.evaluationCheckpoints.transitions} transitions) ` +
    `or its idle ticks (${kansokuIdleUs.toFixed(3)} µs per alarm each second); Prometheus's is process CPU with rules minus without, ${peer.withRules.ruleEvaluations} rule evaluations × 10 series, ` +
    `firing no alert. Prometheus's rule evaluation is spread over goroutines; one round of all groups took ${peer.withRules.roundWallMs.toFixed(0)} ms of wall time summed over groups, ` +
    `and ${peer.withRules.missedIterations} of ${peer.withRules.groupIterations + peer.withRules.missedIterations} group iterations were missed (a group still busy at its next turn): ${peer.withRules.missedIterations > 0 ? 'Prometheus did not keep up with this rule load on this machine' : 'it kept up'}. ${peerLoad}.`;
  return [
    row({ name: 'evaluation CPU per alarm (Prometheus: per series) per evaluation, 100,000 alarms', unit: 'µs CPU/alarm/evaluation', value: kansokuDecideUs, baseline: baselineName, baseline_value: peer.ruleCpuUsPerSeries, goal: '<= 1.0x Prometheus' }, kansokuDecideUs <= peer.ruleCpuUsPerSeries, comparable),
    row(
      { name: 'ingest CPU per measurement: engine process (decode + windows + store checkpoint) against Prometheus scraping and storing a sample', unit: 'µs CPU/measurement', value: kansokuIngestUs, baseline: `Prometheus 2.42 without rules scraping the same ${peer.series.toLocaleString('en-US')} series every ${PROMETHEUS_INTERVAL_SECONDS} s into its TSDB`, baseline_value: prometheusIngestUs, goal: 'report' },
      null,
      'Not the same work: Prometheus parses text and appends to its TSDB (its durable store); Kansoku decodes JSON envelopes, updates windows and writes every touched alarm\'s windows into SQLite every 5 s (its durable store). Both are what it costs each to take in one measurement durably.',
    ),
    row({ name: 'RSS, engine process (throughput run, median) against Prometheus with the rules', unit: 'MB', value: tp.rssMedianBytes / BYTES_PER_MB, baseline: baselineName, baseline_value: peer.withRules.rssBytes / BYTES_PER_MB, goal: 'report' }, null, `Engine max ${(tp.rssMaxBytes / BYTES_PER_MB).toFixed(0)} MB; Prometheus without rules ${(peer.baseline.rssBytes / BYTES_PER_MB).toFixed(0)} MB.`),
  ];
}

function checkEngineRun(result: EngineRunResult, series: number): void {
  const c = result.counters;
  const problems = [
    result.alarms === series ? '' : `${result.alarms} alarms, not ${series}`,
    result.measurements > 0 ? '' : 'no measurement was read in the window',
    (c['kansoku_alerting_decode_errors_total'] ?? 0) === 0 ? '' : `${c['kansoku_alerting_decode_errors_total']} decode errors`,
    (c['kansoku_alerting_measurements_too_old_total'] ?? 0) === 0 ? '' : `${c['kansoku_alerting_measurements_too_old_total']} measurements too old for their window`,
    (c['kansoku_alerting_measurements_too_new_total'] ?? 0) === 0 ? '' : `${c['kansoku_alerting_measurements_too_new_total']} measurements too new`,
    (c['kansoku_alerting_checkpoint_errors_total'] ?? 0) === 0 ? '' : `${c['kansoku_alerting_checkpoint_errors_total']} checkpoint errors`,
    (c['kansoku_alerting_evaluation_errors_total'] ?? 0) === 0 ? '' : `${c['kansoku_alerting_evaluation_errors_total']} evaluation errors`,
  ].filter((p) => p !== '');
  if (problems.length > 0) throw new Error(`the ${result.mode} run of the engine did not do the work it is measured on: ${problems.join('; ')}\n${JSON.stringify({ ...result, latenciesMs: result.latenciesMs.length })}`);
}
