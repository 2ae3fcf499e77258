/**
 * InfluxDB's v1 HTTP API (`/write`, `/query`, `/ping`) over fetch, shared by the v1 sink
 * and the store. An HTTP problem is an answer, not an exception: whatever happens on
 * the wire comes back as `answered` (any status) or `unreachable`.
 */
import type { InfluxdbConfig } from './config.js';
import type { WriteResponse } from './writeOutcome.js';

export type HttpAnswer = { readonly kind: 'answered'; readonly response: WriteResponse } | { readonly kind: 'unreachable'; readonly error: unknown };

export class InfluxdbV1Http {
  private readonly base: URL;
  private readonly authorization: string | undefined;

  /** `signal` aborts every request in flight: the owner's close(). */
  constructor(
    private readonly config: InfluxdbConfig,
    private readonly signal: AbortSignal,
  ) {
    this.base = new URL(config.url);
    // `new URL('write', base)` keeps a path prefix (a proxy's /influx/) only when it ends in '/'.
    if (!this.base.pathname.endsWith('/')) this.base.pathname += '/';
    // 2.x and 3.x take their token on the v1-compatible endpoints too; 1.x takes basic auth.
    if (config.token !== undefined) this.authorization = `Token ${config.token}`;
    else if (config.username !== undefined) this.authorization = `Basic ${Buffer.from(`${config.username}:${config.password ?? ''}`).toString('base64')}`;
  }

  write(database: string, body: string): Promise<HttpAnswer> {
    const params: Record<string, string> = { db: database, precision: 'ms' };
    if (this.config.retentionPolicy !== undefined) params['rp'] = this.config.retentionPolicy;
    return this.send('POST', 'write', params, body, 'text/plain; charset=utf-8');
  }

  /** One InfluxQL statement, by POST so that long filters are not cut by URL limits. */
  query(statement: string, database?: string): Promise<HttpAnswer> {
    const form = new URLSearchParams({ q: statement, epoch: 'ms' });
    if (database !== undefined) form.set('db', database);
    return this.send('POST', 'query', {}, form.toString(), 'application/x-www-form-urlencoded');
  }

  ping(): Promise<HttpAnswer> {
    return this.send('GET', 'ping', {}, undefined, undefined);
  }

  private async send(method: string, path: string, params: Record<string, string>, body: string | undefined, contentType: string | undefined): Promise<HttpAnswer> {
    const url = new URL(path, this.base);
    for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
    const headers: Record<string, string> = {};
    if (contentType !== undefined) headers['content-type'] = contentType;
    if (this.authorization !== undefined) headers['authorization'] = this.authorization;
    try {
      const response = await fetch(url, { method, headers, body, signal: AbortSignal.any([this.signal, AbortSignal.timeout(this.config.timeoutMs)]) });
      // Reading the body inside the try: a reset mid-body is as unreachable as a refused connection.
      const text = await response.text();
      return { kind: 'answered', response: { status: response.status, body: text, headers: response.headers } };
    } catch (error) {
      return { kind: 'unreachable', error };
    }
  }
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
