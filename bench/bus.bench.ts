/**
 * The bus alone, in this process, against librdkafka's mock cluster (3 brokers, `metrics`
 * with 12 partitions): the batched wire against the Monasca one on the same envelopes,
 * the real k8s 1.25 kubelet page mapped by the agent's code once per synthetic node.
 *
 * - Producer: the agent's `Publisher` over a `KafkaProducer` (already connected), from
 *   enqueue to the last acknowledgement.
 * - Consumer: a `KafkaConsumer` on a fresh group, from the moment it joined to the last
 *   envelope, each message read with `unframe` as the server reads it and its records
 *   counted.
 *
 * Every repetition runs on a fresh cluster: the mock keeps only 5 MiB per partition, so
 * the load is checked to fit before it is sent and the topic to be whole after
 * (test/support/metricsTopicLoad.ts), and the consumer must count every envelope exactly
 * once. The mock answers a fetch with one record batch per partition (what one publish
 * call put there), where a real broker returns up to 1 MB per partition, so the consumer
 * makes more round trips here than it would against Kafka. CPU is this process's user + system time (`process.cpuUsage`, every thread of
 * it) over the same window; the mock cluster's own CPU is not in it. Each figure is the
 * median of `REPETITIONS` after one untimed round per wire; the two wires alternate.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { metricCodec } from '../core/codec.js';
import type { MetricEnvelope } from '../core/envelope.js';
import type { BatchVerdict, ConsumedBatch } from '../core/pipeline.js';
import { createKafka } from '../bus/kafka/kafkaClient.js';
import { KafkaConsumer } from '../bus/kafka/kafkaConsumer.js';
import { unframe, type WireMode } from '../bus/wire.js';
import { startKafkaMockCluster } from '../test/kafka/mockCluster.js';
import { openLoadProducer, publishEnvelopes, requireFitsMockCluster, requireTopicIntact, topicLoad, type TopicLoad } from '../test/support/metricsTopicLoad.js';
import { replicatedEnvelopes } from '../test/support/replicatedWorkload.js';
import { benchResult, type BenchResult } from './harness.js';

const PAGE_FILE = new URL('../test/fixtures/prometheus/nri-k8s__k8s-1.25.13-containerd1.6__kubelet_metrics_cadvisor.prom', import.meta.url);
const PAGE_LABEL = 'k8s 1.25 kubelet /metrics/cadvisor';
/** 126,200 envelopes; on the monasca wire the fullest partition holds ~4.7 MiB of the mock's 5. */
const NODES = 200;
const REPETITIONS = 3;
const BROKERS = 3;
const TOPIC_PARTITIONS = { metrics: 12, 'kansoku-dead-letter': 1 } as const;
const CONSUME_TIMEOUT_MS = 300_000;
const GOAL = 'informational: what the batched wire gains';

interface Timed {
  readonly ms: number;
  readonly cpuMs: number;
}

interface Round {
  readonly produce: Timed;
  readonly consume: Timed;
}

async function timed(task: () => Promise<void>): Promise<Timed> {
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  await task();
  const ms = performance.now() - start;
  const cpu = process.cpuUsage(cpuBefore);
  return { ms, cpuMs: (cpu.user + cpu.system) / 1000 };
}

/** Reads the whole topic on a fresh group; resolves with the window from the group join to the last envelope. */
async function consumeAll(brokers: readonly string[], groupId: string, load: TopicLoad, envelopes: number): Promise<Timed> {
  const consumer = new KafkaConsumer({ kafka: createKafka({ brokers, clientId: 'kansoku-bench-consumer' }), groupId, sessionTimeoutMs: 6_000, heartbeatIntervalMs: 500, maxWaitTimeMs: 100 });
  let records = 0;
  let messages = 0;
  let bad = 0;
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const handle = (batch: ConsumedBatch): Promise<BatchVerdict> => {
    for (const message of batch.messages) {
      const decoded = unframe(message.value, message.headers, metricCodec);
      if (!decoded.ok) bad++;
      else {
        records += decoded.records.length;
        bad += decoded.invalid.length;
      }
    }
    messages += batch.messages.length;
    if (records + bad >= envelopes) finish();
    return Promise.resolve({ kind: 'commit' });
  };
  try {
    await consumer.run(['metrics'], handle);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the consumer read ${records} of ${envelopes} envelopes within ${CONSUME_TIMEOUT_MS / 1000} s`)), CONSUME_TIMEOUT_MS);
    });
    const window = await timed(() => Promise.race([finished, timeout]).finally(() => clearTimeout(timer)));
    if (records !== envelopes || bad !== 0 || messages !== load.messages) {
      throw new Error(`the consumer read ${records} envelopes (${bad} bad) in ${messages} messages where ${envelopes} in ${load.messages} were published`);
    }
    return window;
  } finally {
    await consumer.stop();
  }
}

async function round(envelopes: readonly MetricEnvelope[], wire: WireMode, load: TopicLoad, groupId: string): Promise<Round> {
  const cluster = await startKafkaMockCluster({ brokers: BROKERS, topics: TOPIC_PARTITIONS });
  try {
    const loader = await openLoadProducer(cluster.brokers);
    let produce: Timed;
    try {
      produce = await timed(() => publishEnvelopes(loader.producer, envelopes, wire));
    } finally {
      await loader.close();
    }
    await requireTopicIntact(cluster.brokers, 'metrics', load.messages);
    const consume = await consumeAll(cluster.brokers, groupId, load, envelopes.length);
    return { produce, consume };
  } finally {
    await cluster.stop();
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[middle] ?? NaN) : ((sorted[middle - 1] ?? NaN) + (sorted[middle] ?? NaN)) / 2;
}

export async function run(): Promise<BenchResult[]> {
  const page = readFileSync(PAGE_FILE, 'utf8');
  const envelopes = replicatedEnvelopes(page, { nodes: NODES, region: 'RegionOne', scrapeTimeMs: Date.now() });
  const count = envelopes.length;
  const wires: readonly WireMode[] = ['batched', 'monasca'];
  const loads = new Map(wires.map((wire) => [wire, topicLoad(envelopes, wire, TOPIC_PARTITIONS.metrics)] as const));
  for (const [wire, load] of loads) requireFitsMockCluster(load, `${count} envelopes on the ${wire} wire`);
  const loadOf = (wire: WireMode): TopicLoad => loads.get(wire) ?? topicLoad(envelopes, wire, TOPIC_PARTITIONS.metrics);

  const rounds = new Map<WireMode, Round[]>(wires.map((wire) => [wire, []]));
  for (let repetition = 0; repetition <= REPETITIONS; repetition++) {
    for (const wire of wires) {
      const result = await round(envelopes, wire, loadOf(wire), `bench-${wire}-${repetition}`);
      const line = (what: string, t: Timed): string => `${what} ${Math.round(count / (t.ms / 1000)).toLocaleString('en-US')}/s ${((t.cpuMs * 1000) / count).toFixed(2)} µs CPU/envelope`;
      console.error(`bus ${wire} ${repetition === 0 ? 'warm-up' : `repetition ${repetition}`}: ${line('produce', result.produce)}, ${line('consume', result.consume)}`);
      if (repetition > 0) rounds.get(wire)?.push(result);
    }
  }

  const figure = (wire: WireMode, side: keyof Round, of: (t: Timed) => number): number => median((rounds.get(wire) ?? []).map((r) => of(r[side])));
  const perSecond = (t: Timed): number => count / (t.ms / 1000);
  const cpuPerEnvelope = (t: Timed): number => (t.cpuMs * 1000) / count;
  const messages = (wire: WireMode): string => `${loadOf(wire).messages.toLocaleString('en-US')} messages`;
  const workload = `${PAGE_LABEL} × ${NODES} nodes (${count.toLocaleString('en-US')} envelopes), mock cluster (${BROKERS} brokers, ${TOPIC_PARTITIONS.metrics} partitions)`;
  const sides = {
    produce: 'Publisher + KafkaProducer (acks=all, no compression, 5,000 envelopes per publish)',
    consume: 'KafkaConsumer + unframe, records counted, fresh group',
  } as const;
  const rows: BenchResult[] = [];
  for (const side of ['produce', 'consume'] as const) {
    const label = sides[side];
    rows.push(
      benchResult({
        name: `${label}, batched wire (${messages('batched')}), ${workload}`,
        unit: 'envelopes/s',
        value: figure('batched', side, perSecond),
        baseline: `the same, monasca wire (${messages('monasca')})`,
        baseline_value: figure('monasca', side, perSecond),
        goal: GOAL,
      }),
      benchResult({
        name: `${label}: this process's CPU per envelope, batched wire, ${workload}`,
        unit: 'µs CPU/envelope',
        value: figure('batched', side, cpuPerEnvelope),
        baseline: 'the same, monasca wire',
        baseline_value: figure('monasca', side, cpuPerEnvelope),
        goal: GOAL,
      }),
    );
  }
  return rows;
}
