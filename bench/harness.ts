/**
 * What every `bench/*.bench.ts` module shares: the result row `bench/run.ts` writes, and
 * a timer that warms up, repeats for a fixed time and takes the median, so that one GC
 * pause or JIT tier-up does not move the figure.
 */
import { cpus, totalmem } from 'node:os';
import { performance } from 'node:perf_hooks';

export interface BenchResult {
  readonly name: string;
  readonly unit: string;
  readonly value: number;
  /** What `value` is compared with, measured in the same run. */
  readonly baseline: string;
  readonly baseline_value: number;
  /** value / baseline_value. */
  readonly ratio: number;
  /** The ratio or value aimed at, in words, e.g. ">= 2x peer". */
  readonly goal: string;
}

export interface Machine {
  readonly cpu_model: string;
  readonly cpu_count: number;
  readonly memory_bytes: number;
  readonly node_version: string;
  readonly platform: string;
}

export function machine(): Machine {
  const list = cpus();
  return { cpu_model: list[0]?.model ?? 'unknown', cpu_count: list.length, memory_bytes: totalmem(), node_version: process.version, platform: `${process.platform}-${process.arch}` };
}

export function benchResult(row: Omit<BenchResult, 'ratio'>): BenchResult {
  const { name, unit, value, baseline, baseline_value, goal } = row;
  return { name, unit, value, baseline, baseline_value, ratio: baseline_value === 0 ? NaN : value / baseline_value, goal };
}

export interface TimingOptions {
  readonly warmupMs: number;
  readonly durationMs: number;
}

export const DEFAULT_TIMING: TimingOptions = { warmupMs: 1_000, durationMs: 3_000 };

/**
 * Median milliseconds per call of `task`. What the task returns is kept in a sink, so
 * the JIT cannot drop the work as unused.
 */
export function medianMs(task: () => unknown, timing: TimingOptions = DEFAULT_TIMING): number {
  const sink: unknown[] = [];
  const warmupEnd = performance.now() + timing.warmupMs;
  while (performance.now() < warmupEnd) sink[0] = task();
  const times: number[] = [];
  const end = performance.now() + timing.durationMs;
  while (performance.now() < end || times.length < 5) {
    const start = performance.now();
    sink[0] = task();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  const middle = times.length >> 1;
  const median = times.length % 2 === 1 ? (times[middle] ?? NaN) : ((times[middle - 1] ?? NaN) + (times[middle] ?? NaN)) / 2;
  if (sink.length === 0) throw new Error('benchmark task never ran');
  return median;
}
