import type { Topic } from './envelope.js';
import type { DeliveryOutcome } from './outcome.js';

/** Something that produces envelopes when asked: a kubelet scrape, a cgroup walk. */
export interface Source<T> {
  readonly name: string;
  collect(signal?: AbortSignal): Promise<CollectResult<T>>;
}

export interface CollectResult<T> {
  readonly records: readonly T[];
  /** Input that could not be turned into records, each with why; counted, never fatal. */
  readonly errors: readonly string[];
}

/** Something that durably stores batches. `deliver` returns what happened; it throws only on bugs. */
export interface Sink<T> {
  readonly name: string;
  deliver(batch: readonly T[]): Promise<DeliveryOutcome<T>>;
  health(): Promise<Health>;
  close(): Promise<void>;
}

export type Health = { readonly healthy: true } | { readonly healthy: false; readonly reason: string };

/**
 * One message on the bus: bytes, with a key that chooses the partition (one tenant on one
 * host, so that every series keeps its order on one partition) and headers that say how
 * the value is framed.
 */
export interface BusMessage {
  readonly key: string;
  /** UTF-8 bytes, or text to be written as UTF-8. */
  readonly value: string | Buffer;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface BusProducer {
  /** Resolves once the bus has the messages (Kafka acks); a retryable outcome leaves retrying to the caller. */
  publish(topic: Topic, messages: readonly BusMessage[]): Promise<DeliveryOutcome<BusMessage>>;
  close(): Promise<void>;
}

/** A consumed batch from one partition. */
export interface ConsumedBatch {
  readonly topic: string;
  readonly partition: number;
  readonly messages: readonly ConsumedMessage[];
  /** Messages on the partition after this batch when it was fetched, where the bus knows it. */
  readonly lag?: number;
}

export interface ConsumedMessage {
  readonly offset: string;
  readonly key: string | null;
  readonly value: Buffer;
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * What a batch handler tells the consumer: `commit` moves the offset past the batch;
 * `retry` leaves it where it was, so the batch comes again after `delayMs`; `seek` reads
 * the partition again from `offset` (a handler that keeps its own offsets with its state,
 * as the alert engine does, and was handed a batch past them).
 */
export type BatchVerdict = { readonly kind: 'commit' } | { readonly kind: 'retry'; readonly delayMs: number } | { readonly kind: 'seek'; readonly offset: string };

/** Told, on every group join, which partitions of each topic this member now owns. */
export type AssignmentListener = (assignment: ReadonlyMap<string, readonly number[]>) => void;

export interface BusConsumer {
  run(topics: readonly Topic[], handle: (batch: ConsumedBatch) => Promise<BatchVerdict>, onAssignment?: AssignmentListener): Promise<void>;
  /** Unhealthy while the client has given up (a crash it does not restart from) or is restarting after one. */
  health(): Health;
  stop(): Promise<void>;
}

export interface Bus {
  producer(): BusProducer;
  consumer(groupId: string): BusConsumer;
}
