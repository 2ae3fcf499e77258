/**
 * The kubelet's `/stats/summary` (JSON, `k8s.io/kubelet/pkg/apis/stats/v1alpha1.Summary`) →
 * Monasca measurements.
 *
 * Naming, decided once for every Kansoku source so that dashboards work whichever is on:
 * - `container.*` and `pod.*` reuse the names of the `/metrics/cadvisor` mapping
 *   (`../kubelet/cadvisorMetrics.ts`, after monasca-agent's kubernetes plugin) wherever the
 *   quantity is the same: `container.cpu.total_time` (core seconds), `container.mem.used_bytes`,
 *   `container.mem.working_set_bytes`, `container.mem.rss_bytes`, `container.fs.usage_bytes`,
 *   `container.fs.total_bytes`, `pod.net.in_bytes` (per `interface`), …, with the same
 *   dimensions (namespace, pod_name, container_name, hostname). The summary names no image
 *   and no device, so those two optional dimensions are absent here.
 * - Node-level measurements are `node.<group>.<quantity>` with only `hostname` (plus
 *   `interface`), the names monasca-agent's cadvisor_host plugin gives the root container
 *   (`cpu.total_time`, `mem.used_bytes`, `net.in_bytes`, `fs.usage_bytes`, `fs.total_bytes`)
 *   under a `node.` prefix. The node's image filesystem is `node.imagefs.*`, after the
 *   kubelet's eviction signals (`nodefs.*`, `imagefs.*`), rather than a dimension of
 *   `node.fs.*`: on most nodes they are one device, and summing over a dimension would count it twice.
 * - Values are cumulative or instantaneous as the kubelet reports them; per-second rates
 *   (monasca-agent's `*_sec`) belong to a later rate stage. `usageNanoCores`, which the kubelet
 *   itself derives, is `*.cpu.usage_cores`: a name of its own, so that it never collides with
 *   the rate stage's `*.cpu.total_time_sec`.
 * - `*.net.total_*` are sums over a scope's interfaces (the summary's top-level network figures
 *   are its default interface only, already among the per-interface ones).
 * - `*.fs.*`-style groups share one set of quantities: `usage_bytes` (usedBytes), `total_bytes`
 *   (capacityBytes, as cAdvisor's limit), `available_bytes`, `inodes`, `inodes_free`, `inodes_used`.
 *
 * Timestamps are each block's own `time` (RFC 3339); scrape time where a block has none.
 */
import {
  arrayAt,
  emitValue,
  emptyResult,
  field,
  isObject,
  kindOf,
  namedObject,
  objectAt,
  shapeError,
  stringAt,
  timeAt,
  type JsonMapResult,
  type JsonObject,
  type MetricRow,
} from '../json/jsonMapping.js';

/** The part of the payload a row reads its key from. */
export type SummaryBlock =
  | 'cpu'
  | 'memory'
  | 'interface'
  | 'network_total'
  | 'fs'
  | 'imagefs'
  | 'ephemeral_storage'
  | 'volume'
  | 'process'
  | 'rootfs'
  | 'logs';

export interface StatsSummaryMapping extends MetricRow {
  readonly block: SummaryBlock;
  /** The key read in each instance of `block`. */
  readonly key: string;
  /** Multiplies the payload value (1e-9: nanoseconds to seconds, nanocores to cores). */
  readonly scale?: number;
}

type Scope = StatsSummaryMapping['scope'];

const DIMENSIONS: Readonly<Record<Scope, readonly string[]>> = {
  node: ['hostname'],
  pod: ['namespace', 'pod_name', 'hostname'],
  container: ['namespace', 'pod_name', 'container_name', 'hostname'],
};

const NANO = 1e-9;

function row(scope: Scope, name: string, at: string, block: SummaryBlock, key: string, unit: string, extra: readonly string[] = [], scale?: number): StatsSummaryMapping {
  const mapping = { name, field: `${at}.${key}`, scope, unit, dimensions: [...DIMENSIONS[scope], ...extra], block, key };
  return scale === undefined ? mapping : { ...mapping, scale };
}

function cpuRows(scope: Scope, at: string): StatsSummaryMapping[] {
  return [
    row(scope, `${scope}.cpu.total_time`, `${at}.cpu`, 'cpu', 'usageCoreNanoSeconds', 'core_seconds', [], NANO),
    row(scope, `${scope}.cpu.usage_cores`, `${at}.cpu`, 'cpu', 'usageNanoCores', 'cores', [], NANO),
  ];
}

function memoryRows(scope: Scope, at: string): StatsSummaryMapping[] {
  const m = (quantity: string, key: string, unit: string): StatsSummaryMapping => row(scope, `${scope}.mem.${quantity}`, `${at}.memory`, 'memory', key, unit);
  return [
    m('used_bytes', 'usageBytes', 'bytes'),
    m('working_set_bytes', 'workingSetBytes', 'bytes'),
    m('rss_bytes', 'rssBytes', 'bytes'),
    m('available_bytes', 'availableBytes', 'bytes'),
    m('page_faults', 'pageFaults', 'faults'),
    m('major_page_faults', 'majorPageFaults', 'faults'),
  ];
}

function networkRows(scope: Scope, at: string): StatsSummaryMapping[] {
  const quantities = [
    ['in_bytes', 'rxBytes', 'bytes'],
    ['out_bytes', 'txBytes', 'bytes'],
    ['in_errors', 'rxErrors', 'errors'],
    ['out_errors', 'txErrors', 'errors'],
  ] as const;
  return [
    ...quantities.map(([quantity, key, unit]) => row(scope, `${scope}.net.${quantity}`, `${at}.network.interfaces[]`, 'interface', key, unit, ['interface'])),
    ...quantities.map(([quantity, key, unit]) => row(scope, `${scope}.net.total_${quantity}`, `sum of ${at}.network.interfaces[]`, 'network_total', key, unit)),
  ];
}

function fsRows(scope: Scope, prefix: string, at: string, block: SummaryBlock, extra: readonly string[] = []): StatsSummaryMapping[] {
  const f = (quantity: string, key: string, unit: string): StatsSummaryMapping => row(scope, `${prefix}.${quantity}`, at, block, key, unit, extra);
  return [
    f('usage_bytes', 'usedBytes', 'bytes'),
    f('total_bytes', 'capacityBytes', 'bytes'),
    f('available_bytes', 'availableBytes', 'bytes'),
    f('inodes', 'inodes', 'inodes'),
    f('inodes_free', 'inodesFree', 'inodes'),
    f('inodes_used', 'inodesUsed', 'inodes'),
  ];
}

const POD = 'pods[]';
const CONTAINER = 'pods[].containers[]';

/** Every measurement this mapping makes; the mapping iterates over it, and the README is generated from it. */
export const STATS_SUMMARY_METRICS: readonly StatsSummaryMapping[] = Object.freeze([
  ...cpuRows('node', 'node'),
  ...memoryRows('node', 'node'),
  ...networkRows('node', 'node'),
  ...fsRows('node', 'node.fs', 'node.fs', 'fs'),
  ...fsRows('node', 'node.imagefs', 'node.runtime.imageFs', 'imagefs'),
  ...cpuRows('pod', POD),
  ...memoryRows('pod', POD),
  ...networkRows('pod', POD),
  ...fsRows('pod', 'pod.ephemeral_storage', `${POD}.ephemeral-storage`, 'ephemeral_storage'),
  ...fsRows('pod', 'pod.volume', `${POD}.volume[]`, 'volume', ['volume', 'persistentvolumeclaim?']),
  row('pod', 'pod.process_count', `${POD}.process_stats`, 'process', 'process_count', 'processes'),
  ...cpuRows('container', CONTAINER),
  ...memoryRows('container', CONTAINER),
  ...fsRows('container', 'container.fs', `${CONTAINER}.rootfs`, 'rootfs'),
  ...fsRows('container', 'container.logs', `${CONTAINER}.logs`, 'logs'),
]);

const ROWS_BY_SCOPE: Readonly<Record<Scope, readonly StatsSummaryMapping[]>> = {
  node: STATS_SUMMARY_METRICS.filter((r) => r.scope === 'node'),
  pod: STATS_SUMMARY_METRICS.filter((r) => r.scope === 'pod'),
  container: STATS_SUMMARY_METRICS.filter((r) => r.scope === 'container'),
};

/** Far above any real node (the kubelet's own ceiling is a few hundred pods); a payload beyond is hostile or broken. */
export const SUMMARY_LIMITS = { pods: 2_000, containersPerPod: 256, interfaces: 4_096, volumesPerPod: 1_024 } as const;

export interface StatsSummaryContext {
  /** The node's name: the `hostname` dimension. */
  readonly hostname: string;
  /** When the payload was fetched: the timestamp of blocks that carry no `time`. */
  readonly scrapeTimeMs: number;
}

export type StatsSummaryMapResult = JsonMapResult;

/** Maps a parsed `/stats/summary` payload; anything of the wrong shape is counted and skipped, never thrown. */
export function mapStatsSummary(payload: unknown, context: StatsSummaryContext): StatsSummaryMapResult {
  const result = emptyResult();
  if (!isObject(payload)) {
    shapeError(result, `the summary is ${kindOf(payload)}, not an object`);
    return result;
  }
  const node = objectAt(result, payload, 'node', 'summary');
  if (node === undefined) shapeError(result, 'the summary has no node');
  else mapNode(result, node, context);
  const pods = arrayAt(result, payload, 'pods', 'summary', SUMMARY_LIMITS.pods);
  pods.forEach((pod, index) => mapPod(result, pod, `pods[${index}]`, context));
  return result;
}

/** One block of the payload a row's key is read from, with its dimensions and time. */
interface Instance {
  readonly values: JsonObject;
  readonly dimensions: Readonly<Record<string, string>>;
  readonly timestampMs: number;
}

type Instances = Partial<Record<SummaryBlock, readonly Instance[]>>;

function emitScope(result: JsonMapResult, scope: Scope, instances: Instances): void {
  for (const mapping of ROWS_BY_SCOPE[scope]) {
    for (const instance of instances[mapping.block] ?? []) {
      emitValue(result, { name: mapping.name, dimensions: instance.dimensions, timestampMs: instance.timestampMs }, field(instance.values, mapping.key), mapping.scale);
    }
  }
}

function block(result: JsonMapResult, parent: JsonObject, key: string, where: string, dimensions: Readonly<Record<string, string>>, fallbackMs: number): Instance[] {
  const values = objectAt(result, parent, key, where);
  if (values === undefined) return [];
  return [{ values, dimensions, timestampMs: timeAt(result, values, 'time', `${where}.${key}`, fallbackMs) }];
}

function mapNode(result: JsonMapResult, node: JsonObject, context: StatsSummaryContext): void {
  const dimensions = { hostname: context.hostname };
  const at = (key: string): Instance[] => block(result, node, key, 'node', dimensions, context.scrapeTimeMs);
  const runtime = objectAt(result, node, 'runtime', 'node');
  emitScope(result, 'node', {
    cpu: at('cpu'),
    memory: at('memory'),
    ...network(result, node, 'node', dimensions, context.scrapeTimeMs),
    fs: at('fs'),
    imagefs: runtime === undefined ? [] : block(result, runtime, 'imageFs', 'node.runtime', dimensions, context.scrapeTimeMs),
  });
}

function mapPod(result: JsonMapResult, pod: unknown, where: string, context: StatsSummaryContext): void {
  if (!isObject(pod)) {
    shapeError(result, `${where} is ${kindOf(pod)}, not an object`);
    return;
  }
  const podRef = objectAt(result, pod, 'podRef', where);
  const namespace = podRef === undefined ? undefined : stringAt(podRef, 'namespace');
  const podName = podRef === undefined ? undefined : stringAt(podRef, 'name');
  if (namespace === undefined || podName === undefined) {
    shapeError(result, `${where}.podRef has no namespace and name`);
    return;
  }
  const dimensions = { namespace, pod_name: podName, hostname: context.hostname };
  const fallbackMs = context.scrapeTimeMs;
  const at = (key: string): Instance[] => block(result, pod, key, where, dimensions, fallbackMs);
  const processStats = objectAt(result, pod, 'process_stats', where);
  emitScope(result, 'pod', {
    cpu: at('cpu'),
    memory: at('memory'),
    ...network(result, pod, where, dimensions, fallbackMs),
    ephemeral_storage: at('ephemeral-storage'),
    volume: volumes(result, pod, where, dimensions, fallbackMs),
    process: processStats === undefined ? [] : [{ values: processStats, dimensions, timestampMs: fallbackMs }],
  });
  arrayAt(result, pod, 'containers', where, SUMMARY_LIMITS.containersPerPod).forEach((item, index) => {
    const containerWhere = `${where}.containers[${index}]`;
    const named = namedObject(result, item, containerWhere);
    if (named === undefined) return;
    const { object: container, name: containerName } = named;
    const containerDimensions = { namespace, pod_name: podName, container_name: containerName, hostname: context.hostname };
    const cat = (key: string): Instance[] => block(result, container, key, containerWhere, containerDimensions, fallbackMs);
    emitScope(result, 'container', { cpu: cat('cpu'), memory: cat('memory'), rootfs: cat('rootfs'), logs: cat('logs') });
  });
}

const INTERFACE_KEYS = ['rxBytes', 'txBytes', 'rxErrors', 'txErrors'] as const;

/**
 * Per-interface instances from `network.interfaces`, or from the default interface inlined
 * in `network` when a kubelet sends no list; and one instance of their sums. A key is summed
 * only when every interface has a valid value for it, so that a bad value (dropped and counted
 * on its interface) does not make a total that silently undercounts.
 */
function network(result: JsonMapResult, parent: JsonObject, where: string, dimensions: Readonly<Record<string, string>>, fallbackMs: number): Pick<Instances, 'interface' | 'network_total'> {
  const stats = objectAt(result, parent, 'network', where);
  if (stats === undefined) return {};
  const timestampMs = timeAt(result, stats, 'time', `${where}.network`, fallbackMs);
  const listed = field(stats, 'interfaces') !== undefined && field(stats, 'interfaces') !== null;
  const items = listed ? arrayAt(result, stats, 'interfaces', `${where}.network`, SUMMARY_LIMITS.interfaces) : [stats];
  const interfaces: Instance[] = [];
  items.forEach((item, index) => {
    const itemWhere = listed ? `${where}.network.interfaces[${index}]` : `${where}.network`;
    // The inlined default interface of a pod without networking has no name and no figures: nothing to report.
    const named = namedObject(result, item, itemWhere, listed);
    if (named !== undefined) interfaces.push({ values: named.object, dimensions: { ...dimensions, interface: named.name }, timestampMs });
  });
  if (interfaces.length === 0) return { interface: interfaces };
  const totals: Record<string, number> = {};
  for (const key of INTERFACE_KEYS) {
    let sum = 0;
    for (const { values } of interfaces) {
      const value = field(values, key);
      if (typeof value === 'number' && Number.isFinite(value) && value >= 0) sum += value;
      else {
        sum = Number.NaN;
        break;
      }
    }
    if (!Number.isNaN(sum)) totals[key] = sum;
  }
  return { interface: interfaces, network_total: [{ values: totals, dimensions, timestampMs }] };
}

function volumes(result: JsonMapResult, pod: JsonObject, where: string, dimensions: Readonly<Record<string, string>>, fallbackMs: number): Instance[] {
  const instances: Instance[] = [];
  arrayAt(result, pod, 'volume', where, SUMMARY_LIMITS.volumesPerPod).forEach((item, index) => {
    const volumeWhere = `${where}.volume[${index}]`;
    const named = namedObject(result, item, volumeWhere);
    if (named === undefined) return;
    const { object: volume, name } = named;
    const pvcRef = objectAt(result, volume, 'pvcRef', volumeWhere);
    const claim = pvcRef === undefined ? undefined : stringAt(pvcRef, 'name');
    const volumeDimensions = claim === undefined ? { ...dimensions, volume: name } : { ...dimensions, volume: name, persistentvolumeclaim: claim };
    instances.push({ values: volume, dimensions: volumeDimensions, timestampMs: timeAt(result, volume, 'time', volumeWhere, fallbackMs) });
  });
  return instances;
}
