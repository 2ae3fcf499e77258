/**
 * The `SearchTransport` over OpenSearch's official client (Elasticsearch's refuses
 * OpenSearch servers). Only its transport is used, with its own retries off; it takes no
 * AbortSignal, so requests in flight are aborted one by one at close.
 */
import { Client, errors } from '@opensearch-project/opensearch';
import type { LogSearchSection } from './config.js';
import type { SearchResponse, SearchTransport } from './transport.js';

export function opensearchTransport(config: LogSearchSection): SearchTransport {
  const client = new Client({
    nodes: [...config.urls],
    ...(config.username !== undefined ? { auth: { username: config.username, password: config.password ?? '' } } : {}),
    ...(config.api_key !== undefined ? { headers: { authorization: `ApiKey ${config.api_key}` } } : {}),
    maxRetries: 0,
    requestTimeout: config.timeout_ms,
    disablePrototypePoisoningProtection: true,
  });
  const inFlight = new Set<{ abort(): void }>();
  let closed = false;
  return {
    async request(request, { timeoutMs }): Promise<SearchResponse> {
      if (closed) throw new Error('the OpenSearch client is closed');
      const pending = client.transport.request(
        {
          method: request.method,
          path: request.path,
          ...(request.querystring !== undefined ? { querystring: { ...request.querystring } } : {}),
          ...(request.body !== undefined ? { body: request.body as Record<string, unknown> } : {}),
          ...(request.ndjson !== undefined ? { bulkBody: request.ndjson } : {}),
        },
        { requestTimeout: timeoutMs, maxRetries: 0 },
      );
      inFlight.add(pending);
      try {
        const result = await pending;
        return { status: result.statusCode ?? 200, body: result.body as unknown, headers: (result.headers ?? {}) as SearchResponse['headers'] };
      } catch (error) {
        if (error instanceof errors.ResponseError) {
          const meta = error.meta as { statusCode?: number; body?: unknown; headers?: SearchResponse['headers'] };
          return { status: meta.statusCode ?? 0, body: meta.body, headers: meta.headers ?? {} };
        }
        throw error;
      } finally {
        inFlight.delete(pending);
      }
    },
    async close(): Promise<void> {
      closed = true;
      for (const pending of inFlight) pending.abort();
      await client.close();
    },
  };
}
