/**
 * One GET of a metrics page over HTTP or HTTPS. Node's own `http`/`https` modules, because
 * a kubelet serves a self-signed or cluster-CA certificate and these take `ca` and
 * `rejectUnauthorized` per request. Every failure (DNS, TLS, status, timeout, abort, a page
 * over the size cap) comes back as a `fail`, never as a rejection.
 */
import { isAscii } from 'node:buffer';
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import { fail, ok, type Checked } from '../../core/outcome.js';

export interface PageRequest {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  /** PEM of the CA that signed the server's certificate; the system's CAs when absent. */
  readonly ca?: string;
  readonly rejectUnauthorized: boolean;
  readonly timeoutMs: number;
  /** Decompressed size beyond which the page is refused, so a runaway page cannot exhaust memory. */
  readonly maxBodyBytes: number;
  /**
   * Keeps the connection (and its TLS session) between scrapes, as Prometheus does: a new
   * TCP and TLS handshake to the kubelet every interval costs more CPU than parsing the page.
   */
  readonly agent?: http.Agent;
}

/** One connection kept open per scraped endpoint. */
export function keepAliveAgent(url: string): http.Agent {
  const options = { keepAlive: true, maxSockets: 1 };
  return url.startsWith('https:') ? new https.Agent(options) : new http.Agent(options);
}

/**
 * GETs the page and hands it to `consume` as text, piece by piece as it arrives (UTF-8
 * decoded across piece boundaries), so that the page never exists as one large buffer or
 * string. Resolves with the page's size in bytes, or why it failed; after a failure the
 * pieces already consumed are to be thrown away.
 */
export function streamMetricsPage(request: PageRequest, consume: (text: string) => void, signal?: AbortSignal): Promise<Checked<number>> {
  return new Promise((resolve) => {
    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      resolve(fail(`invalid URL ${JSON.stringify(request.url)}`));
      return;
    }
    const client = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : undefined;
    if (client === undefined) {
      resolve(fail(`unsupported protocol ${url.protocol}`));
      return;
    }
    const timeout = AbortSignal.timeout(request.timeoutMs);
    const abort = signal === undefined ? timeout : AbortSignal.any([signal, timeout]);
    // An abort surfaces as whatever error the socket or stream was in; say which abort it was.
    const why = (error: Error, context?: string): string => {
      if (timeout.aborted) return `timed out after ${request.timeoutMs} ms`;
      if (abort.aborted) return 'aborted';
      return context === undefined ? error.message : `${context}: ${error.message}`;
    };
    const options: https.RequestOptions = { headers: { ...request.headers, 'accept-encoding': 'gzip' }, signal: abort, rejectUnauthorized: request.rejectUnauthorized };
    if (request.ca !== undefined) options.ca = request.ca;
    if (request.agent !== undefined) options.agent = request.agent;
    const req = client.get(url, options, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        resolve(fail(`HTTP ${res.statusCode ?? 'status unknown'}`));
        return;
      }
      const body: Readable = res.headers['content-encoding'] === 'gzip' ? res.pipe(createGunzip()) : res;
      // Pages are ASCII but for the odd label value: ASCII pieces are read as Latin-1, which
      // is a plain copy; from the first piece that is not, UTF-8 decoding takes over (the
      // pieces before were whole characters, so nothing is split).
      let decoder: StringDecoder | undefined;
      let sizeBytes = 0;
      let failed = false;
      body.on('data', (chunk: Buffer) => {
        if (failed) return;
        sizeBytes += chunk.length;
        if (sizeBytes > request.maxBodyBytes) {
          failed = true;
          resolve(fail(`page larger than ${request.maxBodyBytes} bytes`));
          req.destroy();
          return;
        }
        if (decoder === undefined && isAscii(chunk)) consume(chunk.toString('latin1'));
        else consume((decoder ??= new StringDecoder('utf8')).write(chunk));
      });
      body.on('end', () => {
        if (failed) return;
        const rest = decoder?.end() ?? '';
        if (rest !== '') consume(rest);
        resolve(ok(sizeBytes));
      });
      if (body !== res) body.on('error', (error) => resolve(fail(why(error, 'the page is not valid gzip'))));
      // A connection cut mid-page fails or closes the response without 'end'; the first resolve wins.
      res.on('error', (error) => resolve(fail(why(error, 'the connection failed mid-page'))));
      res.on('close', () => {
        if (!res.complete) resolve(fail(why(new Error('closed'), 'the connection failed mid-page')));
      });
    });
    req.on('error', (error) => resolve(fail(why(error))));
  });
}
