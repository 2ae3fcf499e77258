/**
 * The agent's kubelet path on the real k8s 1.25 kubelet page: parseExposition against
 * the peer parser, a physical ceiling and a bare character walk, all in the same run,
 * plus the whole map step (parse + cAdvisor mapping + validation); then the whole agent
 * process against Prometheus scraping the same page (agentProcess.ts).
 */
import { readFileSync } from 'node:fs';
import { parseExposition } from '../agent/exposition/parseExposition.js';
import { mapCadvisorSamples } from '../agent/kubelet/cadvisorMetrics.js';
import { parsePeer } from '../test/prometheusPeer.js';
import { scalePage, withoutTimestamps } from '../test/support/cadvisorPages.js';
import { measureAgentProcess } from './agentProcess.js';
import { benchResult, medianMs, type BenchResult } from './harness.js';

const PAGE_FILE = new URL('../test/fixtures/prometheus/nri-k8s__k8s-1.25.13-containerd1.6__kubelet_metrics_cadvisor.prom', import.meta.url);
const PAGE_LABEL = 'k8s 1.25 kubelet /metrics/cadvisor';
const FULL_NODE_PODS = 110;

/**
 * The physical ceiling: split the page into lines and look once into each for the blank
 * that ends its first token. Native code does all of it (memchr speed); no parser that
 * reads the characters itself can come close, so this bounds what is possible at all.
 */
export function scanLines(page: string): number {
  let checksum = 0;
  for (const line of page.split('\n')) checksum += line.indexOf(' ');
  return checksum;
}

/**
 * The floor of any hand-written JavaScript parser: read every character once with
 * charCodeAt and do nothing with it but count quotes.
 */
export function walkCharacters(page: string): number {
  let quotes = 0;
  for (let p = 0; p < page.length; p++) if (page.charCodeAt(p) === 34) quotes++;
  return quotes;
}

export async function run(): Promise<BenchResult[]> {
  const page = readFileSync(PAGE_FILE, 'utf8');
  const megabytes = Buffer.byteLength(page) / 1e6;
  const samples = parseExposition(page).samples.length;
  const context = { hostname: 'minikube', scrapeTimeMs: Date.now() };

  const oursMs = medianMs(() => parseExposition(page));
  const peerMs = medianMs(() => parsePeer(page));
  const ceilingMs = medianMs(() => scanLines(page));
  const walkMs = medianMs(() => walkCharacters(page));
  const mapMs = medianMs(() => mapCadvisorSamples(parseExposition(page).samples, context));
  const measurements = mapCadvisorSamples(parseExposition(page).samples, context).measurements.length;

  const mbPerSecond = (ms: number): number => megabytes / (ms / 1000);
  const samplesPerSecond = (ms: number): number => samples / (ms / 1000);
  const parserRows = [
    benchResult({ name: `parseExposition throughput, ${PAGE_LABEL}`, unit: 'MB/s', value: mbPerSecond(oursMs), baseline: 'parse-prometheus-text-format', baseline_value: mbPerSecond(peerMs), goal: '>= 2x peer' }),
    benchResult({ name: `parseExposition samples, ${PAGE_LABEL}`, unit: 'samples/s', value: samplesPerSecond(oursMs), baseline: 'parse-prometheus-text-format', baseline_value: samplesPerSecond(peerMs), goal: '>= 2x peer' }),
    benchResult({ name: `parseExposition vs physical ceiling, ${PAGE_LABEL}`, unit: 'MB/s', value: mbPerSecond(oursMs), baseline: "physical ceiling: split('\\n') + indexOf(' ') per line", baseline_value: mbPerSecond(ceilingMs), goal: '>= 0.02x ceiling' }),
    benchResult({ name: `parseExposition vs a bare character walk, ${PAGE_LABEL}`, unit: 'MB/s', value: mbPerSecond(oursMs), baseline: 'charCodeAt over every character, nothing kept', baseline_value: mbPerSecond(walkMs), goal: '>= 0.33x walk' }),
    benchResult({ name: `map step (parse + cAdvisor mapping + checkMetric), ${PAGE_LABEL}`, unit: 'samples/s', value: samplesPerSecond(mapMs), baseline: 'parseExposition alone', baseline_value: samplesPerSecond(oursMs), goal: '>= 0.5x parse alone' }),
  ];
  // Last, once the timing loops above have left the CPU to the processes it measures. The
  // pages have no sample timestamps, so that every scrape is a new point and rates are made.
  const realPage = withoutTimestamps(page);
  const processRows = await measureAgentProcess({ page: realPage, pageLabel: PAGE_LABEL, measurementsPerScrape: measurements, samplesPerScrape: samples, intervalSeconds: 1, windowMs: 30_000, formats: ['protobuf', 'text'] });
  // A full node: 110 pods (the kubelet's default limit), built from the real page's shapes.
  const fullPage = scalePage(realPage, FULL_NODE_PODS);
  const fullSamples = parseExposition(fullPage).samples.length;
  const fullMeasurements = mapCadvisorSamples(parseExposition(fullPage).samples, context).measurements.length;
  const fullRows = await measureAgentProcess({ page: fullPage, pageLabel: `${FULL_NODE_PODS}-pod page built from the 1.25 page`, measurementsPerScrape: fullMeasurements, samplesPerScrape: fullSamples, intervalSeconds: 10, windowMs: 60_000, formats: ['protobuf', 'text'] });
  return [...parserRows, ...processRows, ...fullRows];
}
