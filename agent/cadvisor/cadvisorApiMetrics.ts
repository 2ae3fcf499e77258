/**
 * Standalone cAdvisor's REST API → Monasca measurements. Two shapes are read:
 * - v2.0: `/api/v2.0/stats?type=docker&recursive=true&count=1`, a map of container name →
 *   stats entries (`info/v2.DeprecatedContainerStats`: `has_cpu`, `cpu`, `memory`,
 *   `network.interfaces`, `filesystem`, `diskio`, …) that carries no labels; the labels come
 *   from `/api/v2.0/spec?type=docker&recursive=true` (name → `info/v2.ContainerSpec`), and the
 *   node's own figures from the root container (`/api/v2.0/stats?type=name&count=1`).
 * - v1.3: `/api/v1.3/subcontainers/`, an array of `info/v1.ContainerInfo` (`name`, `aliases`,
 *   `spec` with `labels` and `has_*`, `stats[]`), the root container among them.
 *
 * Only the latest stats entry of each container is read (cumulative values need no history).
 *
 * The names are those of the `/metrics/cadvisor` mapping (`../kubelet/cadvisorMetrics.ts`)
 * for the same cAdvisor figures, with the same dimensions, so dashboards work whichever
 * source is on: a Kubernetes container's cgroup → `container.*` (namespace, pod_name,
 * container_name, image when known, hostname, + device); the pod's sandbox (the `POD` pause
 * container, or containerd's `io.cri-containerd.kind=sandbox`), which holds the pod's network
 * namespace → `pod.net.*` per interface. The root cgroup `/` → `node.*`, named as the
 * `/stats/summary` mapping names the node (`../summary/statsSummaryMetrics.ts`). Other cgroups
 * (system slices, containers that are not a pod's) are passed over.
 *
 * Pods are found by the labels the kubelet puts on containers (`io.kubernetes.pod.namespace`,
 * `io.kubernetes.pod.name`, `io.kubernetes.container.name`); kubelets before 1.2 set only
 * `io.kubernetes.pod.name` as `namespace/name`, so for them the Docker name
 * (`k8s_<container>.<hash>_<pod>_<namespace>_<uid>_<attempt>`) is read instead.
 */
import {
  arrayAt,
  quoted,
  emitValue,
  emptyResult,
  field,
  isObject,
  kindOf,
  namedObject,
  objectAt,
  parseRfc3339Ms,
  shapeError,
  stringAt,
  type JsonMapResult,
  type JsonObject,
  type MetricRow,
} from '../json/jsonMapping.js';

/** The part of a stats entry a row reads from; each has a `has_*` flag that can switch it off. */
export type CadvisorApiGroup = 'cpu' | 'memory' | 'interface' | 'filesystem' | 'diskio';

export interface CadvisorApiMapping extends MetricRow {
  readonly group: CadvisorApiGroup;
  /** The path read in each instance of `group`. */
  readonly path: readonly string[];
  /** Multiplies the payload value (1e-9: nanoseconds to seconds). */
  readonly scale?: number;
}

type Scope = CadvisorApiMapping['scope'];

const DIMENSIONS: Readonly<Record<Scope, readonly string[]>> = {
  node: ['hostname'],
  pod: ['namespace', 'pod_name', 'hostname'],
  container: ['namespace', 'pod_name', 'container_name', 'image?', 'hostname'],
};

const GROUP_AT: Readonly<Record<CadvisorApiGroup, { readonly at: string; readonly extra: readonly string[] }>> = {
  cpu: { at: 'cpu', extra: [] },
  memory: { at: 'memory', extra: [] },
  interface: { at: 'network.interfaces[]', extra: ['interface'] },
  filesystem: { at: 'filesystem[]', extra: ['device'] },
  diskio: { at: 'diskio.io_service_bytes[]', extra: ['device'] },
};

const NANO = 1e-9;

function row(scope: Scope, name: string, group: CadvisorApiGroup, path: readonly string[], unit: string, scale?: number): CadvisorApiMapping {
  const { at, extra } = GROUP_AT[group];
  const mapping = { name, field: `stats[latest].${at}.${path.join('.')}`, scope, unit, dimensions: [...DIMENSIONS[scope], ...extra], group, path };
  return scale === undefined ? mapping : { ...mapping, scale };
}

function cpuRows(scope: Scope): CadvisorApiMapping[] {
  return [
    row(scope, `${scope}.cpu.total_time`, 'cpu', ['usage', 'total'], 'core_seconds', NANO),
    row(scope, `${scope}.cpu.user_time`, 'cpu', ['usage', 'user'], 'core_seconds', NANO),
    row(scope, `${scope}.cpu.system_time`, 'cpu', ['usage', 'system'], 'core_seconds', NANO),
  ];
}

function memoryRows(scope: Scope): CadvisorApiMapping[] {
  return [
    row(scope, `${scope}.mem.used_bytes`, 'memory', ['usage'], 'bytes'),
    row(scope, `${scope}.mem.working_set_bytes`, 'memory', ['working_set'], 'bytes'),
    row(scope, `${scope}.mem.rss_bytes`, 'memory', ['rss'], 'bytes'),
    row(scope, `${scope}.mem.cache_bytes`, 'memory', ['cache'], 'bytes'),
    row(scope, `${scope}.mem.swap_bytes`, 'memory', ['swap'], 'bytes'),
  ];
}

function networkRows(scope: Scope): CadvisorApiMapping[] {
  return [
    row(scope, `${scope}.net.in_bytes`, 'interface', ['rx_bytes'], 'bytes'),
    row(scope, `${scope}.net.out_bytes`, 'interface', ['tx_bytes'], 'bytes'),
    row(scope, `${scope}.net.in_packets`, 'interface', ['rx_packets'], 'packets'),
    row(scope, `${scope}.net.out_packets`, 'interface', ['tx_packets'], 'packets'),
    row(scope, `${scope}.net.in_dropped_packets`, 'interface', ['rx_dropped'], 'packets'),
    row(scope, `${scope}.net.out_dropped_packets`, 'interface', ['tx_dropped'], 'packets'),
    row(scope, `${scope}.net.in_errors`, 'interface', ['rx_errors'], 'errors'),
    row(scope, `${scope}.net.out_errors`, 'interface', ['tx_errors'], 'errors'),
  ];
}

function ioRows(scope: Scope): CadvisorApiMapping[] {
  return [row(scope, `${scope}.io.read_bytes`, 'diskio', ['stats', 'Read'], 'bytes'), row(scope, `${scope}.io.write_bytes`, 'diskio', ['stats', 'Write'], 'bytes')];
}

/** Every measurement this mapping makes; the mapping iterates over it, and the README is generated from it. */
export const CADVISOR_API_METRICS: readonly CadvisorApiMapping[] = Object.freeze([
  ...cpuRows('container'),
  // Not in monasca-agent; CFS throttling is how a Kubernetes CPU limit shows.
  row('container', 'container.cpu.throttled_time', 'cpu', ['cfs', 'throttled_time'], 'core_seconds', NANO),
  ...memoryRows('container'),
  row('container', 'container.mem.fail_count', 'memory', ['failcnt'], 'events'),
  row('container', 'container.fs.usage_bytes', 'filesystem', ['usage'], 'bytes'),
  row('container', 'container.fs.total_bytes', 'filesystem', ['capacity'], 'bytes'),
  row('container', 'container.fs.reads', 'filesystem', ['reads_completed'], 'operations'),
  row('container', 'container.fs.writes', 'filesystem', ['writes_completed'], 'operations'),
  row('container', 'container.fs.io_current', 'filesystem', ['io_in_progress'], 'operations'),
  ...ioRows('container'),
  ...networkRows('pod'),
  ...cpuRows('node'),
  ...memoryRows('node'),
  ...networkRows('node'),
  row('node', 'node.fs.usage_bytes', 'filesystem', ['usage'], 'bytes'),
  row('node', 'node.fs.total_bytes', 'filesystem', ['capacity'], 'bytes'),
  row('node', 'node.fs.available_bytes', 'filesystem', ['available'], 'bytes'),
  ...ioRows('node'),
]);

const ROWS_BY_SCOPE: Readonly<Record<Scope, readonly CadvisorApiMapping[]>> = {
  node: CADVISOR_API_METRICS.filter((r) => r.scope === 'node'),
  pod: CADVISOR_API_METRICS.filter((r) => r.scope === 'pod'),
  container: CADVISOR_API_METRICS.filter((r) => r.scope === 'container'),
};

const HAS_FLAG: Readonly<Record<CadvisorApiGroup, string>> = { cpu: 'has_cpu', memory: 'has_memory', interface: 'has_network', filesystem: 'has_filesystem', diskio: 'has_diskio' };

/** Far above any real node; a payload beyond is hostile or broken. */
export const CADVISOR_API_LIMITS = { containers: 10_000, statsPerContainer: 1_000, itemsPerList: 4_096 } as const;

export interface CadvisorApiContext {
  /** The node's name: the `hostname` dimension. */
  readonly hostname: string;
  /** When the payload was fetched: the timestamp of stats entries that carry none. */
  readonly scrapeTimeMs: number;
}

export type CadvisorApiMapResult = JsonMapResult;

/** The three v2.0 responses one collect reads; `root` is absent when its request failed. */
export interface CadvisorV2Payloads {
  /** `/api/v2.0/stats?type=docker&recursive=true&count=1` */
  readonly stats: unknown;
  /** `/api/v2.0/spec?type=docker&recursive=true` */
  readonly specs: unknown;
  /** `/api/v2.0/stats?type=name&count=1`: the root container, for node measurements. */
  readonly root?: unknown;
}

/** Maps v2.0 responses; anything of the wrong shape is counted and skipped, never thrown. */
export function mapCadvisorV2(payloads: CadvisorV2Payloads, context: CadvisorApiContext): CadvisorApiMapResult {
  const result = emptyResult();
  const specs = isObject(payloads.specs) ? payloads.specs : undefined;
  if (specs === undefined) shapeError(result, `the v2.0 spec response is ${kindOf(payloads.specs)}, not an object`);
  const maps: [string, unknown][] = [['stats', payloads.stats]];
  if (payloads.root !== undefined) maps.push(['root stats', payloads.root]);
  for (const [what, map] of maps) {
    if (!isObject(map)) {
      shapeError(result, `the v2.0 ${what} response is ${kindOf(map)}, not an object`);
      continue;
    }
    let count = 0;
    for (const name of Object.keys(map)) {
      if (++count > CADVISOR_API_LIMITS.containers) {
        shapeError(result, `the v2.0 ${what} response has more than ${CADVISOR_API_LIMITS.containers} containers; the rest is not read`);
        break;
      }
      const where = `${what}[${quoted(name)}]`;
      const entries = field(map, name);
      if (!Array.isArray(entries)) {
        shapeError(result, `${where} is ${kindOf(entries)}, not an array of stats`);
        continue;
      }
      const spec = specs === undefined ? undefined : field(specs, name);
      // A container started between the stats and the spec request has no spec yet: it is read next time.
      if (name !== '/' && !isObject(spec)) continue;
      const stat = latest(result, entries, where, context);
      if (stat === undefined) continue;
      // v2.0 stats entries carry the `has_*` flags themselves.
      mapContainer(result, { name, spec: isObject(spec) ? spec : {}, labels: isObject(spec) ? labelsOf(spec) : undefined, stat: stat.values, flags: stat.values, timestampMs: stat.timestampMs }, context);
    }
  }
  return result;
}

/** Maps a v1.3 `/subcontainers` response (an array of ContainerInfo). */
export function mapCadvisorSubcontainers(payload: unknown, context: CadvisorApiContext): CadvisorApiMapResult {
  const result = emptyResult();
  if (!Array.isArray(payload)) {
    shapeError(result, `the v1.3 subcontainers response is ${kindOf(payload)}, not an array`);
    return result;
  }
  arrayAt(result, { containers: payload }, 'containers', 'subcontainers', CADVISOR_API_LIMITS.containers).forEach((item, index) => {
    const where = `subcontainers[${index}]`;
    const named = namedObject(result, item, where);
    if (named === undefined) return;
    const { object: info, name } = named;
    const spec = objectAt(result, info, 'spec', where) ?? {};
    const stat = latest(result, arrayAt(result, info, 'stats', where, CADVISOR_API_LIMITS.statsPerContainer), `${where}.stats`, context);
    if (stat === undefined) return;
    const topLabels = objectAt(result, info, 'labels', where);
    // v1.3 puts aliases beside the spec, v2.0 inside it.
    const aliases = field(info, 'aliases');
    mapContainer(result, { name, spec: aliases === undefined ? spec : { ...spec, aliases }, labels: labelsOf(spec) ?? topLabels, stat: stat.values, flags: spec, timestampMs: stat.timestampMs }, context);
  });
  return result;
}

interface ApiContainer {
  readonly name: string;
  readonly spec: JsonObject;
  readonly labels: JsonObject | undefined;
  readonly stat: JsonObject;
  /** Where the `has_*` flags are: the stats entry (v2.0) or the spec (v1.3). */
  readonly flags: JsonObject;
  readonly timestampMs: number;
}

/** The entry with the latest timestamp (the last one when none has a readable time). */
function latest(result: JsonMapResult, entries: readonly unknown[], where: string, context: CadvisorApiContext): { values: JsonObject; timestampMs: number } | undefined {
  let best: { values: JsonObject; timestampMs: number | undefined } | undefined;
  entries.forEach((entry, index) => {
    if (!isObject(entry)) {
      shapeError(result, `${where}[${index}] is ${kindOf(entry)}, not an object`);
      return;
    }
    const timestampMs = parseRfc3339Ms(field(entry, 'timestamp'));
    if (best === undefined || best.timestampMs === undefined || (timestampMs !== undefined && timestampMs >= best.timestampMs)) best = { values: entry, timestampMs };
  });
  if (best === undefined) return undefined;
  if (best.timestampMs === undefined) shapeError(result, `${where}: the latest entry has no RFC 3339 timestamp; the scrape time is used`);
  return { values: best.values, timestampMs: best.timestampMs ?? context.scrapeTimeMs };
}

function labelsOf(spec: JsonObject): JsonObject | undefined {
  const labels = field(spec, 'labels');
  return isObject(labels) ? labels : undefined;
}

interface PodIdentity {
  readonly namespace: string;
  readonly pod: string;
  /** Undefined for the pod's sandbox. */
  readonly container: string | undefined;
}

/** kubelet's Docker naming, `k8s_<container>.<hash>_<pod>_<namespace>_<uid>_<attempt>` (the hash is gone after 1.5). */
const DOCKER_NAME = /^\/?k8s_([^._]+)(?:\.[^_]*)?_([^_]+)_([^_]+)_[^_]+_[^_]+$/;

function identify(container: ApiContainer): PodIdentity | undefined {
  const labels = container.labels ?? {};
  let namespace = stringAt(labels, 'io.kubernetes.pod.namespace');
  let pod = stringAt(labels, 'io.kubernetes.pod.name');
  let name = stringAt(labels, 'io.kubernetes.container.name');
  if (namespace === undefined || name === undefined) {
    const aliases = field(container.spec, 'aliases');
    for (const alias of Array.isArray(aliases) ? aliases : []) {
      const match = typeof alias === 'string' ? DOCKER_NAME.exec(alias) : null;
      if (match === null) continue;
      [, name, pod, namespace] = match;
      break;
    }
  }
  if (namespace === undefined || pod === undefined) return undefined;
  if (name === 'POD' || stringAt(labels, 'io.cri-containerd.kind') === 'sandbox') return { namespace, pod, container: undefined };
  return name === undefined ? undefined : { namespace, pod, container: name };
}

interface Instance {
  readonly values: JsonObject;
  readonly dimensions: Readonly<Record<string, string>>;
}

function mapContainer(result: JsonMapResult, container: ApiContainer, context: CadvisorApiContext): void {
  let scope: Scope;
  let dimensions: Record<string, string>;
  if (container.name === '/') {
    scope = 'node';
    dimensions = { hostname: context.hostname };
  } else {
    const identity = identify(container);
    if (identity === undefined) return;
    if (identity.container === undefined) {
      scope = 'pod';
      dimensions = { namespace: identity.namespace, pod_name: identity.pod, hostname: context.hostname };
    } else {
      scope = 'container';
      dimensions = { namespace: identity.namespace, pod_name: identity.pod, container_name: identity.container };
      // Monasca rejects empty dimension values; a missing image is left out rather than the measurement.
      const image = stringAt(container.spec, 'image');
      if (image !== undefined) dimensions['image'] = image;
      dimensions['hostname'] = context.hostname;
    }
  }
  const where = `container ${quoted(container.name)}`;
  const instances = new Map<CadvisorApiGroup, Instance[]>();
  const groups = (group: CadvisorApiGroup): Instance[] => {
    let found = instances.get(group);
    if (found === undefined) {
      found = field(container.flags, HAS_FLAG[group]) === false ? [] : groupInstances(result, container.stat, group, dimensions, where);
      instances.set(group, found);
    }
    return found;
  };
  for (const mapping of ROWS_BY_SCOPE[scope]) {
    for (const instance of groups(mapping.group)) {
      emitValue(result, { name: mapping.name, dimensions: instance.dimensions, timestampMs: container.timestampMs }, at(instance.values, mapping.path), mapping.scale);
    }
  }
}

function at(values: JsonObject, path: readonly string[]): unknown {
  let value: unknown = values;
  for (const key of path) {
    if (!isObject(value)) return undefined;
    value = field(value, key);
  }
  return value;
}

function groupInstances(result: JsonMapResult, stat: JsonObject, group: CadvisorApiGroup, dimensions: Readonly<Record<string, string>>, where: string): Instance[] {
  switch (group) {
    case 'cpu':
    case 'memory': {
      const values = objectAt(result, stat, group, where);
      return values === undefined ? [] : [{ values, dimensions }];
    }
    case 'interface': {
      const network = objectAt(result, stat, 'network', where);
      if (network === undefined) return [];
      const listed = field(network, 'interfaces');
      // v1.3 inlines the default interface beside the list; a cgroup without its own network has an unnamed one.
      const items = listed === undefined || listed === null ? [network] : arrayAt(result, network, 'interfaces', `${where}.network`, CADVISOR_API_LIMITS.itemsPerList);
      return named(result, items, 'name', 'interface', dimensions, `${where}.network.interfaces`, listed !== undefined && listed !== null);
    }
    case 'filesystem':
      return named(result, arrayAt(result, stat, 'filesystem', where, CADVISOR_API_LIMITS.itemsPerList), 'device', 'device', dimensions, `${where}.filesystem`, true);
    case 'diskio': {
      const diskio = objectAt(result, stat, 'diskio', where);
      if (diskio === undefined) return [];
      const items = arrayAt(result, diskio, 'io_service_bytes', `${where}.diskio`, CADVISOR_API_LIMITS.itemsPerList);
      const instances: Instance[] = [];
      items.forEach((item, index) => {
        if (!isObject(item)) {
          shapeError(result, `${where}.diskio.io_service_bytes[${index}] is ${kindOf(item)}, not an object`);
          return;
        }
        // cAdvisor names the device where it can; otherwise it is known by its major:minor numbers.
        const major = field(item, 'major');
        const minor = field(item, 'minor');
        const device = stringAt(item, 'device') ?? (typeof major === 'number' && typeof minor === 'number' ? `${major}:${minor}` : undefined);
        if (device === undefined) shapeError(result, `${where}.diskio.io_service_bytes[${index}] names no device`);
        else instances.push({ values: item, dimensions: { ...dimensions, device } });
      });
      return instances;
    }
  }
}

function named(result: JsonMapResult, items: readonly unknown[], key: string, dimension: string, dimensions: Readonly<Record<string, string>>, where: string, unnamedIsError: boolean): Instance[] {
  const instances: Instance[] = [];
  items.forEach((item, index) => {
    if (!isObject(item)) {
      shapeError(result, `${where}[${index}] is ${kindOf(item)}, not an object`);
      return;
    }
    const name = stringAt(item, key);
    if (name !== undefined) instances.push({ values: item, dimensions: { ...dimensions, [dimension]: name } });
    else if (unnamedIsError) shapeError(result, `${where}[${index}] has no ${key}`);
  });
  return instances;
}
