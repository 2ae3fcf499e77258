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

/** What a page's response said about itself, once the whole body has been read. */
export interface PageResponse {
  readonly sizeBytes: number;
  /** The response's Content-Type; '' when it sent none. */
  readonly contentType: string;
}

/**
 * GETs the page and hands it to `consume` as text, piece by piece as it arrives (UTF-8
 * decoded across piece boundaries), so that the page never exists as one large buffer or
 * string. Resolves with the page's size in bytes, or why it failed; after a failure the
 * pieces already consumed are to be thrown away.
 */
export async function streamMetricsPage(request: PageRequest, consume: (text: string) => void, signal?: AbortSignal): Promise<Checked<number>> {
  const text = decodeTextPieces(consume);
  const page = await streamMetricsPageBytes(request, text.write, signal);
  if (!page.ok) return page;
  text.end();
  return ok(page.value.sizeBytes);
}

export interface TextPieces {
  readonly write: (chunk: Buffer) => void;
  /** Hands over what a last incomplete character left (as U+FFFD). */
  readonly end: () => void;
}

/**
 * Byte pieces → text pieces for `consume`. Pages are ASCII but for the odd label value:
 * ASCII pieces are read as Latin-1, which is a plain copy; from the first piece that is
 * not, UTF-8 decoding takes over (the pieces before were whole characters, so nothing is
 * split).
 */
export function decodeTextPieces(consume: (text: string) => void): TextPieces {
  let decoder: StringDecoder | undefined;
  return {
    write: (chunk) => {
      if (decoder === undefined && isAscii(chunk)) consume(chunk.toString('latin1'));
      else consume((decoder ??= new StringDecoder('utf8')).write(chunk));
    },
    end: () => {
      const rest = decoder?.end() ?? '';
      if (rest !== '') consume(rest);
    },
  };
}

/**
 * GETs the page and hands it to `consume` as bytes (gunzipped when the server gzipped
 * it), piece by piece as it arrives, with the response's Content-Type so that the
 * consumer can pick a decoder before the first piece. Every failure, as for
 * `streamMetricsPage`, comes back as a `fail`; after one the pieces consumed are to be
 * thrown away.
 */
export function streamMetricsPageBytes(request: PageRequest, consume: (chunk: Buffer, contentType: string) => void, signal?: AbortSignal): Promise<Checked<PageResponse>> {
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
      const contentType = res.headers['content-type'] ?? '';
      const body: Readable = res.headers['content-encoding'] === 'gzip' ? res.pipe(createGunzip()) : res;
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
        consume(chunk, contentType);
      });
      body.on('end', () => {
        if (failed) return;
        resolve(ok({ sizeBytes, contentType }));
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
