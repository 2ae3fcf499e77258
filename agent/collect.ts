import type { Counters } from '../core/counters.js';
import type { Metric } from '../core/envelope.js';
import type { Source } from '../core/pipeline.js';

/**
 * A metrics source as the agent runs it: the source, and the tenant of what it measures
 * outside any namespace (the node's own figures, a host's cgroups). Measurements of a
 * namespace get the namespace's tenant later, in `enrichWithPodMetadata`.
 */
export interface MetricSource {
  readonly source: Source<Metric>;
  readonly fallbackTenant: string;
}

export interface CollectedBatch {
  readonly source: string;
  readonly fallbackTenant: string;
  readonly metrics: readonly Metric[];
}

export interface CycleResult {
  readonly batches: readonly CollectedBatch[];
  readonly errors: readonly { source: string; error: string }[];
}

/** One collection cycle over every source, side by side; a failing source costs only its own data. */
export async function collectOnce(sources: readonly MetricSource[], counters: Counters, signal?: AbortSignal): Promise<CycleResult> {
  const results = await Promise.all(
    sources.map(async ({ source, fallbackTenant }) => {
      try {
        return { source: source.name, fallbackTenant, result: await source.collect(signal) };
      } catch (error) {
        // Sources return their failures as data; a throw is a bug, reported and contained.
        return { source: source.name, fallbackTenant, result: { records: [], errors: [`source threw: ${(error as Error).message}`] } };
      }
    }),
  );
  const batches: CollectedBatch[] = [];
  const errors: { source: string; error: string }[] = [];
  for (const { source, fallbackTenant, result } of results) {
    batches.push({ source, fallbackTenant, metrics: result.records });
    for (const error of result.errors) errors.push({ source, error });
    counters.add('kansoku_agent_collect_errors_total', { source }, result.errors.length);
  }
  return { batches, errors };
}
