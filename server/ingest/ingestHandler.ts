import { backoffDelayMs, defaultBackoff, type BackoffPolicy } from '../../core/backoff.js';
import type { Codec } from '../../core/codec.js';
import type { Counters } from '../../core/counters.js';
import { TOPICS } from '../../core/envelope.js';
import type { BatchVerdict, BusProducer, ConsumedBatch, Sink } from '../../core/pipeline.js';

/**
 * The server's hot loop for one topic: decode a consumed batch, hand what decodes to the
 * sink, and tell the consumer whether the offset may move. Offsets move only when every
 * message is either in the sink or on the dead-letter topic (at-least-once); a sink that
 * asks to retry gets the same batch again, with exponential backoff.
 */
export interface IngestDeps<T> {
  readonly codec: Codec<T>;
  readonly sink: Sink<T>;
  readonly deadLetter: BusProducer;
  readonly counters: Counters;
  readonly backoff?: BackoffPolicy;
  readonly onRetry?: (reason: string, delayMs: number) => void;
}

export interface DeadLetter {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly reason: string;
  readonly payload: string;
}

export function ingestHandler<T>(deps: IngestDeps<T>): (batch: ConsumedBatch) => Promise<BatchVerdict> {
  const { codec, sink, deadLetter, counters } = deps;
  const backoff = deps.backoff ?? defaultBackoff;
  let attempt = 0;

  const retry = (reason: string, requestedMs: number): BatchVerdict => {
    const delayMs = backoffDelayMs(attempt++, backoff, requestedMs);
    counters.add('kansoku_server_retries_total', { sink: sink.name });
    deps.onRetry?.(reason, delayMs);
    return { kind: 'retry', delayMs };
  };

  return async (batch) => {
    const good: T[] = [];
    const goodOffsets: string[] = [];
    const dead: DeadLetter[] = [];
    for (const message of batch.messages) {
      const decoded = codec.decode(message.value);
      if (decoded.ok) {
        good.push(decoded.value);
        goodOffsets.push(message.offset);
      } else {
        counters.add('kansoku_server_decode_errors_total', { topic: batch.topic });
        dead.push({ topic: batch.topic, partition: batch.partition, offset: message.offset, reason: decoded.error, payload: message.value.toString('utf8') });
      }
    }

    if (good.length > 0) {
      const outcome = await sink.deliver(good);
      if (outcome.kind === 'retryable') return retry(outcome.reason, outcome.delayMs);
      if (outcome.kind === 'rejected') {
        counters.add('kansoku_server_rejected_total', { sink: sink.name }, outcome.items.length);
        for (const item of outcome.items) {
          const index = good.indexOf(item);
          dead.push({ topic: batch.topic, partition: batch.partition, offset: goodOffsets[index] ?? '', reason: outcome.reason, payload: codec.encode(item) });
        }
      }
      counters.add('kansoku_server_written_total', { sink: sink.name }, outcome.kind === 'delivered' ? good.length : outcome.delivered);
    }

    if (dead.length > 0) {
      const published = await deadLetter.publish(
        TOPICS.deadLetter,
        dead.map((d) => ({ key: `${d.topic}/${d.partition}/${d.offset}`, value: JSON.stringify(d) })),
      );
      // The sink already has the good messages; redelivering them is harmless (idempotent writes), losing the bad ones is not.
      if (published.kind === 'retryable') return retry(`dead-letter topic: ${published.reason}`, published.delayMs);
      if (published.kind === 'rejected') counters.add('kansoku_server_dead_letter_failures_total', { topic: batch.topic }, dead.length);
      else counters.add('kansoku_server_dead_lettered_total', { topic: batch.topic }, dead.length);
    }
    attempt = 0;
    return { kind: 'commit' };
  };
}
