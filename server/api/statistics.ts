import type { Series } from '../../core/query.js';
import { unprocessable } from './errors.js';

/**
 * Monasca's statistics: per period, avg/min/max/sum/count of a series' values. Periods are
 * aligned to multiples of the period since the epoch and empty periods are left out, as
 * InfluxDB's `GROUP BY time(period)` with `fill(none)` gives them, so the embedded store
 * and InfluxDB answer alike.
 */
export const STATISTICS = ['avg', 'min', 'max', 'sum', 'count'] as const;
export type Statistic = (typeof STATISTICS)[number];

export const DEFAULT_PERIOD_SECONDS = 300;

export function parseStatistics(text: string | undefined): Statistic[] {
  if (text === undefined || text.trim() === '') throw unprocessable('statistics is required (a comma-separated list of avg, min, max, sum, count)');
  const asked = text.split(',').map((s) => s.trim().toLowerCase());
  for (const s of asked) if (!(STATISTICS as readonly string[]).includes(s)) throw unprocessable(`statistics: ${JSON.stringify(s.slice(0, 32))} is not one of ${STATISTICS.join(', ')}`);
  return [...new Set(asked)] as Statistic[];
}

export function parsePeriodSeconds(text: string | undefined): number {
  if (text === undefined || text === '') return DEFAULT_PERIOD_SECONDS;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw unprocessable('period must be a positive whole number of seconds');
  return n;
}

/** One row per non-empty period, oldest first: [period start, ...the asked statistics]. */
export function statisticsRows(series: Series, statistics: readonly Statistic[], periodSeconds: number): { startMs: number; row: (string | number)[] }[] {
  const periodMs = periodSeconds * 1000;
  const buckets = new Map<number, { sum: number; min: number; max: number; count: number }>();
  for (const { timestampMs, value } of series.points) {
    const start = Math.floor(timestampMs / periodMs) * periodMs;
    const bucket = buckets.get(start);
    if (bucket) {
      bucket.sum += value;
      bucket.count += 1;
      if (value < bucket.min) bucket.min = value;
      if (value > bucket.max) bucket.max = value;
    } else buckets.set(start, { sum: value, min: value, max: value, count: 1 });
  }
  return [...buckets.entries()]
    .sort(([a], [b]) => a - b)
    .map(([startMs, b]) => ({
      startMs,
      row: [new Date(startMs).toISOString(), ...statistics.map((s) => (s === 'avg' ? b.sum / b.count : b[s]))],
    }));
}
