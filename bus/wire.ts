/**
 * How records are framed in bus messages. Two forms, told apart per message by a header,
 * so that one consumer reads a topic where both occur:
 *
 * - `batched` (header `kansoku-wire: batch-v1`): a JSON array of envelopes that share one
 *   key (one tenant on one host). A kubelet scrape of 631 measurements becomes a handful of
 *   messages instead of 631, which is where the producer's and the consumer's CPU went.
 * - `monasca` (no header): one envelope per message, byte for byte what Monasca's
 *   persister and thresholding engine read, for deployments that mix the two.
 *
 * A batch never grows past `maxMessageBytes` (keep it under the broker's
 * `message.max.bytes`); it is split instead. One envelope larger than that on its own
 * cannot be sent at all and comes back in `tooLarge`.
 */
import type { Codec } from '../core/codec.js';
import { parseJson } from '../core/codec.js';
import type { BusMessage } from '../core/pipeline.js';

export const WIRE_HEADER = 'kansoku-wire';
export const BATCH_V1 = 'batch-v1';

export type WireMode = 'batched' | 'monasca';

export interface WireFormat {
  readonly mode: WireMode;
  readonly maxMessageBytes: number;
}

export const DEFAULT_WIRE: WireFormat = { mode: 'batched', maxMessageBytes: 1_000_000 };

const BATCH_HEADERS: Readonly<Record<string, string>> = Object.freeze({ [WIRE_HEADER]: BATCH_V1 });
const OPEN_BRACKET = 0x5b;
const COMMA = 0x2c;
const CLOSE_BRACKET = 0x5d;

/** Messages, and which records each one carries (same index), so a publisher knows what was delivered. */
export interface Framed<T> {
  readonly messages: BusMessage[];
  readonly carried: T[][];
  readonly tooLarge: T[];
}

interface OpenBatch<T> {
  key: string;
  parts: string[];
  records: T[];
  bytes: number;
}

export function frame<T>(records: readonly T[], codec: Codec<T>, keyOf: (record: T) => string, wire: WireFormat): Framed<T> {
  const framed: Framed<T> = { messages: [], carried: [], tooLarge: [] };
  if (wire.mode === 'monasca') {
    for (const record of records) {
      const value = codec.encode(record);
      if (Buffer.byteLength(value) > wire.maxMessageBytes) framed.tooLarge.push(record);
      else {
        framed.messages.push({ key: keyOf(record), value });
        framed.carried.push([record]);
      }
    }
    return framed;
  }
  const open = new Map<string, OpenBatch<T>>();
  const close = (batch: OpenBatch<T>): void => {
    // Written straight into the message's bytes (their count is known): joining the parts
    // into one string first, for the producer to turn into bytes again, cost twice as much.
    const value = Buffer.allocUnsafe(batch.bytes);
    let offset = 0;
    value[offset++] = OPEN_BRACKET;
    for (const part of batch.parts) {
      if (offset > 1) value[offset++] = COMMA;
      offset += value.write(part, offset);
    }
    value[offset] = CLOSE_BRACKET;
    framed.messages.push({ key: batch.key, value, headers: BATCH_HEADERS });
    framed.carried.push(batch.records);
  };
  for (const record of records) {
    const key = keyOf(record);
    const part = codec.encode(record);
    const bytes = Buffer.byteLength(part);
    if (bytes + 2 > wire.maxMessageBytes) {
      framed.tooLarge.push(record);
      continue;
    }
    let batch = open.get(key);
    if (batch && batch.bytes + 1 + bytes > wire.maxMessageBytes) {
      close(batch);
      batch = undefined;
    }
    if (!batch) {
      batch = { key, parts: [], records: [], bytes: 2 };
      open.set(key, batch);
    } else batch.bytes += 1;
    batch.parts.push(part);
    batch.records.push(record);
    batch.bytes += bytes;
  }
  for (const batch of open.values()) close(batch);
  return framed;
}

/** What one message decoded to: the good records, and each bad one's position and reason. */
export type Unframed<T> =
  | { readonly ok: true; readonly records: T[]; readonly invalid: readonly { readonly index: number; readonly reason: string }[] }
  | { readonly ok: false; readonly reason: string };

/**
 * The header says which form a message is in. A value that starts with `[` is a batch
 * too: a Monasca envelope is always a JSON object, so the two cannot be confused, and a
 * batch that lost its header on the way (a bridge or a mirror that drops headers) is
 * still read.
 */
export function isBatched(value: Buffer, headers: Readonly<Record<string, string>> | undefined): boolean {
  return headers?.[WIRE_HEADER] === BATCH_V1 || value[0] === 0x5b;
}

/**
 * Reads one message in whichever form its header names. A message that is not JSON, or
 * a batch that is not an array, is refused whole (to be dead-lettered as it is); in a
 * batch, each envelope that fails the codec's check is reported by its index and the rest
 * are kept.
 */
export function unframe<T>(value: Buffer, headers: Readonly<Record<string, string>> | undefined, codec: Codec<T>): Unframed<T> {
  if (!isBatched(value, headers)) {
    const one = codec.decode(value);
    return one.ok ? { ok: true, records: [one.value], invalid: [] } : { ok: false, reason: one.error };
  }
  const json = parseJson(value);
  if (!json.ok) return { ok: false, reason: json.error };
  if (!Array.isArray(json.value)) return { ok: false, reason: `a ${BATCH_V1} message must hold a JSON array of envelopes` };
  const records: T[] = [];
  const invalid: { index: number; reason: string }[] = [];
  const items = json.value as unknown[];
  for (let index = 0; index < items.length; index++) {
    const checked = codec.fromJson(items[index]);
    if (checked.ok) records.push(checked.value);
    else invalid.push({ index, reason: checked.error });
  }
  return { ok: true, records, invalid };
}
