/**
 * cAdvisor series from the kubelet's `/metrics/cadvisor` → Monasca measurements.
 *
 * The names follow monasca-agent's kubernetes plugin (`checks_d/kubernetes.py`,
 * `CADVISOR_METRICS`): `container.cpu.total_time`, `container.mem.used_bytes`,
 * `container.fs.total_bytes`, `pod.net.in_bytes`, … Those are the cumulative values it
 * reports as gauges; its `*_sec` names are per-second rates it derives from them, which
 * belong to a later rate stage, not to this stateless mapping.
 *
 * Only a pod's cgroups become measurements; the node's own cgroups (namespace or pod
 * empty) are skipped. cAdvisor shows three kinds of cgroup under a pod:
 * - a container (`container` set, not "POD") → `container.*`, per container;
 * - the sandbox, i.e. the pause container (`container="POD"` with Docker, or
 *   `container=""` with an image under containerd). It holds the pod's network
 *   namespace, so it alone carries network series → `pod.net.*`;
 * - the pod's own cgroup (`container=""`, no image) → skipped: it is the sum of the
 *   above, and k8s 1.15 kubelets do not label it with its pod, so `pod.cpu.*`-style
 *   aggregates would exist on some clusters only. Monasca can sum `container.*`.
 */
import type { Metric } from '../../core/envelope.js';
import type { Checked } from '../../core/outcome.js';
import { checkDimensions, checkTimestampMs } from '../../core/validation.js';
import type { Sample } from '../exposition/parseExposition.js';
import { ScrapeDimensions } from './scrapeDimensions.js';

export type CadvisorScope = 'container' | 'pod';

export interface CadvisorMapping {
  /** The cAdvisor series (Prometheus metric) name. */
  readonly series: string;
  /** The Monasca metric name. */
  readonly name: string;
  /** `container`: one measurement per container; `pod`: one per pod, read from its sandbox. */
  readonly scope: CadvisorScope;
  /** cAdvisor label → Monasca dimension, added to the scope's own dimensions. */
  readonly dimensions: Readonly<Record<string, string>>;
  /**
   * k8s ≤ 1.15 kubelets export this series per core (`cpu="cpu00"`, …) and later ones
   * as `cpu="total"`; per-core samples are summed into one measurement.
   */
  readonly sumOverCpus?: boolean;
}

/** Dimensions every `container.*` measurement has; `pod.*` ones have all but the container's two. */
export const CONTAINER_DIMENSIONS = ['namespace', 'pod_name', 'container_name', 'image', 'hostname'] as const;

const DEVICE = { device: 'device' } as const;
const INTERFACE = { interface: 'interface' } as const;

export const CADVISOR_METRICS: readonly CadvisorMapping[] = Object.freeze([
  { series: 'container_cpu_usage_seconds_total', name: 'container.cpu.total_time', scope: 'container', dimensions: {}, sumOverCpus: true },
  { series: 'container_cpu_user_seconds_total', name: 'container.cpu.user_time', scope: 'container', dimensions: {} },
  { series: 'container_cpu_system_seconds_total', name: 'container.cpu.system_time', scope: 'container', dimensions: {} },
  // Not in monasca-agent; CFS throttling is how a Kubernetes CPU limit shows.
  { series: 'container_cpu_cfs_throttled_seconds_total', name: 'container.cpu.throttled_time', scope: 'container', dimensions: {} },
  { series: 'container_memory_usage_bytes', name: 'container.mem.used_bytes', scope: 'container', dimensions: {} },
  { series: 'container_memory_working_set_bytes', name: 'container.mem.working_set_bytes', scope: 'container', dimensions: {} },
  { series: 'container_memory_rss', name: 'container.mem.rss_bytes', scope: 'container', dimensions: {} },
  { series: 'container_memory_cache', name: 'container.mem.cache_bytes', scope: 'container', dimensions: {} },
  { series: 'container_memory_swap', name: 'container.mem.swap_bytes', scope: 'container', dimensions: {} },
  { series: 'container_memory_failcnt', name: 'container.mem.fail_count', scope: 'container', dimensions: {} },
  { series: 'container_fs_usage_bytes', name: 'container.fs.usage_bytes', scope: 'container', dimensions: DEVICE },
  { series: 'container_fs_limit_bytes', name: 'container.fs.total_bytes', scope: 'container', dimensions: DEVICE },
  { series: 'container_fs_reads_total', name: 'container.fs.reads', scope: 'container', dimensions: DEVICE },
  { series: 'container_fs_writes_total', name: 'container.fs.writes', scope: 'container', dimensions: DEVICE },
  { series: 'container_fs_io_current', name: 'container.fs.io_current', scope: 'container', dimensions: DEVICE },
  { series: 'container_fs_reads_bytes_total', name: 'container.io.read_bytes', scope: 'container', dimensions: DEVICE },
  { series: 'container_fs_writes_bytes_total', name: 'container.io.write_bytes', scope: 'container', dimensions: DEVICE },
  { series: 'container_network_receive_bytes_total', name: 'pod.net.in_bytes', scope: 'pod', dimensions: INTERFACE },
  { series: 'container_network_transmit_bytes_total', name: 'pod.net.out_bytes', scope: 'pod', dimensions: INTERFACE },
  { series: 'container_network_receive_packets_total', name: 'pod.net.in_packets', scope: 'pod', dimensions: INTERFACE },
  { series: 'container_network_transmit_packets_total', name: 'pod.net.out_packets', scope: 'pod', dimensions: INTERFACE },
  { series: 'container_network_receive_packets_dropped_total', name: 'pod.net.in_dropped_packets', scope: 'pod', dimensions: INTERFACE },
  { series: 'container_network_transmit_packets_dropped_total', name: 'pod.net.out_dropped_packets', scope: 'pod', dimensions: INTERFACE },
  { series: 'container_network_receive_errors_total', name: 'pod.net.in_errors', scope: 'pod', dimensions: INTERFACE },
  { series: 'container_network_transmit_errors_total', name: 'pod.net.out_errors', scope: 'pod', dimensions: INTERFACE },
] satisfies CadvisorMapping[]);

const ROWS_BY_SERIES: ReadonlyMap<string, readonly CadvisorMapping[]> = (() => {
  const bySeries = new Map<string, CadvisorMapping[]>();
  for (const row of CADVISOR_METRICS) bySeries.set(row.series, [...(bySeries.get(row.series) ?? []), row]);
  return bySeries;
})();

/** Whether a page family is one this mapping reads (others need not be parsed at all). */
export function mapsSeries(name: string): boolean {
  return ROWS_BY_SERIES.has(name);
}

/** `duplicate`: a series (name and dimensions) the page already gave a value for; the first one stands. */
export type CadvisorDropReason = 'not_finite' | 'invalid' | 'duplicate';

export interface CadvisorMapContext {
  /** The node's name, the `hostname` dimension. */
  readonly hostname: string;
  /** When the page was fetched: the timestamp of samples that carry none. */
  readonly scrapeTimeMs: number;
  /**
   * The dimension sets of earlier scrapes of the same kubelet, reused when a series shows
   * again (see `ScrapeDimensions`); without it they are shared within this page only.
   */
  readonly dimensions?: ScrapeDimensions;
}

export interface CadvisorMapResult {
  readonly measurements: Metric[];
  /** Mapped samples that were not turned into measurements, by reason. */
  readonly dropped: Record<CadvisorDropReason, number>;
  /** Why each `invalid` drop happened. */
  readonly errors: string[];
}

/** Samples of series the table does not name, or of cgroups that are not a pod's, are ignored (not dropped). */
export function mapCadvisorSamples(samples: readonly Sample[], context: CadvisorMapContext): CadvisorMapResult {
  const result: CadvisorMapResult = { measurements: [], dropped: { not_finite: 0, invalid: 0, duplicate: 0 }, errors: [] };
  const perCoreSums = new Map<string, Draft>();
  const totals = new Set<string>();
  // A page may name one series twice (a broken exporter; two cgroups of one container, as a
  // restarted container's old one lingers): one value per series and scrape, or its rate and
  // its stored point would depend on the order of the page.
  const seen = new Set<string>();
  const known = context.dimensions ?? new ScrapeDimensions();
  known.nextScrape();
  for (const sample of samples) {
    const rows = ROWS_BY_SERIES.get(sample.name);
    if (rows === undefined) continue;
    const scope = scopeOf(sample.labels);
    if (scope === undefined) continue;
    for (const row of rows) {
      if (row.scope !== scope) continue;
      const key = dimensionsKey(row, scope, sample.labels, context.hostname);
      const draft: Draft = {
        name: row.name,
        key,
        dimensions: known.lookup(key) ?? known.remember(key, checkDimensions(dimensionsOf(row, scope, sample.labels, context.hostname))),
        timestamp: sample.timestampMs ?? context.scrapeTimeMs,
        value: sample.value,
      };
      const cpu = sample.labels['cpu'];
      if (row.sumOverCpus === true && cpu !== undefined && cpu !== 'total') addPerCore(perCoreSums, draft);
      else {
        const series = draftKey(draft);
        if (seen.has(series)) {
          result.dropped.duplicate++;
          continue;
        }
        seen.add(series);
        if (row.sumOverCpus === true) totals.add(series);
        emit(result, draft);
      }
    }
  }
  // NaN or ±Inf on any core makes the sum so, and the sum is dropped as not finite.
  for (const [key, draft] of perCoreSums) if (!totals.has(key)) emit(result, draft);
  return result;
}

interface Draft {
  readonly name: string;
  /** Its dimensions' `dimensionsKey`. */
  readonly key: string;
  /** Checked once per dimension set, not per sample: a set that fails is each of its samples' reason. */
  readonly dimensions: Checked<Readonly<Record<string, string>>>;
  timestamp: number;
  value: number;
}

function scopeOf(labels: Readonly<Record<string, string>>): CadvisorScope | undefined {
  // k8s ≥ 1.16 labels are namespace/pod/container; 1.15 has pod_name/container_name.
  if (!labels['namespace'] || !(labels['pod'] || labels['pod_name'])) return undefined;
  const container = labels['container'] || labels['container_name'] || '';
  if (container === 'POD') return 'pod';
  if (container !== '') return 'container';
  return labels['image'] ? 'pod' : undefined;
}

/**
 * A unique text of the dimensions a sample gets: the scope's own labels (namespace, pod,
 * and for a container its name and image), the node, and the row's extra labels. Each
 * part is prefixed with its length, so no label value can make two sets share one.
 */
function dimensionsKey(row: CadvisorMapping, scope: CadvisorScope, labels: Readonly<Record<string, string>>, hostname: string): string {
  const namespace = labels['namespace'] ?? '';
  const pod = labels['pod'] || labels['pod_name'] || '';
  const container = scope === 'container' ? labels['container'] || labels['container_name'] || '' : '';
  const image = scope === 'container' ? labels['image'] || '' : '';
  let key = `${scope}${hostname.length}:${hostname}${namespace.length}:${namespace}${pod.length}:${pod}${container.length}:${container}${image.length}:${image}`;
  for (const label in row.dimensions) {
    const value = labels[label] || '';
    const name = row.dimensions[label] ?? label;
    key += `${name.length}:${name}${value.length}:${value}`;
  }
  return key;
}

function dimensionsOf(row: CadvisorMapping, scope: CadvisorScope, labels: Readonly<Record<string, string>>, hostname: string): Record<string, string> {
  const dimensions: Record<string, string> = {
    namespace: labels['namespace'] ?? '',
    pod_name: labels['pod'] || labels['pod_name'] || '',
  };
  if (scope === 'container') {
    dimensions['container_name'] = labels['container'] || labels['container_name'] || '';
    // Monasca rejects empty dimension values; a missing image is left out rather than the measurement.
    const image = labels['image'];
    if (image) dimensions['image'] = image;
  }
  dimensions['hostname'] = hostname;
  for (const label in row.dimensions) {
    const value = labels[label];
    if (value) dimensions[row.dimensions[label] ?? label] = value;
  }
  return dimensions;
}

function addPerCore(sums: Map<string, Draft>, draft: Draft): void {
  const key = draftKey(draft);
  const sum = sums.get(key);
  if (sum === undefined) sums.set(key, draft);
  else {
    sum.value += draft.value;
    sum.timestamp = Math.max(sum.timestamp, draft.timestamp);
  }
}

/** A draft's series, for summing per-core samples. */
function draftKey(draft: Draft): string {
  return `${draft.name}\u0000${draft.key}`;
}

/** The rows' names are valid Monasca names (a test says so), so a draft's name needs no check here. */
function emit(result: CadvisorMapResult, draft: Draft): void {
  if (!Number.isFinite(draft.value)) {
    result.dropped.not_finite++;
    return;
  }
  const { dimensions } = draft;
  if (!dimensions.ok) return refuse(result, draft.name, dimensions.error);
  const timestamp = checkTimestampMs(draft.timestamp);
  if (!timestamp.ok) return refuse(result, draft.name, timestamp.error);
  result.measurements.push({ name: draft.name, dimensions: dimensions.value, timestamp: timestamp.value, value: draft.value, value_meta: null });
}

function refuse(result: CadvisorMapResult, name: string, error: string): void {
  result.dropped.invalid++;
  result.errors.push(`${name}: ${error}`);
}
