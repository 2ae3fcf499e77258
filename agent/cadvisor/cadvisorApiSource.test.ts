import { describe, expect, it } from 'vitest';
import { Counters } from '../../core/counters.js';
import { testEndpoints, type Handler } from '../kubelet/endpoint.testkit.js';
import { subcontainersFixture, toV2 } from './cadvisorApi.testkit.js';
import { CADVISOR_API_COUNTERS, CADVISOR_API_PATHS, CadvisorApiSource, type CadvisorApiSourceOptions } from './cadvisorApiSource.js';

const NOW_MS = 1_700_000_123_456;
const V13 = JSON.stringify(subcontainersFixture('1.2'));
const V2 = toV2(subcontainersFixture('1.2'));
const MEASUREMENTS = 51; // see cadvisorApiMetrics.test.ts
const NODE_MEASUREMENTS = 28;

/** cAdvisor stand-ins; `serve` returns the base URL. */
const { serve, tokenFile } = testEndpoints('/');

/** Answers each path with its body (a string is sent as is), or 404; records what was asked. */
function routes(bodies: Readonly<Record<string, unknown>>, seen: { url: string | undefined; authorization: string | undefined }[] = []): Handler {
  return (req, res) => {
    seen.push({ url: req.url, authorization: req.headers.authorization });
    const body = bodies[req.url ?? ''];
    if (body === undefined) res.writeHead(404).end('not found');
    else res.writeHead(200, { 'content-type': 'application/json' }).end(typeof body === 'string' ? body : JSON.stringify(body));
  };
}

const V2_ROUTES = { [CADVISOR_API_PATHS.v2Stats]: V2.stats, [CADVISOR_API_PATHS.v2Specs]: V2.specs, [CADVISOR_API_PATHS.v2Root]: V2.root };

function source(url: string, overrides: Partial<CadvisorApiSourceOptions> = {}): { source: CadvisorApiSource; counters: Counters } {
  const counters = new Counters();
  const options: CadvisorApiSourceOptions = { url, hostname: 'gke-node', timeoutMs: 5_000, now: () => NOW_MS, counters, ...overrides };
  return { source: new CadvisorApiSource(options), counters };
}

describe('CadvisorApiSource: v2.0', () => {
  it('asks for stats, specs and the root, with the bearer token, and maps them', async () => {
    const seen: { url: string | undefined; authorization: string | undefined }[] = [];
    const url = await serve(routes(V2_ROUTES, seen));
    const { source: cadvisor, counters } = source(url, { bearerTokenFile: tokenFile('tok\n') });
    const result = await cadvisor.collect();
    expect(result.errors).toEqual([]);
    expect(result.records).toHaveLength(MEASUREMENTS);
    expect(seen).toEqual([
      { url: CADVISOR_API_PATHS.v2Stats, authorization: 'Bearer tok' },
      { url: CADVISOR_API_PATHS.v2Specs, authorization: 'Bearer tok' },
      { url: CADVISOR_API_PATHS.v2Root, authorization: 'Bearer tok' },
    ]);
    for (const metric of result.records) expect(metric.dimensions['hostname']).toBe('gke-node');
    expect(counters.get(CADVISOR_API_COUNTERS.measurements, { source: 'cadvisor_api' })).toBe(MEASUREMENTS);
  });

  it('a failed root request keeps the pods and says why the node is missing', async () => {
    const url = await serve(routes({ ...V2_ROUTES, [CADVISOR_API_PATHS.v2Root]: undefined }));
    const { source: cadvisor, counters } = source(url);
    const result = await cadvisor.collect();
    expect(result.records).toHaveLength(MEASUREMENTS - NODE_MEASUREMENTS);
    expect(result.errors).toEqual([expect.stringMatching(/request of .*type=name&count=1 failed: HTTP 404$/)]);
    expect(counters.get(CADVISOR_API_COUNTERS.scrapeErrors, { source: 'cadvisor_api' })).toBe(1);
  });

  it('HTTP 500 on the stats: an error result, not a rejection', async () => {
    const url = await serve((_req, res) => res.writeHead(500).end('boom'));
    const { source: cadvisor, counters } = source(url);
    const result = await cadvisor.collect();
    expect(result).toEqual({ records: [], errors: [expect.stringMatching(/api\/v2\.0\/stats.* failed: HTTP 500$/)] });
    expect(counters.get(CADVISOR_API_COUNTERS.scrapeErrors, { source: 'cadvisor_api' })).toBe(1);
  });

  it('a server that never answers times out', async () => {
    const url = await serve(() => undefined);
    const result = await source(url, { timeoutMs: 50 }).source.collect();
    expect(result.records).toEqual([]);
    expect(result.errors[0]).toMatch(/timed out after 50 ms$/);
  });

  it('specs that are not JSON fail the collect as a payload error', async () => {
    const url = await serve(routes({ ...V2_ROUTES, [CADVISOR_API_PATHS.v2Specs]: '{"truncated": [' }));
    const { source: cadvisor, counters } = source(url);
    const result = await cadvisor.collect();
    expect(result.records).toEqual([]);
    expect(result.errors[0]).toMatch(/the body is not JSON/);
    expect(counters.get(CADVISOR_API_COUNTERS.payloadErrors, { source: 'cadvisor_api' })).toBe(1);
    expect(counters.get(CADVISOR_API_COUNTERS.scrapeErrors, { source: 'cadvisor_api' })).toBe(0);
  });

  it('wrong types in the stats are counted, the rest kept', async () => {
    const stats = { ...V2.stats, '/junk': 'x', '/more-junk': [1] };
    const url = await serve(routes({ ...V2_ROUTES, [CADVISOR_API_PATHS.v2Stats]: stats, [CADVISOR_API_PATHS.v2Specs]: { ...V2.specs, '/junk': {}, '/more-junk': {} } }));
    const { source: cadvisor, counters } = source(url);
    const result = await cadvisor.collect();
    expect(result.records).toHaveLength(MEASUREMENTS);
    expect(result.errors).toHaveLength(2);
    expect(counters.get(CADVISOR_API_COUNTERS.payloadErrors, { source: 'cadvisor_api' })).toBe(2);
  });
});

describe('CadvisorApiSource: v2.0, every cgroup (containerd, CRI-O)', () => {
  it('asks for every cgroup\'s stats and specs, and takes the node from the root among them', async () => {
    const seen: { url: string | undefined; authorization: string | undefined }[] = [];
    const stats = { ...V2.stats, ...V2.root, '/system.slice/containerd.service': (V2.root['/'] as unknown[]).slice() };
    const url = await serve(routes({ [CADVISOR_API_PATHS.v2AllStats]: stats, [CADVISOR_API_PATHS.v2AllSpecs]: { ...V2.specs, '/': {}, '/system.slice/containerd.service': {} } }, seen));
    const result = await source(url, { containers: 'all' }).source.collect();
    expect(result.errors).toEqual([]);
    expect(result.records).toHaveLength(MEASUREMENTS);
    expect(seen.map((s) => s.url)).toEqual([CADVISOR_API_PATHS.v2AllStats, CADVISOR_API_PATHS.v2AllSpecs]);
  });
});

describe('CadvisorApiSource: v1.3', () => {
  it('reads /subcontainers/ in one request', async () => {
    const seen: { url: string | undefined; authorization: string | undefined }[] = [];
    const url = await serve(routes({ [CADVISOR_API_PATHS.v13Subcontainers]: V13 }, seen));
    const result = await source(url.replace(/\/$/, ''), { apiVersion: 'v1.3' }).source.collect();
    expect(result.errors).toEqual([]);
    expect(result.records).toHaveLength(MEASUREMENTS);
    expect(seen.map((s) => s.url)).toEqual([CADVISOR_API_PATHS.v13Subcontainers]);
  });

  it('a response over the size cap is refused', async () => {
    const url = await serve(routes({ [CADVISOR_API_PATHS.v13Subcontainers]: V13 }));
    const { source: cadvisor, counters } = source(url, { apiVersion: 'v1.3', maxBodyBytes: 4096 });
    const result = await cadvisor.collect();
    expect(result.records).toEqual([]);
    expect(result.errors[0]).toMatch(/larger than 4096 bytes$/);
    expect(counters.get(CADVISOR_API_COUNTERS.scrapeErrors, { source: 'cadvisor_api' })).toBe(1);
  });
});
