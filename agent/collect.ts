import type { Counters } from '../core/counters.js';
import type { MetricEnvelope } from '../core/envelope.js';
import type { Source } from '../core/pipeline.js';

export interface CycleResult {
  readonly records: readonly MetricEnvelope[];
  readonly errors: readonly { source: string; error: string }[];
}

/** One collection cycle over every source, side by side; a failing source costs only its own data. */
export async function collectOnce(sources: readonly Source<MetricEnvelope>[], counters: Counters, signal?: AbortSignal): Promise<CycleResult> {
  const results = await Promise.all(
    sources.map(async (source) => {
      try {
        return { source: source.name, result: await source.collect(signal) };
      } catch (error) {
        // Sources return their failures as data; a throw is a bug, reported and contained.
        return { source: source.name, result: { records: [], errors: [`source threw: ${(error as Error).message}`] } };
      }
    }),
  );
  const records: MetricEnvelope[] = [];
  const errors: { source: string; error: string }[] = [];
  for (const { source, result } of results) {
    // One loop, not push(...records): a big page has hundreds of thousands of records, past V8's argument limit.
    for (const record of result.records) records.push(record);
    for (const error of result.errors) errors.push({ source, error });
    counters.add('kansoku_agent_collect_errors_total', { source }, result.errors.length);
  }
  return { records, errors };
}
