/**
 * The agent's transform between its sources and its publishers: it gives every record its
 * tenant, and the pod's metadata as dimensions.
 *
 * - **Tenant.** A record with a `namespace` dimension belongs to that namespace's tenant
 *   (namespace label, static map, `unmapped` policy: see `TenantResolver`); one without
 *   keeps the tenant its source gave it (the node's own metrics, a plain log file).
 *   Records of a namespace that maps to nobody are dropped and counted.
 * - **Pod metadata**, from the informers' cache: the owner (`deployment`, `stateful_set`,
 *   `daemon_set`, `job`, `cron_job`, `replica_set`, …), `pod_uid`, the allow-listed pod
 *   labels and annotations (named as they are), and per container `image` and `image_id`.
 *   A dimension the record already has is never overwritten.
 * - **Waiting for metadata**, like the OpenTelemetry Collector's `wait_for_metadata`: a
 *   record whose pod the informer does not know yet (a pod started a moment ago) waits up
 *   to `waitForMetadataMs` for it, once per pod; then it goes out with what is known, and
 *   is counted.
 *
 * The dimensions a pod adds are computed once per metadata version and shared. The merged
 * dimensions are kept per source dimensions object and metadata version: a source that
 * hands every measurement of a series the same object, scrape after scrape (the kubelet
 * source does), gets the same merged object back, and the codec's and the cardinality
 * guard's caches by object hit.
 */
import type { Counters } from '../../core/counters.js';
import { metricEnvelope, type LogEnvelope, type Meta, type Metric, type MetricEnvelope } from '../../core/envelope.js';
import { isDimensionValue } from '../../core/validation.js';
import type { ClusterMetadata } from '../kubernetes/clusterMetadata.js';
import type { PodMetadata } from '../kubernetes/podMetadata.js';
import type { ContainerLimits } from '../rates/deriveRates.js';

/** What the step needs to know of tenancy: the tenant of a namespace, undefined to drop its records. */
export interface NamespaceTenants {
  tenantOf(namespace: string): string | undefined;
}

export interface EnrichmentSettings {
  /** Pod label keys copied as dimensions (an allow-list: labels are cardinality). */
  readonly podLabels: readonly string[];
  readonly podAnnotations: readonly string[];
  /** How long a record of an unknown pod waits for the informer; 0 never waits. */
  readonly waitForMetadataMs: number;
}

export interface EnrichmentDeps {
  readonly settings: EnrichmentSettings;
  readonly tenants: NamespaceTenants;
  /** Absent without Kubernetes: tenants from the static map only, no pod metadata. */
  readonly metadata?: ClusterMetadata;
  readonly region: string;
  readonly counters: Counters;
  readonly now: () => number;
}

export const ENRICHMENT_COUNTERS = {
  /** kind: metrics | logs */
  missing: 'kansoku_agent_metadata_missing_total',
  /** kind: metrics | logs */
  unmapped: 'kansoku_agent_records_unmapped_total',
  waits: 'kansoku_agent_metadata_waits_total',
  invalidValues: 'kansoku_agent_metadata_invalid_values_total',
} as const;

/** Pods already waited for are not waited for again for this long. */
const WAITED_MEMORY_MS = 10 * 60_000;

/** The dimensions of a container's records: pod-level ones, plus its image. */
type PodDimensions = { readonly pod: Readonly<Record<string, string>>; readonly containers: ReadonlyMap<string, Readonly<Record<string, string>>> };

export class PodMetadataEnrichment {
  private readonly cache = new Map<string, PodDimensions | null>();
  private cacheVersion = -1;
  /** Pods waited for (namespace/name → when), so that a pod that never shows costs one wait. */
  private readonly waited = new Map<string, number>();
  /** Per log stream's shared dimensions object: its enriched twin, for the metadata version it was built at. */
  private logDimensions = new WeakMap<object, { version: number; dimensions: Readonly<Record<string, string>>; meta: Meta | undefined }>();
  /** Per metric source's dimensions object: its enriched twin, for the metadata version it was built at (-1: pod unknown). */
  private metricDimensions = new WeakMap<object, { version: number; dimensions: Readonly<Record<string, string>> }>();
  private readonly metas = new Map<string, Meta>();

  constructor(private readonly deps: EnrichmentDeps) {
    const { counters } = deps;
    counters.describe(ENRICHMENT_COUNTERS.missing, 'Records sent without pod metadata: the informer did not know their pod in time.');
    counters.describe(ENRICHMENT_COUNTERS.unmapped, 'Records dropped because their namespace maps to no tenant.');
    counters.describe(ENRICHMENT_COUNTERS.waits, 'Times the agent waited for the informer to learn a new pod.');
    counters.describe(ENRICHMENT_COUNTERS.invalidValues, 'Pod label or annotation values left out because Monasca refuses them as dimension values.');
  }

  /** Metrics of one source → envelopes; those without a namespace get `fallbackTenant`. */
  async metrics(metrics: readonly Metric[], fallbackTenant: string): Promise<MetricEnvelope[]> {
    await this.waitForUnknownPods(metrics.map((m) => m.dimensions));
    const nowMs = this.deps.now();
    const version = this.deps.metadata?.version ?? 0;
    const out: MetricEnvelope[] = [];
    let unmapped = 0;
    let missing = 0;
    for (const metric of metrics) {
      const namespace = metric.dimensions['namespace'];
      const tenantId = namespace === undefined ? fallbackTenant : this.deps.tenants.tenantOf(namespace);
      if (tenantId === undefined) {
        unmapped++;
        continue;
      }
      let cached = this.metricDimensions.get(metric.dimensions);
      if (cached === undefined || cached.version !== version) {
        const extra = this.extraDimensions(metric.dimensions);
        // A series whose pod was unknown is looked up again with the next batch (version -1 never matches).
        cached = { version: extra === null ? -1 : version, dimensions: extra ? mergeDimensions(metric.dimensions, extra) : metric.dimensions };
        this.metricDimensions.set(metric.dimensions, cached);
      }
      if (cached.version === -1) missing++;
      const { dimensions } = cached;
      const enriched = dimensions === metric.dimensions ? metric : { name: metric.name, dimensions, timestamp: metric.timestamp, value: metric.value, value_meta: metric.value_meta };
      out.push(metricEnvelope(enriched, this.meta(tenantId), nowMs));
    }
    this.count('metrics', unmapped, missing);
    return out;
  }

  /**
   * Log records, re-homed to their namespace's tenant and given their pod's dimensions.
   * Returns those to publish and those dropped (unmapped namespace), whose file positions
   * the caller still moves past.
   */
  async logs<T extends { readonly envelope: LogEnvelope }>(records: readonly T[]): Promise<{ readonly kept: T[]; readonly dropped: T[] }> {
    await this.waitForUnknownPods(records.map((r) => r.envelope.log.dimensions));
    const kept: T[] = [];
    const dropped: T[] = [];
    let missing = 0;
    const version = this.deps.metadata?.version ?? 0;
    for (const record of records) {
      const { log, meta } = record.envelope;
      let cached = this.logDimensions.get(log.dimensions);
      if (cached === undefined || cached.version !== version) {
        cached = this.enrichLogDimensions(log.dimensions, meta, version);
        this.logDimensions.set(log.dimensions, cached);
      }
      if (cached.meta === undefined) {
        dropped.push(record);
        continue;
      }
      if (cached.version === -1) missing++;
      kept.push({ ...record, envelope: { ...record.envelope, meta: cached.meta, log: { ...log, dimensions: cached.dimensions } } });
    }
    this.count('logs', dropped.length, missing);
    return { kept, dropped };
  }

  /** A container's limits and requests, from its pod's spec (for percentages of limits). */
  limitsOf(namespace: string, pod: string, container: string): ContainerLimits | undefined {
    return this.deps.metadata?.pod(namespace, pod)?.containers.get(container);
  }

  private enrichLogDimensions(dimensions: Readonly<Record<string, string>>, meta: Meta, version: number): { version: number; dimensions: Readonly<Record<string, string>>; meta: Meta | undefined } {
    const namespace = dimensions['namespace'];
    const tenantId = namespace === undefined ? meta.tenantId : this.deps.tenants.tenantOf(namespace);
    const extra = this.extraDimensions(dimensions);
    return {
      // A stream whose pod was unknown is looked up again with the next batch (version -1 never matches).
      version: extra === null ? -1 : version,
      dimensions: extra ? mergeDimensions(dimensions, extra) : dimensions,
      meta: tenantId === undefined ? undefined : tenantId === meta.tenantId ? meta : this.meta(tenantId),
    };
  }

  private meta(tenantId: string): Meta {
    let meta = this.metas.get(tenantId);
    if (meta === undefined) {
      meta = { tenantId, region: this.deps.region };
      // Tenants are few per node; the bound only guards against a runaway.
      if (this.metas.size > 10_000) this.metas.clear();
      this.metas.set(tenantId, meta);
    }
    return meta;
  }

  /**
   * What the record's pod adds: undefined for a record of no pod (nothing to add), null for
   * a pod the informer does not know (counted as missing metadata).
   */
  private extraDimensions(dimensions: Readonly<Record<string, string>>): Readonly<Record<string, string>> | null | undefined {
    const { metadata } = this.deps;
    const namespace = dimensions['namespace'];
    const podName = dimensions['pod_name'];
    if (metadata === undefined || namespace === undefined || podName === undefined) return undefined;
    if (this.cacheVersion !== metadata.version) {
      this.cache.clear();
      this.cacheVersion = metadata.version;
    }
    const key = `${namespace}/${podName}`;
    let pod = this.cache.get(key);
    if (pod === undefined) {
      const known = metadata.pod(namespace, podName);
      pod = known === undefined ? null : this.podDimensions(known);
      this.cache.set(key, pod);
    }
    if (pod === null) return null;
    const container = dimensions['container_name'];
    return (container !== undefined ? pod.containers.get(container) : undefined) ?? pod.pod;
  }

  private podDimensions(pod: PodMetadata): PodDimensions {
    const { settings, counters } = this.deps;
    const dimensions: Record<string, string> = { pod_uid: pod.uid };
    if (pod.owner !== undefined) dimensions[ownerDimension(pod.owner.kind)] = pod.owner.name;
    let invalid = 0;
    const copy = (from: Readonly<Record<string, string>>, keys: readonly string[]): void => {
      for (const key of keys) {
        const value = from[key];
        if (value === undefined || value === '') continue;
        // Monasca refuses some characters in dimension values: a label value holding one is left out.
        if (!isDimensionValue(value)) invalid++;
        else dimensions[key] = value;
      }
    };
    copy(pod.labels, settings.podLabels);
    copy(pod.annotations, settings.podAnnotations);
    if (invalid > 0) counters.add(ENRICHMENT_COUNTERS.invalidValues, {}, invalid);
    const containers = new Map<string, Readonly<Record<string, string>>>();
    for (const [name, container] of pod.containers) {
      const own: Record<string, string> = { ...dimensions };
      if (container.image) own['image'] = container.image;
      if (container.imageId) own['image_id'] = container.imageId;
      containers.set(name, own);
    }
    return { pod: dimensions, containers };
  }

  private async waitForUnknownPods(dimensionSets: readonly Readonly<Record<string, string>>[]): Promise<void> {
    const { metadata, settings } = this.deps;
    if (metadata === undefined || settings.waitForMetadataMs <= 0) return;
    const nowMs = this.deps.now();
    const unknown = new Map<string, { namespace: string; pod: string }>();
    // Records of one series share their dimensions object (most sources): each is looked at once.
    const seen = new Set<object>();
    for (const dimensions of dimensionSets) {
      if (seen.has(dimensions)) continue;
      seen.add(dimensions);
      const namespace = dimensions['namespace'];
      const pod = dimensions['pod_name'];
      if (namespace === undefined || pod === undefined) continue;
      const key = `${namespace}/${pod}`;
      if (unknown.has(key) || metadata.pod(namespace, pod) !== undefined) continue;
      const waitedAt = this.waited.get(key);
      if (waitedAt !== undefined && nowMs - waitedAt < WAITED_MEMORY_MS) continue;
      unknown.set(key, { namespace, pod });
    }
    if (unknown.size === 0) return;
    for (const key of unknown.keys()) this.waited.set(key, nowMs);
    this.forgetOldWaits(nowMs);
    this.deps.counters.add(ENRICHMENT_COUNTERS.waits, {}, 1);
    await Promise.all([...unknown.values()].map(({ namespace, pod }) => metadata.waitForPod(namespace, pod, settings.waitForMetadataMs)));
  }

  private forgetOldWaits(nowMs: number): void {
    if (this.waited.size < 10_000) return;
    for (const [key, at] of this.waited) if (nowMs - at >= WAITED_MEMORY_MS) this.waited.delete(key);
  }

  private count(kind: 'metrics' | 'logs', unmapped: number, missing: number): void {
    const { counters } = this.deps;
    if (unmapped > 0) counters.add(ENRICHMENT_COUNTERS.unmapped, { kind }, unmapped);
    if (missing > 0) counters.add(ENRICHMENT_COUNTERS.missing, { kind }, missing);
  }
}

/** `enrichWithPodMetadata`: the step, ready to put between the sources and the publishers. */
export function enrichWithPodMetadata(deps: EnrichmentDeps): PodMetadataEnrichment {
  return new PodMetadataEnrichment(deps);
}

/** `Deployment` → `deployment`, `StatefulSet` → `stateful_set`: Monasca's dimension style. */
export function ownerDimension(kind: string): string {
  return kind.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

function mergeDimensions(own: Readonly<Record<string, string>>, extra: Readonly<Record<string, string>>): Readonly<Record<string, string>> {
  const merged: Record<string, string> = { ...own };
  for (const key in extra) if (merged[key] === undefined) merged[key] = extra[key] as string;
  return merged;
}
