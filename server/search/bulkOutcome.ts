/**
 * What a `_bulk` answer means for each document, and for the request as a whole.
 *
 * Per item: 2xx stored; 409 already there (a redelivery: the id is the record's, so it is
 * stored and counted as a duplicate); 400 the document's fault (mapping or parse error:
 * rejected, never retried); anything else (429 and 5xx, and blocks or a missing index,
 * which an operator mends) retried alone.
 *
 * Per request: 401/403 is the credentials (retryable, with a long delay, nothing is lost);
 * 413 the request size (rejected: retrying the same bytes cannot help); anything else that
 * is not 200 is retryable, honouring Retry-After.
 */
import { retryAfterMs } from '../../core/retryAfter.js';
import { LOG_SEARCH_DEFAULTS } from './config.js';
import { errorText, header, type SearchResponse } from './transport.js';

export interface ItemVerdicts {
  /** Stored by this request, duplicates included. */
  readonly delivered: number;
  readonly duplicates: number;
  /** Positions (in the request) to send again. */
  readonly retry: readonly number[];
  /** Positions refused for good, with the engine's reason. */
  readonly rejected: readonly { readonly position: number; readonly reason: string }[];
  /** The first reason an item is to be retried, for the outcome if retries run out. */
  readonly retryReason?: string;
}

interface BulkItemResult {
  readonly status?: unknown;
  readonly error?: unknown;
}

function itemResult(entry: unknown): BulkItemResult | undefined {
  if (typeof entry !== 'object' || entry === null) return undefined;
  // `{ "create": { "status": 201, ... } }`: one key, the action.
  for (const key in entry) return (entry as Record<string, BulkItemResult | undefined>)[key];
  return undefined;
}

function itemReason(result: BulkItemResult, status: number): string {
  return result.error === undefined ? `status ${status}` : errorText({ error: result.error });
}

export function classifyBulkItems(body: unknown, count: number): ItemVerdicts {
  const items = typeof body === 'object' && body !== null ? (body as { items?: unknown }).items : undefined;
  const list = Array.isArray(items) ? (items as unknown[]) : [];
  let deliveredCount = 0;
  let duplicates = 0;
  const retry: number[] = [];
  const rejected: { position: number; reason: string }[] = [];
  let retryReason: string | undefined;
  for (let position = 0; position < count; position++) {
    const result = itemResult(list[position]);
    const status = typeof result?.status === 'number' ? result.status : 0;
    if (status >= 200 && status < 300) deliveredCount++;
    else if (status === 409) {
      deliveredCount++;
      duplicates++;
    } else if (status === 400 && result !== undefined) rejected.push({ position, reason: itemReason(result, status) });
    else {
      retry.push(position);
      retryReason ??= result === undefined ? 'the answer does not list the document' : `${status}: ${itemReason(result, status)}`;
    }
  }
  return { delivered: deliveredCount, duplicates, retry, rejected, ...(retryReason !== undefined ? { retryReason } : {}) };
}

/** `n of m documents: reason; reason (+k more)`: the first few distinct reasons. */
export function summariseReasons(reasons: readonly string[], limit = 3): string {
  const distinct = [...new Set(reasons)];
  const shown = distinct.slice(0, limit).map((r) => r.slice(0, 300));
  return distinct.length > limit ? `${shown.join('; ')} (and ${distinct.length - limit} other reasons)` : shown.join('; ');
}

export type RequestVerdict =
  | { readonly kind: 'items' }
  | { readonly kind: 'retryable'; readonly reason: string; readonly delayMs: number }
  | { readonly kind: 'rejectAll'; readonly reason: string };

/** The request as a whole: did the engine answer item by item, and if not, what now. */
export function classifyBulkResponse(response: SearchResponse, engine: string, options: { readonly nowMs: number; readonly retryDelayMs: number }): RequestVerdict {
  const { status } = response;
  if (status === 200) return { kind: 'items' };
  const text = errorText(response.body);
  if (status === 401 || status === 403) {
    return { kind: 'retryable', reason: `${engine} refused the credentials (${status}); check username/password or api_key: ${text}`, delayMs: LOG_SEARCH_DEFAULTS.authRetryDelayMs };
  }
  if (status === 413) return { kind: 'rejectAll', reason: `${engine} refused the bulk request as too large (413); lower bulk_max_bytes: ${text}` };
  const askedMs = retryAfterMs(header(response, 'retry-after'), options.nowMs);
  const delayMs = askedMs === undefined ? options.retryDelayMs : Math.min(askedMs, LOG_SEARCH_DEFAULTS.maxRetryAfterMs);
  return { kind: 'retryable', reason: `${engine} answered the bulk request with ${status}: ${text}`, delayMs };
}
