import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { textToProtobuf } from '../../test/support/protobufExposition.js';
import { parseExposition } from '../exposition/parseExposition.js';
import { PROTOBUF_EXPOSITION_TYPE } from '../exposition/parseProtobuf.js';
import { mapsSeries } from './cadvisorMetrics.js';
import { acceptHeader, formatOfContentType, scrapeMetricsPage, type ExpositionFormat } from './scrapeMetricsPage.js';
import { keepAliveAgent } from './streamMetricsPage.js';

const PAGE = readFileSync(new URL('../../test/fixtures/prometheus/nri-k8s__k8s-1.25.13-containerd1.6__kubelet_metrics_cadvisor.prom', import.meta.url), 'utf8');
const PROTOBUF = textToProtobuf(PAGE);
const TEXT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

interface Answer {
  readonly status?: number;
  readonly contentType?: string;
  readonly body: Buffer;
  readonly gzip?: boolean;
  /** Bytes per write, a pause between writes, so that the client reads separate pieces. */
  readonly pieceBytes?: number;
}

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
});

/** Serves what `answer` says for the request's headers; records the headers of each request. */
async function serve(answer: (headers: IncomingHttpHeaders) => Answer): Promise<{ url: string; requests: IncomingHttpHeaders[] }> {
  const requests: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    requests.push(req.headers);
    const { status = 200, contentType, body, gzip = false, pieceBytes } = answer(req.headers);
    const headers: Record<string, string> = {};
    if (contentType !== undefined) headers['content-type'] = contentType;
    if (gzip) headers['content-encoding'] = 'gzip';
    res.writeHead(status, headers);
    const bytes = gzip ? gzipSync(body) : body;
    if (pieceBytes === undefined) {
      res.end(bytes);
      return;
    }
    let offset = 0;
    const next = (): void => {
      if (offset >= bytes.length) res.end();
      else res.write(bytes.subarray(offset, (offset += pieceBytes)), () => setTimeout(next, 1));
    };
    next();
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return { url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/metrics/cadvisor`, requests };
}

const request = (url: string, headers: Record<string, string> = {}) => ({ url, headers, rejectUnauthorized: true, timeoutMs: 10_000, maxBodyBytes: 64 << 20, agent: keepAliveAgent(url) });

/** A kubelet: protobuf to whoever asks for it, text otherwise. */
const kubelet = (headers: IncomingHttpHeaders): Answer =>
  (headers.accept ?? '').includes('application/vnd.google.protobuf') ? { contentType: PROTOBUF_EXPOSITION_TYPE, body: PROTOBUF } : { contentType: TEXT_TYPE, body: Buffer.from(PAGE) };

describe('scrapeMetricsPage', () => {
  const expected = parseExposition(PAGE).samples.filter((s) => mapsSeries(s.name));

  it.each<ExpositionFormat>(['text', 'protobuf'])('asks for %s, gets it, and parses the wanted families', async (format) => {
    const { url, requests } = await serve(kubelet);
    const page = await scrapeMetricsPage(request(url, { Accept: 'overridden/by-the-format', authorization: 'Bearer t' }), format, mapsSeries);
    expect(requests[0]?.accept).toBe(acceptHeader(format));
    expect(requests[0]?.authorization).toBe('Bearer t');
    if (!page.ok) throw new Error(page.error);
    expect(page.value.format).toBe(format);
    expect(page.value.sizeBytes).toBe(format === 'text' ? Buffer.byteLength(PAGE) : PROTOBUF.length);
    expect(page.value.result.errors).toEqual([]);
    expect(page.value.result.samples).toEqual(expected);
  });

  it('sends protobuf first and text as the fallback', () => {
    expect(acceptHeader('protobuf')).toBe('application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited, text/plain;version=0.0.4;q=0.5');
    expect(acceptHeader('text')).toBe('text/plain;version=0.0.4');
  });

  const answers: { name: string; answer: Answer; format: ExpositionFormat }[] = [
    { name: 'text where protobuf was asked', answer: { contentType: TEXT_TYPE, body: Buffer.from(PAGE) }, format: 'text' },
    { name: 'text without a Content-Type', answer: { body: Buffer.from(PAGE) }, format: 'text' },
    { name: 'gzipped protobuf', answer: { contentType: PROTOBUF_EXPOSITION_TYPE, body: PROTOBUF, gzip: true }, format: 'protobuf' },
    { name: 'protobuf in 1000-byte pieces, messages split between them', answer: { contentType: PROTOBUF_EXPOSITION_TYPE, body: PROTOBUF, pieceBytes: 1000 }, format: 'protobuf' },
    { name: 'text in 1000-byte pieces', answer: { contentType: TEXT_TYPE, body: Buffer.from(PAGE), pieceBytes: 1000 }, format: 'text' },
    { name: 'protobuf, parameters quoted and spaced otherwise', answer: { contentType: 'application/vnd.google.protobuf;encoding="delimited"; proto=io.prometheus.client.MetricFamily', body: PROTOBUF }, format: 'protobuf' },
  ];

  it.each(answers)('parses $name by its Content-Type', async ({ answer, format }) => {
    const { url } = await serve(() => answer);
    const page = await scrapeMetricsPage(request(url), 'protobuf', mapsSeries);
    if (!page.ok) throw new Error(page.error);
    expect(page.value.format).toBe(format);
    expect(page.value.result.samples).toEqual(expected);
  });

  it.each([
    ['an empty protobuf page', PROTOBUF_EXPOSITION_TYPE, 'protobuf'],
    ['an empty text page', TEXT_TYPE, 'text'],
  ] as const)('takes %s as a page with no samples', async (_name, contentType, format) => {
    const { url } = await serve(() => ({ contentType, body: Buffer.alloc(0) }));
    const page = await scrapeMetricsPage(request(url), 'protobuf', mapsSeries);
    expect(page.ok && page.value).toMatchObject({ format, sizeBytes: 0, result: { samples: [], errors: [] } });
  });

  const failures: { name: string; answer: Answer; error: string | RegExp }[] = [
    { name: 'an HTTP error', answer: { status: 503, contentType: TEXT_TYPE, body: Buffer.from('overloaded') }, error: 'HTTP 503' },
    { name: 'a Content-Type that is neither format', answer: { contentType: 'text/html', body: Buffer.from('<html>') }, error: 'unsupported Content-Type "text/html"' },
    { name: 'protobuf not delimited', answer: { contentType: 'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=text', body: PROTOBUF }, error: /^unsupported Content-Type/ },
  ];

  it.each(failures)('fails on $name', async ({ answer, error }) => {
    const { url } = await serve(() => answer);
    const page = await scrapeMetricsPage(request(url), 'protobuf', mapsSeries);
    expect(page.ok).toBe(false);
    if (!page.ok) expect(page.error).toMatch(error);
  });

  it('keeps the size cap in protobuf', async () => {
    const { url } = await serve(kubelet);
    expect(await scrapeMetricsPage({ ...request(url), maxBodyBytes: 100_000 }, 'protobuf', mapsSeries)).toEqual({ ok: false, error: 'page larger than 100000 bytes' });
  });
});

describe('formatOfContentType', () => {
  it.each([
    ['text/plain; version=0.0.4; charset=utf-8', 'text'],
    ['text/plain', 'text'],
    ['', 'text'],
    [PROTOBUF_EXPOSITION_TYPE, 'protobuf'],
    ['APPLICATION/VND.GOOGLE.PROTOBUF; PROTO=io.prometheus.client.MetricFamily; ENCODING=delimited', 'protobuf'],
    ['application/vnd.google.protobuf; proto=io.prometheus.client.Other; encoding=delimited', undefined],
    ['application/vnd.google.protobuf', undefined],
    ['application/openmetrics-text; version=1.0.0', undefined],
    ['application/json', undefined],
  ])('%j is %s', (contentType, format) => {
    expect(formatOfContentType(contentType)).toBe(format);
  });
});
