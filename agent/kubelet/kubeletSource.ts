/**
 * The kubelet's `/metrics/cadvisor` page as a source: fetch, parse, map to Monasca
 * measurements, give each the tenant of its namespace, wrap in Monasca's envelope.
 * A failed scrape is a result with no records and the reason, never a rejection.
 */
import { readFile } from 'node:fs/promises';
import type { Counters } from '../../core/counters.js';
import { metricEnvelope, type MetricEnvelope } from '../../core/envelope.js';
import type { CollectResult, Source } from '../../core/pipeline.js';
import { tenantOf, type TenantMapping } from '../../core/tenant.js';
import { ExpositionParser } from '../exposition/parseExposition.js';
import { SAMPLE_DROP_REASONS, SOURCE_COUNTERS, countMeasurements, countSamplesDropped, describeSourceCounters, type SampleDropReason } from '../sourceCounters.js';
import { mapCadvisorSamples, mapsSeries } from './cadvisorMetrics.js';
import { keepAliveAgent, streamMetricsPage } from './streamMetricsPage.js';

export interface KubeletSourceOptions {
  /** e.g. https://NODE:10250/metrics/cadvisor */
  readonly url: string;
  /** Read at every scrape, because projected service-account tokens are rotated on disk. */
  readonly bearerTokenFile?: string;
  readonly insecureSkipTlsVerify?: boolean;
  readonly caFile?: string;
  /** The node's name: the `hostname` dimension. */
  readonly hostname: string;
  readonly region: string;
  readonly tenants: TenantMapping;
  readonly timeoutMs: number;
  readonly now: () => number;
  readonly counters: Counters;
  /** Pages larger than this are refused; 64 MiB by default, some 70 times a busy node's page. */
  readonly maxBodyBytes?: number;
}

export const KUBELET_COUNTERS = {
  scrapeErrors: 'kansoku_agent_scrape_errors_total',
  expositionErrors: 'kansoku_agent_exposition_errors_total',
  samplesDropped: SOURCE_COUNTERS.samplesDropped,
  measurements: SOURCE_COUNTERS.measurements,
} as const;

const DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024;
/** Error strings kept per scrape; the counters have the full count. */
const MAX_ERRORS_REPORTED = 20;

export class KubeletSource implements Source<MetricEnvelope> {
  readonly name = 'kubelet';
  private readonly connection: ReturnType<typeof keepAliveAgent>;

  constructor(private readonly options: KubeletSourceOptions) {
    this.connection = keepAliveAgent(options.url);
    const { counters } = options;
    counters.describe(KUBELET_COUNTERS.scrapeErrors, 'Kubelet scrapes that returned no page (connection, TLS, HTTP status, timeout).');
    counters.describe(KUBELET_COUNTERS.expositionErrors, 'Lines of kubelet pages that are not valid Prometheus text exposition.');
    describeSourceCounters(counters);
  }

  async collect(signal?: AbortSignal): Promise<CollectResult<MetricEnvelope>> {
    const { options } = this;
    const scrapeTimeMs = options.now();
    // Parsed as it arrives; a scrape that fails half-way throws its half-parsed page away.
    const parser = new ExpositionParser(mapsSeries);
    const page = await this.fetch(parser, signal);
    if (!page.ok) {
      options.counters.add(KUBELET_COUNTERS.scrapeErrors);
      return { records: [], errors: [`scrape of ${options.url} failed: ${page.error}`] };
    }
    const parsed = parser.finish();
    const mapped = mapCadvisorSamples(parsed.samples, { hostname: options.hostname, scrapeTimeMs });
    const records: MetricEnvelope[] = [];
    let noTenant = 0;
    const nowMs = options.now();
    for (const metric of mapped.measurements) {
      const tenantId = tenantOf(metric.dimensions['namespace'] ?? '', options.tenants);
      if (tenantId === undefined) noTenant++;
      else records.push(metricEnvelope(metric, { tenantId, region: options.region }, nowMs));
    }
    this.count(parsed.errors.length, { ...mapped.dropped, no_tenant: noTenant }, records.length);
    const errors = [...parsed.errors.map((e) => `exposition line ${e.line}: ${e.reason}: ${e.text}`), ...mapped.errors];
    return { records, errors: capped(errors) };
  }

  private async fetch(parser: ExpositionParser, signal: AbortSignal | undefined): ReturnType<typeof streamMetricsPage> {
    const { options } = this;
    const headers: Record<string, string> = { accept: 'text/plain;version=0.0.4' };
    let ca: string | undefined;
    try {
      if (options.bearerTokenFile !== undefined) headers['authorization'] = `Bearer ${(await readFile(options.bearerTokenFile, 'utf8')).trim()}`;
      if (options.caFile !== undefined) ca = await readFile(options.caFile, 'utf8');
    } catch (error) {
      return { ok: false, error: `cannot read a credential file: ${(error as Error).message}` };
    }
    return streamMetricsPage(
      {
        url: options.url,
        headers,
        ...(ca === undefined ? {} : { ca }),
        rejectUnauthorized: options.insecureSkipTlsVerify !== true,
        timeoutMs: options.timeoutMs,
        maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
        agent: this.connection,
      },
      (text) => parser.push(text),
      signal,
    );
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
