/**
 * What an InfluxDB write response means for the batch: the retry logic both sinks share.
 * 2xx delivered; 400/422 the data's fault (rejected, never retried); 413 too big
 * (rejected); everything else (429, 5xx, auth, a missing bucket) the server's or the
 * operator's, so retryable and the pipeline's deadline decides.
 *
 * A 400 from InfluxDB is usually a partial write: the good points are stored and the
 * bad ones dropped. Rewriting a stored point is idempotent (same series, time and
 * fields), so naming too many items as rejected costs a dead-letter copy, while naming
 * too few would lose data silently; when unsure, every item is named.
 */
import type { MetricEnvelope } from '../../core/envelope.js';
import { delivered, rejected, retryable, type DeliveryOutcome } from '../../core/outcome.js';
import { retryAfterMs } from '../../core/retryAfter.js';
import { INFLUXDB_DEFAULTS, type InfluxdbConfig } from './config.js';
import { encodeBatch } from './lineProtocol.js';

export interface WriteResponse {
  readonly status: number;
  readonly body: string;
  readonly headers: { get(name: string): string | null | undefined };
}

/** What was sent: `items[i]` was encoded as `lines[i]`. */
export interface SentBatch {
  readonly lines: readonly string[];
  readonly items: readonly MetricEnvelope[];
}

export interface OutcomeOptions {
  readonly nowMs: number;
  readonly retryDelayMs: number;
}

/** InfluxDB's own words: `error` (1.x, 3.x) or `message` (2.x) of a JSON body, else the header 1.x sets, else the body. */
export function errorText(response: WriteResponse): string {
  try {
    const json = JSON.parse(response.body) as unknown;
    if (typeof json === 'object' && json !== null) {
      const { error, message } = json as Record<string, unknown>;
      if (typeof error === 'string' && error.length > 0) return error;
      if (typeof message === 'string' && message.length > 0) return message;
    }
  } catch {
    // not JSON: fall through to the header and the raw body
  }
  return response.headers.get('x-influxdb-error') ?? response.body.slice(0, 1_000);
}

/** Indices of the lines InfluxDB 3 lists in `data[].line_number` (1-based). */
function linesNumberedInBody(body: string, count: number): number[] {
  try {
    const json = JSON.parse(body) as unknown;
    const data = typeof json === 'object' && json !== null ? (json as Record<string, unknown>)['data'] : undefined;
    if (!Array.isArray(data)) return [];
    return data
      .map((entry: unknown) => (typeof entry === 'object' && entry !== null ? (entry as Record<string, unknown>)['line_number'] : undefined))
      .filter((n): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= count)
      .map((n) => n - 1);
  } catch {
    return [];
  }
}

/** Indices of the lines quoted in `unable to parse '<line>': <why>` (1.x and 2.x; one per bad line). */
function linesQuotedInError(text: string, lines: readonly string[]): number[] {
  const byLine = new Map<string, number[]>();
  lines.forEach((line, i) => byLine.set(line, [...(byLine.get(line) ?? []), i]));
  const found = new Set<number>();
  const marker = "unable to parse '";
  for (let at = text.indexOf(marker); at !== -1; at = text.indexOf(marker, at + 1)) {
    const rest = text.slice(at + marker.length);
    // The line itself may hold "': ", so try each candidate end until one is a line we sent.
    for (let end = rest.indexOf("': "); end !== -1; end = rest.indexOf("': ", end + 1)) {
      const indices = byLine.get(rest.slice(0, end));
      if (indices) {
        indices.forEach((i) => found.add(i));
        break;
      }
    }
  }
  return [...found];
}

/**
 * Items of the measurement a type conflict or refused tag names, when their number is
 * the number dropped. InfluxDB names only the first conflict, so a mismatch means more
 * than one measurement was hit and the caller falls back to every item.
 */
function linesOfNamedMeasurement(text: string, sent: SentBatch): number[] {
  // `input field "value" on measurement "cpu"` (type conflict, refused tag) or `measurement="cpu"` (max-values-per-tag).
  const named = /measurement\s*=?\s*("(?:[^"\\]|\\.)*")/.exec(text);
  const dropped = /dropped=(\d+)/.exec(text);
  if (!named?.[1] || !dropped?.[1]) return [];
  let measurement: string;
  try {
    measurement = JSON.parse(named[1]) as string; // Go's %q, which is JSON for all but control characters
  } catch {
    return [];
  }
  const indices = sent.items.flatMap((item, i) => (item.metric.name === measurement ? [i] : []));
  return indices.length === Number(dropped[1]) ? indices : [];
}

function rejectedItems(response: WriteResponse, text: string, sent: SentBatch): number[] {
  for (const identify of [() => linesNumberedInBody(response.body, sent.lines.length), () => linesQuotedInError(text, sent.lines), () => linesOfNamedMeasurement(text, sent)]) {
    const indices = identify();
    if (indices.length > 0) return indices.sort((a, b) => a - b);
  }
  return sent.items.map((_, i) => i);
}

export function outcomeOfWrite(response: WriteResponse, sent: SentBatch, options: OutcomeOptions): DeliveryOutcome<MetricEnvelope> {
  const { status } = response;
  if (status >= 200 && status < 300) return delivered;
  const text = errorText(response);
  if (status === 400 || status === 422) {
    const indices = rejectedItems(response, text, sent);
    const items = indices.map((i) => sent.items[i] as MetricEnvelope);
    return rejected(`InfluxDB refused ${items.length} of ${sent.items.length} points (${status}): ${text.slice(0, 500)}`, items, sent.items.length - items.length);
  }
  if (status === 413) return rejected(`InfluxDB refused the request as too large (413); lower batchSize: ${text.slice(0, 200)}`, sent.items);
  // The server's Retry-After, capped so that a misconfigured one cannot stall the pipeline; else our own delay.
  const askedMs = retryAfterMs(response.headers.get('retry-after'), options.nowMs);
  const delayMs = askedMs === undefined ? options.retryDelayMs : Math.min(askedMs, INFLUXDB_DEFAULTS.maxRetryAfterMs);
  return retryable(`InfluxDB answered ${status}: ${text.slice(0, 500)}`, delayMs);
}

/** No answer at all (refused, reset, timed out): always worth another try. */
export function unreachable(error: unknown, retryDelayMs: number): DeliveryOutcome<never> {
  return retryable(`InfluxDB is unreachable: ${describeError(error)}`, retryDelayMs);
}

export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  // fetch wraps the socket error ("fetch failed"); its cause says ECONNREFUSED and where.
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.name}: ${error.message}${cause}`;
}

/**
 * Sends a batch as requests of at most `batchSize` lines, one after another, and sums
 * up: the first retryable request makes the whole batch retryable (the requests before
 * it are rewritten on the retry, which is idempotent); rejected items of every request
 * and the items that could not be encoded at all are rejected together.
 */
export async function deliverInRequests(
  sent: SentBatch,
  unencodable: readonly { readonly item: MetricEnvelope; readonly reason: string }[],
  batchSize: number,
  write: (request: SentBatch) => Promise<DeliveryOutcome<MetricEnvelope>>,
): Promise<DeliveryOutcome<MetricEnvelope>> {
  const refused: MetricEnvelope[] = unencodable.map(({ item }) => item);
  const reasons: string[] = unencodable.length > 0 ? [`${unencodable.length} points cannot be written as line protocol, the first because its ${unencodable[0]?.reason}`] : [];
  const size = Math.max(1, Math.floor(batchSize));
  for (let start = 0; start < sent.lines.length; start += size) {
    const outcome = await write({ lines: sent.lines.slice(start, start + size), items: sent.items.slice(start, start + size) });
    if (outcome.kind === 'retryable') return outcome;
    if (outcome.kind === 'rejected') {
      refused.push(...outcome.items);
      reasons.push(outcome.reason);
    }
  }
  if (refused.length === 0) return delivered;
  return rejected(reasons.join('; '), refused, sent.items.length + unencodable.length - refused.length);
}

/** What both sinks do with a batch: refuse once closed, encode it once, write it in requests of `batchSize`. */
export function deliverBatch(
  batch: readonly MetricEnvelope[],
  config: InfluxdbConfig,
  closed: AbortSignal,
  write: (request: SentBatch) => Promise<DeliveryOutcome<MetricEnvelope>>,
): Promise<DeliveryOutcome<MetricEnvelope>> {
  if (closed.aborted) return Promise.resolve(retryable('the InfluxDB sink is closed', config.retryDelayMs ?? INFLUXDB_DEFAULTS.retryDelayMs));
  const { lines, items, unencodable } = encodeBatch(batch);
  return deliverInRequests({ lines, items }, unencodable, config.batchSize ?? INFLUXDB_DEFAULTS.batchSize, write);
}
