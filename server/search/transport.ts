/**
 * The little of an HTTP client the log sink and store need, so that the shared code is
 * the same for Elasticsearch's client and OpenSearch's, and a unit test can stand in for
 * either. `request` resolves with any status, 4xx and 5xx included; it rejects only when
 * there was no answer (refused, reset, timed out, aborted).
 */
export interface SearchRequest {
  readonly method: 'GET' | 'HEAD' | 'PUT' | 'POST';
  readonly path: string;
  readonly querystring?: Readonly<Record<string, string>>;
  /** A JSON body, serialised by the client. */
  readonly body?: unknown;
  /** An ndjson body (`_bulk`), sent as it is. */
  readonly ndjson?: string;
}

export interface SearchResponse {
  readonly status: number;
  /** Parsed JSON when the answer was JSON, else the text. */
  readonly body: unknown;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

export interface SearchTransport {
  request(request: SearchRequest, options: { readonly timeoutMs: number }): Promise<SearchResponse>;
  /** Aborts requests in flight and closes the connections. */
  close(): Promise<void>;
}

/** Which engine is on the far side: they differ in lifecycle policies and small details. */
export type SearchEngineKind = 'elasticsearch' | 'opensearch';

export const ENGINE_NAMES: Readonly<Record<SearchEngineKind, string>> = { elasticsearch: 'Elasticsearch', opensearch: 'OpenSearch' };

export function header(response: SearchResponse, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** The engine's own words for a failed request: `error.type: error.reason`, else the body. */
export function errorText(body: unknown): string {
  if (typeof body === 'object' && body !== null) {
    const error = (body as { error?: unknown }).error;
    if (typeof error === 'object' && error !== null) {
      const { type, reason } = error as { type?: unknown; reason?: unknown };
      return `${typeof type === 'string' ? type : 'error'}: ${typeof reason === 'string' ? reason : JSON.stringify(error).slice(0, 300)}`;
    }
    if (typeof error === 'string') return error;
    return JSON.stringify(body).slice(0, 500);
  }
  return String(body).slice(0, 500);
}

export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.name}: ${error.message}${cause}`;
}
