/**
 * A load of many series from one real page: the kubelet page parsed and mapped by the
 * agent's own code once per synthetic node (its hostname is a dimension, so every node
 * has its own series), as the agent would publish them. Node-major order, as the agents
 * of a cluster publish: one node's scrape after another's.
 */
import { parseExposition } from '../../agent/exposition/parseExposition.js';
import { mapCadvisorSamples } from '../../agent/kubelet/cadvisorMetrics.js';
import { metricEnvelope, type MetricEnvelope } from '../../core/envelope.js';
import { defaultTenantMapping, tenantOf } from '../../core/tenant.js';

export interface ReplicatedWorkloadOptions {
  /** Synthetic nodes, named `bench-node-0000`, `bench-node-0001`, … */
  readonly nodes: number;
  readonly region: string;
  /** The scrape time stamped on samples that carry none, and the envelopes' creation time. */
  readonly scrapeTimeMs: number;
}

/** Every envelope the agent would publish for one scrape of `page` on each of `options.nodes` nodes. */
export function replicatedEnvelopes(page: string, options: ReplicatedWorkloadOptions): MetricEnvelope[] {
  const samples = parseExposition(page).samples;
  const envelopes: MetricEnvelope[] = [];
  for (let node = 0; node < options.nodes; node++) {
    const hostname = `bench-node-${String(node).padStart(4, '0')}`;
    for (const metric of mapCadvisorSamples(samples, { hostname, scrapeTimeMs: options.scrapeTimeMs }).measurements) {
      const tenantId = tenantOf(metric.dimensions['namespace'] ?? '', defaultTenantMapping);
      if (tenantId === undefined) continue;
      envelopes.push(metricEnvelope(metric, { tenantId, region: options.region }, options.scrapeTimeMs));
    }
  }
  return envelopes;
}

/** The same envelopes `shiftMs` later: the next scrape of the same series. */
export function shiftedEnvelopes(envelopes: readonly MetricEnvelope[], shiftMs: number): MetricEnvelope[] {
  return envelopes.map((envelope) => ({ ...envelope, metric: { ...envelope.metric, timestamp: envelope.metric.timestamp + shiftMs } }));
}
