/**
 * How the JSON-speaking sources account for a mapped payload: the shared source counters
 * (measurements by source, drops by reason, payload errors by source), and a
 * bounded list of error strings for the collect result.
 */
import type { Counters } from '../../core/counters.js';
import { SOURCE_COUNTERS, countMeasurements, countSamplesDropped } from '../sourceCounters.js';
import type { JsonMapResult } from './jsonMapping.js';

/** Error strings kept per collect; the counters have the full count. */
export const MAX_ERRORS_REPORTED = 20;

export function countMapped(counters: Counters, source: string, mapped: JsonMapResult): void {
  if (mapped.shapeErrors > 0) counters.add(SOURCE_COUNTERS.payloadErrors, { source }, mapped.shapeErrors);
  countSamplesDropped(counters, 'invalid', mapped.dropped.invalid);
  countSamplesDropped(counters, 'not_finite', mapped.dropped.not_finite);
  countMeasurements(counters, source, mapped.measurements.length);
}

/** Every problem a mapping counted, for a collect result. */
export function mappedErrors(mapped: JsonMapResult): string[] {
  return capped(mapped.errors, mapped.shapeErrors + mapped.dropped.invalid + mapped.dropped.not_finite);
}

/** The first errors, and how many more there were (`total` counts those never described). */
export function capped(errors: readonly string[], total: number): string[] {
  const kept = errors.slice(0, MAX_ERRORS_REPORTED);
  return total > kept.length ? [...kept, `… and ${total - kept.length} more`] : kept;
}
