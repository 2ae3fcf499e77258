import type { Counters } from '../core/counters.js';

/**
 * Counters that every source adds to, labelled the same whichever source counts, so that
 * one query sums them or splits them without knowing which sources exist.
 */
export const SOURCE_COUNTERS = {
  /** Labelled source. */
  measurements: 'kansoku_agent_measurements_total',
  /** Labelled reason. */
  samplesDropped: 'kansoku_agent_samples_dropped_total',
} as const;

/** Why a sample a source read did not become a measurement. */
export const SAMPLE_DROP_REASONS = ['not_finite', 'invalid'] as const;
export type SampleDropReason = (typeof SAMPLE_DROP_REASONS)[number];

export function describeSourceCounters(counters: Counters): void {
  counters.describe(SOURCE_COUNTERS.measurements, 'Measurements produced, by source.');
  counters.describe(SOURCE_COUNTERS.samplesDropped, 'Samples a source read that did not become measurements, by reason.');
}

export function countMeasurements(counters: Counters, source: string, amount: number): void {
  counters.add(SOURCE_COUNTERS.measurements, { source }, amount);
}

export function countSamplesDropped(counters: Counters, reason: SampleDropReason, amount: number): void {
  if (amount > 0) counters.add(SOURCE_COUNTERS.samplesDropped, { reason }, amount);
}
