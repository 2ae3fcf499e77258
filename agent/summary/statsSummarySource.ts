/**
 * The kubelet's `/stats/summary` as a source of Monasca metrics (node, pod and container
 * CPU, memory, network, filesystems and volumes). It emits bare metrics: which tenant a
 * metric belongs to is decided by a later step. A failed scrape or an unreadable payload is
 * a result with no records and the reason, never a rejection.
 */
import type { Metric } from '../../core/envelope.js';
import type { CollectResult, Source } from '../../core/pipeline.js';
import { Endpoint, type NodeSourceOptions } from '../kubelet/endpoint.js';
import { fetchJson } from '../kubelet/fetchJson.js';
import { SOURCE_COUNTERS, describeSourceCounters } from '../sourceCounters.js';
import { countMapped, mappedErrors } from '../json/countMapped.js';
import { mapStatsSummary } from './statsSummaryMetrics.js';

/** `url` is e.g. https://NODE:10250/stats/summary; payloads over `maxBodyBytes` (16 MiB by default, some 100 times a busy node's summary) are refused. */
export type StatsSummarySourceOptions = NodeSourceOptions;

export const STATS_SUMMARY_COUNTERS = {
  scrapeErrors: SOURCE_COUNTERS.scrapeErrors,
  payloadErrors: SOURCE_COUNTERS.payloadErrors,
  samplesDropped: SOURCE_COUNTERS.samplesDropped,
  measurements: SOURCE_COUNTERS.measurements,
} as const;

const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;

export class StatsSummarySource implements Source<Metric> {
  readonly name = 'stats_summary';
  private readonly endpoint: Endpoint;

  constructor(private readonly options: StatsSummarySourceOptions) {
    this.endpoint = new Endpoint({ ...options, maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES });
    const { counters } = options;
    describeSourceCounters(counters);
  }

  async collect(signal?: AbortSignal): Promise<CollectResult<Metric>> {
    const { options } = this;
    const scrapeTimeMs = options.now();
    const page = await fetchJson(this.endpoint, options.url, signal);
    if (!page.ok) {
      options.counters.add(page.kind === 'scrape' ? STATS_SUMMARY_COUNTERS.scrapeErrors : STATS_SUMMARY_COUNTERS.payloadErrors, { source: this.name });
      return { records: [], errors: [`scrape of ${options.url} failed: ${page.error}`] };
    }
    const mapped = mapStatsSummary(page.value, { hostname: options.hostname, scrapeTimeMs });
    countMapped(options.counters, this.name, mapped);
    return { records: mapped.measurements, errors: mappedErrors(mapped) };
  }
}
