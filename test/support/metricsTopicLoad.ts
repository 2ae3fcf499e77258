/**
 * Filling the `metrics` topic of librdkafka's mock cluster with the agent's own publishing
 * code (a `Publisher` over a `KafkaProducer`, keyed by `metricKey`), and proving afterwards
 * that the topic still holds all of it.
 *
 * The mock cluster keeps at most 5 MiB of record batches per partition and silently drops
 * the oldest beyond (rdkafka_mock.c, `max_size`): a load that does not fit would read back
 * short, and a benchmark over it would time less work than it claims. So a load is first
 * framed and partitioned here exactly as the producer will (same batches, same murmur2
 * partitioner) and refused when one partition would come near the limit; and after
 * publishing, every partition's low watermark must still be 0 and the high watermarks
 * must add up to the messages sent.
 */
import { Partitioners, type PartitionMetadata } from 'kafkajs';
import { metricCodec } from '../../core/codec.js';
import { Counters } from '../../core/counters.js';
import { TOPICS, type MetricEnvelope } from '../../core/envelope.js';
import { createKafka } from '../../bus/kafka/kafkaClient.js';
import { KafkaProducer } from '../../bus/kafka/kafkaProducer.js';
import { metricKey } from '../../bus/partitionKey.js';
import { Publisher } from '../../bus/publisher.js';
import { DEFAULT_WIRE, frame, type WireFormat, type WireMode } from '../../bus/wire.js';

/** What the mock cluster keeps per partition before it drops the oldest record batches. */
export const MOCK_PARTITION_LIMIT_BYTES = 5 * 2 ** 20;
/** The share of that limit a load may fill: the estimate below is an upper bound, and requireTopicIntact checks the rest. */
const HEADROOM = 0.97;
/** The agent's `agent.publisher.batch_size` default: envelopes framed and sent per publish call. */
export const AGENT_BATCH_SIZE = 5_000;
/**
 * What a Kafka v2 record adds to its key, value and header bytes at most, for records of
 * these sizes: varints of its length (3), timestamp delta (3), offset delta (3), key length
 * (2), value length (3) and header count (1), and its attributes (1). And a record batch's
 * header.
 */
const RECORD_OVERHEAD_BYTES = 16;
const RECORD_BATCH_OVERHEAD_BYTES = 61;

export function wireFormat(mode: WireMode): WireFormat {
  return { ...DEFAULT_WIRE, mode };
}

export interface TopicLoad {
  /** Kafka messages the load becomes (one per envelope on the monasca wire). */
  readonly messages: number;
  /** Estimated record-batch bytes each partition will hold. */
  readonly partitionBytes: readonly number[];
  /**
   * The envelopes of each record batch the producer sends: one per publish call and
   * partition, the same envelopes on either wire (the key decides the partition). The mock
   * cluster answers a fetch with one record batch per partition, so these are also the
   * batches a consumer of the mock is handed, and the server's sink writes, one by one.
   */
  readonly recordBatches: readonly (readonly MetricEnvelope[])[];
}

/** Frames `envelopes` as the Publisher will and adds up what lands on each of `partitions`. */
export function topicLoad(envelopes: readonly MetricEnvelope[], mode: WireMode, partitions: number): TopicLoad {
  const partitioner = Partitioners.DefaultPartitioner();
  const partitionMetadata: PartitionMetadata[] = Array.from({ length: partitions }, (_, partitionId) => ({ partitionErrorCode: 0, partitionId, leader: 1, replicas: [1], isr: [1] }));
  const bytes = new Array<number>(partitions).fill(0);
  const recordBatches: MetricEnvelope[][] = [];
  let messages = 0;
  for (let start = 0; start < envelopes.length; start += AGENT_BATCH_SIZE) {
    const framed = frame(envelopes.slice(start, start + AGENT_BATCH_SIZE), metricCodec, metricKey, wireFormat(mode));
    if (framed.tooLarge.length > 0) throw new Error(`${framed.tooLarge.length} envelopes are too large for one message`);
    const touched = new Map<number, MetricEnvelope[]>();
    framed.messages.forEach((message, index) => {
      const partition = partitioner({ topic: TOPICS.metrics, partitionMetadata, message: { key: message.key, value: message.value } });
      const headerBytes = Object.entries(message.headers ?? {}).reduce((sum, [name, value]) => sum + Buffer.byteLength(name) + Buffer.byteLength(value), 0);
      bytes[partition] = (bytes[partition] ?? 0) + Buffer.byteLength(message.value) + Buffer.byteLength(message.key) + headerBytes + RECORD_OVERHEAD_BYTES;
      let batch = touched.get(partition);
      if (batch === undefined) touched.set(partition, (batch = []));
      batch.push(...(framed.carried[index] ?? []));
      messages++;
    });
    for (const [partition, batch] of touched) {
      bytes[partition] = (bytes[partition] ?? 0) + RECORD_BATCH_OVERHEAD_BYTES;
      recordBatches.push(batch);
    }
  }
  return { messages, partitionBytes: bytes, recordBatches };
}

/** Throws unless every partition of the load stays well under what the mock cluster keeps. */
export function requireFitsMockCluster(load: TopicLoad, what: string): void {
  const largest = Math.max(...load.partitionBytes);
  if (largest > MOCK_PARTITION_LIMIT_BYTES * HEADROOM) {
    throw new Error(
      `${what} would put ${(largest / 2 ** 20).toFixed(2)} MiB on one partition, over ${HEADROOM * 100} % of the mock cluster's ` +
        `${MOCK_PARTITION_LIMIT_BYTES / 2 ** 20} MiB per partition (it would drop the oldest batches): use fewer nodes`,
    );
  }
}

/** A connected producer as the agent builds it (kafkajs, murmur2 keys, acks=all, no compression). */
export interface LoadProducer {
  readonly producer: KafkaProducer;
  close(): Promise<void>;
}

/**
 * Connects before returning (by sending one small message to the dead-letter topic, which
 * must exist), so that a caller timing `publishEnvelopes` times publishing alone.
 */
export async function openLoadProducer(brokers: readonly string[]): Promise<LoadProducer> {
  const kafka = createKafka({ brokers, clientId: 'kansoku-bench' });
  const producer = new KafkaProducer(kafka, { compression: 'none', ackTimeoutMs: 30_000, idempotent: false, retryDelayMs: 1_000, maxRequestBytes: 1_000_000 });
  const warmUp = await producer.publish(TOPICS.deadLetter, [{ key: 'bench', value: '{"warm-up":true}' }]);
  if (warmUp.kind !== 'delivered') {
    await producer.close();
    throw new Error(`the bench producer could not publish to ${TOPICS.deadLetter}: ${warmUp.kind}: ${warmUp.reason}`);
  }
  return { producer, close: () => producer.close() };
}

/** Publishes every envelope to `metrics` through the agent's Publisher; throws unless all were delivered. */
export async function publishEnvelopes(producer: KafkaProducer, envelopes: readonly MetricEnvelope[], mode: WireMode, timeoutMs = 300_000): Promise<void> {
  const counters = new Counters();
  const publisher = new Publisher<MetricEnvelope>({
    producer,
    codec: metricCodec,
    keyOf: metricKey,
    wire: wireFormat(mode),
    counters,
    counterPrefix: 'kansoku_agent',
    maxQueued: Math.max(1, envelopes.length),
    batchSize: AGENT_BATCH_SIZE,
  });
  publisher.enqueue(envelopes);
  const report = await publisher.flush(Date.now() + timeoutMs);
  if (report.delivered !== envelopes.length) {
    throw new Error(`the Publisher delivered ${report.delivered} of ${envelopes.length} envelopes (${report.rejected} rejected, ${report.remaining} left): ${counters.render()}`);
  }
}

/**
 * Throws unless `topic` holds exactly `expectedMessages` messages from offset 0 on every
 * partition: a mock partition that dropped old batches has a low watermark above 0.
 */
export async function requireTopicIntact(brokers: readonly string[], topic: string, expectedMessages: number): Promise<void> {
  const admin = createKafka({ brokers, clientId: 'kansoku-bench-admin' }).admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    const trimmed = offsets.filter(({ low }) => low !== '0');
    const held = offsets.reduce((sum, { high, low }) => sum + Number(high) - Number(low), 0);
    if (trimmed.length > 0 || held !== expectedMessages) {
      const detail = offsets.map(({ partition, low, high }) => `${partition}:${low}..${high}`).join(' ');
      throw new Error(`topic ${topic} holds ${held} messages where ${expectedMessages} were published (partition:low..high ${detail}); the mock cluster dropped some`);
    }
  } finally {
    await admin.disconnect();
  }
}
