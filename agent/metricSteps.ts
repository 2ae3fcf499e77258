/**
 * What happens to a cycle's measurements between the sources and the publisher, in order:
 * 1. rates and percentages of limits are derived from the cumulative values (on the
 *    source's own dimensions, so a series' rate survives metadata changes), each source
 *    with its own state: two sources that measure the same series (the kubelet's page and
 *    its summary) would otherwise make rates of each other's values;
 * 2. `enrichWithPodMetadata` gives each its tenant and its pod's dimensions;
 * 3. the cardinality guard drops series past a tenant's or the node's cap, counted.
 */
import type { Metric, MetricEnvelope } from '../core/envelope.js';
import type { CardinalityGuard } from './cardinality/cardinalityGuard.js';
import type { CycleResult } from './collect.js';
import type { PodMetadataEnrichment } from './enrich/enrichWithPodMetadata.js';
import type { RateDeriver } from './rates/deriveRates.js';

export interface MetricSteps {
  readonly enrichment: PodMetadataEnrichment;
  /** The rate stage of a source (by its name). */
  readonly rates?: (source: string) => RateDeriver;
  readonly guard?: CardinalityGuard;
}

export async function processCycle(cycle: CycleResult, steps: MetricSteps): Promise<MetricEnvelope[]> {
  const envelopes: MetricEnvelope[] = [];
  for (const batch of cycle.batches) {
    let metrics: readonly Metric[] = batch.metrics;
    if (steps.rates !== undefined && metrics.length > 0) {
      const derived = steps.rates(batch.source).derive(metrics);
      if (derived.length > 0) metrics = concat(metrics, derived);
    }
    const enriched = await steps.enrichment.metrics(metrics, batch.fallbackTenant);
    // One loop, not push(...enriched): a big page has hundreds of thousands of records, past V8's argument limit.
    for (const envelope of enriched) envelopes.push(envelope);
  }
  return steps.guard === undefined ? envelopes : steps.guard.admit(envelopes);
}

function concat<T>(a: readonly T[], b: readonly T[]): T[] {
  const out = a.slice();
  for (const item of b) out.push(item);
  return out;
}
