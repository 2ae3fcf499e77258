import { describe, expect, it } from 'vitest';
import type { LogQuery } from '../../core/query.js';
import { ElasticsearchLogStore } from './elasticsearchLogStore.js';
import { FakeSearchTransport, json, testConfig } from './fakeSearchTransport.testkit.js';
import { logEntryOf, LogSearchWindowError, searchBody } from './logQuery.js';
import { LogSearchUnavailableError } from './logSearchStore.js';

const base: LogQuery = { tenantId: 't1', dimensions: {}, limit: 100 };
type Body = { query: { bool: { filter: unknown[]; must_not?: unknown[] } }; from: number; size: number; sort: unknown };

const body = (query: Partial<LogQuery>): Body => searchBody({ ...base, ...query }) as unknown as Body;

describe('searchBody', () => {
  it('always filters on the exact tenant, sorts newest first then by id, and pages', () => {
    const b = body({ limit: 20, offset: 40 });
    expect(b.query.bool.filter).toEqual([{ term: { 'tenant.id': 't1' } }]);
    expect(b.sort).toEqual([{ '@timestamp': { order: 'desc' } }, { 'kansoku.id': { order: 'desc' } }]);
    expect([b.from, b.size]).toEqual([40, 20]);
  });

  const cases: { name: string; query: Partial<LogQuery>; filter: unknown[]; mustNot?: unknown[] }[] = [
    { name: 'dimension key:value', query: { dimensions: { pod_name: ['web-1'] } }, filter: [{ terms: { 'kansoku.dimensions': ['pod_name=web-1'] } }] },
    { name: 'dimension key:v1|v2', query: { dimensions: { c: ['a', 'b'] } }, filter: [{ terms: { 'kansoku.dimensions': ['c=a', 'c=b'] } }] },
    { name: 'bare dimension key', query: { dimensions: { c: null } }, filter: [{ term: { 'kansoku.dimension_keys': 'c' } }] },
    { name: 'levels', query: { levels: ['error', 'warn'] }, filter: [{ terms: { 'log.level': ['error', 'warn'] } }] },
    { name: 'time window: start inclusive, end exclusive', query: { startMs: 10, endMs: 20 }, filter: [{ range: { '@timestamp': { format: 'epoch_millis', gte: 10, lt: 20 } } }] },
    { name: 'start only', query: { startMs: 10 }, filter: [{ range: { '@timestamp': { format: 'epoch_millis', gte: 10 } } }] },
    { name: 'words: all of them, lower case', query: { q: 'Connection REFUSED' }, filter: [{ match: { message: { query: 'connection refused', operator: 'and' } } }] },
    {
      name: 'phrases and excluded words',
      query: { q: 'upstream "connection refused" -good' },
      filter: [{ match: { message: { query: 'upstream', operator: 'and' } } }, { match_phrase: { message: { query: 'connection refused' } } }],
      mustNot: [{ match: { message: { query: 'good' } } }],
    },
    { name: 'a q of no words asks nothing of the message', query: { q: '* ( " \\' }, filter: [] },
  ];
  for (const { name, query, filter, mustNot } of cases) {
    it(name, () => {
      const b = body(query);
      expect(b.query.bool.filter).toEqual([{ term: { 'tenant.id': 't1' } }, ...filter]);
      expect(b.query.bool.must_not).toEqual(mustNot);
    });
  }

  it('a hostile q stays words: no query syntax, no field names, never the tenant filter', () => {
    for (const q of ['tenant.id:other secret', 'secret OR *', '{"query":{"match_all":{}}}', 'message:secret AND NOT x', 'a'.repeat(5000), '"', '\\']) {
      const text = JSON.stringify(body({ q }));
      expect(text, q).not.toMatch(/query_string|simple_query_string|match_all|wildcard|regexp|prefix/);
      expect(body({ q }).query.bool.filter[0], q).toEqual({ term: { 'tenant.id': 't1' } });
    }
    expect(body({ q: 'tenant.id:other secret' }).query.bool.filter[1]).toEqual({ match: { message: { query: 'tenant id other secret', operator: 'and' } } });
  });

  it('refuses a page beyond 10,000 records with an error the API turns into a 400', () => {
    expect(() => body({ limit: 100, offset: 9_901 })).toThrow(LogSearchWindowError);
    expect(() => body({ limit: 100, offset: 9_900 })).not.toThrow();
    try {
      body({ limit: 10_001 });
    } catch (error) {
      expect((error as LogSearchWindowError).statusCode).toBe(400);
    }
  });
});

describe('logEntryOf', () => {
  it('reads back the fields, marks only when present, the time from the sort value', () => {
    const source = { '@timestamp': 5, message: 'm', log: { level: 'error' }, labels: { pod_name: 'p', 'a.b': 'c' }, kansoku: { id: 'ID', truncated: true, parse_error: 'x' } };
    expect(logEntryOf({ _id: 'ID', _source: source, sort: [7, 'ID'] })).toEqual({ id: 'ID', timestampMs: 7, message: 'm', dimensions: { pod_name: 'p', 'a.b': 'c' }, level: 'error', truncated: true, parseError: 'x' });
    expect(logEntryOf({ _id: 'I2', _source: { '@timestamp': 9, message: 'n', labels: {}, kansoku: { id: 'I2' } } })).toEqual({ id: 'I2', timestampMs: 9, message: 'n', dimensions: {} });
  });

  it('a __proto__ dimension stays a dimension', () => {
    const labels = JSON.parse('{"__proto__":"x","k":"v"}') as object;
    const entry = logEntryOf({ _source: { labels, kansoku: { id: 'i' } }, sort: [1] });
    expect(Object.getPrototypeOf(entry.dimensions)).toBe(Object.prototype);
    expect(Object.entries(entry.dimensions)).toEqual([
      ['__proto__', 'x'],
      ['k', 'v'],
    ]);
  });
});

describe('LogSearchStore.searchLogs', () => {
  it("searches the tenant's own data stream, tolerating that it does not exist", async () => {
    const transport = new FakeSearchTransport(() => json(200, { hits: { hits: [{ _id: 'a', _source: { message: 'x', labels: {}, kansoku: { id: 'a' } }, sort: [3, 'a'] }] } }));
    const store = new ElasticsearchLogStore(testConfig(), { transport });
    expect(await store.searchLogs({ ...base, tenantId: 'Tenant/A' })).toEqual([{ id: 'a', timestampMs: 3, message: 'x', dimensions: {} }]);
    expect(transport.requests[0]).toMatchObject({ method: 'POST', path: '/logs-kansoku-tenant_a/_search', querystring: { ignore_unavailable: 'true', allow_no_indices: 'true' } });
    expect(JSON.stringify(transport.requests[0]?.body)).toContain('"tenant.id":"Tenant/A"');
  });

  it('an engine that fails the search throws an error that leaks nothing to the tenant', async () => {
    const store = new ElasticsearchLogStore(testConfig(), { transport: new FakeSearchTransport(() => json(500, { error: { type: 'x', reason: 'y' } })) });
    await expect(store.searchLogs(base)).rejects.toThrow(LogSearchUnavailableError);
  });
});
