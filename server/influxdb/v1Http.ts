/**
 * InfluxDB's v1 HTTP API (`/write`, `/query`, `/ping`), shared by the v1 sink and the
 * store. An HTTP problem is an answer, not an exception: whatever happens on the wire
 * comes back as `answered` (any status) or `unreachable`.
 *
 * Node's `http` with kept-alive connections rather than fetch: in a profile of the server
 * writing into InfluxDB, fetch (undici, its body streams and TextEncoder) took a fifth of
 * the process's time for what is one POST of a string.
 */
import http from 'node:http';
import https from 'node:https';
import type { InfluxdbConfig } from './config.js';
import type { WriteResponse } from './writeOutcome.js';

export type HttpAnswer = { readonly kind: 'answered'; readonly response: WriteResponse } | { readonly kind: 'unreachable'; readonly error: unknown };

/** ~100 KB of line protocol: a string that stays out of V8's large-object space. */
const LINES_PER_PIECE = 400;

export class InfluxdbV1Http {
  private readonly base: URL;
  private readonly authorization: string | undefined;
  private readonly client: typeof http | typeof https;
  /** Writes of partitions consumed at once go side by side; more would only queue in influxd. */
  private readonly agent: http.Agent;

  /** `signal` aborts every request in flight: the owner's close(). */
  constructor(
    private readonly config: InfluxdbConfig,
    private readonly signal: AbortSignal,
  ) {
    this.base = new URL(config.url);
    // `new URL('write', base)` keeps a path prefix (a proxy's /influx/) only when it ends in '/'.
    if (!this.base.pathname.endsWith('/')) this.base.pathname += '/';
    this.client = this.base.protocol === 'https:' ? https : http;
    this.agent = new this.client.Agent({ keepAlive: true, maxSockets: 8 });
    // 2.x and 3.x take their token on the v1-compatible endpoints too; 1.x takes basic auth.
    if (config.token !== undefined) this.authorization = `Token ${config.token}`;
    else if (config.username !== undefined) this.authorization = `Basic ${Buffer.from(`${config.username}:${config.password ?? ''}`).toString('base64')}`;
  }

  /**
   * Line protocol, one point a line. Sent in pieces of a few hundred lines (chunked): a
   * 5,000-point request joined into one string is a megabyte allocated, encoded and freed
   * per request, which cost the server more than encoding the points did.
   */
  write(database: string, lines: readonly string[]): Promise<HttpAnswer> {
    const params: Record<string, string> = { db: database, precision: 'ms' };
    if (this.config.retentionPolicy !== undefined) params['rp'] = this.config.retentionPolicy;
    const pieces: string[] = [];
    for (let i = 0; i < lines.length; i += LINES_PER_PIECE) {
      const last = i + LINES_PER_PIECE >= lines.length;
      pieces.push(lines.slice(i, i + LINES_PER_PIECE).join('\n') + (last ? '' : '\n'));
    }
    return this.send('POST', 'write', params, pieces, 'text/plain; charset=utf-8');
  }

  /** One InfluxQL statement, by POST so that long filters are not cut by URL limits. */
  query(statement: string, database?: string): Promise<HttpAnswer> {
    const form = new URLSearchParams({ q: statement, epoch: 'ms' });
    if (database !== undefined) form.set('db', database);
    return this.send('POST', 'query', {}, [form.toString()], 'application/x-www-form-urlencoded');
  }

  ping(): Promise<HttpAnswer> {
    return this.send('GET', 'ping', {}, undefined, undefined);
  }

  /** Closes the kept-alive connections; requests in flight are ended by the owner's signal. */
  close(): void {
    this.agent.destroy();
  }

  /** `body` in pieces, written one after another; one piece goes with a content-length, several chunked. */
  private send(method: string, path: string, params: Record<string, string>, body: readonly string[] | undefined, contentType: string | undefined): Promise<HttpAnswer> {
    const url = new URL(path, this.base);
    for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
    const headers: Record<string, string | number> = {};
    if (contentType !== undefined) headers['content-type'] = contentType;
    if (body !== undefined && body.length <= 1) headers['content-length'] = Buffer.byteLength(body[0] ?? '');
    if (this.authorization !== undefined) headers['authorization'] = this.authorization;
    const signal = AbortSignal.any([this.signal, AbortSignal.timeout(this.config.timeoutMs)]);
    return new Promise((resolve) => {
      const request = this.client.request(url, { method, headers, agent: this.agent, signal }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        // The body is read before answering: a reset mid-body is as unreachable as a refused connection.
        response.on('end', () =>
          resolve({ kind: 'answered', response: { status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: headerReader(response.headers) } }),
        );
        response.on('error', (error) => resolve({ kind: 'unreachable', error }));
      });
      request.on('error', (error) => resolve({ kind: 'unreachable', error }));
      for (const piece of body ?? []) request.write(piece);
      request.end();
    });
  }
}

/** `get(name)` over Node's lower-cased response headers, as fetch's Headers reads them. */
function headerReader(raw: http.IncomingHttpHeaders): WriteResponse['headers'] {
  return {
    get: (name) => {
      const value = raw[name.toLowerCase()];
      return Array.isArray(value) ? value.join(', ') : value;
    },
  };
}

export interface QuerySeries {
  readonly name: string | undefined;
  readonly tags: Readonly<Record<string, string>>;
  readonly columns: readonly string[];
  readonly values: readonly (readonly unknown[])[];
}

/** One statement's result: its series, or the error InfluxDB put in its place. */
export interface StatementResult {
  readonly error: string | undefined;
  readonly series: readonly QuerySeries[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function readSeries(raw: unknown): QuerySeries | undefined {
  if (!isRecord(raw) || !Array.isArray(raw['columns'])) return undefined;
  const columns = raw['columns'].filter((c): c is string => typeof c === 'string');
  const values = Array.isArray(raw['values']) ? raw['values'].filter((row): row is unknown[] => Array.isArray(row)) : [];
  const tagEntries = isRecord(raw['tags']) ? Object.entries(raw['tags']).filter((e): e is [string, string] => typeof e[1] === 'string') : [];
  return { name: typeof raw['name'] === 'string' ? raw['name'] : undefined, tags: Object.fromEntries(tagEntries), columns, values };
}

/** The body of a 1.x `/query` answer, read as untrusted JSON: `{"results":[{"series":[...]}]}` or `{"error":"..."}`. */
export function parseQueryResponse(body: string): { readonly ok: true; readonly results: readonly StatementResult[] } | { readonly ok: false; readonly error: string } {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { ok: false, error: `not JSON: ${body.slice(0, 200)}` };
  }
  if (!isRecord(json)) return { ok: false, error: 'not a JSON object' };
  if (typeof json['error'] === 'string') return { ok: false, error: json['error'] };
  if (!Array.isArray(json['results'])) return { ok: false, error: 'no results' };
  const results = json['results'].map((raw: unknown): StatementResult => {
    if (!isRecord(raw)) return { error: 'malformed result', series: [] };
    const series = Array.isArray(raw['series']) ? raw['series'].map(readSeries).filter((s): s is QuerySeries => s !== undefined) : [];
    return { error: typeof raw['error'] === 'string' ? raw['error'] : undefined, series };
  });
  return { ok: true, results };
}
