import { readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { Counters } from '../../core/counters.js';
import { answerWith, TEST_CERT_FILE, testEndpoints, type Handler } from '../kubelet/endpoint.testkit.js';
import { STATS_SUMMARY_COUNTERS, StatsSummarySource, type StatsSummarySourceOptions } from './statsSummarySource.js';

const NOW_MS = 1_700_000_123_456;
const PAYLOAD = readFileSync(new URL('../../test/fixtures/summary/nri-k8s__k8s-1.25.13-containerd__kubelet_stats_summary.json', import.meta.url), 'utf8');
const PAYLOAD_MEASUREMENTS = 999; // see statsSummaryMetrics.test.ts

/** Kubelet stand-ins; `serve` returns the summary's URL. */
const { serve, tokenFile } = testEndpoints('/stats/summary');

const serveBody = (body: string): Handler => answerWith('application/json', body);

function source(url: string, overrides: Partial<StatsSummarySourceOptions> = {}): { source: StatsSummarySource; counters: Counters } {
  const counters = new Counters();
  const options: StatsSummarySourceOptions = { url, hostname: 'datagen-1-25', timeoutMs: 5_000, now: () => NOW_MS, counters, ...overrides };
  return { source: new StatsSummarySource(options), counters };
}

describe('StatsSummarySource: a good payload', () => {
  it('turns the summary into metrics of the node, its pods and containers, and counts them', async () => {
    let accept: string | undefined;
    const url = await serve((req, res) => {
      accept = req.headers.accept;
      serveBody(PAYLOAD)(req, res);
    });
    const { source: summary, counters } = source(url);
    const result = await summary.collect();
    expect(result.errors).toEqual([]);
    expect(result.records).toHaveLength(PAYLOAD_MEASUREMENTS);
    expect(accept).toBe('application/json');
    for (const metric of result.records) expect(metric.dimensions['hostname']).toBe('datagen-1-25');
    expect(counters.get(STATS_SUMMARY_COUNTERS.measurements, { source: 'stats_summary' })).toBe(PAYLOAD_MEASUREMENTS);
    expect(counters.total(STATS_SUMMARY_COUNTERS.samplesDropped)).toBe(0);
  });

  it('sends the bearer token, read again at every scrape, and trusts the CA file over HTTPS', async () => {
    const seen: (string | undefined)[] = [];
    const url = await serve((req, res) => {
      seen.push(req.headers.authorization);
      serveBody(PAYLOAD)(req, res);
    }, true);
    const token = tokenFile('first-token\n');
    const { source: summary } = source(url, { bearerTokenFile: token, caFile: TEST_CERT_FILE });
    expect((await summary.collect()).records).toHaveLength(PAYLOAD_MEASUREMENTS);
    writeFileSync(token, 'rotated-token');
    expect((await summary.collect()).errors).toEqual([]);
    expect(seen).toEqual(['Bearer first-token', 'Bearer rotated-token']);
  });

  it('reads a gzipped payload', async () => {
    const url = await serve((_req, res) => res.writeHead(200, { 'content-encoding': 'gzip' }).end(gzipSync(PAYLOAD)));
    expect((await source(url).source.collect()).records).toHaveLength(PAYLOAD_MEASUREMENTS);
  });
});

describe('StatsSummarySource: failures are results, not rejections', () => {
  const scrapeFailures: { name: string; handler: Handler; overrides?: Partial<StatsSummarySourceOptions>; error: RegExp }[] = [
    { name: 'an HTTP error status', handler: (_req, res) => res.writeHead(500).end('boom'), error: /HTTP 500$/ },
    { name: 'a server that never answers', handler: () => undefined, overrides: { timeoutMs: 50 }, error: /timed out after 50 ms$/ },
    { name: 'a payload over the size cap', handler: serveBody(PAYLOAD), overrides: { maxBodyBytes: 1024 }, error: /larger than 1024 bytes$/ },
    { name: 'a token file that does not exist', handler: serveBody(PAYLOAD), overrides: { bearerTokenFile: '/nonexistent/token' }, error: /cannot read a credential file: ENOENT/ },
    { name: 'an untrusted certificate', handler: serveBody(PAYLOAD), overrides: {}, error: /self-signed|certificate/ },
  ];

  it.each(scrapeFailures)('$name', async ({ name, handler, overrides, error }) => {
    const url = await serve(handler, name === 'an untrusted certificate');
    const { source: summary, counters } = source(url, overrides);
    const result = await summary.collect();
    expect(result.records).toEqual([]);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toMatch(error);
    expect(counters.get(STATS_SUMMARY_COUNTERS.scrapeErrors, { source: 'stats_summary' })).toBe(1);
  });

  const payloadFailures: { name: string; body: string }[] = [
    { name: 'a body that is not JSON', body: '<html>502 Bad Gateway</html>' },
    { name: 'a truncated payload', body: PAYLOAD.slice(0, PAYLOAD.length / 2) },
    { name: 'NaN literals', body: '{"node":{"cpu":{"usageNanoCores":NaN}},"pods":[]}' },
    { name: 'an empty body', body: '' },
  ];

  it.each(payloadFailures)('$name', async ({ body }) => {
    const url = await serve(serveBody(body));
    const { source: summary, counters } = source(url);
    const result = await summary.collect();
    expect(result.records).toEqual([]);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toMatch(/the body is not JSON/);
    expect(counters.get(STATS_SUMMARY_COUNTERS.payloadErrors, { source: 'stats_summary' })).toBe(1);
    expect(counters.get(STATS_SUMMARY_COUNTERS.scrapeErrors, { source: 'stats_summary' })).toBe(0);
  });

  it('a payload with wrong types keeps the good rest and counts the rest', async () => {
    const payload = JSON.parse(PAYLOAD) as { node: Record<string, unknown>; pods: unknown[] };
    payload.node['cpu'] = { usageCoreNanoSeconds: 'NaN', usageNanoCores: -5 };
    payload.node['fs'] = 'full';
    payload.pods.push(42, { podRef: {} });
    const url = await serve(serveBody(JSON.stringify(payload)));
    const { source: summary, counters } = source(url);
    const result = await summary.collect();
    expect(result.records).toHaveLength(PAYLOAD_MEASUREMENTS - 2 - 6);
    expect(result.errors).toHaveLength(5);
    expect(counters.get(STATS_SUMMARY_COUNTERS.payloadErrors, { source: 'stats_summary' })).toBe(3);
    expect(counters.get(STATS_SUMMARY_COUNTERS.samplesDropped, { reason: 'invalid' })).toBe(2);
    expect(counters.get(STATS_SUMMARY_COUNTERS.measurements, { source: 'stats_summary' })).toBe(PAYLOAD_MEASUREMENTS - 8);
  });

  it('reports at most 20 error strings, and how many more there were', async () => {
    const pods = Array.from({ length: 30 }, () => 'x');
    const url = await serve(serveBody(JSON.stringify({ node: {}, pods })));
    const result = await source(url).source.collect();
    expect(result.errors).toHaveLength(21);
    expect(result.errors[20]).toBe('… and 10 more');
  });

  it('an aborted collect resolves with the reason', async () => {
    const url = await serve(() => undefined);
    const controller = new AbortController();
    const pending = source(url).source.collect(controller.signal);
    controller.abort();
    const result = await pending;
    expect(result.records).toEqual([]);
    expect(result.errors[0]).toMatch(/aborted$/);
  });
});
