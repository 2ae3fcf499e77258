/**
 * Per-second rates of cumulative counters, one series at a time.
 *
 * A counter's rate needs its previous sample, so this is the agent's one stateful
 * transform of measurements. The state is bounded twice: series not seen for
 * `staleAfterMs` (of sample time) are forgotten by `sweep`, and beyond `maxSeries` the
 * least recently updated series is dropped and counted, so a pod churn storm costs
 * memory for a while, never without limit.
 *
 * Rates are taken between the two samples' own timestamps, not the wall clock: the
 * kubelet stamps each cAdvisor sample with when the cgroup was read, which can lag the
 * scrape by up to its housekeeping interval, and dividing by the scrape interval instead
 * would put that jitter into every rate.
 */
import type { Metric } from '../../core/envelope.js';
import { seriesKey } from '../../core/seriesKey.js';

/**
 * What a decrease means.
 * - `restart`: Prometheus' `rate()` semantics. A counter only goes down when it restarted
 *   from 0 (the container restarted, the cgroup was recreated), so the increase since the
 *   previous sample is at least the current value: rate = current / interval. It is a lower
 *   bound, never negative, and small (it only holds what accrued since the restart).
 * - `skip`: no rate for that interval; the next interval is rated normally.
 */
export type CounterResetPolicy = 'restart' | 'skip';

export interface CounterRatesOptions {
  /** A series whose newest sample is this much older than `sweep`'s time is forgotten, and a gap this long is not rated. */
  readonly staleAfterMs: number;
  /** At most this many series are tracked; a new one beyond it drops the least recently updated. */
  readonly maxSeries: number;
  readonly onReset?: CounterResetPolicy;
}

/** Why a sample did not give a rate, or that it did; kept per instance for self-metrics. */
export interface CounterRatesStats {
  /** Series currently tracked. */
  readonly series: number;
  /** Series forgotten because they went stale. */
  readonly forgottenStale: number;
  /** Series dropped because `maxSeries` was reached (drop-oldest). */
  readonly droppedAtCap: number;
  /** Decreases seen (counter restarts). */
  readonly resets: number;
  /** Samples whose timestamp was not after the previous one (duplicates, out of order). */
  readonly notAdvanced: number;
}

interface LastSample {
  timestampMs: number;
  value: number;
}

export class CounterRates {
  private readonly staleAfterMs: number;
  private readonly maxSeries: number;
  private readonly onReset: CounterResetPolicy;
  /** Kept in order of last update (delete + set moves a series to the end), so the first entry is the one to drop at the cap. */
  private readonly last = new Map<string, LastSample>();
  private forgottenStale = 0;
  private droppedAtCap = 0;
  private resets = 0;
  private notAdvanced = 0;

  constructor(options: CounterRatesOptions) {
    if (!(options.staleAfterMs > 0)) throw new RangeError(`staleAfterMs must be positive, got ${options.staleAfterMs}`);
    if (!(options.maxSeries >= 1) || !Number.isInteger(options.maxSeries)) throw new RangeError(`maxSeries must be a positive integer, got ${options.maxSeries}`);
    this.staleAfterMs = options.staleAfterMs;
    this.maxSeries = options.maxSeries;
    this.onReset = options.onReset ?? 'restart';
  }

  /**
   * The per-second rate since the series' previous sample; undefined on its first sample
   * (there is nothing to subtract, and the raw total over an unknown span would be a huge
   * spike), after a gap longer than `staleAfterMs`, when time did not advance, for a value
   * that is not finite, and on a reset under the `skip` policy. Never negative.
   */
  next(metric: Metric): number | undefined {
    return this.nextByKey(seriesKey(metric.name, metric.dimensions), metric.timestamp, metric.value);
  }

  /** As `next`, for a caller that already holds the series' key (`core/seriesKey.ts`). */
  nextByKey(key: string, timestampMs: number, value: number): number | undefined {
    if (!Number.isFinite(value) || !Number.isFinite(timestampMs)) return undefined;
    const previous = this.last.get(key);
    if (previous === undefined) {
      this.remember(key, { timestampMs, value });
      return undefined;
    }
    const intervalMs = timestampMs - previous.timestampMs;
    if (intervalMs <= 0) {
      // A repeated or older sample: keep the newer one, so the next interval is still right.
      this.notAdvanced++;
      return undefined;
    }
    // Delete then set: the series moves to the end of the map's order (most recently updated).
    this.last.delete(key);
    this.last.set(key, { timestampMs, value });
    if (intervalMs > this.staleAfterMs) return undefined;
    let increase = value - previous.value;
    if (increase < 0) {
      this.resets++;
      if (this.onReset === 'skip') return undefined;
      // A counter that went below zero is not a counter; a negative rate is never given.
      increase = Math.max(0, value);
    }
    return increase / (intervalMs / 1000);
  }

  /** Forgets every series whose newest sample is older than `nowMs - staleAfterMs`; returns how many. */
  sweep(nowMs: number): number {
    const oldestKeptMs = nowMs - this.staleAfterMs;
    let forgotten = 0;
    for (const [key, sample] of this.last) {
      if (sample.timestampMs < oldestKeptMs) {
        this.last.delete(key);
        forgotten++;
      }
    }
    this.forgottenStale += forgotten;
    return forgotten;
  }

  get size(): number {
    return this.last.size;
  }

  stats(): CounterRatesStats {
    return {
      series: this.last.size,
      forgottenStale: this.forgottenStale,
      droppedAtCap: this.droppedAtCap,
      resets: this.resets,
      notAdvanced: this.notAdvanced,
    };
  }

  private remember(key: string, sample: LastSample): void {
    if (this.last.size >= this.maxSeries) {
      const oldest = this.last.keys().next();
      if (oldest.done !== true) {
        this.last.delete(oldest.value);
        this.droppedAtCap++;
      }
    }
    this.last.set(key, sample);
  }
}
