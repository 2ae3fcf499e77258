import { backoffDelayMs, defaultBackoff, type BackoffPolicy } from '../../core/backoff.js';
import type { Codec } from '../../core/codec.js';
import type { Counters } from '../../core/counters.js';
import { TOPICS } from '../../core/envelope.js';
import type { BatchVerdict, BusProducer, ConsumedBatch, Sink } from '../../core/pipeline.js';
import { unframe } from '../../bus/wire.js';

/**
 * The server's hot loop for one topic: unframe a consumed batch (batched and Monasca
 * messages alike, per message), hand what decodes to the sink, and tell the consumer
 * whether the offset may move. Offsets move only when every record is either in the sink
 * or on the dead-letter topic (at-least-once); a sink that asks to retry gets the same
 * batch again, with exponential backoff.
 */
export interface IngestDeps<T> {
  readonly codec: Codec<T>;
  readonly sink: Sink<T>;
  readonly deadLetter: BusProducer;
  readonly counters: Counters;
  readonly backoff?: BackoffPolicy;
  readonly onRetry?: (reason: string, delayMs: number) => void;
}

/**
 * What goes on the dead-letter topic: where the message was, why it was refused, and
 * the bytes. A message that does not decode at all goes whole; one bad envelope of a
 * batch goes alone, with its `index` in the batch.
 */
export interface DeadLetter {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly index?: number;
  readonly reason: string;
  readonly payload: string;
}

export function ingestHandler<T>(deps: IngestDeps<T>): (batch: ConsumedBatch) => Promise<BatchVerdict> {
  const { codec, sink, deadLetter, counters } = deps;
  const backoff = deps.backoff ?? defaultBackoff;
  const sinkLabels = { sink: sink.name };
  let attempt = 0;

  const retry = (reason: string, requestedMs: number): BatchVerdict => {
    const delayMs = backoffDelayMs(attempt++, backoff, requestedMs);
    counters.add('kansoku_server_retries_total', sinkLabels);
    deps.onRetry?.(reason, delayMs);
    return { kind: 'retry', delayMs };
  };

  return async (batch) => {
    const topicLabels = { topic: batch.topic };
    const good: T[] = [];
    /** The offset of the message each good record came from, same index as `good`. */
    const goodOffsets: string[] = [];
    const dead: DeadLetter[] = [];
    for (const message of batch.messages) {
      const decoded = unframe(message.value, message.headers, codec);
      if (!decoded.ok) {
        dead.push({ topic: batch.topic, partition: batch.partition, offset: message.offset, reason: decoded.reason, payload: message.value.toString('utf8') });
        continue;
      }
      for (const record of decoded.records) {
        good.push(record);
        goodOffsets.push(message.offset);
      }
      for (const { index, reason } of decoded.invalid) {
        dead.push({ topic: batch.topic, partition: batch.partition, offset: message.offset, index, reason, payload: invalidPayload(message.value, index) });
      }
    }
    const undecodable = dead.length;

    if (good.length > 0) {
      const outcome = await sink.deliver(good);
      if (outcome.kind === 'retryable') return retry(outcome.reason, outcome.delayMs);
      if (outcome.kind === 'rejected') {
        counters.add('kansoku_server_rejected_total', sinkLabels, outcome.items.length);
        const indexOf = new Map<T, number>();
        for (let i = 0; i < good.length; i++) indexOf.set(good[i] as T, i);
        for (const item of outcome.items) {
          dead.push({ topic: batch.topic, partition: batch.partition, offset: goodOffsets[indexOf.get(item) ?? -1] ?? '', reason: outcome.reason, payload: codec.encode(item) });
        }
      }
      counters.add('kansoku_server_written_total', sinkLabels, outcome.kind === 'delivered' ? good.length : outcome.delivered);
    }

    if (dead.length > 0) {
      const published = await deadLetter.publish(
        TOPICS.deadLetter,
        dead.map((d) => ({ key: `${d.topic}/${d.partition}/${d.offset}`, value: JSON.stringify(d) })),
      );
      // The sink already has the good records; redelivering them is harmless (idempotent writes), losing the bad ones is not.
      if (published.kind === 'retryable') return retry(`dead-letter topic: ${published.reason}`, published.delayMs);
      if (published.kind === 'rejected') counters.add('kansoku_server_dead_letter_failures_total', topicLabels, dead.length);
      else counters.add('kansoku_server_dead_lettered_total', topicLabels, dead.length);
    }
    // Counted once the batch is done with, so that a batch that comes again is not counted twice.
    counters.add('kansoku_server_messages_total', topicLabels, batch.messages.length);
    counters.add('kansoku_server_records_total', topicLabels, good.length);
    if (undecodable > 0) counters.add('kansoku_server_decode_errors_total', topicLabels, undecodable);
    attempt = 0;
    return { kind: 'commit' };
  };
}

/** The one bad envelope of a batch, as JSON again (the batch itself parsed, so this does too). */
function invalidPayload(value: Buffer, index: number): string {
  try {
    return JSON.stringify((JSON.parse(value.toString('utf8')) as unknown[])[index]) ?? 'undefined';
  } catch {
    return value.toString('utf8');
  }
}
