/**
 * dashboards/kibana/kansoku-logs.ndjson, checked two ways: every reference between the saved
 * objects resolves (ids and types, as Kibana's import checks them), and each saved search's
 * KQL query, run against a real Elasticsearch 8.12.2 over its data view's index pattern,
 * finds exactly the log lines it should.
 *
 * Elasticsearch does not speak KQL (Kibana translates it), and query_string's syntax differs
 * (lowercase `or` is a search term there). So `kqlToQuery` below translates the small subset
 * the saved searches use, the way Kibana does: `field:value` → match, `field:"a b"` →
 * match_phrase, `field:*` → exists, joined by `and` / `or` (`and` binds tighter), no
 * parentheses, no `not`. Anything else throws, so a search edited beyond that subset fails
 * here instead of being tested wrongly.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASE_NDJSON_PATH, parseNdjson, perTenantNdjson, type SavedObject } from '../../dashboards/kibana/perTenant.js';
import { startElasticsearch, type RunningSearchEngine } from './searchEngine.js';

const BASE_NDJSON = readFileSync(BASE_NDJSON_PATH, 'utf8');

type Query = Record<string, unknown>;

function kqlToQuery(kql: string): Query {
  const disjuncts = kql.trim().split(/\s+or\s+/i);
  const should = disjuncts.map((disjunct) => {
    const conjuncts = disjunct.split(/\s+and\s+/i).map(clauseToQuery);
    return conjuncts.length === 1 ? conjuncts[0]! : { bool: { filter: conjuncts } };
  });
  return should.length === 1 ? should[0]! : { bool: { should, minimum_should_match: 1 } };
}

function clauseToQuery(clause: string): Query {
  const match = /^([A-Za-z0-9_.@]+):(\*|"[^"]*"|[^\s"():*]+)$/.exec(clause.trim());
  if (match === null) throw new Error(`KQL outside the subset this test translates: ${JSON.stringify(clause)}`);
  const [, field, value] = match as unknown as [string, string, string];
  if (value === '*') return { exists: { field } };
  if (value.startsWith('"')) return { match_phrase: { [field]: value.slice(1, -1) } };
  return { match: { [field]: value } };
}

interface SearchSource {
  query: { query: string; language: string };
  filter: unknown[];
  indexRefName: string;
}

function searchSource(object: SavedObject): SearchSource {
  const meta = object.attributes.kibanaSavedObjectMeta as { searchSourceJSON: string };
  return JSON.parse(meta.searchSourceJSON) as SearchSource;
}

/** What Kibana's import would refuse or show broken: duplicate ids, dangling references, refs named by nothing. */
function referenceProblems(objects: readonly SavedObject[]): string[] {
  const problems: string[] = [];
  const byKey = new Map(objects.map((object) => [`${object.type}:${object.id}`, object]));
  if (byKey.size !== objects.length) problems.push('duplicate type:id');
  for (const object of objects) {
    for (const reference of object.references) {
      if (!byKey.has(`${reference.type}:${reference.id}`)) problems.push(`${object.id} → ${reference.type}:${reference.id} (${reference.name}) resolves to nothing`);
    }
    const names = new Set(object.references.map((reference) => reference.name));
    if (object.type === 'search') {
      const source = searchSource(object);
      if (!names.has(source.indexRefName)) problems.push(`${object.id}: indexRefName ${source.indexRefName} is not a reference`);
      if (object.references.find((reference) => reference.name === source.indexRefName)?.type !== 'index-pattern') problems.push(`${object.id}: its index reference is not an index-pattern`);
    }
    if (object.type === 'dashboard') {
      const panels = JSON.parse(object.attributes.panelsJSON as string) as { panelIndex: string; panelRefName: string; type: string }[];
      for (const panel of panels) {
        const reference = object.references.find((candidate) => candidate.name === `${panel.panelIndex}:${panel.panelRefName}`);
        if (reference === undefined) problems.push(`${object.id}: panel ${panel.panelIndex} has no reference ${panel.panelIndex}:${panel.panelRefName}`);
        else if (reference.type !== panel.type) problems.push(`${object.id}: panel ${panel.panelIndex} is a ${panel.type} but references a ${reference.type}`);
      }
    }
  }
  return problems;
}

interface LogDoc {
  '@timestamp': string;
  message: string;
  'log.level': string;
  'kubernetes.namespace'?: string;
  'kubernetes.pod.name'?: string;
  'kubernetes.container.name'?: string;
  'container.id'?: string;
  'host.hostname': string;
  stream: 'stdout' | 'stderr';
  'tenant.id': string;
}

function containerLine(minute: number, level: string, message: string, pod: string, container: string, tenantId = 't1'): LogDoc {
  return {
    '@timestamp': `2024-03-01T12:${String(minute).padStart(2, '0')}:00.000Z`,
    message,
    'log.level': level,
    'kubernetes.namespace': `ns-${tenantId}`,
    'kubernetes.pod.name': pod,
    'kubernetes.container.name': container,
    'container.id': `cid-${pod}-${container}`,
    'host.hostname': 'node-1',
    stream: level === 'error' || level === 'fatal' ? 'stderr' : 'stdout',
    'tenant.id': tenantId,
  };
}

/** Into logs-kansoku-t1, by _id. Lines without a pod or container come from the node itself (kubelet, journal). */
const T1_DOCS: Readonly<Record<string, LogDoc>> = {
  'web-info': containerLine(1, 'info', 'GET /healthz 200', 'web-7d9f', 'nginx'),
  'web-error': containerLine(2, 'error', 'upstream timed out', 'web-7d9f', 'nginx'),
  'api-fatal': containerLine(3, 'fatal', 'cannot open database', 'api-5c2a', 'api'),
  'api-warn-mentions-error': containerLine(4, 'warn', 'retrying after error', 'api-5c2a', 'api'),
  'sidecar-debug': containerLine(5, 'debug', 'config reloaded', 'api-5c2a', 'envoy'),
  'node-error': { '@timestamp': '2024-03-01T12:06:00.000Z', message: 'kubelet: image pull failed', 'log.level': 'error', 'host.hostname': 'node-1', stream: 'stderr', 'tenant.id': 't1' },
  'node-info': { '@timestamp': '2024-03-01T12:07:00.000Z', message: 'kubelet: node ready', 'log.level': 'info', 'host.hostname': 'node-1', stream: 'stdout', 'tenant.id': 't1' },
};

/** Into logs-kansoku-t2: seen by the all-tenant data view, never by t1's. */
const T2_DOCS: Readonly<Record<string, LogDoc>> = {
  't2-error': containerLine(8, 'error', 'out of memory', 'batch-1', 'worker', 't2'),
};

/** Each saved search by id: its title, and which documents it must find, said independently of its KQL. */
const EXPECTED: Readonly<Record<string, { title: string; finds: (doc: LogDoc) => boolean }>> = {
  'kansoku-errors': { title: 'Kansoku errors', finds: (doc) => doc['log.level'] === 'error' || doc['log.level'] === 'fatal' },
  'kansoku-logs-by-pod': { title: 'Kansoku logs by pod', finds: (doc) => doc['kubernetes.pod.name'] !== undefined },
  'kansoku-logs-by-container': { title: 'Kansoku logs by container', finds: (doc) => doc['kubernetes.container.name'] !== undefined },
};

describe('the saved objects', () => {
  const objects = parseNdjson(BASE_NDJSON);

  it('hold a data view for logs-kansoku-* on @timestamp, the three searches and the dashboard over them', () => {
    const dataView = objects.find((object) => object.type === 'index-pattern');
    expect(dataView?.attributes).toMatchObject({ title: 'logs-kansoku-*', timeFieldName: '@timestamp' });
    expect(Object.fromEntries(objects.filter((object) => object.type === 'search').map((object) => [object.id, object.attributes.title]))).toEqual(
      Object.fromEntries(Object.entries(EXPECTED).map(([id, { title }]) => [id, title])),
    );
    const dashboard = objects.find((object) => object.type === 'dashboard');
    expect(dashboard?.attributes.title).toBe('Kansoku logs');
    expect(dashboard?.references.map((reference) => reference.id).sort()).toEqual(objects.filter((object) => object.type === 'search').map((object) => object.id).sort());
    const byPod = objects.find((object) => object.attributes.title === 'Kansoku logs by pod');
    expect(byPod?.attributes).toMatchObject({ columns: ['kubernetes.pod.name', 'message'], sort: [['@timestamp', 'desc']] });
    const byContainer = objects.find((object) => object.attributes.title === 'Kansoku logs by container');
    expect(byContainer?.attributes.columns).toContain('kubernetes.container.name');
  });

  it('resolve every reference, by id and type', () => {
    expect(referenceProblems(objects)).toEqual([]);
  });

  it('per tenant: each copy reads logs-kansoku-<tenant>, and its references stay inside the copy', () => {
    const copies = parseNdjson(perTenantNdjson(BASE_NDJSON, ['t1', 't2']));
    expect(copies).toHaveLength(objects.length * 2);
    expect(referenceProblems(copies)).toEqual([]);
    expect(copies.filter((object) => object.type === 'index-pattern').map((object) => object.attributes.title)).toEqual(['logs-kansoku-t1', 'logs-kansoku-t2']);
    for (const copy of copies) for (const reference of copy.references) expect(reference.id.endsWith(copy.id.slice(copy.id.lastIndexOf('-')))).toBe(true);
    expect(() => perTenantNdjson(BASE_NDJSON, ['Bad Tenant'])).toThrow(/cannot name a data stream/);
  });

  it('the test translates exactly the KQL subset they use', () => {
    expect(kqlToQuery('log.level:error or log.level:fatal')).toEqual({ bool: { should: [{ match: { 'log.level': 'error' } }, { match: { 'log.level': 'fatal' } }], minimum_should_match: 1 } });
    expect(kqlToQuery('kubernetes.pod.name:*')).toEqual({ exists: { field: 'kubernetes.pod.name' } });
    expect(kqlToQuery('a:1 and b:"x y" or c:2')).toEqual({ bool: { should: [{ bool: { filter: [{ match: { a: '1' } }, { match_phrase: { b: 'x y' } }] } }, { match: { c: '2' } }], minimum_should_match: 1 } });
    expect(() => kqlToQuery('not log.level:info')).toThrow(/outside the subset/);
    expect(() => kqlToQuery('(a:1 or b:2)')).toThrow(/outside the subset/);
  });
});

describe('each saved search against Elasticsearch 8.12.2', () => {
  let engine: RunningSearchEngine;

  async function call(path: string, method: string, body?: unknown, contentType = 'application/json'): Promise<Record<string, unknown>> {
    const response = await fetch(`${engine.url}${path}`, { method, headers: { 'content-type': contentType }, ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }) });
    const answer = (await response.json()) as Record<string, unknown>;
    if (!response.ok || answer.errors === true) throw new Error(`${method} ${path} answered ${response.status}: ${JSON.stringify(answer).slice(0, 2_000)}`);
    return answer;
  }

  beforeAll(async () => {
    engine = await startElasticsearch();
    const keyword = { type: 'keyword' };
    await call('/_index_template/kansoku-logs', 'PUT', {
      index_patterns: ['logs-kansoku-*'],
      data_stream: {},
      // Above the built-in logs-*-* template (priority 100).
      priority: 500,
      template: {
        mappings: {
          properties: {
            '@timestamp': { type: 'date' },
            message: { type: 'text' },
            log: { properties: { level: keyword } },
            kubernetes: { properties: { namespace: keyword, pod: { properties: { name: keyword } }, container: { properties: { name: keyword } } } },
            container: { properties: { id: keyword } },
            host: { properties: { hostname: keyword } },
            stream: keyword,
            tenant: { properties: { id: keyword } },
          },
        },
      },
    });
    const bulk = [...Object.entries(T1_DOCS).map(([id, doc]) => ['logs-kansoku-t1', id, doc] as const), ...Object.entries(T2_DOCS).map(([id, doc]) => ['logs-kansoku-t2', id, doc] as const)]
      .flatMap(([index, id, doc]) => [JSON.stringify({ create: { _index: index, _id: id } }), JSON.stringify(doc)])
      .join('\n');
    await call('/_bulk?refresh=true', 'POST', `${bulk}\n`, 'application/x-ndjson');
  }, 20 * 60_000);

  afterAll(async () => {
    await engine?.stop();
  });

  const cases = [
    { name: 'all tenants', ndjson: BASE_NDJSON, idSuffix: '', docs: { ...T1_DOCS, ...T2_DOCS } },
    { name: "tenant t1's copy", ndjson: perTenantNdjson(BASE_NDJSON, ['t1']), idSuffix: '-t1', docs: T1_DOCS },
  ];

  describe.each(cases)('$name', ({ ndjson, idSuffix, docs }) => {
    const objects = parseNdjson(ndjson);
    const searches = objects.filter((object) => object.type === 'search');

    it.each(searches.map((search) => [String(search.attributes.title), search] as const))('%s finds exactly its log lines, newest first', async (_title, search) => {
      const source = searchSource(search);
      expect(source.query.language).toBe('kuery');
      expect(source.filter).toEqual([]);
      const dataViewId = search.references.find((reference) => reference.name === source.indexRefName)?.id;
      const dataView = objects.find((object) => object.type === 'index-pattern' && object.id === dataViewId);
      const pattern = String(dataView?.attributes.title);
      const timeField = String(dataView?.attributes.timeFieldName);
      const [[sortField, sortOrder]] = search.attributes.sort as [[string, 'asc' | 'desc']];
      expect([sortField, sortOrder]).toEqual([timeField, 'desc']);

      const answer = await call(`/${pattern}/_search`, 'POST', { query: kqlToQuery(source.query.query), sort: [{ [sortField]: sortOrder }], size: 100 });
      const hits = (answer.hits as { hits: { _id: string; _source: LogDoc }[] }).hits;

      const expected = EXPECTED[search.id.slice(0, search.id.length - idSuffix.length)];
      if (expected === undefined) throw new Error(`no expectation for the saved search ${search.id}`);
      const expectedIds = Object.entries(docs)
        .filter(([, doc]) => expected.finds(doc))
        .sort(([, a], [, b]) => b[timeField as '@timestamp'].localeCompare(a[timeField as '@timestamp']))
        .map(([id]) => id);
      expect(expectedIds.length).toBeGreaterThan(0);
      expect(hits.map((hit) => hit._id)).toEqual(expectedIds);
    });
  });
});
