/**
 * The Elasticsearch and OpenSearch log sinks and stores against the real engines
 * (Elasticsearch 8.12.2, OpenSearch 2.5.0), one after the other, each started once: the
 * log sink contract, the start-up that installs the template and lifecycle policy once,
 * a 429 item retried alone, and a malformed document rejected while the rest land.
 */
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Counters } from '../../core/counters.js';
import type { LogEnvelope } from '../../core/envelope.js';
import { DUPLICATES_COUNTER } from '../../server/search/bulkWriter.js';
import type { LogSearchSection } from '../../server/search/config.js';
import { ElasticsearchLogStore } from '../../server/search/elasticsearchLogStore.js';
import { ElasticsearchSink } from '../../server/search/elasticsearchSink.js';
import { testConfig } from '../../server/search/fakeSearchTransport.testkit.js';
import type { LogSearchSink } from '../../server/search/logSearchSink.js';
import type { LogSearchStore } from '../../server/search/logSearchStore.js';
import { OpensearchLogStore } from '../../server/search/opensearchLogStore.js';
import { OpensearchSink } from '../../server/search/opensearchSink.js';
import { logEnvelope, logSinkContract } from '../../server/logSinkContract.testkit.js';
import { startElasticsearch, startOpensearch, type RunningSearchEngine } from './searchEngine.js';
import { eventually } from '../support/kansokuProcess.js';

const ENGINES = [
  { kind: 'elasticsearch', start: startElasticsearch, Sink: ElasticsearchSink, Store: ElasticsearchLogStore },
  { kind: 'opensearch', start: startOpensearch, Sink: OpensearchSink, Store: OpensearchLogStore },
] as const;

/** The first start installs the engine from the npm registry: minutes. */
const START_TIMEOUT_MS = 15 * 60_000;
const stamp = Date.now().toString(36);
const quiet = { info: () => undefined, warn: () => undefined };

async function call(url: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`${url}${path}`, { method, ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}) });
  const text = await response.text();
  return { status: response.status, json: text.length > 0 ? (JSON.parse(text) as unknown) : undefined };
}

/**
 * An HTTP proxy in front of the engine that, on the first `_bulk` request, keeps the first
 * document back and answers 429 for it, as a busy engine does item by item; it records the
 * `_id`s of every bulk request it forwards.
 */
async function startBusyProxy(target: string): Promise<{ url: string; bulkIds: string[][]; close(): Promise<void> }> {
  const upstream = new URL(target);
  const bulkIds: string[][] = [];
  let injected = false;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      let body = Buffer.concat(chunks).toString('utf8');
      const isBulk = (req.url ?? '').startsWith('/_bulk');
      let held = false;
      if (isBulk) {
        const lines = body.split('\n').filter((l) => l.length > 0);
        bulkIds.push(lines.filter((_, i) => i % 2 === 0).map((l) => (JSON.parse(l) as { create: { _id: string } }).create._id));
        if (!injected && lines.length > 2) {
          injected = true;
          held = true;
          body = `${lines.slice(2).join('\n')}\n`;
        }
      }
      const headers: IncomingHttpHeaders = { ...req.headers, host: upstream.host, 'content-length': String(Buffer.byteLength(body)) };
      delete headers['accept-encoding'];
      const forward = httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers }, (answer) => {
        if (!held) {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          return;
        }
        const parts: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => parts.push(chunk));
        answer.on('end', () => {
          const json = JSON.parse(Buffer.concat(parts).toString('utf8')) as { errors: boolean; items: unknown[] };
          json.errors = true;
          json.items.unshift({ create: { status: 429, error: { type: 'es_rejected_execution_exception', reason: 'injected by the test proxy' } } });
          const text = JSON.stringify(json);
          const { 'transfer-encoding': _chunked, ...kept } = answer.headers;
          res.writeHead(answer.statusCode ?? 502, { ...kept, 'content-length': String(Buffer.byteLength(text)) });
          res.end(text);
        });
      });
      forward.on('error', () => res.destroy());
      forward.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    bulkIds,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

for (const { kind, start, Sink, Store } of ENGINES) {
  describe.sequential(`${kind} log sink and store`, () => {
    let engine: RunningSearchEngine;
    let config: LogSearchSection;
    let sink: LogSearchSink;
    let store: LogSearchStore;
    const counters = new Counters();
    const closers: (() => Promise<void>)[] = [];

    const refresh = async (): Promise<void> => {
      const { status } = await call(engine.url, 'POST', `/${config.data_stream.replace('{tenant}', '*')}/_refresh?ignore_unavailable=true&allow_no_indices=true`);
      expect(status).toBe(200);
    };
    const sinkAndStore = (overrides: Partial<LogSearchSection> = {}) => {
      const c = { ...config, ...overrides };
      const s = new Sink(c, { counters, logger: quiet, itemBackoff: { initialDelayMs: 10, maxDelayMs: 50 } });
      const st = new Store(c);
      closers.push(() => s.close(), () => st.close());
      return { sink: s, store: st };
    };

    beforeAll(async () => {
      engine = await start();
      config = testConfig({ urls: [engine.url], number_of_replicas: 0, data_stream: `logs-kit${stamp}-{tenant}`, template_name: `kansoku-logs-it${stamp}`, timeout_ms: 20_000 });
      ({ sink, store } = sinkAndStore());
      expect(await sink.setup()).toMatchObject({ ok: true });
    }, START_TIMEOUT_MS);

    afterAll(async () => {
      for (const close of closers) await close();
      await engine?.stop();
    }, 120_000);

    logSinkContract(async () => ({ sink, store, refresh }));

    it('start-up installs the template and the lifecycle policy once; a second start finds them', async () => {
      const names = { data_stream: `logs-kst${stamp}-{tenant}`, template_name: `kansoku-logs-st${stamp}` };
      const first = await sinkAndStore(names).sink.setup();
      const again = sinkAndStore(names).sink;
      const second = await again.setup();
      const template = `index template ${names.template_name}`;
      const policy = `${kind === 'elasticsearch' ? 'ILM' : 'ISM'} policy ${names.template_name}`;
      expect(first).toEqual({ ok: true, created: [policy, template], existing: [] });
      expect(second).toEqual({ ok: true, created: [], existing: [policy, template] });
      expect((await call(engine.url, 'GET', `/_index_template/${names.template_name}`)).status).toBe(200);

      // The first write makes the tenant's data stream, whose backing index the policy manages.
      expect(await again.deliver([logEnvelope(`life${stamp}`, { message: 'managed', origin: 'life|0' })])).toEqual({ kind: 'delivered' });
      const stream = names.data_stream.replace('{tenant}', `life${stamp}`);
      const streams = await call(engine.url, 'GET', `/_data_stream/${stream}`);
      const backing = (streams.json as { data_streams: { indices: { index_name: string }[] }[] }).data_streams[0]?.indices[0]?.index_name ?? '';
      expect(backing).toMatch(new RegExp(`^\\.ds-${stream}-`));
      if (kind === 'elasticsearch') {
        expect((await call(engine.url, 'GET', `/${backing}/_ilm/explain`)).json).toMatchObject({ indices: { [backing]: { managed: true, policy: names.template_name } } });
      } else {
        // ISM registers a new index with its policy in the background, a moment after the index is made.
        const explain = await eventually(
          async () => JSON.stringify((await call(engine.url, 'GET', `/_plugins/_ism/explain/${backing}`)).json),
          (text) => text.includes(`policy_id":"${names.template_name}"`),
          30_000,
          500,
        );
        expect(explain).toContain(`policy_id":"${names.template_name}"`);
      }
    });

    it('the documents are data stream documents in ECS names, with the word analyzer', async () => {
      const tenant = `ecs${stamp}`;
      const e = logEnvelope(tenant, { message: 'NullPointerException at Foo.bar(Foo.java:1)', level: 'error', origin: 'ecs|1', dimensions: { namespace: 'shop', pod_name: 'web-1', 'app.kubernetes.io/name': 'web' } });
      expect(await sink.deliver([e])).toEqual({ kind: 'delivered' });
      await refresh();
      const stream = `logs-kit${stamp}-${tenant}`;
      const found = await call(engine.url, 'POST', `/${stream}/_search`, { query: { term: { 'kubernetes.pod.name': 'web-1' } } });
      const hits = (found.json as { hits: { hits: { _index: string; _source: Record<string, unknown> }[] } }).hits.hits;
      expect(hits).toHaveLength(1);
      expect(hits[0]?._index).toMatch(new RegExp(`^\\.ds-${stream}-`));
      expect(hits[0]?._source).toMatchObject({ tenant: { id: tenant }, log: { level: 'error' }, kubernetes: { namespace: 'shop' } });
      const tokens = await call(engine.url, 'POST', `/${hits[0]?._index ?? stream}/_analyze`, { field: 'message', text: 'Foo.bar(Foo.java:1) ÜBER-größe' });
      expect(tokens.json).toMatchObject({ tokens: ['foo', 'bar', 'foo', 'java', '1', 'über', 'größe'].map((token) => ({ token })) });
    });

    it('a 429 item is retried alone and lands; the rest are not sent twice', async () => {
      const proxy = await startBusyProxy(engine.url);
      closers.push(() => proxy.close());
      const { sink: busy, store: reader } = sinkAndStore({ urls: [proxy.url] });
      const tenant = `busy${stamp}`;
      const batch = [0, 1, 2].map((i) => logEnvelope(tenant, { message: `busy ${i}`, origin: `busy|${i}` }, Date.UTC(2026, 0, 2) + i));
      expect(await busy.deliver(batch)).toEqual({ kind: 'delivered' });
      expect(proxy.bulkIds.map((ids) => ids.length)).toEqual([3, 1]);
      expect(proxy.bulkIds[1]).toEqual([proxy.bulkIds[0]?.[0]]);
      await refresh();
      expect((await reader.searchLogs({ tenantId: tenant, dimensions: {}, limit: 10 })).map((e) => e.message)).toEqual(['busy 2', 'busy 1', 'busy 0']);
    });

    it('a malformed document is rejected with its reason while the rest land; a redelivery counts duplicates', async () => {
      const tenant = `bad${stamp}`;
      const good = [0, 1].map((i) => logEnvelope(tenant, { message: `good ${i}`, origin: `bad|${i}` }, Date.UTC(2026, 0, 2) + i));
      // Beyond any date the engine can hold.
      const bad = logEnvelope(tenant, { message: 'from the far future', origin: 'bad|x' }, 1e20);
      const outcome = await sink.deliver([good[0] as LogEnvelope, bad, good[1] as LogEnvelope]);
      expect(outcome).toMatchObject({ kind: 'rejected', items: [bad], delivered: 2 });
      expect(outcome.kind === 'rejected' && outcome.reason).toMatch(/refused 1 of 3 documents: .*(pars|date)/i);
      await refresh();
      expect((await store.searchLogs({ tenantId: tenant, dimensions: {}, limit: 10 })).map((e) => e.message)).toEqual(['good 1', 'good 0']);

      const before = counters.get(DUPLICATES_COUNTER, { sink: kind });
      expect(await sink.deliver(good)).toEqual({ kind: 'delivered' });
      expect(counters.get(DUPLICATES_COUNTER, { sink: kind }) - before).toBe(2);
    });

    it('a tenant without a data stream gets nothing, and a page past 10,000 records is refused', async () => {
      expect(await store.searchLogs({ tenantId: `nobody${stamp}`, dimensions: {}, limit: 10, q: 'anything' })).toEqual([]);
      await expect(store.searchLogs({ tenantId: `nobody${stamp}`, dimensions: {}, limit: 100, offset: 9_950 })).rejects.toMatchObject({ statusCode: 400 });
    });
  });
}
