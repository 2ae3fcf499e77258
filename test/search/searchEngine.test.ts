/**
 * The search-engine harness against the real servers: each starts, names the pinned version
 * and build, takes a document into a data stream and finds it again, and once stopped its
 * port refuses connections. One engine runs at a time (a 2-core machine).
 */
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startElasticsearch, startOpensearch, type RunningSearchEngine } from './searchEngine.js';

// The harness waits up to 150 s for yellow on a loaded machine, plus a first-time install.
const START_TIMEOUT_MS = 20 * 60_000;

const CASES = [
  { name: 'Elasticsearch 8.12.2', start: startElasticsearch, kind: 'elasticsearch', version: '8.12.2', buildHash: '48a287ab9497e852de30327444b0809e55d46466' },
  { name: 'OpenSearch 2.5.0', start: startOpensearch, kind: 'opensearch', version: '2.5.0', buildHash: 'b8a8b6c4d7fc7a7e32eb2cb68ecad8057a4636ad' },
] as const;

async function json(url: string, method: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

function portRefuses(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

describe.each(CASES)('$name', ({ start, kind, version, buildHash }) => {
  it(
    'starts, reports the pinned build, indexes into a data stream and searches it, and stops',
    async () => {
      const startedMs = Date.now();
      let engine: RunningSearchEngine | undefined;
      try {
        engine = await start();
        console.log(`${kind} ${engine.version} yellow after ${Date.now() - startedMs} ms at ${engine.url}`);
        expect(engine.kind).toBe(kind);
        expect(engine.version).toBe(version);

        const root = await json(engine.url, 'GET');
        expect(root.body.version).toMatchObject({ number: version, build_hash: buildHash });

        const template = await json(`${engine.url}/_index_template/kansoku-harness`, 'PUT', {
          index_patterns: ['logs-kansoku-harness*'],
          data_stream: {},
          priority: 500,
          template: { mappings: { properties: { '@timestamp': { type: 'date' }, message: { type: 'text' }, 'tenant.id': { type: 'keyword' } } } },
        });
        expect(template.status, JSON.stringify(template.body)).toBe(200);

        const indexed = await json(`${engine.url}/logs-kansoku-harness/_doc?refresh=true`, 'POST', {
          '@timestamp': '2024-03-01T12:00:00.000Z',
          message: 'container started on the harness',
          'tenant.id': 't1',
        });
        expect(indexed.status, JSON.stringify(indexed.body)).toBe(201);
        expect(String(indexed.body._index)).toMatch(/^\.ds-logs-kansoku-harness-/);

        const found = await json(`${engine.url}/logs-kansoku-harness/_search`, 'POST', { query: { match: { message: 'harness' } } });
        expect(found.status).toBe(200);
        const hits = (found.body.hits as { hits: { _source: Record<string, unknown> }[] }).hits;
        expect(hits.map((hit) => hit._source)).toEqual([{ '@timestamp': '2024-03-01T12:00:00.000Z', message: 'container started on the harness', 'tenant.id': 't1' }]);
      } finally {
        await engine?.stop();
      }
      expect(await portRefuses(engine.url)).toBe(true);
      await engine.stop(); // a second stop is harmless
    },
    START_TIMEOUT_MS,
  );
});
