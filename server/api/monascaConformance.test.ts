import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiHarness, type ApiHarness } from './apiHarness.testkit.js';

/**
 * Monasca's own conformance suite (monasca-tempest-plugin) for the metrics surface this
 * version serves: each case is named after the upstream test, and the status it must get
 * is read from the upstream catalogue (test/fixtures/monasca/), not written here.
 */
interface CatalogueEntry {
  readonly file: string;
  readonly test: string;
  readonly expects_status: readonly string[];
  readonly expects_exceptions: readonly string[];
}

const catalogue = JSON.parse(readFileSync(new URL('../../test/fixtures/monasca/monasca-tempest-plugin.test_catalogue.json', import.meta.url), 'utf8')) as CatalogueEntry[];

const EXCEPTION_STATUS: Record<string, number> = { UnprocessableEntity: 422, BadRequest: 400, Unauthorized: 401, Forbidden: 403, NotFound: 404, Conflict: 409 };

/** The statuses upstream accepts for a test: its asserted ones, those of the exceptions it expects, or success. */
function upstreamStatuses(test: string): number[] {
  const entry = catalogue.find((e) => e.test === test && /test_(metrics|dimensions|metrics_names|versions|measurements|statistics)\.py$/.test(e.file));
  if (!entry) throw new Error(`${test} is not in the monasca-tempest-plugin catalogue`);
  const statuses = [...entry.expects_status.map(Number), ...entry.expects_exceptions.map((e) => EXCEPTION_STATUS[e] ?? -1)];
  // No assertion and no expected exception: tempest's client raises on any error status, so the test expects success.
  return statuses.length === 0 ? [200, 204] : statuses;
}

const now = Date.now();
const metric = (overrides: Record<string, unknown>) => ({ name: 'tempest.metric', dimensions: { key1: 'value1' }, timestamp: now, value: 1.23, ...overrides });
const omit = (key: string) => {
  const m: Record<string, unknown> = metric({});
  delete m[key];
  return m;
};

const POSTS: readonly [string, unknown][] = [
  ['test_create_metric', metric({ value_meta: { key1: 'value1' } })],
  ['test_create_metric_with_multibyte_character', metric({ name: '観測.メトリック', dimensions: { 'キー': '値' }, value_meta: { 'メタ': '値' } })],
  ['test_create_metrics', [metric({}), metric({ name: 'tempest.metric2' })]],
  ['test_create_metric_with_no_name', omit('name')],
  ['test_create_metric_with_empty_name', metric({ name: '' })],
  ['test_create_metric_with_empty_value_in_dimensions', metric({ dimensions: { key1: '' } })],
  ['test_create_metric_with_empty_key_in_dimensions', metric({ dimensions: { '': 'value1' } })],
  ['test_create_metric_with_no_dimensions', omit('dimensions')],
  ['test_create_metric_with_colon_in_dimension_value', metric({ dimensions: { url: 'http://localhost:8070/v2.0' } })],
  ['test_create_metric_with_no_timestamp', omit('timestamp')],
  ['test_create_metric_no_value', omit('value')],
  ['test_create_metric_with_name_exceeds_max_length', metric({ name: 'x'.repeat(256) })],
  ['test_create_metric_with_invalid_chars_in_name', metric({ name: 'tempest;metric' })],
  ['test_create_metric_with_invalid_chars_in_dimensions', metric({ dimensions: { 'key;1': 'value1' } })],
  ['test_create_metric_dimension_key_exceeds_max_length', metric({ dimensions: { ['k'.repeat(256)]: 'v' } })],
  ['test_create_metric_dimension_value_exceeds_max_length', metric({ dimensions: { k: 'v'.repeat(256) } })],
  ['test_create_metric_with_value_meta_name_exceeds_max_length', metric({ value_meta: { ['k'.repeat(256)]: 'v' } })],
  ['test_create_metric_with_value_meta_exceeds_max_length', metric({ value_meta: { k: 'v'.repeat(2048) } })],
];

describe('monasca-tempest-plugin conformance (metrics)', () => {
  let api: ApiHarness;
  beforeAll(async () => {
    api = await startApiHarness('tempest-token:tempest-project:monasca-user,other-token:other-project:monasca-user');
  });
  afterAll(async () => {
    await api.close();
  });

  it.each(POSTS)('%s', async (test, body) => {
    const res = await api.post('tempest-token', body);
    expect(upstreamStatuses(test)).toContain(res.statusCode);
    if (res.statusCode >= 400) expect(res.json()).toEqual({ title: expect.any(String) as string, description: expect.any(String) as string });
  });

  it('test_list_metrics, test_list_metrics_with_name, test_list_metrics_with_dimensions', async () => {
    const listed = await api.eventually(() => api.get('tempest-token', '/v2.0/metrics'), (r) => r.json<{ elements: unknown[] }>().elements.length >= 4);
    expect(upstreamStatuses('test_list_metrics')).toContain(listed.statusCode);
    const byName = await api.get('tempest-token', '/v2.0/metrics?name=tempest.metric2');
    expect(upstreamStatuses('test_list_metrics_with_name')).toContain(byName.statusCode);
    expect(byName.json<{ elements: { name: string }[] }>().elements.map((e) => e.name)).toEqual(['tempest.metric2']);
    const byDims = await api.get('tempest-token', `/v2.0/metrics?dimensions=${encodeURIComponent('url:http://localhost:8070/v2.0')}`);
    expect(upstreamStatuses('test_list_metrics_with_dimensions')).toContain(byDims.statusCode);
    expect(byDims.json<{ elements: { dimensions: Record<string, string> }[] }>().elements).toHaveLength(1);
    expect((await api.get('other-token', '/v2.0/metrics')).json<{ elements: unknown[] }>().elements).toEqual([]);
  });

  it('test_list_metrics_with_offset_limit', async () => {
    const all = (await api.get('tempest-token', '/v2.0/metrics')).json<{ elements: { id: string; name: string }[] }>().elements;
    const first = await api.get('tempest-token', '/v2.0/metrics?limit=1');
    expect(upstreamStatuses('test_list_metrics_with_offset_limit')).toContain(first.statusCode);
    const page = first.json<{ elements: { id: string }[]; links: { rel: string; href: string }[] }>();
    expect(page.elements).toEqual([all[0]]);
    const next = new URL(page.links.find((l) => l.rel === 'next')?.href ?? '');
    const second = (await api.get('tempest-token', `${next.pathname}${next.search}`)).json<{ elements: unknown[] }>();
    expect(second.elements).toEqual([all[1]]);
  });

  it('test_list_metrics_with_time_args', async () => {
    const res = await api.get('tempest-token', `/v2.0/metrics?start_time=${new Date(now - 60_000).toISOString()}&end_time=${new Date(now + 60_000).toISOString()}`);
    expect(upstreamStatuses('test_list_metrics_with_time_args')).toContain(res.statusCode);
    expect(res.json<{ elements: unknown[] }>().elements.length).toBeGreaterThan(0);
    const before = await api.get('tempest-token', `/v2.0/metrics?end_time=${new Date(now - 60_000).toISOString()}&start_time=${new Date(now - 120_000).toISOString()}`);
    expect(before.json<{ elements: unknown[] }>().elements).toEqual([]);
  });

  it('test_list_metrics_names_with_limit_offset', async () => {
    const res = await api.get('tempest-token', '/v2.0/metrics/names?limit=1');
    expect(upstreamStatuses('test_list_metrics_names_with_limit_offset')).toContain(res.statusCode);
    expect(res.json<{ elements: unknown[]; links: unknown[] }>().links).toHaveLength(2);
  });

  it('test_list_dimension_names, test_list_dimension_names_limit_and_offset, test_list_dimension_values_no_dimension_name', async () => {
    const names = await api.get('tempest-token', '/v2.0/metrics/dimensions/names');
    expect(upstreamStatuses('test_list_dimension_names')).toContain(names.statusCode);
    const limited = await api.get('tempest-token', '/v2.0/metrics/dimensions/names?limit=1');
    expect(upstreamStatuses('test_list_dimension_names_limit_and_offset')).toContain(limited.statusCode);
    const noName = await api.get('tempest-token', '/v2.0/metrics/dimensions/names/values');
    expect(upstreamStatuses('test_list_dimension_values_no_dimension_name')).toContain(noName.statusCode);
  });

  it('test_get_version', async () => {
    const res = await api.get('tempest-token', '/v2.0');
    expect(upstreamStatuses('test_get_version')).toContain(res.statusCode);
    expect(res.json()).toMatchObject({ id: 'v2.0', status: 'CURRENT', links: [{ rel: 'self' }] });
  });

  describe('measurements and statistics', () => {
    const start = new Date(now - 3_600_000).toISOString();
    const end = new Date(now + 3_600_000).toISOString();
    // Statistics periods are aligned to the epoch (300 s by default): all three points sit in
    // one period, whatever the clock says, so that merged they make one row.
    const periodMs = 300_000;
    const inOnePeriod = Math.floor((now - 2_000) / periodMs) * periodMs + 1_000;
    beforeAll(async () => {
      const series = [
        { name: 'tempest.m', dimensions: { host: 'a', svc: 'x' }, timestamp: inOnePeriod - 1000, value: 1 },
        { name: 'tempest.m', dimensions: { host: 'a', svc: 'x' }, timestamp: inOnePeriod, value: 3 },
        { name: 'tempest.m', dimensions: { host: 'b', svc: 'x' }, timestamp: inOnePeriod, value: 5 },
      ];
      expect((await api.post('tempest-token', series)).statusCode).toBe(204);
      await api.eventually(() => api.get('tempest-token', '/v2.0/metrics?name=tempest.m'), (r) => r.json<{ elements: unknown[] }>().elements.length === 2);
    });

    const M = `/v2.0/metrics/measurements?name=tempest.m&start_time=${start}`;
    const S = `/v2.0/metrics/statistics?name=tempest.m&statistics=avg,count&start_time=${start}`;
    it.each([
      ['test_list_measurements_with_no_start_time', '/v2.0/metrics/measurements?name=tempest.m'],
      ['test_list_measurements_with_no_name', `/v2.0/metrics/measurements?start_time=${start}`],
      ['test_list_measurements_with_dimensions', `${M}&dimensions=host:a`],
      ['test_list_measurements_with_endtime', `${M}&dimensions=host:a&end_time=${end}`],
      ['test_list_measurements_with_endtime_equals_starttime', `${M}&dimensions=host:a&end_time=${start}`],
      ['test_list_measurements_with_offset_limit', `${M}&dimensions=host:a&limit=1`],
      ['test_list_measurements_with_merge_metrics', `${M}&merge_metrics=true`],
      ['test_list_measurements_with_group_by_one', `${M}&group_by=host`],
      ['test_list_measurements_with_group_by_multiple', `${M}&group_by=host,svc`],
      ['test_list_measurements_with_group_by_all', `${M}&group_by=*`],
      ['test_list_measurements_with_group_by_and_merge', `${M}&group_by=host&merge_metrics=true`],
      ['test_list_measurements_with_name_exceeds_max_length', `/v2.0/metrics/measurements?name=${'x'.repeat(256)}&start_time=${start}`],
      ['test_list_measurements_with_no_merge_metrics', M],
      ['test_list_measurements_with_duplicate_query_param_merges_positive', `${M}&merge_metrics=true&merge_metrics=false`],
      ['test_list_measurements_with_duplicate_query_param_merges_negative', `${M}&merge_metrics=false&merge_metrics=true`],
      ['test_list_statistics', `${S}&merge_metrics=true`],
      ['test_list_statistics_with_no_end_time', `${S}&dimensions=host:a`],
      ['test_list_statistics_with_no_name', `/v2.0/metrics/statistics?statistics=avg&start_time=${start}`],
      ['test_list_statistics_with_no_statistics', `/v2.0/metrics/statistics?name=tempest.m&start_time=${start}`],
      ['test_list_statistics_with_no_start_time', '/v2.0/metrics/statistics?name=tempest.m&statistics=avg'],
      ['test_list_statistics_with_invalid_statistics', `/v2.0/metrics/statistics?name=tempest.m&statistics=median&start_time=${start}`],
      ['test_list_statistics_with_dimensions', `${S}&dimensions=host:b`],
      ['test_list_statistics_with_end_time_equals_start_time', `${S}&dimensions=host:b&end_time=${start}`],
      ['test_list_statistics_with_period', `${S}&dimensions=host:a&period=1`],
      ['test_list_statistics_with_offset_limit', `${S}&dimensions=host:a&period=1&limit=1`],
      ['test_list_statistics_with_group_by_one', `${S}&group_by=host`],
      ['test_list_statistics_with_group_by_multiple', `${S}&group_by=host,svc`],
      ['test_list_statistics_with_group_by_all', `${S}&group_by=*`],
      ['test_list_statistics_with_no_merge_metrics', S],
      ['test_list_statistics_with_name_exceeds_max_length', `/v2.0/metrics/statistics?name=${'x'.repeat(256)}&statistics=avg&start_time=${start}`],
    ])('%s', async (test, url) => {
      const res = await api.get('tempest-token', url);
      expect(upstreamStatuses(test)).toContain(res.statusCode);
      if (res.statusCode >= 400) expect(res.json()).toEqual({ title: expect.any(String) as string, description: expect.any(String) as string });
    });

    it('test_list_statistics_response_body_statistic_result_type', async () => {
      const res = await api.get('tempest-token', `${S}&merge_metrics=true`);
      expect(upstreamStatuses('test_list_statistics_response_body_statistic_result_type')).toContain(res.statusCode);
      const [row] = res.json<{ elements: { statistics: unknown[][] }[] }>().elements[0]?.statistics ?? [];
      expect(typeof row?.[0]).toBe('string');
      expect(row?.slice(1)).toEqual([3, 3]);
    });

    it('group_by returns one element per group, merging what shares the value', async () => {
      const res = await api.get('tempest-token', `${M}&group_by=svc`);
      const elements = res.json<{ elements: { dimensions: unknown; measurements: unknown[] }[] }>().elements;
      expect(elements).toHaveLength(1);
      expect(elements[0]?.dimensions).toEqual({ svc: 'x' });
      expect(elements[0]?.measurements).toHaveLength(3);
    });
  });
});
