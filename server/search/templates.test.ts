import { describe, expect, it } from 'vitest';
import { FakeSearchTransport, json, testConfig } from './fakeSearchTransport.testkit.js';
import { ensureTemplates, ilmPolicy, indexTemplate, ismPolicy } from './templates.js';
import type { SearchResponse } from './transport.js';

function recordingLog() {
  const lines: string[] = [];
  return { lines, info: (_f: object, m: string) => lines.push(`info ${m}`), warn: (_f: object, m: string) => lines.push(`warn ${m}`) };
}

describe('indexTemplate', () => {
  it('is a data stream template above logs-*-* with the word analyzer and keyword dimensions', () => {
    const t = indexTemplate(testConfig({ number_of_replicas: 0 }), 'elasticsearch');
    expect(t).toMatchObject({
      index_patterns: ['logs-kansoku-*'],
      data_stream: {},
      priority: 200,
      template: {
        settings: {
          index: {
            number_of_replicas: 0,
            lifecycle: { name: 'kansoku-logs' },
            analysis: {
              tokenizer: { kansoku_words: { type: 'pattern', pattern: '[^\\p{L}\\p{N}]+' } },
              analyzer: { kansoku_words: { type: 'custom', tokenizer: 'kansoku_words', filter: ['lowercase', 'kansoku_word_length'] } },
            },
          },
        },
        mappings: {
          dynamic: false,
          properties: {
            '@timestamp': { type: 'date' },
            message: { type: 'text', analyzer: 'kansoku_words' },
            labels: { type: 'object', enabled: false },
            kansoku: { properties: { id: { type: 'keyword' }, dimensions: { type: 'keyword' }, dimension_keys: { type: 'keyword' } } },
          },
        },
      },
    });
  });

  it('OpenSearch: no ILM setting (ISM finds indices through its template)', () => {
    const t = indexTemplate(testConfig(), 'opensearch') as { template: { settings: { index: Record<string, unknown> } } };
    expect(t.template.settings.index).not.toHaveProperty('lifecycle');
  });
});

describe('lifecycle policies', () => {
  it('ILM: rollover, then delete after the retention; retention 0 keeps', () => {
    expect(ilmPolicy(testConfig({ retention_days: 3 }))).toEqual({
      policy: { _meta: { managed_by: 'kansoku' }, phases: { hot: { actions: { rollover: { max_age: '1d', max_primary_shard_size: '50gb' } } }, delete: { min_age: '3d', actions: { delete: {} } } } },
    });
    expect((ilmPolicy(testConfig({ retention_days: 0 })) as { policy: { phases: object } }).policy.phases).not.toHaveProperty('delete');
  });

  it('ISM: hot then delete, applied to the pattern', () => {
    const p = ismPolicy(testConfig({ retention_days: 3 })) as { policy: { states: { name: string }[]; ism_template: { index_patterns: string[] }[] } };
    expect(p.policy.states.map((s) => s.name)).toEqual(['hot', 'delete']);
    expect(p.policy.ism_template[0]?.index_patterns).toContain('logs-kansoku-*');
    expect((ismPolicy(testConfig({ retention_days: 0 })) as { policy: { states: unknown[] } }).policy.states).toHaveLength(1);
  });
});

describe('ensureTemplates', () => {
  it('creates what is missing, once; a second start finds both', async () => {
    const stored = new Map<string, unknown>();
    const transport = new FakeSearchTransport((request): SearchResponse => {
      if (request.method === 'GET') return stored.has(request.path) ? json(200, {}) : json(404, { error: { type: 'resource_not_found_exception', reason: 'missing' } });
      stored.set(request.path, request.body);
      return json(200, { acknowledged: true });
    });
    const log = recordingLog();
    expect(await ensureTemplates(transport, testConfig(), 'elasticsearch', log)).toEqual({ ok: true, created: ['ILM policy kansoku-logs', 'index template kansoku-logs'], existing: [] });
    expect([...stored.keys()]).toEqual(['/_ilm/policy/kansoku-logs', '/_index_template/kansoku-logs']);
    expect(log.lines).toEqual(['info Created the ILM policy kansoku-logs', 'info Created the index template kansoku-logs']);
    expect(await ensureTemplates(transport, testConfig(), 'elasticsearch', log)).toEqual({ ok: true, created: [], existing: ['ILM policy kansoku-logs', 'index template kansoku-logs'] });
    expect(transport.requests.filter((r) => r.method === 'PUT')).toHaveLength(2);
  });

  it('OpenSearch without the ISM plugin: logs and goes on with the template', async () => {
    const transport = new FakeSearchTransport((request): SearchResponse => {
      if (request.path.startsWith('/_plugins')) return json(400, { error: 'no handler found for uri [/_plugins/_ism/policies/kansoku-logs] and method [GET]' });
      return request.method === 'GET' ? json(404, {}) : json(200, {});
    });
    const log = recordingLog();
    expect(await ensureTemplates(transport, testConfig(), 'opensearch', log)).toEqual({ ok: true, created: ['index template kansoku-logs'], existing: [] });
    expect(log.lines[0]).toMatch(/^warn OpenSearch does not answer for the ISM policy/);
  });

  it('a refused template or an unreachable engine fails the start-up, with the reason', async () => {
    const refused = new FakeSearchTransport((request) => (request.method === 'GET' ? json(404, {}) : json(400, { error: { type: 'illegal_argument_exception', reason: 'bad' } })));
    expect(await ensureTemplates(refused, testConfig(), 'elasticsearch', recordingLog())).toEqual({ ok: false, reason: 'Elasticsearch refused the ILM policy kansoku-logs (400): illegal_argument_exception: bad' });
    const down = new FakeSearchTransport(() => Promise.reject(new Error('ECONNREFUSED')));
    expect(await ensureTemplates(down, testConfig(), 'elasticsearch', recordingLog())).toMatchObject({ ok: false, reason: expect.stringMatching(/unreachable.*ECONNREFUSED/) as unknown });
  });
});
