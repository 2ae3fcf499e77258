import { createServer, type Server } from 'node:http';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { keepAliveAgent, streamMetricsPage, streamMetricsPageBytes } from './streamMetricsPage.js';

/** Serves `pieces` as separate writes, a pause between them, so the client reads them as separate chunks. */
async function serveInPieces(pieces: readonly Buffer[], headers: Record<string, string> = { 'content-type': 'text/plain' }): Promise<{ url: string; server: Server }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, headers);
    let i = 0;
    const next = (): void => {
      const piece = pieces[i++];
      if (piece === undefined) res.end();
      else res.write(piece, () => setTimeout(next, 20));
    };
    next();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return { url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/metrics/cadvisor`, server };
}

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
});

const request = (url: string) => ({ url, headers: {}, rejectUnauthorized: true, timeoutMs: 5000, maxBodyBytes: 1 << 20, agent: keepAliveAgent(url) });

describe('streamMetricsPage', () => {
  it('hands over ASCII pieces as they come, then decodes UTF-8 whole even when a character is split between pieces', async () => {
    const text = 'a{pod="web"} 1\nb{pod="ウェブ-é"} 2\nc 3\n';
    const bytes = Buffer.from(text, 'utf8');
    const split = bytes.indexOf(Buffer.from('ウ', 'utf8')) + 1; // inside the three bytes of ウ
    const { url, server } = await serveInPieces([bytes.subarray(0, 15), bytes.subarray(15, split), bytes.subarray(split)]);
    servers.push(server);
    const pieces: string[] = [];
    const done = await streamMetricsPage(request(url), (piece) => pieces.push(piece));
    expect(done).toEqual({ ok: true, value: bytes.length });
    expect(pieces.join('')).toBe(text);
    expect(pieces[0]).toBe('a{pod="web"} 1\n');
  });

  it('refuses a page over the size cap', async () => {
    const { url, server } = await serveInPieces([Buffer.alloc(600, 97), Buffer.alloc(600, 97)]);
    servers.push(server);
    expect(await streamMetricsPage({ ...request(url), maxBodyBytes: 1000 }, () => undefined)).toEqual({ ok: false, error: 'page larger than 1000 bytes' });
  });

  it('hands the same bytes over in bytes mode, gunzipped, with the Content-Type', async () => {
    const bytes = Buffer.from([0x0a, 0x01, 0x61, 0xff, 0x80, 0x00, 0xc3]);
    const gzipped = gzipSync(bytes);
    const { url, server } = await serveInPieces([gzipped.subarray(0, 5), gzipped.subarray(5)], { 'content-type': 'application/vnd.google.protobuf', 'content-encoding': 'gzip' });
    servers.push(server);
    const chunks: Buffer[] = [];
    const types = new Set<string>();
    const done = await streamMetricsPageBytes(request(url), (chunk, contentType) => {
      chunks.push(chunk);
      types.add(contentType);
    });
    expect(done).toEqual({ ok: true, value: { sizeBytes: bytes.length, contentType: 'application/vnd.google.protobuf' } });
    expect(Buffer.concat(chunks)).toEqual(bytes);
    expect([...types]).toEqual(['application/vnd.google.protobuf']);
  });

  it('says "" for a response without a Content-Type', async () => {
    const { url, server } = await serveInPieces([Buffer.from('a 1\n')], {});
    servers.push(server);
    expect(await streamMetricsPageBytes(request(url), () => undefined)).toEqual({ ok: true, value: { sizeBytes: 4, contentType: '' } });
  });
});
