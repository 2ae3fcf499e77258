/**
 * The kubelet's `/metrics/cadvisor` page as a source: fetch (protobuf or text), parse, map
 * to Monasca measurements. Tenants and pod metadata come later, in `enrichWithPodMetadata`.
 * A failed scrape is a result with no records and the reason, never a rejection.
 */
import type { Metric } from '../../core/envelope.js';
import type { CollectResult, Source } from '../../core/pipeline.js';
import { SAMPLE_DROP_REASONS, SOURCE_COUNTERS, countMeasurements, countSamplesDropped, describeSourceCounters, type SampleDropReason } from '../sourceCounters.js';
import { mapCadvisorSamples, mapsSeries } from './cadvisorMetrics.js';
import { Endpoint, type NodeSourceOptions } from './endpoint.js';
import { scrapeMetricsPage, type ExpositionFormat } from './scrapeMetricsPage.js';
import { ScrapeDimensions } from './scrapeDimensions.js';

export interface KubeletSourceOptions extends NodeSourceOptions {
  /** What to ask the kubelet for; it may answer the other one, which is read as well. Default protobuf. */
  readonly format?: ExpositionFormat;
}

export const KUBELET_COUNTERS = {
  scrapeErrors: SOURCE_COUNTERS.scrapeErrors,
  expositionErrors: 'kansoku_agent_exposition_errors_total',
  samplesDropped: SOURCE_COUNTERS.samplesDropped,
  measurements: SOURCE_COUNTERS.measurements,
} as const;

/** Error strings kept per scrape; the counters have the full count. */
const MAX_ERRORS_REPORTED = 20;

export class KubeletSource implements Source<Metric> {
  readonly name = 'kubelet';
  private readonly endpoint: Endpoint;
  /** The series' dimension objects, the same from one scrape to the next (the later steps cache by them). */
  private readonly dimensions = new ScrapeDimensions();

  constructor(private readonly options: KubeletSourceOptions) {
    this.endpoint = new Endpoint(options);
    const { counters } = options;
    counters.describe(KUBELET_COUNTERS.expositionErrors, 'Lines or messages of kubelet pages that are not valid exposition (text or protobuf).');
    describeSourceCounters(counters);
  }

  async collect(signal?: AbortSignal): Promise<CollectResult<Metric>> {
    const { options } = this;
    const scrapeTimeMs = options.now();
    const request = await this.endpoint.request({});
    // Parsed as it arrives; a scrape that fails half-way throws its half-parsed page away.
    const page = request.ok ? await scrapeMetricsPage(request.value, options.format ?? 'protobuf', mapsSeries, signal) : request;
    if (!page.ok) {
      options.counters.add(KUBELET_COUNTERS.scrapeErrors, { source: this.name });
      return { records: [], errors: [`scrape of ${options.url} failed: ${page.error}`] };
    }
    const parsed = page.value.result;
    const mapped = mapCadvisorSamples(parsed.samples, { hostname: options.hostname, scrapeTimeMs, dimensions: this.dimensions });
    this.count(parsed.errors.length, mapped.dropped, mapped.measurements.length);
    const errors = [...parsed.errors.map((e) => `exposition line ${e.line}: ${e.reason}: ${e.text}`), ...mapped.errors];
    return { records: mapped.measurements, errors: capped(errors) };
  }

  private count(expositionErrors: number, dropped: Record<SampleDropReason, number>, measurements: number): void {
    const { counters } = this.options;
    if (expositionErrors > 0) counters.add(KUBELET_COUNTERS.expositionErrors, {}, expositionErrors);
    for (const reason of SAMPLE_DROP_REASONS) countSamplesDropped(counters, reason, dropped[reason]);
    countMeasurements(counters, this.name, measurements);
  }
}

function capped(errors: string[]): string[] {
  if (errors.length <= MAX_ERRORS_REPORTED) return errors;
  return [...errors.slice(0, MAX_ERRORS_REPORTED), `… and ${errors.length - MAX_ERRORS_REPORTED} more`];
}
