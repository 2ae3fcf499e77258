import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Counters } from '../../core/counters.js';
import { logCodec } from '../../core/codec.js';
import type { LogEnvelope } from '../../core/envelope.js';
import { retryable } from '../../core/outcome.js';
import { RecordingProducer } from '../../core/pipeline.testkit.js';
import { DEFAULT_WIRE, unframe, type WireFormat } from '../../bus/wire.js';
import { openDatabase } from '../sqlite/database.js';
import { SqliteLogSink } from '../sqlite/sqliteLogSink.js';
import { SqliteLogStore } from '../sqlite/sqliteLogStore.js';
import { startApiHarness, type ApiHarness } from './apiHarness.testkit.js';
import { StaticTokenAuthenticator } from './auth.js';
import type { ApiDeps } from './apiDeps.js';
import { MAX_LOG_BYTES, truncateToJsonBytes } from './logsRoutes.js';
import { buildApiServer } from './server.js';

const TOKENS = 'tok-a:tenant-a:monasca-user,tok-b:tenant-b:monasca-user,tok-agent:tenant-a:monasca-agent,tok-ro:tenant-a:monasca-read-only-user';
const NOW = Date.UTC(2026, 2, 3, 4, 5, 6, 789);

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

/** The API over a recording producer and an in-memory log store: what a POST publishes, and searches of logs put in directly. */
async function recordingApi(options: { producer?: RecordingProducer; wire?: WireFormat; logStore?: 'none' } = {}) {
  const producer = options.producer ?? new RecordingProducer();
  const db = openDatabase(':memory:');
  const counters = new Counters();
  const deps: ApiDeps = {
    authenticator: StaticTokenAuthenticator.parse(TOKENS),
    producer,
    wire: options.wire ?? DEFAULT_WIRE,
    store: { listMetrics: () => Promise.resolve([]), listMeasurements: () => Promise.resolve([]) },
    logStore: options.logStore === 'none' ? undefined : new SqliteLogStore(db),
    counters,
    region: 'region-1',
    maxQueryLimit: 10_000,
    now: () => NOW,
    health: () => Promise.resolve({}),
  };
  const app = await buildApiServer(deps, { host: '127.0.0.1', port: 0, bodyLimitBytes: 1 << 20, requestTimeoutMs: 10_000 }, pino({ level: 'silent' }));
  closers.push(() => app.close());
  const sink = new SqliteLogSink(db);
  return {
    app,
    producer,
    counters,
    /** The envelopes published on `logs`, in order. */
    published: (): LogEnvelope[] =>
      producer.messages('logs').flatMap((m) => {
        const unframed = unframe(Buffer.from(m.value), m.headers, logCodec);
        return unframed.ok ? unframed.records : [];
      }),
    seed: async (envelopes: LogEnvelope[]) => expect(await sink.deliver(envelopes)).toEqual({ kind: 'delivered' }),
    post: (token: string, body: unknown, version = 'v3.0', query = '') =>
      app.inject({ method: 'POST', url: `/${version}/logs${query}`, headers: { 'x-auth-token': token, 'content-type': 'application/json' }, payload: typeof body === 'string' ? body : JSON.stringify(body) }),
    get: (token: string, url: string) => app.inject({ method: 'GET', url, headers: { 'x-auth-token': token } }),
  };
}

function seeded(tenantId: string, message: string, n: number, extra: Partial<LogEnvelope['log']> = {}): LogEnvelope {
  return { log: { message, dimensions: { pod_name: `pod-${n % 2}`, hostname: 'node-1' }, timestamp: NOW - 10_000 + n, origin: `seed|${n}`, ...extra }, meta: { tenantId, region: 'r' }, creation_time: 0 };
}

describe('POST /v2.0/logs and /v3.0/logs', () => {
  for (const version of ['v2.0', 'v3.0']) {
    it(`${version}: publishes each log on the logs topic with local dimensions over global ones, the token's tenant and the deps' region`, async () => {
      const api = await recordingApi();
      const response = await api.post(
        'tok-agent',
        {
          dimensions: { hostname: 'mini-mon', service: 'monitoring' },
          logs: [
            { message: 'msg1', dimensions: { component: 'mysql', path: '/var/log/mysql.log' } },
            { message: 'msg2', dimensions: { component: 'monasca-api', service: 'api' }, level: 'WARNING', timestamp: NOW - 5000 },
            { message: 'msg3', timestamp: '2026-03-03T04:05:00.5Z', tenant_id: 'tenant-b', meta: { tenantId: 'tenant-b' } },
          ],
        },
        version,
      );
      expect(response.statusCode).toBe(204);
      expect(response.body).toBe('');
      const published = api.published();
      expect(published.map((e) => e.meta)).toEqual([0, 1, 2].map(() => ({ tenantId: 'tenant-a', region: 'region-1' })));
      expect(published.map((e) => e.log.dimensions)).toEqual([
        { hostname: 'mini-mon', service: 'monitoring', component: 'mysql', path: '/var/log/mysql.log' },
        { hostname: 'mini-mon', service: 'api', component: 'monasca-api' },
        { hostname: 'mini-mon', service: 'monitoring' },
      ]);
      expect(published.map((e) => [e.log.message, e.log.timestamp, e.log.level])).toEqual([
        ['msg1', NOW, undefined],
        ['msg2', NOW - 5000, 'warn'],
        ['msg3', Date.UTC(2026, 2, 3, 4, 5, 0, 500), undefined],
      ]);
      const origins = published.map((e) => e.log.origin ?? '');
      expect(origins.map((o) => o.replace(/^api\|[0-9a-f-]{36}\|/, 'api|ID|'))).toEqual(['api|ID|0', 'api|ID|1', 'api|ID|2']);
      expect(new Set(origins.map((o) => o.split('|')[1])).size).toBe(1);
      expect(published.every((e) => e.creation_time === Math.floor(NOW / 1000))).toBe(true);
      expect(api.counters.get('kansoku_api_logs_total', { outcome: 'accepted' })).toBe(3);
    });
  }

  it('gives every request origins of its own, so that two posts of the same line are two records', async () => {
    const api = await recordingApi();
    for (let i = 0; i < 2; i++) expect((await api.post('tok-a', { logs: [{ message: 'same' }] })).statusCode).toBe(204);
    const [first, second] = api.published();
    expect(first?.log.origin).not.toEqual(second?.log.origin);
  });

  it('cuts a message longer than 1 MB and marks it truncated; the envelope fits the limit', async () => {
    const api = await recordingApi({ wire: { mode: 'batched', maxMessageBytes: 2_000_000 } });
    const long = 'é'.repeat(MAX_LOG_BYTES); // 2 MB of UTF-8
    expect((await api.post('tok-a', { logs: [{ message: long }, { message: 'short' }] })).statusCode).toBe(204);
    const [cut, short] = api.published();
    expect(cut?.log.truncated).toBe(true);
    expect(long.startsWith(cut?.log.message ?? 'x')).toBe(true);
    const bytes = Buffer.byteLength(logCodec.encode(cut as LogEnvelope));
    expect(bytes).toBeLessThanOrEqual(MAX_LOG_BYTES);
    expect(bytes).toBeGreaterThan(MAX_LOG_BYTES - 10);
    expect(short?.log.truncated).toBeUndefined();
  });

  it('cuts to the bus message size when that is smaller than 1 MB', async () => {
    const api = await recordingApi({ wire: { mode: 'monasca', maxMessageBytes: 10_000 } });
    expect((await api.post('tok-a', { logs: [{ message: 'x'.repeat(20_000) }] })).statusCode).toBe(204);
    const [message] = api.producer.messages('logs');
    expect(Buffer.byteLength(message?.value ?? '')).toBeLessThanOrEqual(10_000);
    expect(api.published()[0]?.log.truncated).toBe(true);
  });

  it('never cuts a character or an escape in two', () => {
    const table = [
      { name: 'ASCII', message: 'abcdef', maxBytes: 5, expected: 'abc' },
      { name: 'quote escaped as two bytes', message: 'a"b', maxBytes: 5, expected: 'a"' },
      { name: 'control character escaped as six', message: 'a\u0001b', maxBytes: 7, expected: 'a' },
      { name: 'three-byte character', message: 'a€b', maxBytes: 5, expected: 'a' },
      { name: 'surrogate pair kept whole', message: 'a😀b', maxBytes: 6, expected: 'a' },
      { name: 'fits', message: 'a😀b', maxBytes: 8, expected: 'a😀b' },
    ];
    for (const { name, message, maxBytes, expected } of table) expect(truncateToJsonBytes(message, maxBytes), name).toBe(expected);
  });

  const invalid: { name: string; body: unknown; status: number }[] = [
    { name: 'a log without a message', body: { logs: [{ dimensions: { a: 'b' } }] }, status: 422 },
    { name: 'an empty message', body: { logs: [{ message: '' }] }, status: 422 },
    { name: 'a message that is not a string', body: { logs: [{ message: 42 }] }, status: 422 },
    { name: 'no logs', body: { dimensions: {} }, status: 422 },
    { name: 'an empty logs array', body: { logs: [] }, status: 422 },
    { name: 'a body that is an array', body: [{ message: 'x' }], status: 422 },
    { name: 'a restricted character in a global dimension name', body: { dimensions: { 'a{b': 'c' }, logs: [{ message: 'x' }] }, status: 422 },
    { name: 'a dimension value too long', body: { logs: [{ message: 'x', dimensions: { a: 'v'.repeat(256) } }] }, status: 422 },
    { name: 'an empty dimension value', body: { logs: [{ message: 'x', dimensions: { a: ' ' } }] }, status: 422 },
    { name: 'a dimension value that is not a string', body: { logs: [{ message: 'x', dimensions: { a: 1 } }] }, status: 422 },
    { name: 'an unknown level', body: { logs: [{ message: 'x', level: 'loud' }] }, status: 422 },
    { name: 'a timestamp that is no instant', body: { logs: [{ message: 'x', timestamp: 'yesterday' }] }, status: 422 },
    { name: 'a negative timestamp', body: { logs: [{ message: 'x', timestamp: -1 }] }, status: 422 },
    { name: 'bad JSON', body: '{"logs": [', status: 400 },
  ];
  for (const { name, body, status } of invalid) {
    it(`answers ${status} with {title, description} to ${name}, publishing nothing`, async () => {
      const api = await recordingApi();
      const response = await api.post('tok-a', body);
      expect(response.statusCode).toBe(status);
      expect(Object.keys(response.json<object>()).sort()).toEqual(['description', 'title']);
      expect(api.producer.attempts).toEqual([]);
    });
  }

  it('counts rejected logs', async () => {
    const api = await recordingApi();
    await api.post('tok-a', { logs: [{ message: 'ok' }, { nope: 1 }, { message: 'ok' }] });
    expect(api.counters.get('kansoku_api_logs_total', { outcome: 'rejected' })).toBe(3);
  });

  it('answers 413 to a body over 5 MB, whatever the server-wide body limit', async () => {
    const api = await recordingApi();
    const response = await api.post('tok-a', { logs: Array.from({ length: 6 }, () => ({ message: 'x'.repeat(1_000_000) })) });
    expect(response.statusCode).toBe(413);
    // 4 MB passes the route though the server's own limit is 1 MB.
    expect((await api.post('tok-a', { logs: Array.from({ length: 4 }, () => ({ message: 'x'.repeat(900_000) })) })).statusCode).toBe(204);
  });

  it('answers 503 with Retry-After when the bus cannot take the logs', async () => {
    const api = await recordingApi({ producer: new RecordingProducer([retryable('broker down', 2500)]) });
    const response = await api.post('tok-a', { logs: [{ message: 'x' }] });
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('3');
    expect(api.counters.get('kansoku_api_logs_total', { outcome: 'accepted' })).toBe(0);
  });

  it('takes the tenant from the token: a read-only token may not post, and tenant_id needs a delegate role', async () => {
    const api = await recordingApi();
    expect((await api.post('tok-ro', { logs: [{ message: 'x' }] })).statusCode).toBe(403);
    expect((await api.post('tok-a', { logs: [{ message: 'x' }] }, 'v3.0', '?tenant_id=tenant-b')).statusCode).toBe(403);
    expect((await api.post('nope', { logs: [{ message: 'x' }] })).statusCode).toBe(401);
    expect(api.producer.attempts).toEqual([]);
  });
});

describe('GET /v2.0/logs', () => {
  it('pages newest first with self and next links, elements in the documented shape', async () => {
    const api = await recordingApi();
    await api.seed([
      seeded('tenant-a', 'first line', 1, { level: 'info' }),
      seeded('tenant-a', 'second line', 2, { level: 'error', truncated: true, split: true, parse_error: 'not CRI' }),
      seeded('tenant-a', 'third line', 3),
    ]);
    const page = await api.get('tok-a', '/v2.0/logs?limit=2');
    expect(page.statusCode).toBe(200);
    const body = page.json<{ links: { rel: string; href: string }[]; elements: Record<string, unknown>[] }>();
    expect(body.elements.map((e) => e['message'])).toEqual(['third line', 'second line']);
    expect(body.elements[1]).toEqual({
      id: expect.stringMatching(/^[\w-]{22}$/) as unknown,
      timestamp: new Date(NOW - 10_000 + 2).toISOString(),
      message: 'second line',
      dimensions: { pod_name: 'pod-0', hostname: 'node-1' },
      level: 'error',
      truncated: true,
      split: true,
      parse_error: 'not CRI',
    });
    expect(body.links.map((l) => l.rel)).toEqual(['self', 'next']);
    const next = new URL(body.links[1]?.href ?? '');
    expect(next.searchParams.get('offset')).toBe('2');
    const last = (await api.get('tok-a', `${next.pathname}${next.search}`)).json<{ links: unknown[]; elements: { message: string }[] }>();
    expect(last.elements.map((e) => e.message)).toEqual(['first line']);
    expect(last.links).toHaveLength(1);
  });

  it('filters by q, dimensions, level and time window', async () => {
    const api = await recordingApi();
    await api.seed([0, 1, 2, 3, 4, 5].map((n) => seeded('tenant-a', `request ${n} ${n % 2 === 0 ? 'refused' : 'ok'}`, n, { level: n < 3 ? 'error' : 'warn' })));
    const messages = async (query: string) => (await api.get('tok-a', `/v2.0/logs?${query}`)).json<{ elements: { message: string }[] }>().elements.map((e) => e.message);
    expect(await messages('q=refused')).toEqual(['request 4 refused', 'request 2 refused', 'request 0 refused']);
    expect(await messages('q=request%20-refused&dimensions=pod_name:pod-1')).toEqual(['request 5 ok', 'request 3 ok', 'request 1 ok']);
    expect(await messages('dimensions=pod_name:pod-0|pod-9,hostname&level=error')).toEqual(['request 2 refused', 'request 0 refused']);
    expect(await messages('level=WARNING,fatal')).toEqual(['request 5 ok', 'request 4 refused', 'request 3 ok']);
    const at = (n: number) => encodeURIComponent(new Date(NOW - 10_000 + n).toISOString());
    expect(await messages(`start_time=${at(1)}&end_time=${at(3)}`)).toEqual(['request 2 refused', 'request 1 ok']);
  });

  const hostile: { name: string; query: string; status: number }[] = [
    { name: 'a start_time that is no instant', query: 'start_time=yesterday', status: 422 },
    { name: 'an end_time before the start', query: 'start_time=2026-01-02T00:00:00Z&end_time=2026-01-01T00:00:00Z', status: 400 },
    { name: 'a q over 1024 characters', query: `q=${'a'.repeat(1025)}`, status: 422 },
    { name: 'a negative offset', query: 'offset=-1', status: 422 },
    { name: 'an offset that is no number', query: 'offset=abc', status: 422 },
    { name: 'an offset too deep', query: 'offset=100000000', status: 422 },
    { name: 'a limit of 0', query: 'limit=0', status: 422 },
    { name: 'a dimension with a restricted character', query: 'dimensions=a%7Bb:c', status: 422 },
    { name: 'a dimension filter of an empty key', query: 'dimensions=:x', status: 422 },
    { name: 'an unknown level', query: 'level=error,loud', status: 422 },
    { name: 'another tenant_id', query: 'tenant_id=tenant-b', status: 403 },
    { name: 'a parameter over 4096 characters', query: `dimensions=${'a'.repeat(5000)}`, status: 400 },
  ];
  for (const { name, query, status } of hostile) {
    it(`answers ${status} with {title, description} to ${name}`, async () => {
      const api = await recordingApi();
      const response = await api.get('tok-a', `/v2.0/logs?${query}`);
      expect(response.statusCode).toBe(status);
      expect(Object.keys(response.json<object>()).sort()).toEqual(['description', 'title']);
    });
  }

  it('answers 501 when the server has no log store, and needs a read role', async () => {
    const none = await recordingApi({ logStore: 'none' });
    const response = await none.get('tok-a', '/v2.0/logs');
    expect(response.statusCode).toBe(501);
    expect(response.json()).toEqual({ title: 'Not Implemented', description: expect.stringContaining('log search needs a log store') as unknown });
    expect((await none.get('tok-a', '/v2.0/logs/tail')).statusCode).toBe(501);
    const api = await recordingApi();
    expect((await api.get('tok-agent', '/v2.0/logs')).statusCode).toBe(403);
  });
});

/** Reads server-sent events from a live server until `count` `log` events came or the deadline passed. */
async function readEvents(url: string, token: string, count: number, timeoutMs = 5000): Promise<{ status: number; events: { message: string; id: string }[]; raw: string }> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const events: { message: string; id: string }[] = [];
  let raw = '';
  try {
    const response = await fetch(url, { headers: { 'x-auth-token': token }, signal: controller.signal });
    if (response.status !== 200 || !response.body) return { status: response.status, events, raw: await response.text() };
    const decoder = new TextDecoder();
    for await (const chunk of response.body) {
      raw += decoder.decode(chunk as Uint8Array, { stream: true });
      events.length = 0;
      for (const block of raw.split('\n\n')) {
        const data = /^event: log\n(?:id: .*\n)?data: (.*)$/m.exec(block);
        if (data?.[1]) events.push(JSON.parse(data[1]) as { message: string; id: string });
      }
      if (events.length >= count) break;
    }
    return { status: response.status, events, raw };
  } catch {
    return { status: 200, events, raw };
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}

describe('GET /v2.0/logs/tail, and tenants kept apart end to end', () => {
  let harness: ApiHarness;
  const start = async () => {
    harness = await startApiHarness(TOKENS, { logTail: { pollMs: 50, heartbeatMs: 100, maxPerTenant: 2 } });
    closers.push(() => harness.close());
    return `${await harness.app.listen({ host: '127.0.0.1', port: 0 })}/v2.0/logs/tail`;
  };
  const postLogs = (token: string, logs: unknown[]) =>
    harness.app.inject({ method: 'POST', url: '/v2.0/logs', headers: { 'x-auth-token': token, 'content-type': 'application/json' }, payload: JSON.stringify({ dimensions: { hostname: 'n1' }, logs }) });
  const search = async (token: string, query: string) => {
    const response = await harness.get(token, `/v2.0/logs?${query}`);
    expect(response.statusCode).toBe(200);
    return response.json<{ elements: { message: string }[] }>().elements.map((e) => e.message);
  };

  it('sends the last records on connecting, then new ones in order, with heartbeats', async () => {
    const url = await start();
    expect((await postLogs('tok-a', [{ message: 'old one', timestamp: Date.now() - 2000 }, { message: 'old two', timestamp: Date.now() - 1000 }])).statusCode).toBe(204);
    await harness.eventually(() => search('tok-a', ''), (m) => m.length === 2);
    const reading = readEvents(`${url}?limit=1`, 'tok-a', 3);
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Apart by a millisecond: records of one millisecond come in id order, not posting order.
    const nowMs = Date.now();
    expect((await postLogs('tok-a', [{ message: 'new one', timestamp: nowMs }, { message: 'new two', timestamp: nowMs + 1 }])).statusCode).toBe(204);
    const { status, events, raw } = await reading;
    expect(status).toBe(200);
    expect(events.map((e) => e.message)).toEqual(['old two', 'new one', 'new two']);
    expect(new Set(events.map((e) => e.id)).size).toBe(3);
    expect(raw).toContain(': heartbeat');
  });

  it('filters the tail like the search', async () => {
    const url = await start();
    const reading = readEvents(`${url}?q=wanted&level=error&limit=0`, 'tok-a', 1, 3000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await postLogs('tok-a', [{ message: 'wanted but info', level: 'info' }, { message: 'unwanted', level: 'error' }, { message: 'wanted', level: 'error' }]);
    expect((await reading).events.map((e) => e.message)).toEqual(['wanted']);
  });

  it('refuses a tenant more tails than its bound with 429, and frees the place when a client goes', async () => {
    const url = await start();
    const open = [readEvents(url, 'tok-a', 99, 800), readEvents(url, 'tok-a', 99, 800)];
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await readEvents(url, 'tok-a', 1, 500)).status).toBe(429);
    // Another tenant has places of its own.
    const other = readEvents(url, 'tok-b', 99, 300);
    await Promise.all([...open, other]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const again = await readEvents(url, 'tok-a', 99, 300);
    expect(again.status).toBe(200);
  });

  it("keeps tenant A's logs from tenant B through search, tail and crafted q or dimensions, after A finds them", async () => {
    const url = await start();
    expect((await postLogs('tok-a', [{ message: 'secret of tenant-a', dimensions: { tenant_id: 'tenant-a' } }])).statusCode).toBe(204);
    expect(await harness.eventually(() => search('tok-a', 'q=secret'), (m) => m.length === 1)).toEqual(['secret of tenant-a']);
    expect(await search('tok-a', 'dimensions=tenant_id:tenant-a')).toEqual(['secret of tenant-a']);
    expect((await readEvents(url, 'tok-a', 1, 2000)).events.map((e) => e.message)).toEqual(['secret of tenant-a']);

    const crafted = [
      '',
      'q=secret',
      'q=tenant_id:tenant-a',
      'q=*',
      `q=${encodeURIComponent('secret" OR "1"="1')}`,
      `q=${encodeURIComponent("'; DROP TABLE logs; --")}`,
      `q=${encodeURIComponent('secret OR tenant_id:*')}`,
      `q=${encodeURIComponent('NEAR(secret tenant)')}`,
      `q=${encodeURIComponent('-nothing')}`,
      'dimensions=tenant_id:tenant-a',
      'dimensions=tenant_id',
      `dimensions=${encodeURIComponent("tenant_id:tenant-a' OR '1'='1")}`,
      'tenant_id=tenant-a',
    ];
    for (const query of crafted) {
      const response = await harness.get('tok-b', `/v2.0/logs?${query}`);
      expect([200, 403, 422], query).toContain(response.statusCode);
      expect(response.body, query).not.toContain('secret of tenant-a');
    }
    const tailed = await readEvents(`${url}?q=secret`, 'tok-b', 1, 500);
    expect(tailed.events).toEqual([]);
    expect(tailed.raw).not.toContain('secret');
  });

  it('ends an open tail when the server closes', async () => {
    const url = await start();
    const response = await fetch(url, { headers: { 'x-auth-token': 'tok-a' } });
    expect(response.status).toBe(200);
    const closing = harness.app.close();
    // The stream ends, rather than keeping the server's close waiting on it.
    const ended = response.text().then(() => 'ended');
    await expect(Promise.race([ended, new Promise((resolve) => setTimeout(() => resolve('still open'), 2000))])).resolves.toBe('ended');
    await closing;
  });
});
