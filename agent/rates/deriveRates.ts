/**
 * Derived measurements: per-second rates of the cAdvisor counters, and a container's CPU
 * and memory use as a percentage of its Kubernetes limits, in monasca-agent's names.
 *
 * monasca-agent's kubernetes plugin (`checks_d/kubernetes.py`) sends every counter
 * twice, as a gauge under its own name and as a rate under the name + `_sec`
 * (`container.cpu.total_time_sec`, `pod.net.in_bytes_sec`, …). The gauges come from the
 * kubelet source already; this adds the rates and the figures that need a pod spec.
 * It returns only the new measurements; the caller sends them with the cumulative ones.
 *
 * monasca-agent also adds a `unit` dimension to each; Kansoku does not (the unit is in
 * `RATE_METRICS` and the documentation), so a derived series has exactly its source's
 * dimensions and alarms can name the two alike.
 */
import type { Counters } from '../../core/counters.js';
import type { Metric } from '../../core/envelope.js';
import { seriesKey } from '../../core/seriesKey.js';
import { CounterRates } from './counterRates.js';
import type { CounterResetPolicy } from './counterRates.js';

export interface RateMetric {
  /** The cumulative measurement's name. */
  readonly from: string;
  /** The rate's name: `from` + `_sec`, as monasca-agent names it. */
  readonly name: string;
  /** The rate's unit, as monasca-agent's `METRIC_TYPES_UNITS` gives it where it has one. */
  readonly unit: string;
  /** Whether monasca-agent's kubernetes plugin sends this name (false: a Kansoku name in its style). */
  readonly monascaAgent: boolean;
}

const rate = (from: string, unit: string, monascaAgent = true): RateMetric => ({ from, name: `${from}_sec`, unit, monascaAgent });

/** The counters that get a rate: the one table documentation is generated from. */
export const RATE_METRICS: readonly RateMetric[] = Object.freeze([
  // CPU time in core-seconds, so its rate is in cores: `container.cpu.total_time_sec` is the
  // "cores used" figure (monasca-agent names no other).
  rate('container.cpu.total_time', 'cores_seconds_per_second'),
  rate('container.cpu.user_time', 'cores_seconds_per_second'),
  rate('container.cpu.system_time', 'cores_seconds_per_second'),
  // Not in monasca-agent: CFS throttling is how a CPU limit is felt; seconds throttled per second.
  rate('container.cpu.throttled_time', 'cores_seconds_per_second', false),
  rate('container.io.read_bytes', 'total_bytes_per_second'),
  rate('container.io.write_bytes', 'total_bytes_per_second'),
  // monasca-agent's table says bytes_per_second, but cAdvisor's reads/writes count completed operations.
  rate('container.fs.reads', 'operations_per_second'),
  rate('container.fs.writes', 'operations_per_second'),
  rate('pod.net.in_bytes', 'total_bytes_per_second'),
  rate('pod.net.out_bytes', 'total_bytes_per_second'),
  rate('pod.net.in_packets', 'total_packets_per_second'),
  rate('pod.net.out_packets', 'total_packets_per_second'),
  rate('pod.net.in_dropped_packets', 'total_packets_per_second'),
  rate('pod.net.out_dropped_packets', 'total_packets_per_second'),
  rate('pod.net.in_errors', 'total_errors_per_second'),
  rate('pod.net.out_errors', 'total_errors_per_second'),
]);

/** A container's resources as its pod spec declares them, in cores and bytes. */
export interface ContainerLimits {
  cpuLimitCores?: number;
  cpuRequestCores?: number;
  memoryLimitBytes?: number;
  memoryRequestBytes?: number;
}

export interface DerivedGauge {
  readonly name: string;
  /** What it is computed from. */
  readonly from: string;
  readonly unit: string;
  readonly monascaAgent: boolean;
}

/** The names of the gauges derived from limits, and the percentages. */
export const DERIVED_NAMES = Object.freeze({
  // monasca-agent's kubernetes plugin has no container CPU percentage; its libvirt plugin
  // calls a VM's `cpu.utilization_perc`, so this is that name under `container.`.
  cpuUtilizationPercent: 'container.cpu.utilization_perc',
  // monasca-agent's name (kubernetes.py `_parse_memory`), `_percent` and not `_perc`.
  memoryUsagePercent: 'container.mem.usage_percent',
  // monasca-agent's names (kubernetes.py `_report_container_limits`).
  cpuLimitCores: 'container.cpu.limit',
  cpuRequestCores: 'container.request.cpu',
  memoryLimitBytes: 'container.memory.limit_bytes',
  memoryRequestBytes: 'container.request.memory_bytes',
} as const);

export const DERIVED_GAUGES: readonly DerivedGauge[] = Object.freeze([
  { name: DERIVED_NAMES.cpuUtilizationPercent, from: 'container.cpu.total_time_sec / cpu limit × 100', unit: 'percent', monascaAgent: false },
  { name: DERIVED_NAMES.memoryUsagePercent, from: 'container.mem.working_set_bytes / memory limit × 100', unit: 'percent', monascaAgent: true },
  { name: DERIVED_NAMES.cpuLimitCores, from: 'pod spec resources.limits.cpu', unit: 'cores', monascaAgent: true },
  { name: DERIVED_NAMES.cpuRequestCores, from: 'pod spec resources.requests.cpu', unit: 'cores', monascaAgent: true },
  { name: DERIVED_NAMES.memoryLimitBytes, from: 'pod spec resources.limits.memory', unit: 'bytes', monascaAgent: true },
  { name: DERIVED_NAMES.memoryRequestBytes, from: 'pod spec resources.requests.memory', unit: 'bytes', monascaAgent: true },
]);

export interface RateDeriverOptions {
  /** A counter series unseen this long (of sample time) is forgotten, and a gap this long gives no rate. */
  staleAfterMs: number;
  /** At most this many counter series are remembered (drop-oldest beyond, counted). */
  maxSeries: number;
  counters: Counters;
  /** The container's limits from its pod spec; undefined while the pod is unknown. */
  limitsOf?: (namespace: string, pod: string, container: string) => ContainerLimits | undefined;
  onReset?: CounterResetPolicy;
}

const RATES_BY_SOURCE: ReadonlyMap<string, RateMetric> = new Map(RATE_METRICS.map((row) => [row.from, row]));
const CPU_TOTAL = 'container.cpu.total_time';
const WORKING_SET = 'container.mem.working_set_bytes';
/** The dimensions that name a container; a limit gauge carries these of its source, not `device` or `interface`. */
const CONTAINER_IDENTITY = ['namespace', 'pod_name', 'container_name', 'image', 'hostname'] as const;

const SERIES_GAUGE = 'kansoku_agent_rate_series';
const FORGOTTEN_TOTAL = 'kansoku_agent_rate_series_forgotten_total';
const RESETS_TOTAL = 'kansoku_agent_counter_resets_total';

export class RateDeriver {
  private readonly rates: CounterRates;
  private readonly staleAfterMs: number;
  private readonly counters: Counters;
  private readonly limitsOf: RateDeriverOptions['limitsOf'];
  private lastSweepMs: number | undefined;
  /**
   * Series keys by dimensions object and name: the measurements of a series share their
   * dimensions object scrape after scrape (the kubelet source's), so a key is built once
   * and the same string, its hash already computed, finds the series each time.
   */
  private readonly seriesKeys = new WeakMap<object, Map<string, string>>();

  constructor(options: RateDeriverOptions) {
    this.rates = new CounterRates({ staleAfterMs: options.staleAfterMs, maxSeries: options.maxSeries, onReset: options.onReset ?? 'restart' });
    this.staleAfterMs = options.staleAfterMs;
    this.counters = options.counters;
    this.limitsOf = options.limitsOf;
    this.counters.describe(SERIES_GAUGE, 'Counter series whose previous sample the rate stage holds.');
    this.counters.describe(FORGOTTEN_TOTAL, 'Counter series the rate stage forgot: stale (unseen past staleAfterMs) or cap (maxSeries reached, oldest dropped).');
    this.counters.describe(RESETS_TOTAL, 'Counter decreases seen by the rate stage (container restarts, counter resets).');
  }

  /**
   * The derived measurements for one batch (one scrape): rates, percentages of limits, and
   * each container's limits once. Every one has its source's dimensions and timestamp.
   */
  derive(metrics: readonly Metric[]): Metric[] {
    const out: Metric[] = [];
    // Per call: each container's limits are looked up and sent once, however many of its series the batch holds.
    const limitsByContainer = new Map<string, ContainerLimits | undefined>();
    let newestMs = -Infinity;
    for (const metric of metrics) {
      if (metric.timestamp > newestMs) newestMs = metric.timestamp;
      const row = RATES_BY_SOURCE.get(metric.name);
      const isWorkingSet = metric.name === WORKING_SET;
      const limits = this.limitsFor(metric, limitsByContainer, out);
      if (row !== undefined) {
        const perSecond = this.rates.nextByKey(this.seriesKeyOf(metric), metric.timestamp, metric.value);
        if (perSecond !== undefined) {
          out.push(derived(row.name, metric, perSecond));
          const cpuLimitCores = limits?.cpuLimitCores;
          if (metric.name === CPU_TOTAL && cpuLimitCores !== undefined && cpuLimitCores > 0) {
            out.push(derived(DERIVED_NAMES.cpuUtilizationPercent, metric, (perSecond / cpuLimitCores) * 100));
          }
        }
      } else if (isWorkingSet) {
        const memoryLimitBytes = limits?.memoryLimitBytes;
        if (memoryLimitBytes !== undefined && memoryLimitBytes > 0 && Number.isFinite(metric.value)) {
          out.push(derived(DERIVED_NAMES.memoryUsagePercent, metric, (metric.value / memoryLimitBytes) * 100));
        }
      }
    }
    if (Number.isFinite(newestMs)) this.maybeSweep(newestMs);
    this.report();
    return out;
  }

  /** Forgets counter series unseen since `nowMs - staleAfterMs`; `derive` does it itself once per `staleAfterMs` of sample time. */
  sweep(nowMs: number): number {
    this.lastSweepMs = nowMs;
    const forgotten = this.rates.sweep(nowMs);
    this.report();
    return forgotten;
  }

  /** Counter series currently remembered. */
  get size(): number {
    return this.rates.size;
  }

  private seriesKeyOf(metric: Metric): string {
    let byName = this.seriesKeys.get(metric.dimensions);
    if (byName === undefined) {
      byName = new Map();
      this.seriesKeys.set(metric.dimensions, byName);
    }
    let key = byName.get(metric.name);
    if (key === undefined) {
      key = seriesKey(metric.name, metric.dimensions);
      byName.set(metric.name, key);
    }
    return key;
  }

  private maybeSweep(newestMs: number): void {
    if (this.lastSweepMs === undefined) this.lastSweepMs = newestMs;
    else if (newestMs - this.lastSweepMs >= this.staleAfterMs) this.sweep(newestMs);
  }

  private report(): void {
    const stats = this.rates.stats();
    this.counters.set(SERIES_GAUGE, {}, stats.series);
    this.counters.set(FORGOTTEN_TOTAL, { reason: 'stale' }, stats.forgottenStale, 'counter');
    this.counters.set(FORGOTTEN_TOTAL, { reason: 'cap' }, stats.droppedAtCap, 'counter');
    this.counters.set(RESETS_TOTAL, {}, stats.resets, 'counter');
  }

  /** The metric's container's limits, looked up (and sent as gauges) on the first of its series in this batch. */
  private limitsFor(metric: Metric, seen: Map<string, ContainerLimits | undefined>, out: Metric[]): ContainerLimits | undefined {
    if (this.limitsOf === undefined) return undefined;
    const { namespace, pod_name: pod, container_name: container } = metric.dimensions;
    if (!namespace || !pod || !container) return undefined;
    // Kubernetes names are DNS labels and subdomains: none holds a '/', so the key is unambiguous.
    const key = `${namespace}/${pod}/${container}`;
    if (seen.has(key)) return seen.get(key);
    const limits = this.limitsOf(namespace, pod, container);
    seen.set(key, limits);
    if (limits !== undefined) {
      const dimensions: Record<string, string> = {};
      for (const name of CONTAINER_IDENTITY) {
        const value = metric.dimensions[name];
        if (value !== undefined) dimensions[name] = value;
      }
      const gauge = (name: string, value: number | undefined): void => {
        if (value !== undefined && Number.isFinite(value) && value >= 0) out.push({ name, dimensions, timestamp: metric.timestamp, value, value_meta: null });
      };
      gauge(DERIVED_NAMES.cpuLimitCores, limits.cpuLimitCores);
      gauge(DERIVED_NAMES.cpuRequestCores, limits.cpuRequestCores);
      gauge(DERIVED_NAMES.memoryLimitBytes, limits.memoryLimitBytes);
      gauge(DERIVED_NAMES.memoryRequestBytes, limits.memoryRequestBytes);
    }
    return limits;
  }
}

function derived(name: string, source: Metric, value: number): Metric {
  return { name, dimensions: source.dimensions, timestamp: source.timestamp, value, value_meta: null };
}
