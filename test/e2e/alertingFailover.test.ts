import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpReceiver, type HttpReceiver } from '../../alerting/notify/httpReceiver.testkit.js';
import type { AlarmStore, AlarmTransitionRecord } from '../../alerting/store/alarmStore.js';
import { openPostgresAlarmStore } from '../../alerting/store/postgresAlarmStore.js';
import { startKafkaMockCluster, type KafkaMockCluster } from '../kafka/mockCluster.js';
import { eventually, freePort, runKansoku, type KansokuProcess } from '../support/kansokuProcess.js';
import { kafkaEnv } from '../support/pipelineFixtures.js';
import { startPostgres, type RunningPostgres } from '../support/postgres.js';

/**
 * Two `kansoku alerting` replicas in one consumer group share the metrics topic's
 * partitions and one PostgreSQL store. Twelve hosts' alarms flip every four seconds
 * (`avg(e2e.flap, 2) > 5`, match_by hostname), so each alarm owes exactly one transition
 * per four seconds. One replica is killed with SIGKILL mid-stream; the other takes its
 * partitions, restores their alarms from the store and reads the backlog.
 *
 * Afterwards every alarm's history must be one unbroken chain (no false transition: each
 * starts from the state the last one left, each agrees with the values it was decided on)
 * with one transition every four seconds right through the kill (none lost), and every
 * transition must have reached the webhook.
 */
const HOSTS = 12;
const BLOCK_MS = 4000;
const STREAM_BEFORE_KILL_MS = 12_000;
const STREAM_AFTER_KILL_MS = 16_000;

const valueAt = (host: number, timestampMs: number): number => ((Math.floor(timestampMs / BLOCK_MS) + host) % 2 === 0 ? 9 : 1);

/** A replica's latest partitions of "metrics" from its log, or 'crashed' once its consumer gave up. */
function latestAssignment(replica: KansokuProcess): number[] | 'crashed' | undefined {
  const err = replica.stderr();
  if (err.includes('will not restart')) return 'crashed';
  const lines = err.split('\n').filter((l) => l.includes('alert engine assigned partitions'));
  const last = lines.at(-1);
  return last === undefined ? undefined : (JSON.parse(last) as { partitions: number[] }).partitions;
}

describe('alerting replicas: one killed mid-stream, nothing lost or falsely transitioned', () => {
  let kafka: KafkaMockCluster;
  let postgres: RunningPostgres;
  let receiver: HttpReceiver;
  let replicas: KansokuProcess[] = [];
  let producer: Producer;
  let store: AlarmStore;
  let dir: string;

  beforeAll(async () => {
    [kafka, postgres, receiver] = await Promise.all([startKafkaMockCluster({ brokers: 1, topics: { metrics: 4, 'alarm-state-transitions': 1, 'kansoku-dead-letter': 1 } }), startPostgres(), startHttpReceiver()]);
    dir = mkdtempSync(join(tmpdir(), 'kansoku-failover-'));
    const config = join(dir, 'kansoku.yaml');
    writeFileSync(
      config,
      [
        'alerting:',
        '  evaluation: { interval_ms: 100, delay_ms: 1500, definitions_poll_ms: 500, catch_up_timeout_ms: 3000 }',
        `  store: { kind: postgres, postgres_url: "${postgres.connectionString}" }`,
        '  notification: { poll_interval_ms: 100, lease_ms: 2000, http: { allow_private_addresses: true } }',
        '  alarm_definitions:',
        '    - name: flapping',
        '      tenant_id: shop',
        '      expression: avg(e2e.flap, 2) > 5',
        '      match_by: [hostname]',
        `      webhooks: ["${receiver.origin}/hook"]`,
        '',
      ].join('\n'),
    );
    const start = async (): Promise<KansokuProcess> => {
      const replica = runKansoku(['alerting', '--config', config], { ...kafkaEnv(kafka.brokers), KANSOKU_ALERTING__TELEMETRY__PORT: String(await freePort()) });
      replicas.push(replica);
      return replica;
    };
    // Both start together. librdkafka's mock coordinator answers a follower whose SyncGroup
    // comes late with INVALID_REQUEST, which kafkajs takes as fatal (see scaleOut.test.ts);
    // then both start over, a bounded number of times.
    for (let attempt = 0; ; attempt++) {
      const pair = await Promise.all([start(), start()]);
      const views = await eventually(
        () => Promise.resolve(pair.map(latestAssignment)),
        (v) => v.includes('crashed') || (v.every((p) => Array.isArray(p) && p.length > 0) && new Set(v.flat()).size === 4 && v.flat().length === 4),
        60_000,
        200,
      );
      if (!views.includes('crashed')) break;
      await Promise.all(pair.map((r) => r.stop()));
      replicas = [];
      if (attempt >= 3) throw new Error('the two replicas did not form a group after 4 attempts');
    }
    producer = new Kafka({ brokers: [...kafka.brokers], clientId: 'failover-test', logLevel: logLevel.NOTHING }).producer();
    await producer.connect();
    store = await openPostgresAlarmStore(postgres.connectionString);
  }, 180_000);

  afterAll(async () => {
    await producer?.disconnect();
    await Promise.all(replicas.map((r) => r.stop()));
    await store?.close();
    await Promise.all([kafka?.stop(), postgres?.stop(), receiver?.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  async function stream(forMs: number): Promise<void> {
    const until = Date.now() + forMs;
    while (Date.now() < until) {
      const nowMs = Date.now();
      const messages = Array.from({ length: HOSTS }, (_, host) => {
        const envelope = { metric: { name: 'e2e.flap', dimensions: { hostname: `host-${host}` }, timestamp: nowMs, value: valueAt(host, nowMs), value_meta: null }, meta: { tenantId: 'shop', region: 'r' }, creation_time: Math.floor(nowMs / 1000) };
        return { key: `shop/host-${host}`, value: JSON.stringify(envelope) };
      });
      await producer.send({ topic: 'metrics', messages });
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  it('keeps every alarm\'s transitions whole and true across the kill, and notifies each', async () => {
    await stream(STREAM_BEFORE_KILL_MS);
    const killedAtMs = Date.now();
    const victim = replicas[0];
    victim?.child.kill('SIGKILL');
    await victim?.exited();
    await stream(STREAM_AFTER_KILL_MS);
    const stoppedAtMs = Date.now();

    // Decided up to the stream's end: the last whole block before it has closed plus the delay.
    const histories = await eventually(
      async () => {
        const alarms = await store.listAlarms({ tenantId: 'shop', offset: 0, limit: 100 });
        const out = new Map<string, AlarmTransitionRecord[]>();
        for (const alarm of alarms) out.set(alarm.matchBy['hostname'] ?? '?', [...(await store.listHistory({ tenantId: 'shop', alarmIds: [alarm.id], offset: 0, limit: 1000 }))]);
        return out;
      },
      (h) => h.size === HOSTS && [...h.values()].every((list) => (list.at(-1)?.timestampMs ?? 0) >= stoppedAtMs - BLOCK_MS - 3000),
      60_000,
      500,
    );

    for (const [host, all] of histories) {
      // After the stream stops the data runs out; only what it decided while data came counts.
      const history = all.filter((h) => h.timestampMs <= stoppedAtMs);
      expect(history.length, host).toBeGreaterThanOrEqual(Math.floor((STREAM_BEFORE_KILL_MS + STREAM_AFTER_KILL_MS) / BLOCK_MS) - 2);
      expect(history[0]?.oldState, host).toBe('UNDETERMINED');
      history.forEach((h, i) => {
        if (i > 0) expect(h.oldState, `${host} #${i}`).toBe(history[i - 1]?.newState);
        expect(h.newState, `${host} #${i}`).not.toBe(h.oldState);
        // True: each decision agrees with the values of its view (9 breaches, 1 does not).
        expect([h.newState, h.subAlarms[0]?.currentValues], `${host} #${i}`).toEqual(h.newState === 'ALARM' ? ['ALARM', [9]] : ['OK', [1]]);
      });
      // Whole: one transition per block, the kill included (the first decision falls in any slot of its block).
      // delay_ms is 1.5 s: a slot whose data all came later than that on a loaded machine would be decided late, rightly.
      const gaps = history.slice(2).map((h, i) => h.timestampMs - (history[i + 1]?.timestampMs ?? 0));
      if (process.env['FAILOVER_DEBUG']) console.log(host, 'kill', killedAtMs % 100000, history.map((h) => `${h.timestampMs % 100000}:${h.newState}`).join(' '));
      expect(gaps, host).toEqual(gaps.map(() => BLOCK_MS));
      expect(history.at(-1)?.timestampMs ?? 0, host).toBeGreaterThan(killedAtMs + BLOCK_MS * 2);
    }

    // Every transition reached the webhook (at least once).
    const all = [...histories.values()].flat().filter((h) => h.timestampMs <= stoppedAtMs);
    const key = (alarmId: string, state: string, seconds: number) => `${alarmId}/${state}/${seconds}`;
    const notified = await eventually(
      () => Promise.resolve(new Set(receiver.received.map((r) => r.json() as { alarm_id: string; state: string; alarm_timestamp: number }).map((b) => key(b.alarm_id, b.state, b.alarm_timestamp)))),
      (seen) => all.every((h) => seen.has(key(h.alarmId, h.newState, Math.floor(h.timestampMs / 1000)))),
      60_000,
      500,
    );
    expect(all.filter((h) => !notified.has(key(h.alarmId, h.newState, Math.floor(h.timestampMs / 1000))))).toEqual([]);
  }, 240_000);
});
