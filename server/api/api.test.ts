import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import type { Counters } from '../../core/counters.js';
import { TOPICS } from '../../core/envelope.js';
import type { MemoryBus } from '../../bus/memory/memoryBus.js';
import { startApiHarness, type ApiHarness } from './apiHarness.testkit.js';

const TOKENS = 'tok-a:tenant-a:monasca-user,tok-b:tenant-b:monasca-user,tok-ro:tenant-a:monasca-read-only-user,tok-agent:tenant-a:monasca-agent,tok-admin:ops:admin';

describe('tenant API over the in-process bus and the embedded store', () => {
  let harness: ApiHarness;
  let app: FastifyInstance;
  let counters: Counters;
  let bus: MemoryBus;

  beforeEach(async () => {
    harness = await startApiHarness(TOKENS);
    ({ app, counters, bus } = harness);
  });

  afterEach(async () => {
    await harness.close();
  });

  const post = (token: string, body: unknown, query = '') => harness.post(token, body, query);
  const get = (token: string, url: string) => harness.get(token, url);
  const eventually = <T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> => harness.eventually(read, done);

  it('stores a posted metric and reads it back for its own tenant only', async () => {
    const ts = Date.UTC(2026, 0, 1, 12, 0, 0, 250);
    const res = await post('tok-a', { name: 'cpu.idle_perc', dimensions: { hostname: 'h1' }, timestamp: ts, value: 97.5, value_meta: { note: 'x' } });
    expect(res.statusCode).toBe(204);
    const url = '/v2.0/metrics/measurements?name=cpu.idle_perc&start_time=2026-01-01T00:00:00Z';
    const own = await eventually(() => get('tok-a', url), (r) => r.json<{ elements: unknown[] }>().elements.length > 0);
    expect(own.statusCode).toBe(200);
    expect(own.json()).toMatchObject({
      links: [{ rel: 'self' }],
      elements: [{ name: 'cpu.idle_perc', dimensions: { hostname: 'h1' }, columns: ['timestamp', 'value', 'value_meta'], measurements: [['2026-01-01T12:00:00.250Z', 97.5, { note: 'x' }]] }],
    });
    const other = await get('tok-b', url);
    expect(other.json()).toEqual({ links: [{ rel: 'self', href: expect.any(String) as string }], elements: [] });
    const list = await get('tok-a', '/v2.0/metrics?name=cpu.idle_perc');
    expect(list.json<{ elements: unknown[] }>().elements).toEqual([{ id: '0', name: 'cpu.idle_perc', dimensions: { hostname: 'h1' } }]);
    expect((await get('tok-b', '/v2.0/metrics')).json<{ elements: unknown[] }>().elements).toEqual([]);
  });

  it('lets an admin read another tenant with tenant_id, and nobody else', async () => {
    expect((await post('tok-a', { name: 'm', timestamp: Date.now(), value: 1 })).statusCode).toBe(204);
    const admin = await eventually(() => get('tok-admin', '/v2.0/metrics?tenant_id=tenant-a'), (r) => r.json<{ elements: unknown[] }>().elements.length > 0);
    expect(admin.json<{ elements: { name: string }[] }>().elements.map((e) => e.name)).toEqual(['m']);
    const sneaky = await get('tok-b', '/v2.0/metrics?tenant_id=tenant-a');
    expect(sneaky.statusCode).toBe(403);
    expect(sneaky.json()).toMatchObject({ title: 'Forbidden' });
  });

  it.each([
    ['no token', undefined, 401],
    ['a wrong token', 'nope', 401],
  ])('answers %s with 401 and counts it', async (_name, token, status) => {
    const res = await app.inject({ method: 'GET', url: '/v2.0/metrics', headers: token ? { 'x-auth-token': token } : {} });
    expect(res.statusCode).toBe(status);
    expect(res.json()).toMatchObject({ title: 'Unauthorized', description: expect.any(String) as string });
    expect(counters.total('kansoku_api_auth_failures_total')).toBe(1);
  });

  it('enforces Monasca roles: the agent writes but cannot read, the read-only user reads but cannot write', async () => {
    expect((await post('tok-agent', { name: 'm', timestamp: Date.now(), value: 1 })).statusCode).toBe(204);
    expect((await get('tok-agent', '/v2.0/metrics')).statusCode).toBe(403);
    expect((await post('tok-ro', { name: 'm', timestamp: Date.now(), value: 1 })).statusCode).toBe(403);
    expect((await get('tok-ro', '/v2.0/metrics')).statusCode).toBe(200);
  });

  it.each([
    ['a bad JSON body', '{"name": "m", ', 400],
    ['NaN as a string value', { name: 'm', timestamp: 1, value: 'NaN' }, 422],
    ['a too long name', { name: 'x'.repeat(256), timestamp: 1, value: 1 }, 422],
    ['a restricted character', { name: 'a{b', timestamp: 1, value: 1 }, 422],
    ['a dimension with no value', { name: 'm', dimensions: { k: '' }, timestamp: 1, value: 1 }, 422],
    ['seventeen value_meta entries', { name: 'm', timestamp: 1, value: 1, value_meta: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])) }, 422],
    ['an array with one bad metric', [{ name: 'ok', timestamp: 1, value: 1 }, { name: 'bad', timestamp: 1 }], 422],
  ])('rejects %s with a clear error and loses nothing else', async (_name, body, status) => {
    const res = await app.inject({
      method: 'POST',
      url: '/v2.0/metrics',
      headers: { 'x-auth-token': 'tok-a', 'content-type': 'application/json' },
      payload: typeof body === 'string' ? body : JSON.stringify(body),
    });
    expect(res.statusCode).toBe(status);
    expect(res.json()).toEqual({ title: expect.any(String) as string, description: expect.any(String) as string });
    expect(bus.backlog(TOPICS.metrics)).toBe(0);
    expect(counters.total('kansoku_api_errors_total')).toBe(1);
    // The API still works afterwards.
    expect((await post('tok-a', { name: 'after', timestamp: Date.now(), value: 2 })).statusCode).toBe(204);
  });

  it.each([
    ['a body over the limit', 'application/json', JSON.stringify([{ name: 'm', timestamp: 1, value: 1, value_meta: { k: 'x'.repeat(1 << 20) } }]), 413],
    ['a body that is not JSON', 'text/plain', 'name=m value=1', 415],
  ])('answers %s with a Monasca error body', async (_name, contentType, payload, status) => {
    const res = await app.inject({ method: 'POST', url: '/v2.0/metrics', headers: { 'x-auth-token': 'tok-a', 'content-type': contentType }, payload });
    expect(res.statusCode).toBe(status);
    expect(res.json()).toEqual({ title: expect.any(String) as string, description: expect.any(String) as string });
    expect(bus.backlog(TOPICS.metrics)).toBe(0);
  });

  it('treats hostile query strings as data, not as filters that leak', async () => {
    expect((await post('tok-a', { name: 'secret', dimensions: { k: 'v' }, timestamp: Date.now(), value: 1 })).statusCode).toBe(204);
    await eventually(() => get('tok-a', '/v2.0/metrics'), (r) => r.json<{ elements: unknown[] }>().elements.length > 0);
    for (const name of ["secret' OR '1'='1", 'secret"; DROP TABLE series', '%00', 'secret\n']) {
      const res = await get('tok-b', `/v2.0/metrics?name=${encodeURIComponent(name)}`);
      expect([200, 422]).toContain(res.statusCode);
      if (res.statusCode === 200) expect(res.json<{ elements: unknown[] }>().elements).toEqual([]);
    }
    const bad = await get('tok-a', '/v2.0/metrics/measurements?name=secret&start_time=yesterday');
    expect(bad.statusCode).toBe(422);
    const badDims = await get('tok-a', `/v2.0/metrics?dimensions=${encodeURIComponent("k:v'}")}`);
    expect(badDims.statusCode).toBe(422);
  });

  it('asks for merge_metrics or group_by when several metrics match, as Monasca does', async () => {
    const now = Date.now();
    expect((await post('tok-a', [{ name: 'm', dimensions: { h: '1' }, timestamp: now, value: 1 }, { name: 'm', dimensions: { h: '2' }, timestamp: now + 1, value: 2 }])).statusCode).toBe(204);
    const start = new Date(now - 60_000).toISOString();
    await eventually(() => get('tok-a', '/v2.0/metrics?name=m'), (r) => r.json<{ elements: unknown[] }>().elements.length === 2);
    expect((await get('tok-a', `/v2.0/metrics/measurements?name=m&start_time=${start}`)).statusCode).toBe(409);
    const merged = await get('tok-a', `/v2.0/metrics/measurements?name=m&start_time=${start}&merge_metrics=true`);
    expect(merged.json<{ elements: { measurements: unknown[] }[] }>().elements[0]?.measurements).toHaveLength(2);
    const grouped = await get('tok-a', `/v2.0/metrics/measurements?name=m&start_time=${start}&group_by=h`);
    expect(grouped.json<{ elements: { dimensions: unknown }[] }>().elements.map((e) => e.dimensions)).toEqual([{ h: '1' }, { h: '2' }]);
  });

  it('pages measurements with a next link whose offset is the last timestamp', async () => {
    const base = Date.UTC(2026, 0, 1);
    expect((await post('tok-a', [0, 1, 2].map((i) => ({ name: 'p', timestamp: base + i * 1000, value: i })))).statusCode).toBe(204);
    const url = '/v2.0/metrics/measurements?name=p&start_time=2025-12-31T00:00:00Z&limit=2';
    const first = await eventually(() => get('tok-a', url), (r) => r.json<{ links: unknown[] }>().links.length === 2);
    const body = first.json<{ links: { rel: string; href: string }[]; elements: { measurements: unknown[][] }[] }>();
    expect(body.elements[0]?.measurements.map((m) => m[1])).toEqual([0, 1]);
    const next = new URL(body.links[1]?.href ?? '');
    expect(next.searchParams.get('offset')).toBe('2026-01-01T00:00:01.000Z');
    const second = await get('tok-a', `${next.pathname}${next.search}`);
    expect(second.json<{ elements: { measurements: unknown[][] }[] }>().elements[0]?.measurements.map((m) => m[1])).toEqual([2]);
  });

  it('computes statistics per period for the own tenant, paged by the last period shown', async () => {
    const base = Date.UTC(2026, 0, 1, 10, 0, 0);
    const points = [0, 30, 60, 90, 120].map((s, i) => ({ name: 'lat', dimensions: { svc: 'web' }, timestamp: base + s * 1000, value: i + 1 }));
    expect((await post('tok-a', points)).statusCode).toBe(204);
    expect((await post('tok-b', { name: 'lat', dimensions: { svc: 'web' }, timestamp: base, value: 1000 })).statusCode).toBe(204);
    const url = '/v2.0/metrics/statistics?name=lat&statistics=avg,max,count&period=60&start_time=2026-01-01T09:00:00Z';
    const res = await eventually(() => get('tok-a', url), (r) => r.json<{ elements: { statistics: unknown[] }[] }>().elements[0]?.statistics.length === 3);
    expect(res.json()).toMatchObject({
      elements: [
        {
          name: 'lat',
          dimensions: { svc: 'web' },
          columns: ['timestamp', 'avg', 'max', 'count'],
          statistics: [
            ['2026-01-01T10:00:00.000Z', 1.5, 2, 2],
            ['2026-01-01T10:01:00.000Z', 3.5, 4, 2],
            ['2026-01-01T10:02:00.000Z', 5, 5, 1],
          ],
        },
      ],
    });
    const page = (await get('tok-a', `${url}&limit=2`)).json<{ links: { rel: string; href: string }[]; elements: { statistics: unknown[][] }[] }>();
    expect(page.elements[0]?.statistics).toHaveLength(2);
    const next = new URL(page.links.find((l) => l.rel === 'next')?.href ?? '');
    const rest = (await get('tok-a', `${next.pathname}${next.search}`)).json<{ elements: { statistics: unknown[][] }[] }>();
    expect(rest.elements[0]?.statistics).toEqual([['2026-01-01T10:02:00.000Z', 5, 5, 1]]);
    expect((await get('tok-a', '/v2.0/metrics/statistics?name=lat&start_time=2026-01-01T09:00:00Z')).statusCode).toBe(422);
  });

  it('lists dimension names and values of the own tenant, in order, with paging', async () => {
    const now = Date.now();
    const posted = await post('tok-a', [
      { name: 'cpu', dimensions: { namespace: 'web', pod_name: 'b' }, timestamp: now, value: 1 },
      { name: 'cpu', dimensions: { namespace: 'web', pod_name: 'a' }, timestamp: now, value: 1 },
      { name: 'mem', dimensions: { namespace: 'db', pod_name: 'c', zone: 'z1' }, timestamp: now, value: 1 },
    ]);
    expect(posted.statusCode).toBe(204);
    expect((await post('tok-b', { name: 'cpu', dimensions: { namespace: 'secret-ns' }, timestamp: now, value: 1 })).statusCode).toBe(204);
    await eventually(() => get('tok-a', '/v2.0/metrics'), (r) => r.json<{ elements: unknown[] }>().elements.length === 3);
    await eventually(() => get('tok-b', '/v2.0/metrics'), (r) => r.json<{ elements: unknown[] }>().elements.length === 1);

    const names = await get('tok-a', '/v2.0/metrics/dimensions/names');
    expect(names.json<{ elements: unknown[] }>().elements).toEqual([{ dimension_name: 'namespace' }, { dimension_name: 'pod_name' }, { dimension_name: 'zone' }]);
    const cpuNames = await get('tok-a', '/v2.0/metrics/dimensions/names?metric_name=cpu');
    expect(cpuNames.json<{ elements: unknown[] }>().elements).toEqual([{ dimension_name: 'namespace' }, { dimension_name: 'pod_name' }]);

    const values = await get('tok-a', '/v2.0/metrics/dimensions/names/values?dimension_name=namespace');
    expect(values.json<{ elements: unknown[] }>().elements).toEqual([{ dimension_value: 'db' }, { dimension_value: 'web' }]);
    const paged = await get('tok-a', '/v2.0/metrics/dimensions/names/values?dimension_name=pod_name&limit=2');
    const body = paged.json<{ elements: unknown[]; links: { rel: string; href: string }[] }>();
    expect(body.elements).toEqual([{ dimension_value: 'a' }, { dimension_value: 'b' }]);
    const next = new URL(body.links.find((l) => l.rel === 'next')?.href ?? '');
    expect(next.searchParams.get('offset')).toBe('b');
    expect((await get('tok-a', `${next.pathname}${next.search}`)).json<{ elements: unknown[] }>().elements).toEqual([{ dimension_value: 'c' }]);
    expect((await get('tok-a', '/v2.0/metrics/dimensions/names/values')).statusCode).toBe(422);
  });

  it('serves the version document and an open healthcheck', async () => {
    expect((await get('tok-a', '/')).json()).toMatchObject({ elements: [{ id: 'v2.0', status: 'CURRENT' }] });
    expect((await get('tok-a', '/v2.0')).json()).toMatchObject({ id: 'v2.0' });
    expect((await app.inject({ method: 'GET', url: '/healthcheck' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/' })).statusCode).toBe(401);
  });
});
