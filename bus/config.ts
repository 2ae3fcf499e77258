import { Type, type Static } from '@sinclair/typebox';
import { section, strictObject } from '../core/config.js';

/** The `bus` section: which bus, and everything about talking to Kafka. Every default is here. */
export const KafkaSectionSchema = section(
  {
    brokers: Type.Array(Type.String({ minLength: 1 }), { default: ['127.0.0.1:9092'] }),
    client_id: Type.String({ default: 'kansoku' }),
    ssl: Type.Union(
      [
        Type.Boolean(),
        strictObject({
          ca_file: Type.Optional(Type.String()),
          cert_file: Type.Optional(Type.String()),
          key_file: Type.Optional(Type.String()),
          reject_unauthorized: Type.Boolean({ default: true }),
        }),
      ],
      { default: false },
    ),
    sasl: Type.Optional(
      strictObject({
        mechanism: Type.Union([Type.Literal('plain'), Type.Literal('scram-sha-256'), Type.Literal('scram-sha-512')]),
        username: Type.String(),
        password: Type.String(),
      }),
    ),
    connection_timeout_ms: Type.Integer({ minimum: 1, default: 3000 }),
    request_timeout_ms: Type.Integer({ minimum: 1, default: 30000 }),
    session_timeout_ms: Type.Integer({ minimum: 1, default: 30000 }),
    heartbeat_interval_ms: Type.Integer({ minimum: 1, default: 3000 }),
    max_wait_time_ms: Type.Integer({ minimum: 1, default: 500 }),
    partitions_consumed_concurrently: Type.Integer({
      minimum: 1,
      default: 16,
      description: "batches of different partitions in a consumer's hands at once, so that decoding one overlaps the store's write of another; each partition stays in order",
    }),
    wire: Type.Union([Type.Literal('batched'), Type.Literal('monasca')], {
      default: 'batched',
      description: "batched: many envelopes of one tenant and host per message (header kansoku-wire: batch-v1); monasca: one envelope per message, as Monasca's persister and thresholding engine read them",
    }),
    max_message_bytes: Type.Integer({
      minimum: 1024,
      default: 1_000_000,
      description: "a batch is split below this; keep it under the broker's message.max.bytes (1 MB by default)",
    }),
    compression: Type.Union([Type.Literal('none'), Type.Literal('gzip')], { default: 'none', description: 'gzip shrinks JSON several times over, at CPU cost on every node' }),
    ack_timeout_ms: Type.Integer({ minimum: 1, default: 30_000, description: 'how long the leader may wait for the in-sync replicas (acks=all)' }),
    idempotent: Type.Boolean({ default: false, description: "broker-side deduplication of the client's own retries; serialises requests" }),
    retry_delay_ms: Type.Integer({ minimum: 1, default: 1000, description: 'the delay a failed delivery suggests before backoff and jitter' }),
  },
  'a Kafka cluster (kafkajs)',
);

export const BusSectionSchema = section(
  {
    kind: Type.Union([Type.Literal('memory'), Type.Literal('kafka')], { default: 'memory', description: 'memory: in-process (one process only); kafka: a Kafka cluster' }),
    kafka: KafkaSectionSchema,
    memory: section(
      {
        capacity: Type.Integer({ minimum: 1, default: 100_000, description: 'messages per topic not yet read by every group; publishing blocks (retryable) beyond' }),
        max_batch: Type.Integer({ minimum: 1, default: 1000, description: 'messages handed to a consumer at once' }),
      },
      'the in-process bus',
    ),
  },
  'the message bus between agent, server and alerting',
);

export type KafkaSection = Static<typeof KafkaSectionSchema>;
export type BusSection = Static<typeof BusSectionSchema>;
