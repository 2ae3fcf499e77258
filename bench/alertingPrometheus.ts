/**
 * The alert engine's peer: Prometheus 2.42 (Debian's `/usr/bin/prometheus`) scraping the
 * same series (one exposition page, one gauge series per Kansoku series: `kb_metric_<j>`
 * with `tenant_id` and `hostname` labels) and evaluating one alerting rule per Kansoku
 * definition, `avg by (hostname) (avg_over_time(kb_metric_<j>{tenant_id="…"}[<period>])) > 50`,
 * one rule group per tenant, evaluation_interval = scrape_interval.
 *
 * Rule evaluation is what is compared, so Prometheus runs twice, one after the other on
 * the same page: once without rules (the baseline: scraping and storing) and once with
 * them. Its rule-evaluation CPU is the difference of the two runs' CPU over equal windows,
 * divided by the series its rules evaluated (rule evaluations × series each rule selects).
 * Both runs must show the target up with every sample scraped, and the rules run must
 * show rules evaluated without a failure, or this throws. Iterations Prometheus missed
 * (a group still busy when its next turn came) are reported, not refused: the CPU per
 * evaluated series counts only the evaluations that ran.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../test/support/kansokuProcess.js';
import { clockTicksPerSecond, cpuTicks, rssBytes } from '../test/support/procStat.js';
import { PROMETHEUS } from '../test/support/prometheusProcess.js';
import { counterValue } from '../test/support/selfMetrics.js';
import { stopChild } from '../test/support/stopChild.js';
import { hostName, QUIET_VALUE, tenantId, THRESHOLD, type AlertingLoadShape } from './alertingLoad.js';

const JOB = 'bench';
const START_TIMEOUT_MS = 60_000;
const MAX_OUTPUT_CHARS = 64 * 1024;

export interface PrometheusPeerOptions {
  readonly shape: Omit<AlertingLoadShape, 'flipEvery'>;
  readonly intervalSeconds: number;
  readonly warmupMs: number;
  readonly windowMs: number;
}

export interface PrometheusRun {
  readonly cpuMs: number;
  readonly windowSeconds: number;
  readonly rssBytes: number;
  readonly scrapes: number;
  /** Rule evaluations in the window (one per rule per group iteration); 0 without rules. */
  readonly ruleEvaluations: number;
  readonly groupIterations: number;
  /** Group iterations skipped because the previous one outran the interval: Prometheus could not keep up. */
  readonly missedIterations: number;
  /** Sum over the groups of the last iteration's wall time, ms: one evaluation round's wall time if run one after another. */
  readonly roundWallMs: number;
}

export interface PrometheusPeerResult {
  readonly series: number;
  readonly rules: number;
  readonly baseline: PrometheusRun;
  readonly withRules: PrometheusRun;
  /** Rule-evaluation CPU per evaluated series per evaluation, µs. */
  readonly ruleCpuUsPerSeries: number;
}

export function metricFamily(j: number): string {
  return `kb_metric_${j}`;
}

/** One page of every series; no timestamps, so every scrape is new samples. */
export function expositionPage(shape: PrometheusPeerOptions['shape']): string {
  const lines: string[] = [];
  for (let j = 0; j < shape.definitionsPerTenant; j++) {
    lines.push(`# TYPE ${metricFamily(j)} gauge`);
    for (let t = 0; t < shape.tenants; t++) for (let h = 0; h < shape.hostsPerDefinition; h++) lines.push(`${metricFamily(j)}{tenant_id="${tenantId(t)}",hostname="${hostName(h)}",service="bench"} ${QUIET_VALUE}`);
  }
  return `${lines.join('\n')}\n`;
}

/** One group per tenant, one alerting rule per definition, grouped by the match_by label. */
export function rulesFile(shape: PrometheusPeerOptions['shape']): string {
  const out: string[] = ['groups:'];
  for (let t = 0; t < shape.tenants; t++) {
    out.push(`  - name: ${tenantId(t)}`, '    rules:');
    for (let j = 0; j < shape.definitionsPerTenant; j++) {
      out.push(`      - alert: bench-${j}`, `        expr: avg by (hostname) (avg_over_time(${metricFamily(j)}{tenant_id="${tenantId(t)}"}[${shape.periodSeconds}s])) > ${THRESHOLD}`);
    }
  }
  return `${out.join('\n')}\n`;
}

export async function measurePrometheusPeer(options: PrometheusPeerOptions): Promise<PrometheusPeerResult> {
  const page = Buffer.from(expositionPage(options.shape));
  const series = options.shape.tenants * options.shape.definitionsPerTenant * options.shape.hostsPerDefinition;
  const server = await servePage(page);
  try {
    const baseline = await runPrometheus(server, options, series, undefined);
    const withRules = await runPrometheus(server, options, series, rulesFile(options.shape));
    const rules = options.shape.tenants * options.shape.definitionsPerTenant;
    const seriesEvaluated = withRules.ruleEvaluations * options.shape.hostsPerDefinition;
    // Per second of window, so that unequal windows (timer slack) do not skew the difference.
    const ruleCpuMsPerSecond = withRules.cpuMs / withRules.windowSeconds - baseline.cpuMs / baseline.windowSeconds;
    const ruleCpuUsPerSeries = ((ruleCpuMsPerSecond * withRules.windowSeconds) / seriesEvaluated) * 1000;
    return { series, rules, baseline, withRules, ruleCpuUsPerSeries };
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

async function servePage(page: Buffer): Promise<Server> {
  const server = createServer((request, response) => {
    response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4', 'content-length': page.length });
    response.end(page);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

async function runPrometheus(server: Server, options: PrometheusPeerOptions, series: number, rules: string | undefined): Promise<PrometheusRun> {
  const dir = await mkdtemp(join(tmpdir(), 'kansoku-bench-prometheus-'));
  const { port: pagePort } = server.address() as AddressInfo;
  const interval = `${options.intervalSeconds}s`;
  if (rules !== undefined) await writeFile(join(dir, 'rules.yml'), rules);
  await writeFile(
    join(dir, 'prometheus.yml'),
    `global:
  scrape_interval: ${interval}
  scrape_timeout: ${interval}
  evaluation_interval: ${interval}
${rules !== undefined ? 'rule_files: [rules.yml]\n' : ''}scrape_configs:
  - job_name: ${JOB}
    static_configs:
      - targets: ['127.0.0.1:${pagePort}']
`,
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(PROMETHEUS, [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-MAX_OUTPUT_CHARS);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  try {
    const pid = child.pid;
    if (pid === undefined) throw new Error(`could not spawn ${PROMETHEUS}`);
    const query = async (expr: string): Promise<number> => {
      const response = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`, { signal: AbortSignal.timeout(10_000) });
      const body = (await response.json()) as { status?: string; data?: { result?: { value: [number, string] }[] } };
      if (body.status !== 'success') throw new Error(`Prometheus query ${expr} failed: ${JSON.stringify(body).slice(0, 300)}`);
      return Number(body.data?.result?.[0]?.value[1] ?? NaN);
    };
    // Prometheus does not scrape itself here: its rule counters are read from its own /metrics page.
    const ownCounters = async (): Promise<{ evaluations: number; iterations: number; failures: number; missed: number; lastDurationsSeconds: number }> => {
      const response = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) });
      const text = await response.text();
      return {
        evaluations: counterValue(text, 'prometheus_rule_evaluations_total'),
        iterations: counterValue(text, 'prometheus_rule_group_iterations_total'),
        failures: counterValue(text, 'prometheus_rule_evaluation_failures_total'),
        missed: counterValue(text, 'prometheus_rule_group_iterations_missed_total'),
        lastDurationsSeconds: counterValue(text, 'prometheus_rule_group_last_duration_seconds'),
      };
    };
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`prometheus exited:\n${output}`);
      const up = await query(`up{job="${JOB}"}`).catch(() => NaN);
      if (up === 1) break;
      if (Date.now() > deadline) throw new Error(`Prometheus did not scrape the page within ${START_TIMEOUT_MS} ms:\n${output}`);
      await sleep(500);
    }
    await sleep(options.warmupMs);
    const counters = async () => ({
      scrapes: await query(`count_over_time(up{job="${JOB}"}[1h])`),
      ...(await ownCounters()),
    });
    // Queries cost Prometheus CPU too: read them outside the CPU window.
    const before = await counters();
    const ticksPerSecond = clockTicksPerSecond();
    const ticksBefore = cpuTicks(pid);
    const start = performance.now();
    await sleep(options.windowMs);
    const ticks = cpuTicks(pid) - ticksBefore;
    const windowSeconds = (performance.now() - start) / 1000;
    const rss = rssBytes(pid);
    const after = await counters();
    const samples = await query(`scrape_samples_scraped{job="${JOB}"}`);
    const roundWallMs = after.lastDurationsSeconds * 1000;
    const problems = [
      samples === series ? '' : `scrape_samples_scraped is ${samples}, not ${series}`,
      after.scrapes > before.scrapes ? '' : 'no scrape was stored in the window',
      rules === undefined || after.evaluations > before.evaluations ? '' : 'no rule was evaluated in the window',
      after.failures === before.failures ? '' : `${after.failures - before.failures} rule evaluations failed`,
    ].filter((p) => p !== '');
    if (problems.length > 0) throw new Error(`Prometheus did not do the work it is compared on: ${problems.join('; ')}\n${output}`);
    return {
      cpuMs: (ticks * 1000) / ticksPerSecond,
      windowSeconds,
      rssBytes: rss,
      scrapes: after.scrapes - before.scrapes,
      ruleEvaluations: after.evaluations - before.evaluations,
      groupIterations: after.iterations - before.iterations,
      missedIterations: after.missed - before.missed,
      roundWallMs,
    };
  } finally {
    await stopChild(child, 10_000);
    await rm(dir, { recursive: true, force: true });
  }
}
