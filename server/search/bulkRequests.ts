/**
 * A batch of log records as `_bulk` requests: each record encoded once (its two ndjson
 * lines, kept for a retry of that item alone), then cut into requests of at most
 * `bulk_max_docs` documents and `bulk_max_bytes` bytes.
 */
import type { LogEnvelope } from '../../core/envelope.js';
import { logRecordId } from '../../core/logRecordId.js';
import { bulkCreateLines } from './logDocument.js';

export interface EncodedItem {
  readonly item: LogEnvelope;
  /** The `create` action and the document, newline-terminated. */
  readonly lines: string;
  readonly sizeBytes: number;
}

export interface EncodedBatch {
  readonly items: readonly EncodedItem[];
  /** Records that can never be stored (no usable time), with why. */
  readonly unencodable: readonly { readonly item: LogEnvelope; readonly reason: string }[];
}

export function encodeBatch(batch: readonly LogEnvelope[], indexOf: (tenantId: string) => string): EncodedBatch {
  const items: EncodedItem[] = [];
  const unencodable: { item: LogEnvelope; reason: string }[] = [];
  for (const item of batch) {
    const lines = bulkCreateLines(item, indexOf(item.meta.tenantId), logRecordId(item));
    if (lines === undefined) unencodable.push({ item, reason: 'timestamp is not a finite number' });
    else items.push({ item, lines, sizeBytes: Buffer.byteLength(lines) });
  }
  return { items, unencodable };
}

/** Consecutive requests of at most `maxDocs` items and `maxBytes` bytes; an item bigger than `maxBytes` goes alone. */
export function splitIntoRequests<I extends { readonly sizeBytes: number }>(items: readonly I[], maxDocs: number, maxBytes: number): I[][] {
  const requests: I[][] = [];
  let current: I[] = [];
  let bytes = 0;
  for (const item of items) {
    if (current.length > 0 && (current.length >= maxDocs || bytes + item.sizeBytes > maxBytes)) {
      requests.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += item.sizeBytes;
  }
  if (current.length > 0) requests.push(current);
  return requests;
}

export function bulkBody(items: readonly EncodedItem[]): string {
  const lines = new Array<string>(items.length);
  for (let i = 0; i < items.length; i++) lines[i] = (items[i] as EncodedItem).lines;
  return lines.join('');
}
