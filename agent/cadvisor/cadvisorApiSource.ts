/**
 * Standalone cAdvisor's REST API as a source of Monasca metrics: for nodes where cAdvisor runs
 * as its own DaemonSet (or the kubelet's embedded one on :4194, before 1.12) rather than
 * behind the kubelet's `/metrics/cadvisor`. It emits bare metrics; which tenant a metric
 * belongs to is decided by a later step. A failed request or an unreadable payload is a
 * result with the reason, never a rejection.
 */
import type { Metric } from '../../core/envelope.js';
import type { CollectResult, Source } from '../../core/pipeline.js';
import { Endpoint, type NodeSourceOptions } from '../kubelet/endpoint.js';
import { SOURCE_COUNTERS, describeSourceCounters } from '../sourceCounters.js';
import { countMapped, mappedErrors } from '../json/countMapped.js';
import { fetchJson, type JsonFetch } from '../kubelet/fetchJson.js';
import { mapCadvisorSubcontainers, mapCadvisorV2 } from './cadvisorApiMetrics.js';

export type CadvisorApiVersion = 'v2.0' | 'v1.3';

/** `url` is cAdvisor's base URL, e.g. http://127.0.0.1:8080 (the API paths are appended). */
export interface CadvisorApiSourceOptions extends NodeSourceOptions {
  /**
   * `v2.0` (default): three requests per collect (docker containers' stats, their specs for
   * the pod labels, the root container for the node). `v1.3`: one `/subcontainers/` request,
   * for cAdvisors too old for v2.0; it returns every cgroup's full history, so it is heavier.
   */
  readonly apiVersion?: CadvisorApiVersion;
  /**
   * v2.0 only. `docker` (default): Docker's containers, and the root in a request of its own.
   * `all`: every cgroup (`type=name&recursive=true`), root included, which is how containers
   * of containerd or CRI-O are reached, as v2.0 has no container type for them; heavier, as
   * it brings every system slice too.
   */
  readonly containers?: 'docker' | 'all';
}

export const CADVISOR_API_COUNTERS = {
  scrapeErrors: SOURCE_COUNTERS.scrapeErrors,
  payloadErrors: SOURCE_COUNTERS.payloadErrors,
  samplesDropped: SOURCE_COUNTERS.samplesDropped,
  measurements: SOURCE_COUNTERS.measurements,
} as const;

const DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024;

/** The request paths, relative to the base URL. */
export const CADVISOR_API_PATHS = {
  v2Stats: '/api/v2.0/stats?type=docker&recursive=true&count=1',
  v2Specs: '/api/v2.0/spec?type=docker&recursive=true',
  v2Root: '/api/v2.0/stats?type=name&count=1',
  v2AllStats: '/api/v2.0/stats?type=name&recursive=true&count=1',
  v2AllSpecs: '/api/v2.0/spec?type=name&recursive=true',
  v13Subcontainers: '/api/v1.3/subcontainers/',
} as const;

export class CadvisorApiSource implements Source<Metric> {
  readonly name = 'cadvisor_api';
  private readonly endpoint: Endpoint;
  private readonly base: string;

  constructor(private readonly options: CadvisorApiSourceOptions) {
    this.base = options.url.replace(/\/+$/, '');
    this.endpoint = new Endpoint({ ...options, maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES });
    const { counters } = options;
    describeSourceCounters(counters);
  }

  async collect(signal?: AbortSignal): Promise<CollectResult<Metric>> {
    const { options } = this;
    const context = { hostname: options.hostname, scrapeTimeMs: options.now() };
    if (options.apiVersion === 'v1.3') {
      const subcontainers = await this.get(CADVISOR_API_PATHS.v13Subcontainers, signal);
      if (!subcontainers.ok) return { records: [], errors: [subcontainers.error] };
      return this.account(mapCadvisorSubcontainers(subcontainers.value, context), []);
    }
    // One after the other: the keep-alive agent holds one connection, and each request's
    // timeout should measure that request, not its wait in the queue.
    const all = options.containers === 'all';
    const stats = await this.get(all ? CADVISOR_API_PATHS.v2AllStats : CADVISOR_API_PATHS.v2Stats, signal);
    if (!stats.ok) return { records: [], errors: [stats.error] };
    const specs = await this.get(all ? CADVISOR_API_PATHS.v2AllSpecs : CADVISOR_API_PATHS.v2Specs, signal);
    if (!specs.ok) return { records: [], errors: [specs.error] };
    // Every cgroup includes the root.
    if (all) return this.account(mapCadvisorV2({ stats: stats.value, specs: specs.value }, context), []);
    // Without the root container the pods' measurements still stand; only the node's are missing.
    const root = await this.get(CADVISOR_API_PATHS.v2Root, signal);
    const mapped = mapCadvisorV2({ stats: stats.value, specs: specs.value, ...(root.ok ? { root: root.value } : {}) }, context);
    return this.account(mapped, root.ok ? [] : [root.error]);
  }

  private async get(path: string, signal: AbortSignal | undefined): Promise<JsonFetch> {
    const url = `${this.base}${path}`;
    const response = await fetchJson(this.endpoint, url, signal);
    if (response.ok) return response;
    this.options.counters.add(response.kind === 'scrape' ? CADVISOR_API_COUNTERS.scrapeErrors : CADVISOR_API_COUNTERS.payloadErrors, { source: this.name });
    return { ...response, error: `request of ${url} failed: ${response.error}` };
  }

  private account(mapped: ReturnType<typeof mapCadvisorV2>, requestErrors: readonly string[]): CollectResult<Metric> {
    countMapped(this.options.counters, this.name, mapped);
    return { records: mapped.measurements, errors: [...requestErrors, ...mappedErrors(mapped)] };
  }
}
