/**
 * The agent's kubelet path on the real k8s 1.25 kubelet page: parseExposition against
 * the peer parser and against a physical ceiling (touching each line once), all in the
 * same run, plus the whole map step (parse + cAdvisor mapping + validation).
 */
import { readFileSync } from 'node:fs';
import { parseExposition } from '../agent/exposition/parseExposition.js';
import { mapCadvisorSamples } from '../agent/kubelet/cadvisorMetrics.js';
import { parsePeer } from '../test/prometheusPeer.js';
import { benchResult, medianMs, type BenchResult } from './harness.js';

const PAGE_FILE = new URL('../test/fixtures/prometheus/nri-k8s__k8s-1.25.13-containerd1.6__kubelet_metrics_cadvisor.prom', import.meta.url);
const PAGE_LABEL = 'k8s 1.25 kubelet /metrics/cadvisor';

/**
 * The least any parser must do: find each line and look once into it for the blank
 * that ends its first token. Nothing is sliced or allocated.
 */
export function scanLines(page: string): number {
  let checksum = 0;
  let start = 0;
  while (start < page.length) {
    let end = page.indexOf('\n', start);
    if (end === -1) end = page.length;
    const blank = page.indexOf(' ', start);
    if (blank !== -1 && blank < end) checksum += blank - start;
    start = end + 1;
  }
  return checksum;
}

export function run(): Promise<BenchResult[]> {
  const page = readFileSync(PAGE_FILE, 'utf8');
  const megabytes = Buffer.byteLength(page) / 1e6;
  const samples = parseExposition(page).samples.length;
  const context = { hostname: 'minikube', scrapeTimeMs: Date.now() };

  const oursMs = medianMs(() => parseExposition(page));
  const peerMs = medianMs(() => parsePeer(page));
  const ceilingMs = medianMs(() => scanLines(page));
  const mapMs = medianMs(() => mapCadvisorSamples(parseExposition(page).samples, context));

  const mbPerSecond = (ms: number): number => megabytes / (ms / 1000);
  const samplesPerSecond = (ms: number): number => samples / (ms / 1000);
  return Promise.resolve([
    benchResult({ name: `parseExposition throughput, ${PAGE_LABEL}`, unit: 'MB/s', value: mbPerSecond(oursMs), baseline: 'parse-prometheus-text-format', baseline_value: mbPerSecond(peerMs), goal: '>= 2x peer' }),
    benchResult({ name: `parseExposition samples, ${PAGE_LABEL}`, unit: 'samples/s', value: samplesPerSecond(oursMs), baseline: 'parse-prometheus-text-format', baseline_value: samplesPerSecond(peerMs), goal: '>= 2x peer' }),
    benchResult({ name: `parseExposition vs physical ceiling, ${PAGE_LABEL}`, unit: 'MB/s', value: mbPerSecond(oursMs), baseline: 'line scan (indexOf per line, no allocation)', baseline_value: mbPerSecond(ceilingMs), goal: '>= 0.1x ceiling' }),
    benchResult({ name: `map step (parse + cAdvisor mapping + checkMetric), ${PAGE_LABEL}`, unit: 'samples/s', value: samplesPerSecond(mapMs), baseline: 'parseExposition alone', baseline_value: samplesPerSecond(oursMs), goal: '>= 0.5x parse alone' }),
  ]);
}
