import { expect, it } from 'vitest';
import type { LogEnvelope, LogRecord } from '../core/envelope.js';
import { logRecordId } from '../core/logRecordId.js';
import type { Sink } from '../core/pipeline.js';
import type { LogQuery, LogStore } from '../core/query.js';

/**
 * The contract every log sink passes, with the store that reads it back: SQLite (FTS5),
 * Elasticsearch and OpenSearch give the same answers to the same questions, tenants stay
 * apart whatever the query holds, and a redelivered batch is stored once.
 */
export interface LogSinkUnderTest {
  readonly sink: Sink<LogEnvelope>;
  readonly store: LogStore;
  /** Makes what was delivered searchable (Elasticsearch's refresh); nothing for SQLite. */
  readonly refresh: () => Promise<void>;
}

const T0 = Date.UTC(2026, 0, 2, 3, 4, 5, 678);

export function logEnvelope(tenantId: string, log: Partial<LogRecord> & { message: string }, timestamp = T0): LogEnvelope {
  return {
    log: { dimensions: {}, timestamp, ...log },
    meta: { tenantId, region: 'contract' },
    creation_time: Math.floor(timestamp / 1000),
  };
}

/** Each test gets tenants of its own, so one running store serves them all. */
let run = 0;
function tenants(): { a: string; b: string } {
  run += 1;
  const stamp = `${Date.now().toString(36)}${run}`;
  return { a: `ta${stamp}`, b: `tb${stamp}` };
}

const pod = (name: string, container = 'app', level?: string): Record<string, string> => ({
  namespace: 'shop',
  pod_name: name,
  container_name: container,
  hostname: 'node-1',
  stream: level === 'error' ? 'stderr' : 'stdout',
});

function messages(entries: readonly { message: string }[]): string[] {
  return entries.map((e) => e.message);
}

export function logSinkContract(setup: () => Promise<LogSinkUnderTest>): void {
  const deliver = async (s: LogSinkUnderTest, batch: LogEnvelope[]): Promise<void> => {
    expect(await s.sink.deliver(batch)).toEqual({ kind: 'delivered' });
    await s.refresh();
  };
  const search = (s: LogSinkUnderTest, query: Partial<LogQuery> & { tenantId: string }) => s.store.searchLogs({ dimensions: {}, limit: 100, ...query });

  it('log contract: keeps tenants apart and reads back every field, newest first', async () => {
    const s = await setup();
    const { a, b } = tenants();
    const first = logEnvelope(a, { message: 'GET /cart 200', dimensions: pod('web-1'), level: 'info', origin: 'n1|f1|0' }, T0);
    const second = logEnvelope(a, { message: 'java.lang.IllegalStateException: boom\n\tat Cart.add(Cart.java:10)', dimensions: pod('web-1', 'app', 'error'), level: 'error', origin: 'n1|f1|100' }, T0 + 5);
    const cut = logEnvelope(a, { message: 'x'.repeat(50), dimensions: pod('web-2'), truncated: true, split: true, parse_error: 'not CRI', origin: 'n1|f2|0' }, T0 + 1);
    const other = logEnvelope(b, { message: 'GET /cart 500', dimensions: pod('web-1'), origin: 'n1|f9|0' }, T0 + 2);
    await deliver(s, [first, second, cut, other]);

    const found = await search(s, { tenantId: a });
    expect(found).toEqual([
      { id: logRecordId(second), timestampMs: T0 + 5, message: second.log.message, dimensions: second.log.dimensions, level: 'error' },
      { id: logRecordId(cut), timestampMs: T0 + 1, message: cut.log.message, dimensions: cut.log.dimensions, truncated: true, split: true, parseError: 'not CRI' },
      { id: logRecordId(first), timestampMs: T0, message: first.log.message, dimensions: first.log.dimensions, level: 'info' },
    ]);
    expect(messages(await search(s, { tenantId: b }))).toEqual(['GET /cart 500']);
    expect(await search(s, { tenantId: `${a}-nobody` })).toEqual([]);
  });

  it('log contract: a redelivered batch is stored once', async () => {
    const s = await setup();
    const { a } = tenants();
    const batch = [0, 1, 2].map((i) => logEnvelope(a, { message: `same line`, dimensions: pod('p'), origin: `n1|f1|${i * 10}` }, T0 + i));
    await deliver(s, batch);
    await deliver(s, batch);
    await deliver(s, [batch[1] as LogEnvelope]);
    expect(await search(s, { tenantId: a })).toHaveLength(3);
    // Without an origin the content is the identity: the same line at the same instant is one record.
    const foreign = logEnvelope(a, { message: 'from monasca-log-agent', dimensions: { service: 'nova' } }, T0 + 10);
    await deliver(s, [foreign, foreign]);
    expect(messages(await search(s, { tenantId: a, q: 'monasca' }))).toEqual(['from monasca-log-agent']);
  });

  it('log contract: q matches whole words, any case, and quoted phrases in order', async () => {
    const s = await setup();
    const { a, b } = tenants();
    const lines = ['Connection refused by upstream', 'upstream timed out', 'refused: connection to db', 'all good', 'NullPointerException at Foo.bar(Foo.java:1)'];
    await deliver(s, [...lines.map((message, i) => logEnvelope(a, { message, dimensions: pod('p'), origin: `q|${i}` }, T0 + i)), logEnvelope(b, { message: 'connection refused', dimensions: pod('p'), origin: 'q|b' })]);
    expect(messages(await search(s, { tenantId: a, q: 'refused' }))).toEqual(['refused: connection to db', 'Connection refused by upstream']);
    expect(messages(await search(s, { tenantId: a, q: 'CONNECTION refused' }))).toEqual(['refused: connection to db', 'Connection refused by upstream']);
    expect(messages(await search(s, { tenantId: a, q: '"connection refused"' }))).toEqual(['Connection refused by upstream']);
    expect(messages(await search(s, { tenantId: a, q: 'upstream -good' }))).toEqual(['upstream timed out', 'Connection refused by upstream']);
    expect(messages(await search(s, { tenantId: a, q: 'refuse' }))).toEqual([]);
    expect(messages(await search(s, { tenantId: a, q: 'Foo' }))).toEqual(['NullPointerException at Foo.bar(Foo.java:1)']);
  });

  it('log contract: a hostile q is words, never query syntax, and never reaches another tenant', async () => {
    const s = await setup();
    const { a, b } = tenants();
    await deliver(s, [logEnvelope(a, { message: 'secret of a', dimensions: pod('p'), origin: 'h|a' }), logEnvelope(b, { message: 'mine', dimensions: pod('p'), origin: 'h|b' })]);
    const hostile = ['*', 'secret OR *', `tenant.id:${a} secret`, 'secret" OR "1"="1', 'NEAR(secret of)', 'secret AND NOT x', 'message:secret', '\\', '"', '(', '{"query":{"match_all":{}}}', `${a} secret`, "'; DROP TABLE logs; --", 'a'.repeat(5000)];
    for (const q of hostile) {
      const found = await search(s, { tenantId: b, q });
      expect(found.filter((e) => e.message === 'secret of a'), q).toEqual([]);
    }
    // The owner finds it with what is a word in those queries (`OR` is a word, `*` is none).
    expect(messages(await search(s, { tenantId: a, q: 'secret *' }))).toEqual(['secret of a']);
    expect(messages(await search(s, { tenantId: a, q: 'secret OR *' }))).toEqual([]);
  });

  it('log contract: filters by dimensions, levels and time window, and pages with limit and offset', async () => {
    const s = await setup();
    const { a } = tenants();
    const batch = [0, 1, 2, 3, 4, 5].map((i) =>
      logEnvelope(a, { message: `line ${i}`, dimensions: pod(i % 2 === 0 ? 'even' : 'odd', i < 3 ? 'app' : 'sidecar'), level: i % 3 === 0 ? 'error' : 'info', origin: `f|${i}` }, T0 + i * 1000),
    );
    await deliver(s, batch);
    expect(messages(await search(s, { tenantId: a, dimensions: { pod_name: ['even'] } }))).toEqual(['line 4', 'line 2', 'line 0']);
    expect(messages(await search(s, { tenantId: a, dimensions: { pod_name: ['even'], container_name: ['sidecar'] } }))).toEqual(['line 4']);
    expect(messages(await search(s, { tenantId: a, dimensions: { container_name: ['app', 'nope'] } }))).toEqual(['line 2', 'line 1', 'line 0']);
    expect(messages(await search(s, { tenantId: a, dimensions: { pod_name: null } }))).toHaveLength(6);
    expect(messages(await search(s, { tenantId: a, dimensions: { missing: null } }))).toEqual([]);
    expect(messages(await search(s, { tenantId: a, levels: ['error'] }))).toEqual(['line 3', 'line 0']);
    expect(messages(await search(s, { tenantId: a, startMs: T0 + 1000, endMs: T0 + 3000 }))).toEqual(['line 2', 'line 1']);
    expect(messages(await search(s, { tenantId: a, limit: 2 }))).toEqual(['line 5', 'line 4']);
    expect(messages(await search(s, { tenantId: a, limit: 2, offset: 2 }))).toEqual(['line 3', 'line 2']);
    expect(messages(await search(s, { tenantId: a, limit: 2, offset: 6 }))).toEqual([]);
  });

  it('log contract: records of one millisecond come in id order, the same in every store', async () => {
    const s = await setup();
    const { a } = tenants();
    const batch = [0, 1, 2, 3, 4].map((i) => logEnvelope(a, { message: `tick ${i}`, dimensions: pod('p'), origin: `tie|${i}` }, T0));
    await deliver(s, batch);
    const expected = batch.map((e) => logRecordId(e)).sort().reverse();
    expect((await search(s, { tenantId: a })).map((e) => e.id)).toEqual(expected);
  });

  it('log contract: an empty batch is delivered and the sink reports healthy', async () => {
    const s = await setup();
    expect(await s.sink.deliver([])).toEqual({ kind: 'delivered' });
    expect(await s.sink.health()).toEqual({ healthy: true });
  });
}
