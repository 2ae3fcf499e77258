import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { metricCodec } from '../../core/codec.js';
import { metricKey } from '../../bus/partitionKey.js';
import { frame } from '../../bus/wire.js';
import { metricEnvelope, TOPICS, type Metric } from '../../core/envelope.js';
import type { Series } from '../../core/query.js';
import { checkMetric, checkMetricName } from '../../core/validation.js';
import type { ApiDeps } from './apiDeps.js';
import { may } from './auth.js';
import { badRequest, conflict, forbidden, unavailable, unprocessable } from './errors.js';
import { parseBoolean, parseDimensionFilter, parseGroupBy, parseInstant, parseLimit } from './params.js';
import { authorize, selfUrl } from './request.js';
import { mergeSeries, groupSeries } from './series.js';
import { parsePeriodSeconds, parseStatistics, statisticsRows } from './statistics.js';

const MAX_POINTS_PER_STATISTICS_SERIES = 1_000_000;

const Str = Type.Optional(Type.String({ maxLength: 4096 }));

// Query strings, one schema each, built from one set of shared parameters.
const WINDOW = { start_time: Str, end_time: Str, offset: Str, limit: Str, tenant_id: Str };
const SERIES = { ...WINDOW, name: Str, dimensions: Str, merge_metrics: Str, group_by: Str };

const PostQuery = Type.Object({ tenant_id: Str });
const ListQuery = Type.Object({ ...WINDOW, name: Str, dimensions: Str });
const MeasurementsQuery = Type.Object(SERIES);
const StatisticsQuery = Type.Object({ ...SERIES, statistics: Str, period: Str });
const DimensionQuery = Type.Object({ ...WINDOW, metric_name: Str, dimension_name: Str });

/** The tenant whose data a read speaks of: the token's own, or another only for admin. */
function readTenant(request: FastifyRequest, tenantParam: string | undefined): string {
  const principal = authorize(request, 'read');
  if (tenantParam === undefined || tenantParam === '' || tenantParam === principal.tenantId) return principal.tenantId;
  authorize(request, 'cross-tenant-read');
  return tenantParam;
}

function nextLink(request: FastifyRequest, offset: string): { rel: string; href: string } {
  const url = new URL(selfUrl(request));
  url.searchParams.set('offset', offset);
  return { rel: 'next', href: url.toString() };
}

function measurementElement(series: Series, index: number) {
  return {
    id: String(index),
    name: series.name,
    dimensions: series.dimensions,
    columns: ['timestamp', 'value', 'value_meta'],
    measurements: series.points.map((p) => [new Date(p.timestampMs).toISOString(), p.value, p.valueMeta ?? {}]),
  };
}

export function metricsRoutes(deps: ApiDeps) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    // Monasca accepts one metric or an array; each is checked whole before any is published.
    app.post<{ Querystring: Static<typeof PostQuery> }>('/metrics', { schema: { querystring: PostQuery } }, async (request, reply) => {
      const principal = authorize(request, 'write');
      let tenantId = principal.tenantId;
      const delegated = request.query.tenant_id;
      if (delegated !== undefined && delegated !== '' && delegated !== principal.tenantId) {
        if (!may(principal, 'delegate')) throw forbidden('Only a delegate role may post metrics for another tenant.');
        tenantId = delegated;
      }
      const body: unknown = request.body;
      if (body === undefined || body === null || typeof body !== 'object') throw badRequest('The body must be a JSON object or array of metrics.');
      const items = Array.isArray(body) ? (body as unknown[]) : [body];
      if (items.length === 0) throw unprocessable('The body holds no metric.');
      const metrics: Metric[] = [];
      for (const [index, item] of items.entries()) {
        const checked = checkMetric(item);
        if (!checked.ok) {
          deps.counters.add('kansoku_api_metrics_rejected_total', { reason: 'invalid' }, items.length);
          throw unprocessable(items.length > 1 ? `metric ${index}: ${checked.error}` : checked.error);
        }
        metrics.push(checked.value);
      }
      const nowMs = deps.now();
      const meta = { tenantId, region: deps.region };
      const framed = frame(
        metrics.map((metric) => metricEnvelope(metric, meta, nowMs)),
        metricCodec,
        metricKey,
        deps.wire,
      );
      if (framed.tooLarge.length > 0) throw unprocessable(`A metric is larger than the bus's largest message (${deps.wire.maxMessageBytes} bytes).`);
      const outcome = await deps.producer.publish(TOPICS.metrics, framed.messages);
      if (outcome.kind === 'retryable') throw unavailable(`The message bus cannot take metrics now: ${outcome.reason}`, Math.max(1, Math.ceil(outcome.delayMs / 1000)));
      if (outcome.kind === 'rejected') throw unprocessable(`The message bus refused the metrics: ${outcome.reason}`);
      deps.counters.add('kansoku_api_metrics_accepted_total', {}, metrics.length);
      return reply.code(204).send();
    });

    app.get<{ Querystring: Static<typeof ListQuery> }>('/metrics', { schema: { querystring: ListQuery } }, async (request) => {
      const q = request.query;
      const tenantId = readTenant(request, q.tenant_id);
      const limit = parseLimit(q.limit, deps.maxQueryLimit);
      const offset = q.offset === undefined || q.offset === '' ? -1 : Number(q.offset);
      if (!Number.isInteger(offset)) throw unprocessable('offset must be the id of the last metric of the previous page');
      const startMs = parseInstant('start_time', q.start_time);
      const endMs = parseInstant('end_time', q.end_time);
      const found = await deps.store.listMetrics({
        tenantId,
        ...(q.name ? { name: q.name } : {}),
        dimensions: parseDimensionFilter(q.dimensions),
        ...(startMs !== undefined ? { startMs } : {}),
        ...(endMs !== undefined ? { endMs } : {}),
        limit: offset + 1 + limit + 1,
      });
      const page = found.slice(offset + 1, offset + 1 + limit);
      const links = [{ rel: 'self', href: selfUrl(request) }];
      if (found.length > offset + 1 + limit) links.push(nextLink(request, String(offset + limit)));
      return { links, elements: page.map((m, i) => ({ id: String(offset + 1 + i), name: m.name, dimensions: m.dimensions })) };
    });

    /**
     * The series a measurements or statistics request reads: name and start_time required,
     * several matching metrics only with merge_metrics or group_by (409 otherwise, as Monasca).
     */
    const readSeries = async (
      request: FastifyRequest,
      q: { name?: string | undefined; dimensions?: string | undefined; start_time?: string | undefined; end_time?: string | undefined; merge_metrics?: string | undefined; group_by?: string | undefined; tenant_id?: string | undefined },
      window: { afterMs?: number; pointsPerSeries: number },
    ): Promise<readonly Series[]> => {
      const tenantId = readTenant(request, q.tenant_id);
      if (!q.name) throw unprocessable('name is required');
      const name = checkMetricName(q.name);
      if (!name.ok) throw unprocessable(`name: ${name.error}`);
      const startMs = parseInstant('start_time', q.start_time);
      if (startMs === undefined) throw unprocessable('start_time is required');
      const endMs = parseInstant('end_time', q.end_time);
      if (endMs !== undefined && endMs <= startMs) throw badRequest('end_time must be later than start_time');
      const merge = parseBoolean('merge_metrics', q.merge_metrics);
      const groupBy = parseGroupBy(q.group_by);
      const found = await deps.store.listMeasurements({
        tenantId,
        name: q.name,
        dimensions: parseDimensionFilter(q.dimensions),
        startMs,
        ...(endMs !== undefined ? { endMs } : {}),
        ...(window.afterMs !== undefined ? { afterMs: window.afterMs } : {}),
        limit: window.pointsPerSeries,
      });
      if (merge) return found.length === 0 ? [] : [mergeSeries(q.name, found)];
      if (groupBy.length > 0) return groupSeries(q.name, found, groupBy);
      if (found.length > 1) throw conflict(`${found.length} metrics match ${q.name}; set merge_metrics=true or group_by to read them together.`);
      return found;
    };

    app.get<{ Querystring: Static<typeof MeasurementsQuery> }>('/metrics/measurements', { schema: { querystring: MeasurementsQuery } }, async (request) => {
      const q = request.query;
      const limit = parseLimit(q.limit, deps.maxQueryLimit);
      const afterMs = parseInstant('offset', q.offset);
      const series = await readSeries(request, q, { ...(afterMs !== undefined ? { afterMs } : {}), pointsPerSeries: limit + 1 });
      const links = [{ rel: 'self', href: selfUrl(request) }];
      const truncated = series.map((s) => ({ ...s, points: s.points.slice(0, limit) }));
      const last = truncated.length === 1 && series[0] && series[0].points.length > limit ? truncated[0]?.points[limit - 1] : undefined;
      if (last) links.push(nextLink(request, new Date(last.timestampMs).toISOString()));
      return { links, elements: truncated.map(measurementElement) };
    });

    app.get<{ Querystring: Static<typeof StatisticsQuery> }>('/metrics/statistics', { schema: { querystring: StatisticsQuery } }, async (request) => {
      const q = request.query;
      const statistics = parseStatistics(q.statistics);
      const periodSeconds = parsePeriodSeconds(q.period);
      const limit = parseLimit(q.limit, deps.maxQueryLimit);
      const afterMs = parseInstant('offset', q.offset);
      // Every point of the window is needed to aggregate it; bounded so that one request cannot exhaust memory.
      const series = await readSeries(request, q, { pointsPerSeries: MAX_POINTS_PER_STATISTICS_SERIES });
      const links = [{ rel: 'self', href: selfUrl(request) }];
      let next: number | undefined;
      const elements = series.map((s, index) => {
        const rows = statisticsRows(s, statistics, periodSeconds).filter((r) => afterMs === undefined || r.startMs > afterMs);
        const shown = rows.slice(0, limit);
        if (series.length === 1 && rows.length > limit) next = shown[shown.length - 1]?.startMs;
        return { id: String(index), name: s.name, dimensions: s.dimensions, columns: ['timestamp', ...statistics], statistics: shown.map((r) => r.row) };
      });
      if (next !== undefined) links.push(nextLink(request, new Date(next).toISOString()));
      return { links, elements };
    });

    // Names, dimension names and dimension values: distinct strings of the tenant's metrics, in
    // alphabetical order, paged by the last string shown (Monasca's `offset`).
    const sortedPage = (request: FastifyRequest, values: Iterable<string>, offset: string | undefined, limitText: string | undefined) => {
      const limit = parseLimit(limitText, deps.maxQueryLimit);
      const after = offset ?? '';
      const page = [...new Set(values)].sort().filter((v) => v > after).slice(0, limit + 1);
      const shown = page.slice(0, limit);
      const links = [{ rel: 'self', href: selfUrl(request) }];
      if (page.length > limit && shown.length > 0) links.push(nextLink(request, shown[shown.length - 1] ?? ''));
      return { links, shown };
    };

    const tenantMetrics = async (request: FastifyRequest, q: { tenant_id?: string | undefined; name?: string | undefined; dimensions?: string | undefined; start_time?: string | undefined; end_time?: string | undefined }) => {
      const tenantId = readTenant(request, q.tenant_id);
      const startMs = parseInstant('start_time', q.start_time);
      const endMs = parseInstant('end_time', q.end_time);
      return deps.store.listMetrics({
        tenantId,
        ...(q.name ? { name: q.name } : {}),
        dimensions: parseDimensionFilter(q.dimensions),
        ...(startMs !== undefined ? { startMs } : {}),
        ...(endMs !== undefined ? { endMs } : {}),
        limit: Number.MAX_SAFE_INTEGER,
      });
    };

    app.get<{ Querystring: Static<typeof ListQuery> }>('/metrics/names', { schema: { querystring: ListQuery } }, async (request) => {
      const q = request.query;
      const found = await tenantMetrics(request, { ...q, name: undefined });
      const { links, shown } = sortedPage(request, found.map((m) => m.name), q.offset, q.limit);
      return { links, elements: shown.map((name) => ({ name })) };
    });

    app.get<{ Querystring: Static<typeof DimensionQuery> }>('/metrics/dimensions/names', { schema: { querystring: DimensionQuery } }, async (request) => {
      const q = request.query;
      const found = await tenantMetrics(request, { ...q, name: q.metric_name });
      const { links, shown } = sortedPage(request, found.flatMap((m) => Object.keys(m.dimensions)), q.offset, q.limit);
      return { links, elements: shown.map((dimension_name) => ({ dimension_name })) };
    });

    app.get<{ Querystring: Static<typeof DimensionQuery> }>('/metrics/dimensions/names/values', { schema: { querystring: DimensionQuery } }, async (request) => {
      const q = request.query;
      if (!q.dimension_name) throw unprocessable('dimension_name is required');
      const dimension = q.dimension_name;
      const found = await tenantMetrics(request, { ...q, name: q.metric_name });
      const values = found.flatMap((m) => m.dimensions[dimension] ?? []);
      const { links, shown } = sortedPage(request, values, q.offset, q.limit);
      return { links, elements: shown.map((dimension_value) => ({ dimension_value })) };
    });
  };
}
