import { describe, expect, it } from 'vitest';
import { Counters } from '../../core/counters.js';
import type { LogEnvelope } from '../../core/envelope.js';
import { logRecordId } from '../../core/logRecordId.js';
import { DUPLICATES_COUNTER, ITEM_RETRIES_COUNTER } from './bulkWriter.js';
import type { LogSearchSection } from './config.js';
import { ElasticsearchSink } from './elasticsearchSink.js';
import { bulkAnswer, FakeSearchTransport, json, testConfig, type Answer } from './fakeSearchTransport.testkit.js';
import { OpensearchSink } from './opensearchSink.js';

const T0 = Date.UTC(2026, 0, 2, 3, 4, 5, 678);

function records(n: number, tenantId = 'tenant-a'): LogEnvelope[] {
  return Array.from({ length: n }, (_, i) => ({
    log: { message: `line ${i}`, dimensions: { pod_name: `p${i}` }, timestamp: T0 + i, origin: `n|f|${i}` },
    meta: { tenantId, region: 'r' },
    creation_time: Math.floor(T0 / 1000),
  }));
}

function sinkWith(answer: Answer, overrides: Partial<LogSearchSection> = {}) {
  const transport = new FakeSearchTransport(answer);
  const counters = new Counters();
  const sleeps: number[] = [];
  let nowMs = 1_000_000;
  const sink = new ElasticsearchSink(testConfig({ max_item_retries: 3, ...overrides }), {
    counters,
    transport,
    itemBackoff: { initialDelayMs: 10, maxDelayMs: 100 },
    random: () => 1,
    now: () => nowMs,
    sleep: (ms) => {
      sleeps.push(ms);
      nowMs += ms;
      return Promise.resolve();
    },
  });
  return { sink, transport, counters, sleeps };
}

/** Answers bulk requests with these statuses in turn: one list per request. */
function statusesInTurn(...turns: number[][]): Answer {
  return (_request, index) => bulkAnswer(turns[index] ?? turns[turns.length - 1] ?? []);
}

describe('LogSearchSink.deliver', () => {
  it('sends one bulk request of create actions keyed by the record ids, into the tenant streams', async () => {
    const { sink, transport } = sinkWith(statusesInTurn([201, 201, 201]));
    const batch = [...records(2), ...records(1, 'Tenant B')];
    expect(await sink.deliver(batch)).toEqual({ kind: 'delivered' });
    const [request] = transport.requests;
    expect(request?.method).toBe('POST');
    expect(request?.path).toBe('/_bulk');
    expect(request?.ids).toEqual(batch.map(logRecordId));
    expect(request?.ndjson?.split('\n').filter((l) => l.includes('"create"')).map((l) => (JSON.parse(l) as { create: { _index: string } }).create._index)).toEqual([
      'logs-kansoku-tenant-a',
      'logs-kansoku-tenant-a',
      'logs-kansoku-tenant_b',
    ]);
  });

  it('an empty batch sends nothing', async () => {
    const { sink, transport } = sinkWith(statusesInTurn([]));
    expect(await sink.deliver([])).toEqual({ kind: 'delivered' });
    expect(transport.requests).toHaveLength(0);
  });

  it('409: already stored, delivered and counted as a duplicate', async () => {
    const { sink, counters } = sinkWith(statusesInTurn([201, 409, 409]));
    expect(await sink.deliver(records(3))).toEqual({ kind: 'delivered' });
    expect(counters.get(DUPLICATES_COUNTER, { sink: 'elasticsearch' })).toBe(2);
  });

  it('429 and 5xx items are sent again alone, with backoff, until they land', async () => {
    const { sink, transport, counters, sleeps } = sinkWith(statusesInTurn([201, 429, 201, 503], [429, 201], [201]));
    const batch = records(4);
    expect(await sink.deliver(batch)).toEqual({ kind: 'delivered' });
    expect(transport.bulkRequests().map((r) => r.ids)).toEqual([batch.map(logRecordId), [batch[1], batch[3]].map((e) => logRecordId(e as LogEnvelope)), [logRecordId(batch[1] as LogEnvelope)]]);
    expect(sleeps).toEqual([10, 20]);
    expect(counters.get(ITEM_RETRIES_COUNTER, { sink: 'elasticsearch' })).toBe(3);
  });

  it('items still failing after max_item_retries hand the whole batch back as retryable', async () => {
    const { sink, transport } = sinkWith(statusesInTurn([201, 429], [429]), { max_item_retries: 2, retry_delay_ms: 777 });
    const outcome = await sink.deliver(records(2));
    expect(outcome).toMatchObject({ kind: 'retryable', delayMs: 777 });
    expect(outcome.kind === 'retryable' && outcome.reason).toMatch(/1 of 1 documents were not taken \(429: es_rejected_execution_exception: reason 429\), still after 2 retries/);
    expect(transport.bulkRequests()).toHaveLength(3);
  });

  it('item retries stop at the request deadline', async () => {
    const { sink, transport } = sinkWith(statusesInTurn([503]), { timeout_ms: 15, max_item_retries: 10 });
    const outcome = await sink.deliver(records(1));
    expect(outcome.kind === 'retryable' && outcome.reason).toMatch(/deadline/);
    expect(transport.bulkRequests()).toHaveLength(2);
  });

  it('400 items are rejected with their reasons, the rest delivered', async () => {
    const batch = records(5);
    const { sink } = sinkWith((request) =>
      bulkAnswer(
        request.ids.map((id) => (id === logRecordId(batch[1] as LogEnvelope) || id === logRecordId(batch[4] as LogEnvelope) ? 400 : 201)),
        () => 'mapper_parsing_exception',
      ),
    );
    const outcome = await sink.deliver(batch);
    expect(outcome).toEqual({
      kind: 'rejected',
      reason: 'Elasticsearch refused 2 of 5 documents: mapper_parsing_exception: reason 400',
      items: [batch[1], batch[4]],
      delivered: 3,
    });
  });

  it('a mix: 201, 409, 400 and 429 — the 429 retried alone, then the 400 rejected', async () => {
    const { sink, transport, counters } = sinkWith(statusesInTurn([201, 409, 400, 429], [201]));
    const batch = records(4);
    const outcome = await sink.deliver(batch);
    expect(outcome).toMatchObject({ kind: 'rejected', items: [batch[2]], delivered: 3 });
    expect(transport.bulkRequests().map((r) => r.ids.length)).toEqual([4, 1]);
    expect(counters.get(DUPLICATES_COUNTER, { sink: 'elasticsearch' })).toBe(1);
  });

  it('records without a usable time are rejected without being sent', async () => {
    const batch = records(2);
    const bad = { ...(batch[1] as LogEnvelope), log: { ...(batch[1] as LogEnvelope).log, timestamp: Number.NaN } };
    const { sink, transport } = sinkWith(statusesInTurn([201]));
    expect(await sink.deliver([batch[0] as LogEnvelope, bad])).toMatchObject({ kind: 'rejected', items: [bad], delivered: 1 });
    expect(transport.bulkRequests()[0]?.ids).toHaveLength(1);
  });

  const requestCases: { name: string; response: ReturnType<typeof json>; expected: object }[] = [
    { name: '503 on the whole request', response: json(503, { error: { type: 'cluster_block_exception', reason: 'no master' } }), expected: { kind: 'retryable', delayMs: 1_000 } },
    { name: '429 with Retry-After', response: json(429, { error: 'busy' }, { 'retry-after': '7' }), expected: { kind: 'retryable', delayMs: 7_000 } },
    { name: 'a Retry-After beyond reason is capped', response: json(429, {}, { 'retry-after': '99999' }), expected: { kind: 'retryable', delayMs: 300_000 } },
    { name: '401: credentials, a long delay', response: json(401, { error: { type: 'security_exception', reason: 'missing authentication credentials' } }), expected: { kind: 'retryable', delayMs: 60_000 } },
    { name: '403: credentials, a long delay', response: json(403, { error: { type: 'security_exception', reason: 'unauthorized' } }), expected: { kind: 'retryable', delayMs: 60_000 } },
    { name: '413: too large, rejected', response: json(413, 'too large'), expected: { kind: 'rejected', delivered: 0 } },
  ];
  for (const { name, response, expected } of requestCases) {
    it(`whole request: ${name}`, async () => {
      const { sink } = sinkWith(() => response);
      const outcome = await sink.deliver(records(2));
      expect(outcome).toMatchObject(expected);
      if (response.status === 401) expect(outcome.kind === 'retryable' && outcome.reason).toMatch(/username\/password or api_key/);
    });
  }

  it('no answer at all is retryable', async () => {
    const { sink } = sinkWith(() => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:9200')));
    expect(await sink.deliver(records(1))).toMatchObject({ kind: 'retryable', reason: 'Elasticsearch is unreachable: Error: connect ECONNREFUSED 127.0.0.1:9200' });
  });

  it('a missing item in the answer is retried, never taken as stored', async () => {
    const { sink, transport } = sinkWith(statusesInTurn([201], [201]));
    expect(await sink.deliver(records(2))).toEqual({ kind: 'delivered' });
    expect(transport.bulkRequests().map((r) => r.ids.length)).toEqual([2, 1]);
  });

  it('splits a big batch by bulk_max_docs and bulk_max_bytes; a retryable request hands the whole batch back', async () => {
    const byDocs = sinkWith((request) => bulkAnswer(request.ids.map(() => 201)), { bulk_max_docs: 2 });
    expect(await byDocs.sink.deliver(records(5))).toEqual({ kind: 'delivered' });
    expect(byDocs.transport.bulkRequests().map((r) => r.ids.length)).toEqual([2, 2, 1]);

    const byBytes = sinkWith((request) => bulkAnswer(request.ids.map(() => 201)), { bulk_max_bytes: 1024 });
    const big = records(6).map((e) => ({ ...e, log: { ...e.log, message: 'x'.repeat(400) } }));
    expect(await byBytes.sink.deliver(big)).toEqual({ kind: 'delivered' });
    const sizes = byBytes.transport.bulkRequests().map((r) => Buffer.byteLength(r.ndjson ?? ''));
    expect(sizes.length).toBeGreaterThan(1);
    for (const size of sizes) expect(size).toBeLessThanOrEqual(1024);

    const failing = sinkWith((_request, index) => (index === 1 ? json(503, {}) : bulkAnswer([201, 201])), { bulk_max_docs: 2 });
    expect(await failing.sink.deliver(records(6))).toMatchObject({ kind: 'retryable' });
    expect(failing.transport.bulkRequests()).toHaveLength(2);
  });

  it('rejected items of several requests are reported together', async () => {
    const { sink } = sinkWith(() => bulkAnswer([201, 400]), { bulk_max_docs: 2 });
    const batch = records(4);
    expect(await sink.deliver(batch)).toMatchObject({ kind: 'rejected', items: [batch[1], batch[3]], delivered: 2 });
  });

  it('once closed, a delivery is retryable and nothing is sent; close runs once', async () => {
    const { sink, transport } = sinkWith(statusesInTurn([201]));
    await sink.close();
    await sink.close();
    expect(transport.closed).toBe(true);
    expect(await sink.deliver(records(1))).toMatchObject({ kind: 'retryable' });
    expect(transport.requests).toHaveLength(0);
  });
});

describe('LogSearchSink.health', () => {
  const cases: { name: string; answer: Answer; expected: object }[] = [
    { name: 'green', answer: () => json(200, { status: 'green' }), expected: { healthy: true } },
    { name: 'yellow', answer: () => json(200, { status: 'yellow' }), expected: { healthy: true } },
    { name: 'red', answer: () => json(200, { status: 'red' }), expected: { healthy: false, reason: 'OpenSearch cluster health is red' } },
    { name: '401', answer: () => json(401, { error: { type: 'security_exception', reason: 'no' } }), expected: { healthy: false, reason: 'OpenSearch /_cluster/health answered 401: security_exception: no' } },
    { name: 'unreachable', answer: () => Promise.reject(new Error('ECONNREFUSED')), expected: { healthy: false, reason: 'OpenSearch is unreachable: Error: ECONNREFUSED' } },
  ];
  for (const { name, answer, expected } of cases) {
    it(name, async () => {
      const transport = new FakeSearchTransport(answer);
      const sink = new OpensearchSink(testConfig(), { counters: new Counters(), transport });
      expect(sink.name).toBe('opensearch');
      expect(await sink.health()).toEqual(expected);
      expect(transport.requests[0]).toMatchObject({ method: 'GET', path: '/_cluster/health' });
    });
  }
});
