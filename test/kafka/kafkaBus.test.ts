/**
 * The Kafka bus against a real Kafka-protocol broker (librdkafka's mock
 * cluster): delivery with keys, at-least-once offsets, injected broker errors
 * and a broker that goes away. Each test gets its own cluster (it starts in
 * milliseconds); the slow part is a new consumer group's first join (~4 s).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Kafka } from 'kafkajs';
import { createKafka } from '../../bus/kafka/kafkaClient.js';
import type { KafkaRetryConfig } from '../../bus/kafka/kafkaClient.js';
import { KafkaProducer } from '../../bus/kafka/kafkaProducer.js';
import { KafkaConsumer } from '../../bus/kafka/kafkaConsumer.js';
import type { Topic } from '../../core/envelope.js';
import type { BatchVerdict, BusMessage, ConsumedBatch } from '../../core/pipeline.js';
import { API_KEYS, ERROR_CODES, startKafkaMockCluster } from './mockCluster.js';
import type { KafkaMockCluster } from './mockCluster.js';

// A new group's first join waits out the mock's initial rebalance delay (~3 s); these keep the rest fast.
const GROUP_TIMINGS = { sessionTimeoutMs: 4_000, heartbeatIntervalMs: 300, maxWaitTimeMs: 100 } as const;
// Short kafkajs retries, so that a failure surfaces within a second instead of half a minute.
const FAST_RETRY: KafkaRetryConfig = { retries: 2, initialRetryTimeMs: 100, maxRetryTimeMs: 500 };
const WAIT_TIMEOUT_MS = 20_000;

let cluster: KafkaMockCluster;
let kafka: Kafka;
const cleanups: (() => Promise<void>)[] = [];

beforeEach(async () => {
  cluster = await startKafkaMockCluster({ brokers: 3, topics: { metrics: 4, logs: 2, 'kansoku-dead-letter': 1 } });
  kafka = createKafka({ brokers: [...cluster.brokers], clientId: 'kansoku-test', connectionTimeoutMs: 500, requestTimeoutMs: 2_000 }, undefined, FAST_RETRY);
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await cluster.stop();
});

function producer(): KafkaProducer {
  const p = new KafkaProducer(kafka, { compression: 'gzip', ackTimeoutMs: 30_000, idempotent: false, retryDelayMs: 50, maxRequestBytes: 1_000_000 });
  cleanups.push(() => p.close());
  return p;
}

function consumer(groupId: string): KafkaConsumer {
  const c = new KafkaConsumer({ kafka, groupId, ...GROUP_TIMINGS });
  cleanups.push(() => c.stop());
  return c;
}

/** `count` messages over `tenants` keys; one tenant means one partition, so one Produce request per attempt. */
function messages(prefix: string, count: number, tenants = 7): BusMessage[] {
  return Array.from({ length: count }, (_, i) => ({ key: `${prefix}-tenant-${i % tenants}`, value: `${prefix}-${i}` }));
}

interface Received {
  readonly key: string | null;
  readonly value: string;
  readonly partition: number;
  readonly offset: string;
}

function received(batch: ConsumedBatch): Received[] {
  return batch.messages.map((m) => ({ key: m.key, value: m.value.toString('utf8'), partition: batch.partition, offset: m.offset }));
}

async function waitFor(what: string, condition: () => boolean): Promise<void> {
  const deadline = Date.now() + WAIT_TIMEOUT_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The group's committed offset per partition, -1 where nothing was committed. */
async function committedOffsets(groupId: string, topic: Topic): Promise<Map<number, string>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return new Map((offsets?.partitions ?? []).map((p) => [p.partition, p.offset]));
  } finally {
    await admin.disconnect();
  }
}

async function highWatermarks(topic: Topic): Promise<Map<number, string>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, p.high]));
  } finally {
    await admin.disconnect();
  }
}

async function leaderOf(topic: Topic, partition: number): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    const leader = topics[0]?.partitions.find((p) => p.partitionId === partition)?.leader;
    if (leader === undefined) throw new Error(`no leader for ${topic}/${partition} in the metadata`);
    return leader;
  } finally {
    await admin.disconnect();
  }
}

/** Consumes `topic` in a new group, committing every batch, until `count` messages arrived. */
async function consumeAll(groupId: string, topic: Topic, count: number): Promise<Received[]> {
  const got: Received[] = [];
  const c = consumer(groupId);
  await c.run([topic], (batch) => {
    got.push(...received(batch));
    return Promise.resolve({ kind: 'commit' });
  });
  await waitFor(`${count} messages on ${topic}`, () => got.length >= count);
  await c.stop();
  return got;
}

describe('Kafka bus against the librdkafka mock cluster', () => {
  it('delivers every published message with its key, a key always on the same partition', async () => {
    const sent = messages('a', 50);
    expect(await producer().publish('metrics', sent)).toEqual({ kind: 'delivered' });

    const got = await consumeAll('bus-delivery', 'metrics', sent.length);

    const pairs = (list: readonly { key: string | null; value: string | Buffer }[]): string[] => list.map((m) => `${m.key}=${String(m.value)}`).sort();
    expect(pairs(got)).toEqual(pairs(sent));
    const partitionsPerKey = new Map<string | null, Set<number>>();
    for (const m of got) partitionsPerKey.set(m.key, (partitionsPerKey.get(m.key) ?? new Set()).add(m.partition));
    expect([...partitionsPerKey.values()].every((partitions) => partitions.size === 1)).toBe(true);
    expect(new Set(got.map((m) => m.partition)).size).toBeGreaterThan(1);
  });

  it('redelivers a batch the handler asked to retry, and moves the offset only on commit', async () => {
    const first = messages('first', 20);
    expect(await producer().publish('logs', first)).toEqual({ kind: 'delivered' });

    const retried = new Set<string>();
    const committed = new Set<string>();
    const seenBatches = new Set<string>();
    const c1 = consumer('bus-at-least-once');
    await c1.run(['logs'], (batch) => {
      const batchId = `${batch.partition}@${batch.messages[0]?.offset}`;
      const values = received(batch).map((m) => m.value);
      const verdict: BatchVerdict = seenBatches.has(batchId) ? { kind: 'commit' } : { kind: 'retry', delayMs: 200 };
      seenBatches.add(batchId);
      for (const value of values) (verdict.kind === 'commit' ? committed : retried).add(value);
      return Promise.resolve(verdict);
    });
    await waitFor('every message committed', () => committed.size === first.length);
    await c1.stop();

    // Everything came first in a retried batch and again in a committed one; nothing was lost.
    expect([...retried].sort()).toEqual(first.map((m) => m.value).sort());
    expect([...committed].sort()).toEqual(first.map((m) => m.value).sort());
    expect(await committedOffsets('bus-at-least-once', 'logs')).toEqual(await highWatermarks('logs'));

    // A new member of the same group starts after the committed offsets: only the new messages come.
    const second = messages('second', 10);
    expect(await producer().publish('logs', second)).toEqual({ kind: 'delivered' });
    const got: Received[] = [];
    const c2 = consumer('bus-at-least-once');
    await c2.run(['logs'], (batch) => {
      got.push(...received(batch));
      return Promise.resolve({ kind: 'commit' });
    });
    await waitFor('the second round', () => got.length >= second.length);
    await c2.stop();
    // Fetches are in offset order per partition, so a replayed old message would have come before these.
    expect(got.map((m) => m.value).sort()).toEqual(second.map((m) => m.value).sort());
  });

  it('stop() cuts a retry delay short and commits nothing', async () => {
    expect(await producer().publish('logs', messages('stop', 5))).toEqual({ kind: 'delivered' });
    let batches = 0;
    const c = consumer('bus-stop');
    await c.run(['logs'], () => {
      batches += 1;
      return Promise.resolve({ kind: 'retry', delayMs: 60_000 });
    });
    await waitFor('a batch', () => batches > 0);

    const startedMs = Date.now();
    await c.stop();
    expect(Date.now() - startedMs).toBeLessThan(5_000);
    const offsets = await committedOffsets('bus-stop', 'logs');
    expect([...offsets.values()].every((offset) => offset === '-1')).toBe(true);
  });

  it('rides out retriable Produce errors, reports retryable when they outlast the retries, and rejects refused data', async () => {
    const p = producer();

    // The mock fails the next N Produce *requests*; a single tenant keeps it at one request per attempt.
    // kafkajs retries NOT_LEADER_FOR_PARTITION (refreshing metadata) within one publish.
    const ridden = messages('ridden', 10, 1);
    await cluster.pushErrors(API_KEYS.produce, ERROR_CODES.notLeaderForPartition, FAST_RETRY.retries);
    expect(await p.publish('metrics', ridden)).toEqual({ kind: 'delivered' });

    // One more failure than kafkajs has retries: the caller gets retryable, then succeeds on its own retry.
    const outlasted = messages('outlasted', 10, 1);
    await cluster.pushErrors(API_KEYS.produce, ERROR_CODES.requestTimedOut, FAST_RETRY.retries + 1);
    const outcome = await p.publish('metrics', outlasted);
    expect(outcome).toMatchObject({ kind: 'retryable', delayMs: 50, reason: expect.stringMatching(/timed out/i) as unknown });
    expect(await p.publish('metrics', outlasted)).toEqual({ kind: 'delivered' });

    // MESSAGE_TOO_LARGE is the data's fault: rejected at once, with the items, and not retried.
    const refused = messages('refused', 3, 1);
    await cluster.pushErrors(API_KEYS.produce, ERROR_CODES.messageTooLarge, 1);
    expect(await p.publish('metrics', refused)).toMatchObject({ kind: 'rejected', items: refused, delivered: 0 });

    // Exactly the delivered messages are on the topic: none lost, none written twice by the retries.
    const expected = [...ridden, ...outlasted];
    const got = await consumeAll('bus-faults', 'metrics', expected.length);
    expect(got.map((m) => m.value).sort()).toEqual(expected.map((m) => m.value).sort());
    const total = [...(await highWatermarks('metrics')).values()].reduce((sum, high) => sum + Number(high), 0);
    expect(total).toBe(expected.length);
  });

  it('returns retryable, without throwing, while a broker is down, and delivers once it is back', async () => {
    const p = producer();
    expect(await p.publish('metrics', messages('before', 20))).toEqual({ kind: 'delivered' });

    // The mock spreads leaders at random; take down whoever leads partition 0. Fifty tenants hit every partition.
    const leader = await leaderOf('metrics', 0);
    await cluster.brokerDown(leader);
    const whileDown = messages('down', 50, 50);
    const startedMs = Date.now();
    const outcome = await p.publish('metrics', whileDown);
    expect(outcome).toMatchObject({ kind: 'retryable', reason: expect.stringMatching(/ECONNREFUSED|connect/i) as unknown });
    expect(Date.now() - startedMs).toBeLessThan(5_000);

    await cluster.brokerUp(leader);
    expect(await p.publish('metrics', whileDown)).toEqual({ kind: 'delivered' });
  });

  it('reports retryable when no broker can be reached at the first publish', async () => {
    await cluster.brokerDown(-1);
    const startedMs = Date.now();
    expect(await producer().publish('metrics', messages('nobody', 1))).toMatchObject({ kind: 'retryable' });
    expect(Date.now() - startedMs).toBeLessThan(5_000);
  });
});
