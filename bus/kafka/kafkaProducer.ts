/**
 * The agent's end of the bus: publishes envelopes to Kafka and reports what
 * happened as a DeliveryOutcome, so that the caller (spill buffer, retry loop)
 * decides what to do and nothing here throws because a broker is away.
 */
import { CompressionTypes, Partitioners } from 'kafkajs';
import type { Kafka, Producer } from 'kafkajs';
import type { Topic } from '../../core/envelope.js';
import { delivered, rejected, retryable } from '../../core/outcome.js';
import type { DeliveryOutcome } from '../../core/outcome.js';
import type { BusMessage, BusProducer } from '../../core/pipeline.js';

export interface KafkaProducerOptions {
  /** gzip shrinks JSON envelopes several times over at some CPU cost on every node. */
  readonly compression: 'gzip' | 'none';
  /** How long the leader may wait for the in-sync replicas before it answers. */
  readonly ackTimeoutMs: number;
  /** The delay suggested with a retryable outcome; the caller adds backoff and jitter. */
  readonly retryDelayMs: number;
  /**
   * Broker-side deduplication of kafkajs's own retries. Off by default: it
   * serialises requests, and kafkajs finds no controller for InitProducerId on
   * librdkafka's mock cluster ("Broker 0 not found"), so it cannot be tested here.
   */
  readonly idempotent: boolean;
  /** The broker's message.max.bytes, which applies to a whole record batch: what one request carries at most. */
  readonly maxRequestBytes: number;
}

/** Consecutive runs of messages whose values add up to at most `maxBytes` (a larger message goes alone). */
export function requestsOf(messages: readonly BusMessage[], maxBytes: number): BusMessage[][] {
  const requests: BusMessage[][] = [];
  let current: BusMessage[] = [];
  let bytes = 0;
  for (const message of messages) {
    const size = Buffer.byteLength(message.value);
    if (current.length > 0 && bytes + size > maxBytes) {
      requests.push(current);
      current = [];
      bytes = 0;
    }
    current.push(message);
    bytes += size;
  }
  if (current.length > 0) requests.push(current);
  return requests;
}


export class KafkaProducer implements BusProducer {
  private readonly producer: Producer;
  private readonly compression: CompressionTypes;
  private readonly ackTimeoutMs: number;
  private readonly retryDelayMs: number;
  private readonly maxRequestBytes: number;
  private connecting: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  /** Options come from the `bus.kafka` section, where their defaults are. */
  constructor(kafka: Kafka, options: KafkaProducerOptions) {
    const idempotent = options.idempotent;
    this.producer = kafka.producer({
      // Murmur2 on the key, as the Java client does, so a tenant lands on the same
      // partition whichever Monasca component produced its records.
      createPartitioner: Partitioners.DefaultPartitioner,
      // Topics are provisioned, never created by a typo in a producer.
      allowAutoTopicCreation: false,
      idempotent,
      ...(idempotent ? { maxInFlightRequests: 1 } : {}),
    });
    this.compression = options.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None;
    this.ackTimeoutMs = options.ackTimeoutMs;
    this.retryDelayMs = options.retryDelayMs;
    this.maxRequestBytes = options.maxRequestBytes;
  }

  async publish(topic: Topic, messages: readonly BusMessage[]): Promise<DeliveryOutcome<BusMessage>> {
    if (this.closing) throw new Error('KafkaProducer.publish called after close()');
    if (messages.length === 0) return delivered;
    try {
      await this.connect();
      // kafkajs puts every message of one partition in one record batch, and the broker
      // refuses a batch over message.max.bytes: so no request carries more than that. If a
      // later request fails, the caller publishes all again (at-least-once; duplicates are
      // harmless, writes are idempotent).
      for (const part of requestsOf(messages, this.maxRequestBytes)) {
        await this.producer.send({
          topic,
          messages: part.map(({ key, value, headers }) => (headers ? { key, value, headers: { ...headers } } : { key, value })),
          acks: -1,
          timeout: this.ackTimeoutMs,
          compression: this.compression,
        });
      }
      return delivered;
    } catch (error) {
      const verdict = classifyKafkaError(error);
      if (verdict === 'bug') throw error;
      const reason = describeKafkaError(error);
      return verdict === 'retryable' ? retryable(reason, this.retryDelayMs) : rejected(reason, messages);
    }
  }

  close(): Promise<void> {
    this.closing ??= this.disconnect();
    return this.closing;
  }

  /** Connects on first use so that an agent starts (and collects into its buffer) while Kafka is away. */
  private connect(): Promise<void> {
    this.connecting ??= this.producer.connect().catch((error: unknown) => {
      this.connecting = undefined;
      throw error;
    });
    return this.connecting;
  }

  private async disconnect(): Promise<void> {
    if (!this.connecting) return;
    try {
      await this.connecting;
    } catch {
      return; // never connected, nothing to close
    }
    try {
      await this.producer.disconnect();
    } catch {
      // Closing is the last step of shutdown; a broker that is already gone changes nothing.
    }
  }
}

/**
 * kafkajs wraps the error that stopped its retries (`cause`): the outer error
 * says "retries exceeded" or "non retriable", the inner one why. A delivery is
 * worth retrying when anything in that chain was a connection problem or a
 * retriable broker answer; it is rejected when the broker refused the data
 * itself (e.g. MESSAGE_TOO_LARGE). Anything that is not a KafkaJS error is a bug.
 */
export function classifyKafkaError(error: unknown): 'retryable' | 'rejected' | 'bug' {
  const chain = causeChain(error);
  if (!chain.some((e) => e.name.startsWith('KafkaJS'))) return 'bug';
  return chain.some(isRetriable) ? 'retryable' : 'rejected';
}

const ALWAYS_RETRIABLE = new Set([
  'KafkaJSNumberOfRetriesExceeded',
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSTopicMetadataNotLoaded',
  'KafkaJSLockTimeout',
]);

function isRetriable(error: Error): boolean {
  if (ALWAYS_RETRIABLE.has(error.name)) return true;
  if (!error.name.startsWith('KafkaJS')) return false;
  return (error as Error & { retriable?: unknown }).retriable === true;
}

function describeKafkaError(error: unknown): string {
  return causeChain(error)
    .map((e) => e.message)
    .filter((message, i, all) => all.indexOf(message) === i)
    .join(': ');
}

function causeChain(error: unknown): Error[] {
  const chain: Error[] = [];
  let current: unknown = error;
  while (current instanceof Error && chain.length < 8 && !chain.includes(current)) {
    chain.push(current);
    current = current.cause;
  }
  return chain;
}
