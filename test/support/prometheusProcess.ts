/**
 * A real Prometheus for benchmarks: Debian's `prometheus` package (2.42 here), scraping
 * one target, with its TSDB in a fresh temp dir and its web API on a free loopback port.
 * Nothing is installed from here: callers check `prometheusInstalled()` and decide.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './kansokuProcess.js';
import { stopChild } from './stopChild.js';

export const PROMETHEUS = '/usr/bin/prometheus';
export const PROMETHEUS_PACKAGE = 'prometheus';
export const PROMETHEUS_JOB = 'target';
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
const MAX_OUTPUT_CHARS = 64 * 1024;

export function prometheusInstalled(): boolean {
  return existsSync(PROMETHEUS);
}

export interface PrometheusOptions {
  /** The page to scrape, e.g. http://127.0.0.1:PORT/metrics/cadvisor. */
  readonly targetUrl: string;
  readonly scrapeIntervalSeconds: number;
  /** false: samples get the scrape's time, not the timestamps written on the page. */
  readonly honorTimestamps: boolean;
}

/** One sample of an instant-query answer. */
export interface InstantSample {
  readonly metric: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface RunningPrometheus {
  readonly pid: number;
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** GET /api/v1/query?query=EXPR; throws unless Prometheus answers "success" with a vector. */
  query(expr: string): Promise<InstantSample[]>;
  output(): string;
  stop(): Promise<void>;
}

function configText(options: PrometheusOptions): string {
  const target = new URL(options.targetUrl);
  return `global:
  scrape_interval: ${options.scrapeIntervalSeconds}s
  scrape_timeout: ${options.scrapeIntervalSeconds}s
  evaluation_interval: 1m
scrape_configs:
  - job_name: ${PROMETHEUS_JOB}
    honor_timestamps: ${options.honorTimestamps}
    scheme: ${target.protocol.slice(0, -1)}
    metrics_path: ${target.pathname}
    static_configs:
      - targets: ['${target.host}']
`;
}

export async function startPrometheus(options: PrometheusOptions): Promise<RunningPrometheus> {
  if (!prometheusInstalled()) throw new Error(`${PROMETHEUS} is missing: install the Debian package "${PROMETHEUS_PACKAGE}" (apt-get install -y ${PROMETHEUS_PACKAGE})`);
  const dir = await mkdtemp(join(tmpdir(), 'kansoku-prometheus-'));
  const configFile = join(dir, 'prometheus.yml');
  await writeFile(configFile, configText(options));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    PROMETHEUS,
    [`--config.file=${configFile}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-MAX_OUTPUT_CHARS);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const stop = async (): Promise<void> => {
    await stopChild(child, STOP_TIMEOUT_MS);
    await rm(dir, { recursive: true, force: true });
  };

  try {
    if (child.pid === undefined) throw new Error(`could not spawn ${PROMETHEUS}`);
    await waitForReady(url, () => child.exitCode !== null || child.signalCode !== null, () => output);
  } catch (error) {
    await stop();
    throw error;
  }
  const pid = child.pid;

  return {
    pid,
    url,
    async query(expr) {
      const response = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`, { signal: AbortSignal.timeout(5_000) });
      const body = (await response.json()) as { status?: string; error?: string; data?: { resultType?: string; result?: { metric: Record<string, string>; value: [number, string] }[] } };
      if (body.status !== 'success' || body.data?.resultType !== 'vector' || !body.data.result) {
        throw new Error(`Prometheus query ${JSON.stringify(expr)} answered ${response.status}: ${JSON.stringify(body).slice(0, 500)}`);
      }
      return body.data.result.map(({ metric, value }) => ({ metric, value: Number(value[1]) }));
    },
    output: () => output,
    stop,
  };
}

async function waitForReady(url: string, exited: () => boolean, output: () => string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let lastProblem = 'no answer yet';
  while (Date.now() < deadline) {
    if (exited()) throw new Error(`prometheus exited before it was ready:\n${output()}`);
    try {
      const response = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1_000) });
      if (response.status === 200) return;
      lastProblem = `/-/ready answered ${response.status}`;
    } catch (error) {
      lastProblem = (error as Error).message;
    }
    await sleep(100);
  }
  throw new Error(`prometheus was not ready within ${START_TIMEOUT_MS} ms (${lastProblem}):\n${output()}`);
}
