/**
 * The retry logic of one delivery: `_bulk` requests one after another; within each, the
 * items the engine could not take now (429, 5xx) are sent again alone, with backoff and
 * jitter, until `max_item_retries` or the request's deadline; after that the whole batch
 * is handed back as retryable (the bus brings it again, and the ids make the documents
 * already stored answer 409). Rejected items of every request are reported together.
 */
import { backoffDelayMs, type BackoffPolicy } from '../../core/backoff.js';
import type { Counters } from '../../core/counters.js';
import type { LogEnvelope } from '../../core/envelope.js';
import { delivered, rejected, retryable, type DeliveryOutcome } from '../../core/outcome.js';
import { bulkBody, splitIntoRequests, type EncodedBatch, type EncodedItem } from './bulkRequests.js';
import { classifyBulkItems, classifyBulkResponse, summariseReasons } from './bulkOutcome.js';
import { describeError, type SearchTransport } from './transport.js';

export const DUPLICATES_COUNTER = 'kansoku_server_log_duplicates_total';
export const ITEM_RETRIES_COUNTER = 'kansoku_server_log_item_retries_total';

export interface BulkWriterOptions {
  readonly transport: SearchTransport;
  /** `Elasticsearch` or `OpenSearch`, for reasons. */
  readonly engine: string;
  /** The sink's name, the `sink` label of its counters. */
  readonly sinkName: string;
  readonly counters: Counters;
  readonly bulkMaxDocs: number;
  readonly bulkMaxBytes: number;
  readonly timeoutMs: number;
  readonly maxItemRetries: number;
  readonly retryDelayMs: number;
  readonly itemBackoff: BackoffPolicy;
  readonly now: () => number;
  readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  readonly random: () => number;
  /** Aborted at close: no more retries, the delivery comes back retryable. */
  readonly closed: AbortSignal;
}

type RequestResult =
  | { readonly kind: 'done'; readonly refused: readonly { readonly item: LogEnvelope; readonly reason: string }[] }
  | { readonly kind: 'retryable'; readonly reason: string; readonly delayMs: number };

async function writeRequest(items: readonly EncodedItem[], options: BulkWriterOptions): Promise<RequestResult> {
  const { transport, engine, counters, now } = options;
  const labels = { sink: options.sinkName };
  const deadlineMs = now() + options.timeoutMs;
  const refused: { item: LogEnvelope; reason: string }[] = [];
  let pending = items;
  for (let attempt = 0; ; attempt++) {
    let response;
    try {
      const timeoutMs = Math.max(1, deadlineMs - now());
      response = await transport.request({ method: 'POST', path: '/_bulk', querystring: { filter_path: 'errors,items.*.status,items.*.error.type,items.*.error.reason' }, ndjson: bulkBody(pending) }, { timeoutMs });
    } catch (error) {
      return { kind: 'retryable', reason: `${engine} is unreachable: ${describeError(error)}`, delayMs: options.retryDelayMs };
    }
    const verdict = classifyBulkResponse(response, engine, { nowMs: now(), retryDelayMs: options.retryDelayMs });
    if (verdict.kind === 'retryable') return verdict;
    if (verdict.kind === 'rejectAll') return { kind: 'done', refused: [...refused, ...pending.map(({ item }) => ({ item, reason: verdict.reason }))] };

    const verdicts = classifyBulkItems(response.body, pending.length);
    if (verdicts.duplicates > 0) counters.add(DUPLICATES_COUNTER, labels, verdicts.duplicates);
    for (const { position, reason } of verdicts.rejected) refused.push({ item: (pending[position] as EncodedItem).item, reason });
    if (verdicts.retry.length === 0) return { kind: 'done', refused };

    const why = `${verdicts.retry.length} of ${pending.length} documents were not taken (${verdicts.retryReason ?? 'no reason given'})`;
    if (attempt >= options.maxItemRetries) return { kind: 'retryable', reason: `${engine}: ${why}, still after ${attempt} retries`, delayMs: options.retryDelayMs };
    const delayMs = backoffDelayMs(attempt, options.itemBackoff, 0, options.random);
    if (now() + delayMs >= deadlineMs) return { kind: 'retryable', reason: `${engine}: ${why}, and the request's deadline is near`, delayMs: options.retryDelayMs };
    counters.add(ITEM_RETRIES_COUNTER, labels, verdicts.retry.length);
    await options.sleep(delayMs, options.closed);
    if (options.closed.aborted) return { kind: 'retryable', reason: `the ${engine} sink is closing`, delayMs: options.retryDelayMs };
    const current = pending;
    pending = verdicts.retry.map((position) => current[position] as EncodedItem);
  }
}

export async function writeBatch(encoded: EncodedBatch, options: BulkWriterOptions): Promise<DeliveryOutcome<LogEnvelope>> {
  const refused: { item: LogEnvelope; reason: string }[] = encoded.unencodable.map(({ item, reason }) => ({ item, reason }));
  for (const request of splitIntoRequests(encoded.items, options.bulkMaxDocs, options.bulkMaxBytes)) {
    if (options.closed.aborted) return retryable(`the ${options.engine} sink is closed`, options.retryDelayMs);
    const result = await writeRequest(request, options);
    // The requests before this one are written again on the retry, which the ids make harmless.
    if (result.kind === 'retryable') return retryable(result.reason, result.delayMs);
    refused.push(...result.refused);
  }
  if (refused.length === 0) return delivered;
  const total = encoded.items.length + encoded.unencodable.length;
  const reason = `${options.engine} refused ${refused.length} of ${total} documents: ${summariseReasons(refused.map((r) => r.reason))}`;
  return rejected(
    reason,
    refused.map((r) => r.item),
    total - refused.length,
  );
}
