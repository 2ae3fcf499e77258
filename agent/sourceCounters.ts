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
  /** Labelled source: a scrape that returned no page (credentials, connection, TLS, status, timeout, size). */
  scrapeErrors: 'kansoku_agent_scrape_errors_total',
  /** Labelled source: a page, or parts of it, of the wrong shape (not JSON, wrong types). */
  payloadErrors: 'kansoku_agent_payload_errors_total',
} as const;

/** Why a sample a source read did not become a measurement. */
export const SAMPLE_DROP_REASONS = ['not_finite', 'invalid', 'duplicate'] as const;
export type SampleDropReason = (typeof SAMPLE_DROP_REASONS)[number];

export function describeSourceCounters(counters: Counters): void {
  counters.describe(SOURCE_COUNTERS.measurements, 'Measurements produced, by source.');
  counters.describe(SOURCE_COUNTERS.samplesDropped, 'Samples a source read that did not become measurements, by reason.');
  counters.describe(SOURCE_COUNTERS.scrapeErrors, 'Scrapes that returned no page (credentials, connection, TLS, HTTP status, timeout, size), by source.');
  counters.describe(SOURCE_COUNTERS.payloadErrors, 'Pages, or parts of them, of the wrong shape (not JSON, wrong types), by source.');
}

export function countMeasurements(counters: Counters, source: string, amount: number): void {
  counters.add(SOURCE_COUNTERS.measurements, { source }, amount);
}

export function countSamplesDropped(counters: Counters, reason: SampleDropReason, amount: number): void {
  if (amount > 0) counters.add(SOURCE_COUNTERS.samplesDropped, { reason }, amount);
}
