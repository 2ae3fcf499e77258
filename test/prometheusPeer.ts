/**
 * The peer parser `parse-prometheus-text-format`, flattened to one record per sample so
 * that tests can cross-check `parseExposition` against it and the benchmark can time it.
 * It ships CommonJS without types, hence `createRequire` and the declared shape below.
 */
import { createRequire } from 'node:module';

export interface PeerFamily {
  readonly name: string;
  readonly type: string;
  readonly metrics: readonly { readonly value?: string; readonly labels?: Record<string, string>; readonly timestamp_ms?: string }[];
}

export interface PeerSample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
  readonly timestampMs: number | undefined;
}

const require = createRequire(import.meta.url);

/** The peer's own entry point: throws on the first bad line, keeps values as strings. */
export const parsePeer = require('parse-prometheus-text-format') as (page: string) => PeerFamily[];

/** The peer's value strings as numbers; it keeps Prometheus' "+Inf" spelling, which `Number` rejects. */
function peerNumber(text: string): number {
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return Number(text);
}

/**
 * Counter and gauge families only: the peer folds histogram and summary samples into
 * buckets and quantiles, which the kubelet's cAdvisor page does not have.
 */
export function peerSamples(page: string): PeerSample[] {
  const out: PeerSample[] = [];
  for (const family of parsePeer(page)) {
    if (family.type === 'HISTOGRAM' || family.type === 'SUMMARY') throw new Error(`peerSamples does not flatten ${family.type} family ${family.name}`);
    for (const metric of family.metrics) {
      out.push({
        name: family.name,
        labels: metric.labels ?? {},
        value: peerNumber(metric.value ?? ''),
        timestampMs: metric.timestamp_ms === undefined ? undefined : Number(metric.timestamp_ms),
      });
    }
  }
  return out;
}
