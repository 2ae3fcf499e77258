import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { metricCodec } from '../../core/codec.js';
import { Counters } from '../../core/counters.js';
import { TOPICS, metricEnvelope } from '../../core/envelope.js';
import { RecordingProducer, ScriptedConsumer } from '../../core/pipeline.testkit.js';
import type { ConsumedBatch } from '../../core/pipeline.js';
import { decodeTransitionEvent } from '../transitionEvent.js';
import type { AlarmStore, NewAlarmDefinition } from '../store/alarmStore.js';
import { openSqliteAlarmStore } from '../store/sqliteAlarmStore.js';
import { earlierSubAlarmJson } from '../evaluation/earlierWindow.testkit.js';
import { AlarmEngine, ENGINE_COUNTERS, type AlarmEngineOptions } from './alarmEngine.js';

/**
 * The engine against the real SQLite store, with a scripted consumer so that a batch read
 * twice, a restart between store and commit, a rebalance or a lagging partition can be
 * staged exactly. The clock is the test's: evaluations run when the test says.
 */

const T0 = 1_698_278_400_000; // a whole minute
const TENANT = 'acme';
let clockMs = T0;
const stores: AlarmStore[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
});

function definition(name: string, expression: string, extra: Partial<NewAlarmDefinition> = {}): NewAlarmDefinition {
  return { tenantId: TENANT, name, description: '', expression, matchBy: ['hostname'], severity: 'HIGH', alarmActions: [], okActions: [], undeterminedActions: [], actionsEnabled: true, ...extra };
}

async function newStore(): Promise<AlarmStore> {
  const store = await openSqliteAlarmStore(':memory:');
  stores.push(store);
  return store;
}

function engine(store: AlarmStore, counters = new Counters(), checkpointIntervalMs = 0, extra: Partial<AlarmEngineOptions> = {}, now = () => clockMs) {
  const consumer = new ScriptedConsumer();
  const producer = new RecordingProducer();
  const alarmEngine = new AlarmEngine({
    consumer,
    producer,
    store,
    counters,
    now,
    logger: pino({ level: 'silent' }),
    // Timers far away: the test evaluates by hand.
    options: { tickMs: 1e9, delayMs: 0, definitionsPollMs: 1e9, catchUpTimeoutMs: 600_000, checkpointIntervalMs, maxAlarms: 1000, maxMetricsPerAlarm: 10, maxPendingTransitions: 100, ...extra },
  });
  return { alarmEngine, consumer, producer, counters };
}

let offset = 0;
function batch(partition: number, points: readonly { name: string; host: string; value: number; atMs?: number; tenant?: string }[], options: { offsets?: number[]; lag?: number } = {}): ConsumedBatch {
  return {
    topic: TOPICS.metrics,
    partition,
    lag: options.lag ?? 0,
    messages: points.map((p, i) => ({
      offset: String(options.offsets?.[i] ?? offset++),
      key: null,
      value: Buffer.from(metricCodec.encode(metricEnvelope({ name: p.name, dimensions: { hostname: p.host }, timestamp: p.atMs ?? clockMs, value: p.value, value_meta: null }, { tenantId: p.tenant ?? TENANT, region: 'r' }, clockMs))),
    })),
  };
}

function published(producer: RecordingProducer): string[] {
  return producer.attempts.flatMap((a) => a.messages).map((m) => {
    const decoded = decodeTransitionEvent(m.value);
    if (!decoded.ok) throw new Error(decoded.error);
    return `${decoded.value['alarm-transitioned'].oldState}>${decoded.value['alarm-transitioned'].newState}`;
  });
}

describe('AlarmEngine', () => {
  it('records a transition with its notifications, publishes it, and shows it in history', async () => {
    clockMs = T0;
    const store = await newStore();
    const method = await store.createNotificationMethod({ tenantId: TENANT, name: 'ops', type: 'WEBHOOK', address: 'http://example.test/hook', periodSeconds: 0, secret: 's' }, clockMs);
    await store.createDefinition(definition('cpu', 'avg(cpu) > 80', { alarmActions: [method.id] }), clockMs);
    const { alarmEngine, consumer, producer } = engine(store);
    await alarmEngine.start();
    consumer.assign(TOPICS.metrics, [0]);
    expect(await consumer.deliver(batch(0, [{ name: 'cpu', host: 'h1', value: 90 }]))).toEqual({ kind: 'commit' });
    clockMs = T0 + 60_000;
    const transitions = await alarmEngine.evaluateNow();
    expect(transitions.map((t) => t.record.newState)).toEqual(['ALARM']);
    expect(published(producer)).toEqual(['UNDETERMINED>ALARM']);
    const history = await store.listHistory({ tenantId: TENANT, offset: 0, limit: 10 });
    expect(history).toHaveLength(1);
    expect(history[0]?.reason).toContain('Thresholds were exceeded for the sub-alarms: avg(cpu) > 80.0 with the values: [90]');
    const deliveries = await store.claimDeliveries(clockMs, 1000, 'test', 10);
    expect(deliveries.map((d) => ({ methodId: d.methodId, transitionId: d.transitionId }))).toEqual([{ methodId: method.id, transitionId: history[0]?.id }]);
    await alarmEngine.stop();
  });

  it('counts a batch read again after a restart once: the store kept the windows with the offset', async () => {
    clockMs = T0;
    const store = await newStore();
    await store.createDefinition(definition('busy', 'count(req) > 2'), clockMs);
    const first = engine(store);
    await first.alarmEngine.start();
    first.consumer.assign(TOPICS.metrics, [0]);
    const two = [
      { name: 'req', host: 'h1', value: 1 },
      { name: 'req', host: 'h1', value: 1 },
    ];
    await first.consumer.deliver(batch(0, two, { offsets: [100, 101] }));
    // Killed after the store transaction, before Kafka's commit: the next owner reads 100 and 101 again.
    const counters = new Counters();
    const second = engine(store, counters);
    await second.alarmEngine.start();
    second.consumer.assign(TOPICS.metrics, [0]);
    await second.consumer.deliver(batch(0, [...two, { name: 'req', host: 'h1', value: 1 }], { offsets: [100, 101, 102] }));
    expect(counters.total(ENGINE_COUNTERS.redelivered)).toBe(2);
    expect(counters.total(ENGINE_COUNTERS.measurements)).toBe(1);
    clockMs = T0 + 60_000;
    const [transition] = await second.alarmEngine.evaluateNow();
    // 3 measurements, not 5: count > 2 breaches with the value 3.
    expect(transition?.record.subAlarms[0]?.currentValues).toEqual([3]);
    expect(transition?.record.newState).toBe('ALARM');
    await Promise.all([first.alarmEngine.stop(), second.alarmEngine.stop()]);
  });

  it('with periodic checkpoints, a successor handed batches past the stored offset seeks back to it and counts each measurement once', async () => {
    clockMs = T0;
    const store = await newStore();
    await store.createDefinition(definition('busy', 'count(req) > 3'), clockMs);
    const one = { name: 'req', host: 'h1', value: 1 };
    const first = engine(store, new Counters(), 60_000);
    await first.alarmEngine.start();
    first.consumer.assign(TOPICS.metrics, [0]);
    // The partition's first batch is stored at once (there is no offset to come back to yet)…
    await first.consumer.deliver(batch(0, [one, one], { offsets: [10, 11] }));
    // …the next only at the checkpoint, which never comes: the replica dies with it in memory, committed in Kafka.
    expect(await first.consumer.deliver(batch(0, [one, one], { offsets: [12, 13] }))).toEqual({ kind: 'commit' });

    const counters = new Counters();
    const second = engine(store, counters, 60_000);
    await second.alarmEngine.start();
    second.consumer.assign(TOPICS.metrics, [0]);
    // Kafka hands the successor what follows its committed offset; the store says 12.
    expect(await second.consumer.deliver(batch(0, [one], { offsets: [14] }))).toEqual({ kind: 'seek', offset: '12' });
    expect(counters.total(ENGINE_COUNTERS.seeks)).toBe(1);
    await second.consumer.deliver(batch(0, [one, one, one], { offsets: [12, 13, 14] }));
    await second.alarmEngine.checkpointNow();
    clockMs = T0 + 60_000;
    const [transition] = await second.alarmEngine.evaluateNow();
    // 2 stored + 3 read again = 5, each once.
    expect(transition?.record.subAlarms[0]?.currentValues).toEqual([5]);
    await Promise.all([first.alarmEngine.stop(), second.alarmEngine.stop()]);
  });

  it('writes an alarm whole when it lists a new metric and its windows alone otherwise; a successor restores windows of either format', async () => {
    clockMs = T0;
    const store = await newStore();
    await store.createDefinition(definition('busy', 'count(req) > 100'), clockMs);
    const first = engine(store);
    await first.alarmEngine.start();
    first.consumer.assign(TOPICS.metrics, [0]);
    const one = { name: 'req', host: 'h1', value: 1 };
    await first.consumer.deliver(batch(0, [one, one]));
    const [created] = (await store.loadPartition(0)).alarms;
    expect(created?.metrics).toEqual([{ name: 'req', dimensions: { hostname: 'h1' } }]);

    // The same series again: only the windows move (updated_at and metrics as they were).
    await first.consumer.deliver(batch(0, [one]));
    const [windowsOnly] = (await store.loadPartition(0)).alarms;
    expect(windowsOnly?.metrics).toEqual(created?.metrics);
    expect(windowsOnly?.subAlarms[0]?.window).not.toBe(created?.subAlarms[0]?.window);
    // The decision clock, then the window: period, times, slots ahead, start slot, and the one slot filled (count 3, sum 3, …, last at T0).
    expect(windowsOnly?.subAlarms[0]?.window).toMatch(new RegExp(`^k1 ${T0} -?\\d+ 60000 1 2 -?\\d+ \\d+:3,3,1,1,1,${T0}$`));

    // A second series of the same host: the row goes whole, with both metrics listed.
    const withPath = metricEnvelope({ name: 'req', dimensions: { hostname: 'h1', path: '/x' }, timestamp: clockMs, value: 1, value_meta: null }, { tenantId: TENANT, region: 'r' }, clockMs);
    await first.consumer.deliver({ topic: TOPICS.metrics, partition: 0, lag: 0, messages: [{ offset: String(offset++), key: null, value: Buffer.from(metricCodec.encode(withPath)) }] });
    const [whole] = (await store.loadPartition(0)).alarms;
    expect(whole?.metrics).toEqual([
      { name: 'req', dimensions: { hostname: 'h1' } },
      { name: 'req', dimensions: { hostname: 'h1', path: '/x' } },
    ]);
    await first.alarmEngine.stop();

    // Earlier versions kept the window as a string of JSON inside the sub-alarm's JSON.
    if (!whole) throw new Error('no alarm stored');
    const earlier = earlierSubAlarmJson(whole.subAlarms[0]?.window ?? '');
    expect(earlier).toContain(`"l":${T0}`);
    const older = { ...whole, subAlarms: whole.subAlarms.map((sub) => ({ ...sub, window: earlier })) };
    await store.checkpoint({ offsets: new Map(), alarms: [older], transitions: [], deliveries: [] });
    const second = engine(store);
    await second.alarmEngine.start();
    second.consumer.assign(TOPICS.metrics, [0]);
    await second.consumer.deliver(batch(0, [one]));
    clockMs = T0 + 60_000;
    // 2 + 1 + 1 stored, restored from the older format, + 1 after: 5, each once.
    const transitions = await second.alarmEngine.evaluateNow();
    expect(transitions.map((t) => [t.record.newState, t.record.subAlarms[0]?.currentValues])).toEqual([['OK', [5]]]);
    await second.alarmEngine.stop();
  });

  it('restores an alarm in ALARM without a false transition, and moves it on from there', async () => {
    clockMs = T0;
    const store = await newStore();
    await store.createDefinition(definition('cpu', 'avg(cpu) > 80'), clockMs);
    const first = engine(store);
    await first.alarmEngine.start();
    first.consumer.assign(TOPICS.metrics, [0]);
    await first.consumer.deliver(batch(0, [{ name: 'cpu', host: 'h1', value: 95 }]));
    clockMs = T0 + 60_000;
    expect((await first.alarmEngine.evaluateNow()).map((t) => t.record.newState)).toEqual(['ALARM']);
    await first.consumer.deliver(batch(0, [{ name: 'cpu', host: 'h1', value: 95 }]));

    const second = engine(store);
    await second.alarmEngine.start();
    second.consumer.assign(TOPICS.metrics, [0]);
    await second.consumer.deliver(batch(0, [{ name: 'cpu', host: 'h1', value: 10, atMs: T0 + 61_000 }]));
    clockMs = T0 + 120_000;
    // The minute [60 s, 120 s) had 95 (before the restart, restored from the store) and 10 (after): avg 52.5.
    const transitions = await second.alarmEngine.evaluateNow();
    expect(transitions.map((t) => `${t.record.oldState}>${t.record.newState}`)).toEqual(['ALARM>OK']);
    expect(transitions[0]?.record.subAlarms[0]?.currentValues).toEqual([52.5]);
    expect(published(second.producer)).toEqual(['ALARM>OK']);
    await Promise.all([first.alarmEngine.stop(), second.alarmEngine.stop()]);
  });

  it('skips a transition whose old state the store no longer has, then follows the data from the stored state', async () => {
    clockMs = T0;
    const store = await newStore();
    await store.createDefinition(definition('cpu', 'avg(cpu) > 80'), clockMs);
    const counters = new Counters();
    const { alarmEngine, consumer } = engine(store, counters);
    await alarmEngine.start();
    consumer.assign(TOPICS.metrics, [0]);
    await consumer.deliver(batch(0, [{ name: 'cpu', host: 'h1', value: 95 }]));
    const [alarm] = await store.listAlarms({ tenantId: TENANT, offset: 0, limit: 10 });
    if (!alarm) throw new Error('no alarm stored');
    // Someone else (the API, another replica) moved it to OK meanwhile.
    await store.patchAlarm(TENANT, alarm.id, { state: 'OK' }, clockMs, {
      id: 'api-1', tenantId: TENANT, alarmId: alarm.id, definitionId: alarm.definitionId, oldState: 'UNDETERMINED', newState: 'OK', reason: 'set through the API', reasonData: '{}', subAlarms: [], metrics: [], timestampMs: clockMs,
    });
    clockMs = T0 + 60_000;
    expect(await alarmEngine.evaluateNow()).toEqual([]);
    expect(counters.total(ENGINE_COUNTERS.transitionsSkipped)).toBe(1);
    // The data says ALARM and the store says OK: the next evaluation makes that transition, from OK.
    const [next] = await alarmEngine.evaluateNow();
    expect(`${next?.record.oldState}>${next?.record.newState}`).toBe('OK>ALARM');
    const history = await store.listHistory({ tenantId: TENANT, offset: 0, limit: 10 });
    expect(history.map((h) => `${h.oldState}>${h.newState}`)).toEqual(['UNDETERMINED>OK', 'OK>ALARM']);
    await alarmEngine.stop();
  });

  it('picks up created, changed and deleted definitions when the revision moves', async () => {
    clockMs = T0;
    const store = await newStore();
    const { alarmEngine, consumer } = engine(store);
    await alarmEngine.start();
    consumer.assign(TOPICS.metrics, [0]);
    const created = await store.createDefinition(definition('mem', 'max(mem) > 50'), clockMs);
    await alarmEngine.refreshDefinitions();
    await consumer.deliver(batch(0, [{ name: 'mem', host: 'h1', value: 60 }]));
    expect((await alarmEngine.evaluateNow()).map((t) => t.record.newState)).toEqual(['ALARM']); // max > is decided early

    // A higher threshold: the same window, decided again.
    await store.updateDefinition(TENANT, created.id, definition('mem', 'max(mem) > 70'), clockMs + 1);
    await alarmEngine.refreshDefinitions();
    clockMs = T0 + 60_000;
    expect((await alarmEngine.evaluateNow()).map((t) => `${t.record.oldState}>${t.record.newState}`)).toEqual(['ALARM>OK']);

    await store.deleteDefinition(TENANT, created.id);
    await alarmEngine.refreshDefinitions();
    expect(alarmEngine.evaluator.alarmCount).toBe(0);
    await consumer.deliver(batch(0, [{ name: 'mem', host: 'h1', value: 99 }]));
    expect(alarmEngine.evaluator.alarmCount).toBe(0);
    await alarmEngine.stop();
  });

  it('decides a newly assigned partition only once the consumer has caught up with it', async () => {
    clockMs = T0;
    const store = await newStore();
    await store.createDefinition(definition('cpu', 'avg(cpu) > 80'), clockMs);
    const { alarmEngine, consumer } = engine(store);
    await alarmEngine.start();
    consumer.assign(TOPICS.metrics, [3]);
    await consumer.deliver(batch(3, [{ name: 'cpu', host: 'h1', value: 95 }], { lag: 5000 }));
    clockMs = T0 + 60_000;
    expect(await alarmEngine.evaluateNow()).toEqual([]); // a backlog is still ahead
    await consumer.deliver(batch(3, [{ name: 'cpu', host: 'h1', value: 95, atMs: T0 + 1000 }], { lag: 0 }));
    expect((await alarmEngine.evaluateNow()).map((t) => t.record.newState)).toEqual(['ALARM']);
    await alarmEngine.stop();
  });

  it('decides every view of a backlog in order, at the instant each closed: no transition is lost to a restart', async () => {
    clockMs = T0 + 250_000;
    const store = await newStore();
    await store.createDefinition(definition('cpu', 'avg(cpu) > 80'), T0);
    const { alarmEngine, consumer } = engine(store);
    await alarmEngine.start();
    consumer.assign(TOPICS.metrics, [0]);
    // Four minutes of a dead replica's partition, read in one go: high, low, high, low.
    const backlog = [90, 10, 90, 10].map((value, minute) => ({ name: 'cpu', host: 'h1', value, atMs: T0 + minute * 60_000 }));
    await consumer.deliver(batch(0, backlog, { lag: 100 }));
    // Caught up, live: the views left are decided by the clock.
    await consumer.deliver(batch(0, [], { lag: 0 }));
    await alarmEngine.evaluateNow();
    const history = await store.listHistory({ tenantId: TENANT, offset: 0, limit: 10 });
    expect(history.map((h) => [h.newState, (h.timestampMs - T0) / 1000, h.subAlarms[0]?.currentValues])).toEqual([
      ['ALARM', 60, [90]],
      ['OK', 120, [10]],
      ['ALARM', 180, [90]],
      ['OK', 240, [10]],
    ]);
    await alarmEngine.stop();
  });

  it('evaluates at the instant a view closes, not at the next tick', async () => {
    const store = await newStore();
    await store.createDefinition(definition('cpu', 'avg(cpu) > 80'), T0);
    // The test's clock runs in real time from 3 s before the minute closes (time to start and
    // deliver, even on a loaded machine); the tick is a day away.
    const startedAt = Date.now();
    const closeAtMs = T0 + 60_000;
    const { alarmEngine, consumer } = engine(store, new Counters(), 0, { evaluateAtClose: true }, () => closeAtMs - 3_000 + (Date.now() - startedAt));
    await alarmEngine.start();
    consumer.assign(TOPICS.metrics, [0]);
    await consumer.deliver(batch(0, [{ name: 'cpu', host: 'h1', value: 95, atMs: T0 + 1000 }]));
    expect(Date.now() - startedAt, 'the batch was read before the minute closed').toBeLessThan(3_000);
    let history: readonly unknown[] = [];
    for (let waited = 0; history.length === 0 && waited < 12_000; waited += 50) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      history = await store.listHistory({ tenantId: TENANT, offset: 0, limit: 10 });
    }
    expect(history).toMatchObject([{ oldState: 'UNDETERMINED', newState: 'ALARM', timestampMs: closeAtMs }]);
    expect(Date.now() - startedAt).toBeLessThan(12_000);
    await alarmEngine.stop();
  }, 30_000);

  it('gives up a revoked partition: its batches are refused and its alarms forgotten', async () => {
    clockMs = T0;
    const store = await newStore();
    await store.createDefinition(definition('cpu', 'avg(cpu) > 80'), clockMs);
    const { alarmEngine, consumer } = engine(store);
    await alarmEngine.start();
    consumer.assign(TOPICS.metrics, [0, 1]);
    await consumer.deliver(batch(0, [{ name: 'cpu', host: 'h0', value: 95 }]));
    await consumer.deliver(batch(1, [{ name: 'cpu', host: 'h1', value: 95 }]));
    expect(alarmEngine.evaluator.alarmCount).toBe(2);
    consumer.assign(TOPICS.metrics, [0]);
    await alarmEngine.evaluateNow(); // after the assignment is applied
    expect(alarmEngine.evaluator.alarmCount).toBe(1);
    expect(await consumer.deliver(batch(1, [{ name: 'cpu', host: 'h1', value: 95 }]))).toMatchObject({ kind: 'retry' });
    clockMs = T0 + 60_000;
    const transitions = await alarmEngine.evaluateNow();
    expect(transitions.map((t) => t.alarm.matchBy)).toEqual([{ hostname: 'h0' }]);
    await alarmEngine.stop();
  });

  it('reads a batch again when the store fails, and counts it once when it succeeds', async () => {
    clockMs = T0;
    const store = await newStore();
    await store.createDefinition(definition('busy', 'count(req) > 1'), clockMs);
    const counters = new Counters();
    let failures = 1;
    const flaky: AlarmStore = Object.create(store) as AlarmStore;
    flaky.checkpoint = (checkpoint) => (failures-- > 0 ? Promise.reject(new Error('disk full')) : store.checkpoint(checkpoint));
    const { alarmEngine, consumer } = engine(flaky, counters);
    await alarmEngine.start();
    consumer.assign(TOPICS.metrics, [0]);
    const two = batch(0, [
      { name: 'req', host: 'h1', value: 1 },
      { name: 'req', host: 'h1', value: 1 },
    ]);
    expect(await consumer.deliver(two)).toMatchObject({ kind: 'retry' });
    expect(counters.total(ENGINE_COUNTERS.checkpointErrors)).toBe(1);
    expect(await consumer.deliver(two)).toEqual({ kind: 'commit' });
    clockMs = T0 + 60_000;
    const [transition] = await alarmEngine.evaluateNow();
    expect(transition?.record.subAlarms[0]?.currentValues).toEqual([2]);
    await alarmEngine.stop();
  });

  it("keeps tenants apart: another tenant's metric of the same name feeds nothing", async () => {
    clockMs = T0;
    const store = await newStore();
    await store.createDefinition(definition('cpu', 'avg(cpu) > 80'), clockMs);
    const { alarmEngine, consumer } = engine(store);
    await alarmEngine.start();
    consumer.assign(TOPICS.metrics, [0]);
    await consumer.deliver(batch(0, [{ name: 'cpu', host: 'h1', value: 99, tenant: 'globex' }]));
    await consumer.deliver(batch(0, [{ name: 'cpu', host: 'h1', value: 10 }]));
    clockMs = T0 + 60_000;
    const [transition] = await alarmEngine.evaluateNow();
    expect(transition?.record).toMatchObject({ tenantId: TENANT, newState: 'OK' });
    expect(transition?.record.subAlarms[0]?.currentValues).toEqual([10]);
    expect(await store.listAlarms({ tenantId: 'globex', offset: 0, limit: 10 })).toEqual([]);
    await alarmEngine.stop();
  });
});
