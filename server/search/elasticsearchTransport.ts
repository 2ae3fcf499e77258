/**
 * The `SearchTransport` over Elasticsearch's official client (8.x: the 9.x client refuses
 * Elasticsearch 8 servers). Only its transport is used, with its own retries off: the sink
 * retries what should be retried, item by item.
 */
import { Client, errors } from '@elastic/elasticsearch';
import type { LogSearchSection } from './config.js';
import type { SearchResponse, SearchTransport } from './transport.js';

export function elasticsearchTransport(config: LogSearchSection): SearchTransport {
  const auth =
    config.api_key !== undefined
      ? { apiKey: config.api_key }
      : config.username !== undefined
        ? { username: config.username, password: config.password ?? '' }
        : undefined;
  const client = new Client({
    nodes: [...config.urls],
    ...(auth !== undefined ? { auth } : {}),
    maxRetries: 0,
    requestTimeout: config.timeout_ms,
    compression: false,
    // The sink reads answers into fresh objects; safe parsing only costs time.
    disablePrototypePoisoningProtection: true,
  });
  const closing = new AbortController();
  return {
    async request(request, { timeoutMs }): Promise<SearchResponse> {
      try {
        const result = await client.transport.request(
          {
            method: request.method,
            path: request.path,
            ...(request.querystring !== undefined ? { querystring: { ...request.querystring } } : {}),
            ...(request.body !== undefined ? { body: request.body as Record<string, unknown> } : {}),
            ...(request.ndjson !== undefined ? { bulkBody: request.ndjson } : {}),
          },
          { meta: true, requestTimeout: timeoutMs, maxRetries: 0, signal: closing.signal },
        );
        return { status: result.statusCode ?? 200, body: result.body, headers: result.headers ?? {} };
      } catch (error) {
        // The client throws for every status >= 400; the sink wants the answer itself.
        if (error instanceof errors.ResponseError) return { status: error.meta.statusCode ?? 0, body: error.meta.body, headers: error.meta.headers ?? {} };
        throw error;
      }
    },
    async close(): Promise<void> {
      closing.abort();
      await client.close();
    },
  };
}
