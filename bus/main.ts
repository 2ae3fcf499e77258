import type { Logger } from 'pino';
import type { Counters } from '../core/counters.js';
import { MemoryBus } from './memory/memoryBus.js';
import { TOPICS, type Topic } from '../core/envelope.js';
import type { Bus } from '../core/pipeline.js';
import { createKafka } from './kafka/kafkaClient.js';
import { KafkaProducer } from './kafka/kafkaProducer.js';
import { KafkaConsumer } from './kafka/kafkaConsumer.js';
import type { BusSection } from './config.js';
import type { WireFormat } from './wire.js';

/**
 * The configured bus; the agent, server and alert engine only ever see the `Bus` interface.
 * `missingTopics` lets start-up fail fast on a cluster where a topic was never created
 * (Kansoku does not create topics): undefined when the brokers could not be asked.
 */
export interface ConfiguredBus {
  readonly bus: Bus;
  /** How publishers frame records on this bus. */
  readonly wire: WireFormat;
  missingTopics(topics: readonly Topic[]): Promise<readonly Topic[] | undefined>;
}

export function buildBus(config: Readonly<BusSection>, logger: Logger, counters: Counters): ConfiguredBus {
  if (config.kind === 'memory') {
    const bus = new MemoryBus({
      capacity: config.memory.capacity,
      maxBatch: config.memory.max_batch,
      // Nobody reads these in one process yet; they must never block metrics.
      dropOldestTopics: [TOPICS.logs, TOPICS.deadLetter],
      onDrop: (topic, count) => counters.add('kansoku_bus_dropped_total', { topic }, count),
      onHandlerError: (error) => logger.error({ err: error }, 'bus consumer handler failed; retrying the batch'),
    });
    // Batched as on Kafka, so that the single-process default runs the same framing code.
    return { bus, wire: { mode: 'batched', maxMessageBytes: Number.MAX_SAFE_INTEGER }, missingTopics: () => Promise.resolve([]) };
  }
  const k = config.kafka;
  const kafka = createKafka(
    {
      brokers: [...k.brokers],
      clientId: k.client_id,
      connectionTimeoutMs: k.connection_timeout_ms,
      requestTimeoutMs: k.request_timeout_ms,
      ...(k.ssl === false ? {} : { ssl: k.ssl === true ? true : { ...(k.ssl.ca_file ? { ca: k.ssl.ca_file } : {}), ...(k.ssl.cert_file ? { cert: k.ssl.cert_file } : {}), ...(k.ssl.key_file ? { key: k.ssl.key_file } : {}), rejectUnauthorized: k.ssl.reject_unauthorized } }),
      ...(k.sasl ? { sasl: { ...k.sasl } } : {}),
    },
    logger.child({ component: 'kafka' }),
  );
  return {
    wire: { mode: k.wire, maxMessageBytes: k.max_message_bytes },
    bus: {
      producer: () =>
        new KafkaProducer(kafka, { compression: k.compression, ackTimeoutMs: k.ack_timeout_ms, idempotent: k.idempotent, retryDelayMs: k.retry_delay_ms, maxRequestBytes: k.max_message_bytes }),
      consumer: (groupId) =>
        new KafkaConsumer({
          kafka,
          groupId,
          sessionTimeoutMs: k.session_timeout_ms,
          heartbeatIntervalMs: k.heartbeat_interval_ms,
          maxWaitTimeMs: k.max_wait_time_ms,
          partitionsConsumedConcurrently: k.partitions_consumed_concurrently,
          // Also in the consumer's health, which /healthcheck reports: a consumer that gave up consumes nothing.
          onCrash: (error, willRestart) =>
            logger.error({ err: error, groupId, willRestart }, willRestart ? 'Kafka consumer crashed; kafkajs restarts it' : 'Kafka consumer crashed and will not restart; this process consumes nothing until restarted'),
        }),
    },
    async missingTopics(topics) {
      const admin = kafka.admin();
      try {
        await admin.connect();
        const existing = new Set(await admin.listTopics());
        return topics.filter((topic) => !existing.has(topic));
      } catch (error) {
        logger.warn({ err: error }, 'could not list the Kafka topics at start-up');
        return undefined;
      } finally {
        await admin.disconnect().catch(() => undefined);
      }
    },
  };
}
