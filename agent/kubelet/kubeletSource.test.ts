import { readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { Counters } from '../../core/counters.js';
import { answerWith, TEST_CERT_FILE, testEndpoints, type Handler } from './endpoint.testkit.js';
import { KUBELET_COUNTERS, KubeletSource, type KubeletSourceOptions } from './kubeletSource.js';

const NOW_MS = 1_700_000_123_456;
const PAGE = readFileSync(new URL('../../test/fixtures/prometheus/nri-k8s__k8s-1.25.13-containerd1.6__kubelet_metrics_cadvisor.prom', import.meta.url), 'utf8');
const PAGE_MEASUREMENTS = 631; // see cadvisorMetrics.test.ts

/** Kubelet stand-ins; `serve` returns the page URL. */
const { serve, closeLast, tokenFile } = testEndpoints('/metrics/cadvisor');

const servePage = (page: string): Handler => answerWith('text/plain; version=0.0.4', page);

function source(url: string, overrides: Partial<KubeletSourceOptions> = {}): { source: KubeletSource; counters: Counters } {
  const counters = new Counters();
  const options: KubeletSourceOptions = { url, format: 'text', hostname: 'minikube', timeoutMs: 5_000, now: () => NOW_MS, counters, ...overrides };
  return { source: new KubeletSource(options), counters };
}

describe('KubeletSource: a good page', () => {
  it('turns every mapped measurement of the page into a measurement of this node', async () => {
    let accept: string | undefined;
    const url = await serve((req, res) => {
      accept = req.headers.accept;
      servePage(PAGE)(req, res);
    });
    const { source: kubelet, counters } = source(url);
    const result = await kubelet.collect();
    expect(result.errors).toEqual([]);
    expect(result.records).toHaveLength(PAGE_MEASUREMENTS);
    expect(accept).toBe('text/plain;version=0.0.4');
    for (const metric of result.records) {
      expect(metric.dimensions['hostname']).toBe('minikube');
      expect(metric.dimensions['namespace']).toMatch(/^[a-z0-9-]+$/);
    }
    expect(counters.get(KUBELET_COUNTERS.measurements, { source: 'kubelet' })).toBe(PAGE_MEASUREMENTS);
    expect(counters.total(KUBELET_COUNTERS.samplesDropped)).toBe(0);
  });

  it('reads a gzip-encoded page', async () => {
    const url = await serve((req, res) => {
      const gzip = req.headers['accept-encoding']?.includes('gzip') === true;
      res.writeHead(200, gzip ? { 'content-encoding': 'gzip' } : {}).end(gzip ? gzipSync(PAGE) : PAGE);
    });
    const { records, errors } = await source(url).source.collect();
    expect(errors).toEqual([]);
    expect(records).toHaveLength(PAGE_MEASUREMENTS);
  });

  it('sends the bearer token from its file, read at each scrape', async () => {
    const url = await serve((req, res) => {
      if (req.headers.authorization === 'Bearer s3cret') servePage(PAGE)(req, res);
      else res.writeHead(401).end();
    });
    const file = tokenFile('s3cret\n');
    const { source: kubelet, counters } = source(url, { bearerTokenFile: file });
    expect((await kubelet.collect()).records).toHaveLength(PAGE_MEASUREMENTS);
    writeFileSync(file, 'rotated');
    const second = await kubelet.collect();
    expect(second.records).toEqual([]);
    expect(second.errors).toEqual([`scrape of ${url} failed: HTTP 401`]);
    expect(counters.get(KUBELET_COUNTERS.scrapeErrors, { source: 'kubelet' })).toBe(1);
  });
});

describe('KubeletSource: a page with bad parts', () => {
  it('counts bad lines and non-finite samples and keeps the rest', async () => {
    const page = [
      'container_memory_rss{namespace="shop",pod="cart",container="cart",image="cart:1"} 1024',
      'container_memory_rss{namespace="shop",pod="cart",container=cart} 1',
      'container_memory_cache{namespace="shop",pod="cart",container="cart",image="cart:1"} NaN',
      '',
    ].join('\n');
    const { source: kubelet, counters } = source(await serve(servePage(page)));
    const result = await kubelet.collect();
    expect(result.records.map((r) => r.name)).toEqual(['container.mem.rss_bytes']);
    expect(result.errors).toEqual(['exposition line 2: value of label container is not quoted: container_memory_rss{namespace="shop",pod="cart",container=cart} 1']);
    expect(counters.get(KUBELET_COUNTERS.expositionErrors)).toBe(1);
    expect(counters.get(KUBELET_COUNTERS.samplesDropped, { reason: 'not_finite' })).toBe(1);
  });

  it('reports at most 20 error strings, and how many more there were', async () => {
    // Lines of a family the agent maps: those of other families are passed over unread.
    const page = 'container_memory_usage_bytes{pod=broken} 1\n'.repeat(25) + 'bad line of a family nobody maps\n';
    const { source: kubelet, counters } = source(await serve(servePage(page)));
    const { errors } = await kubelet.collect();
    expect(errors).toHaveLength(21);
    expect(errors[20]).toBe('… and 5 more');
    expect(counters.get(KUBELET_COUNTERS.expositionErrors)).toBe(25);
  });
});

describe('KubeletSource: failed scrapes are results, not rejections', () => {
  const failures: { name: string; handler: Handler; overrides?: Partial<KubeletSourceOptions>; error: RegExp }[] = [
    { name: 'an HTTP error status', handler: (_req, res) => res.writeHead(500).end('boom'), error: /HTTP 500$/ },
    { name: 'a server that never answers', handler: () => undefined, overrides: { timeoutMs: 50 }, error: /timed out after 50 ms$/ },
    { name: 'a page over the size cap', handler: servePage(PAGE), overrides: { maxBodyBytes: 1024 }, error: /page larger than 1024 bytes$/ },
    { name: 'a connection cut mid-page', handler: (_req, res) => { res.writeHead(200, { 'content-length': '100000' }); res.write('up 1\n'); setImmediate(() => res.destroy()); }, error: /failed: the connection failed mid-page: / },
    { name: 'a page that claims gzip and is not', handler: (_req, res) => res.writeHead(200, { 'content-encoding': 'gzip' }).end(PAGE), error: /failed: the page is not valid gzip: / },
    { name: 'a token file that does not exist', handler: servePage(PAGE), overrides: { bearerTokenFile: '/nonexistent/token' }, error: /cannot read a credential file: ENOENT/ },
  ];

  it.each(failures)('$name', async ({ handler, overrides, error }) => {
    const url = await serve(handler);
    const { source: kubelet, counters } = source(url, overrides);
    const result = await kubelet.collect();
    expect(result.records).toEqual([]);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toMatch(error);
    expect(counters.get(KUBELET_COUNTERS.scrapeErrors, { source: 'kubelet' })).toBe(1);
    expect(counters.total(KUBELET_COUNTERS.measurements)).toBe(0);
  });

  it('a refused connection', async () => {
    const url = await serve(servePage(PAGE));
    await closeLast();
    const result = await source(url).source.collect();
    expect(result.records).toEqual([]);
    expect(result.errors[0]).toMatch(/ECONNREFUSED/);
  });

  it("the caller's abort signal", async () => {
    const url = await serve(() => undefined);
    const controller = new AbortController();
    const pending = source(url).source.collect(controller.signal);
    controller.abort();
    const result = await pending;
    expect(result.records).toEqual([]);
    expect(result.errors).toEqual([`scrape of ${url} failed: aborted`]);
  });
});

describe('KubeletSource: TLS', () => {
  it('trusts the server with the CA from caFile', async () => {
    const url = await serve(servePage(PAGE), true);
    const result = await source(url, { caFile: TEST_CERT_FILE }).source.collect();
    expect(result.errors).toEqual([]);
    expect(result.records).toHaveLength(PAGE_MEASUREMENTS);
  });

  it('refuses a certificate it cannot verify', async () => {
    const url = await serve(servePage(PAGE), true);
    const result = await source(url).source.collect();
    expect(result.records).toEqual([]);
    expect(result.errors[0]).toMatch(/self-signed certificate/);
  });

  it('skips verification when told to', async () => {
    const url = await serve(servePage(PAGE), true);
    const result = await source(url, { insecureSkipTlsVerify: true }).source.collect();
    expect(result.records).toHaveLength(PAGE_MEASUREMENTS);
  });
});
