import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Counters } from '../../core/counters.js';
import type { AlarmState } from '../alarmState.js';
import type { AlarmDefinitionRecord, AlarmRecord, AlarmStore, AlarmTransitionRecord, DeliveryRecord, NotificationMethodRecord } from '../store/alarmStore.js';
import { exampleAlarm } from '../store/alarmStoreContract.testkit.js';
import { openSqliteAlarmStore } from '../store/sqliteAlarmStore.js';
import { notificationDefaults } from './config.js';
import type { Notification } from './notification.js';
import { MAX_CLAIMS_SLACK, NOTIFIER_COUNTERS, Notifier, type NotifierDeps, type NotifierSettings, type NotifierStore } from './notifier.js';
import type { SendOutcome, Sender } from './sender.js';

const T0 = Date.UTC(2026, 10, 26, 12, 0, 0);
const TENANT = 'acme';
const LEASE_MS = 60_000;

const settings: NotifierSettings = {
  ...notificationDefaults(),
  poll_interval_ms: 10,
  lease_ms: LEASE_MS,
  concurrency: 4,
  shutdown_timeout_ms: 0,
  retry: { initial_delay_ms: 1_000, max_delay_ms: 60_000, max_attempts: 5 },
};

/** A sender that answers from a script (sent once it runs out) and records what it was given. */
class ScriptedSender implements Sender {
  readonly calls: Notification[] = [];
  private readonly script: (SendOutcome | (() => Promise<SendOutcome>))[];

  constructor(...script: (SendOutcome | (() => Promise<SendOutcome>))[]) {
    this.script = script;
  }

  async send(notification: Notification): Promise<SendOutcome> {
    this.calls.push(notification);
    const next = this.script.shift() ?? { kind: 'sent' };
    return typeof next === 'function' ? next() : next;
  }
}

/** Blocks until aborted, then reports retryable, as a real sender does at shutdown; `started` resolves on the first call. */
class HangingSender implements Sender {
  readonly calls: Notification[] = [];
  private begin!: () => void;
  readonly started = new Promise<void>((resolve) => (this.begin = resolve));

  send(notification: Notification, _method: NotificationMethodRecord, signal: AbortSignal): Promise<SendOutcome> {
    this.calls.push(notification);
    this.begin();
    return new Promise((resolve) => signal.addEventListener('abort', () => resolve({ kind: 'retryable', error: 'aborted' }), { once: true }));
  }
}

/** The notifier's part of a store as plain functions, so a test can replace one of them. */
function delegateTo(store: AlarmStore): NotifierStore {
  return {
    claimDeliveries: (nowMs, leaseMs, owner, limit) => store.claimDeliveries(nowMs, leaseMs, owner, limit),
    completeDelivery: (id, owner, next) => store.completeDelivery(id, owner, next),
    retryDelivery: (id, owner, dueAtMs, error) => store.retryDelivery(id, owner, dueAtMs, error),
    abandonDelivery: (id, owner) => store.abandonDelivery(id, owner),
    getTransition: (tenantId, id) => store.getTransition(tenantId, id),
    getAlarm: (tenantId, id) => store.getAlarm(tenantId, id),
    getDefinition: (tenantId, id) => store.getDefinition(tenantId, id),
    getNotificationMethod: (tenantId, id) => store.getNotificationMethod(tenantId, id),
  };
}

const retryable = (error = 'HTTP 503', delayMs?: number): SendOutcome => (delayMs === undefined ? { kind: 'retryable', error } : { kind: 'retryable', error, delayMs });

describe('Notifier with the SQLite store', () => {
  let store: AlarmStore;
  let nowMs: number;
  let counters: Counters;
  const notifiers: Notifier[] = [];

  beforeEach(async () => {
    store = await openSqliteAlarmStore(':memory:');
    nowMs = T0 + 1_000;
    counters = new Counters();
  });
  afterEach(async () => {
    await Promise.all(notifiers.splice(0).map((n) => n.stop()));
    await store.close();
  });

  function notifier(senders: Record<string, Sender>, overrides: Partial<NotifierDeps> = {}, settingOverrides: Partial<NotifierSettings> = {}): Notifier {
    const made = new Notifier({
      store,
      senders: new Map(Object.entries(senders)),
      settings: { ...settings, ...settingOverrides },
      counters,
      owner: `notifier-${notifiers.length}`,
      now: () => nowMs,
      // Jitter pinned to its top: each delay is exactly the backoff ceiling.
      random: () => 1,
      ...overrides,
    });
    notifiers.push(made);
    return made;
  }

  interface Seeded {
    readonly method: NotificationMethodRecord;
    readonly definition: AlarmDefinitionRecord;
    readonly alarm: AlarmRecord;
    readonly transition: AlarmTransitionRecord;
    readonly delivery: DeliveryRecord;
  }

  /** A method, a definition naming it for ALARM and OK, an alarm gone OK → ALARM, and the transition's delivery due now. */
  async function seed(options: { periodSeconds?: number; type?: string; deliveryId?: string; alarmId?: string } = {}): Promise<Seeded> {
    const method = await store.createNotificationMethod({ tenantId: TENANT, name: 'ops', type: options.type ?? 'WEBHOOK', address: 'https://hooks.example.com/x', periodSeconds: options.periodSeconds ?? 0, secret: null }, T0);
    const definition = await store.createDefinition(
      {
        tenantId: TENANT,
        name: `cpu high ${options.alarmId ?? ''}`.trim(),
        description: 'cpu above ninety',
        expression: 'avg(cpu.percent) > 90',
        matchBy: [],
        severity: 'CRITICAL',
        alarmActions: [method.id],
        okActions: [method.id],
        undeterminedActions: [],
        actionsEnabled: true,
      },
      T0,
    );
    const alarm = exampleAlarm(TENANT, options.alarmId ?? 'alarm-1', definition.id, { matchBy: {}, metrics: [{ name: 'cpu.percent', dimensions: { hostname: 'node-1' } }], state: 'ALARM', subAlarms: [], stateUpdatedAtMs: T0, createdAtMs: T0, updatedAtMs: T0 });
    const transition = transitionOf(alarm, `tr-${alarm.id}`, 'OK', 'ALARM', T0);
    const delivery: DeliveryRecord = {
      id: options.deliveryId ?? 'del-1',
      tenantId: TENANT,
      transitionId: transition.id,
      alarmId: alarm.id,
      methodId: method.id,
      kind: 'transition',
      dueAtMs: T0,
      attempts: 0,
      claims: 0,
      lastError: null,
    };
    await store.checkpoint({ offsets: new Map(), alarms: [alarm], transitions: [transition], deliveries: [delivery] });
    return { method, definition, alarm, transition, delivery };
  }

  function transitionOf(alarm: AlarmRecord, id: string, oldState: AlarmState, newState: AlarmState, timestampMs: number): AlarmTransitionRecord {
    return { id, tenantId: alarm.tenantId, alarmId: alarm.id, definitionId: alarm.definitionId, oldState, newState, reason: `went ${newState}`, reasonData: '{}', subAlarms: [], metrics: alarm.metrics, timestampMs };
  }

  /**
   * Every delivery left in the outbox, whatever its due time. The contract reads the outbox
   * only by claiming; a lease ending at epoch 0 leaves each delivery claimable as before.
   */
  async function outbox(): Promise<readonly DeliveryRecord[]> {
    const farFutureMs = nowMs + 10 ** 12;
    return store.claimDeliveries(farFutureMs, -farFutureMs, 'inspector', 1000);
  }

  it('sends a due delivery built from transition, alarm, definition and method, then completes it', async () => {
    const { method, definition } = await seed();
    const webhook = new ScriptedSender();
    expect(await notifier({ WEBHOOK: webhook }).pollOnce()).toBe(1);
    expect(webhook.calls).toHaveLength(1);
    expect(webhook.calls[0]).toMatchObject({
      deliveryId: 'del-1',
      kind: 'transition',
      tenantId: TENANT,
      alarmId: 'alarm-1',
      alarmDefinitionId: definition.id,
      alarmName: 'cpu high',
      alarmDescription: 'cpu above ninety',
      severity: 'CRITICAL',
      state: 'ALARM',
      oldState: 'OK',
      message: 'went ALARM',
      timestampMs: T0,
      metrics: [{ name: 'cpu.percent', dimensions: { hostname: 'node-1' } }],
      methodId: method.id,
      address: 'https://hooks.example.com/x',
    });
    expect(await outbox()).toEqual([]);
    expect(counters.get(NOTIFIER_COUNTERS.sent, { type: 'WEBHOOK' })).toBe(1);
    expect(counters.total(NOTIFIER_COUNTERS.redelivered)).toBe(0);
  });

  it('does not send a delivery before it is due', async () => {
    await seed();
    nowMs = T0 - 1;
    const webhook = new ScriptedSender();
    expect(await notifier({ WEBHOOK: webhook }).pollOnce()).toBe(0);
    expect(webhook.calls).toHaveLength(0);
  });

  it('at least once: a sender that fails twice then succeeds gets three attempts, backed off, and the delivery is gone', async () => {
    await seed();
    const webhook = new ScriptedSender(retryable(), retryable());
    const n = notifier({ WEBHOOK: webhook });

    expect(await n.pollOnce()).toBe(1);
    // First retry after initial_delay_ms (jitter pinned to the ceiling), the second after twice that.
    nowMs += 999;
    expect(await n.pollOnce()).toBe(0);
    nowMs += 1;
    expect(await n.pollOnce()).toBe(1);
    nowMs += 1_999;
    expect(await n.pollOnce()).toBe(0);
    nowMs += 1;
    expect(await n.pollOnce()).toBe(1);

    expect(webhook.calls.map((c) => c.deliveryId)).toEqual(['del-1', 'del-1', 'del-1']);
    expect(await outbox()).toEqual([]);
    expect(counters.get(NOTIFIER_COUNTERS.failed, { type: 'WEBHOOK', reason: 'retryable' })).toBe(2);
    expect(counters.get(NOTIFIER_COUNTERS.retries)).toBe(2);
    expect(counters.get(NOTIFIER_COUNTERS.sent, { type: 'WEBHOOK' })).toBe(1);
    expect(counters.get(NOTIFIER_COUNTERS.redelivered, { type: 'WEBHOOK' })).toBe(2);
    expect(counters.total(NOTIFIER_COUNTERS.abandoned)).toBe(0);
  });

  it('records the attempt count and last error on a retry', async () => {
    await seed();
    await notifier({ WEBHOOK: new ScriptedSender(retryable('HTTP 502')) }).pollOnce();
    expect(await outbox()).toEqual([expect.objectContaining({ id: 'del-1', attempts: 1, lastError: 'HTTP 502', dueAtMs: nowMs + 1_000 })]);
  });

  it('honours Retry-After over a shorter backoff, capped at max_delay_ms', async () => {
    await seed();
    await notifier({ WEBHOOK: new ScriptedSender(retryable('HTTP 429', 30_000)) }).pollOnce();
    expect((await outbox())[0]?.dueAtMs).toBe(nowMs + 30_000);

    await store.close();
    store = await openSqliteAlarmStore(':memory:');
    await seed();
    await notifier({ WEBHOOK: new ScriptedSender(retryable('HTTP 429', 10 * 60_000)) }).pollOnce();
    expect((await outbox())[0]?.dueAtMs).toBe(nowMs + 60_000);
  });

  it('abandons a delivery after max_attempts retryable failures', async () => {
    await seed();
    const webhook = new ScriptedSender(retryable(), retryable(), retryable(), retryable());
    const n = notifier({ WEBHOOK: webhook }, {}, { retry: { initial_delay_ms: 1_000, max_delay_ms: 60_000, max_attempts: 3 } });
    for (let poll = 0; poll < 6; poll++) {
      await n.pollOnce();
      nowMs += 60_000;
    }
    expect(webhook.calls).toHaveLength(3);
    expect(await outbox()).toEqual([]);
    expect(counters.get(NOTIFIER_COUNTERS.abandoned, { type: 'WEBHOOK', reason: 'max_attempts' })).toBe(1);
    expect(counters.get(NOTIFIER_COUNTERS.retries)).toBe(2);
  });

  it.each<[string, SendOutcome | (() => Promise<SendOutcome>), string, string]>([
    ['a rejected send', { kind: 'rejected', error: 'HTTP 404' }, 'rejected', 'rejected'],
    ['a sender that throws (a bug, never retried)', () => Promise.reject(new Error('bug')), 'sender_error', 'sender_error'],
  ])('abandons %s at once', async (_name, outcome, failedReason, abandonedReason) => {
    await seed();
    const webhook = new ScriptedSender(outcome);
    await notifier({ WEBHOOK: webhook }).pollOnce();
    nowMs += 10 * 60_000;
    await notifier({ WEBHOOK: webhook }).pollOnce();
    expect(webhook.calls).toHaveLength(1);
    expect(await outbox()).toEqual([]);
    expect(counters.get(NOTIFIER_COUNTERS.failed, { type: 'WEBHOOK', reason: failedReason })).toBe(1);
    expect(counters.get(NOTIFIER_COUNTERS.abandoned, { type: 'WEBHOOK', reason: abandonedReason })).toBe(1);
  });

  it.each<[string, Partial<DeliveryRecord>, string, string]>([
    ['its method is gone', { methodId: 'no-such-method' }, 'unknown', 'missing_method'],
    ['its alarm is gone', { alarmId: 'no-such-alarm' }, 'WEBHOOK', 'missing_alarm'],
    ['its transition is gone', { transitionId: 'no-such-transition' }, 'WEBHOOK', 'missing_transition'],
  ])('abandons a delivery when %s, counted', async (_name, broken, type, reason) => {
    const { delivery } = await seed({ deliveryId: 'fine' });
    await store.checkpoint({ offsets: new Map(), alarms: [], transitions: [], deliveries: [{ ...delivery, id: 'broken', ...broken }] });
    const webhook = new ScriptedSender();
    expect(await notifier({ WEBHOOK: webhook }).pollOnce()).toBe(2);
    expect(webhook.calls.map((c) => c.deliveryId)).toEqual(['fine']);
    expect(await outbox()).toEqual([]);
    expect(counters.get(NOTIFIER_COUNTERS.abandoned, { type, reason })).toBe(1);
  });

  it('abandons a delivery whose method type has no sender registered', async () => {
    await seed({ type: 'EVICT' });
    await notifier({ WEBHOOK: new ScriptedSender() }).pollOnce();
    expect(await outbox()).toEqual([]);
    expect(counters.get(NOTIFIER_COUNTERS.abandoned, { type: 'EVICT', reason: 'no_sender' })).toBe(1);
  });

  it('routes each delivery to the sender registered for its type, new types included', async () => {
    await seed({ type: 'EVICT' });
    const evict = new ScriptedSender();
    const webhook = new ScriptedSender();
    await notifier({ WEBHOOK: webhook, EVICT: evict }).pollOnce();
    expect(evict.calls).toHaveLength(1);
    expect(webhook.calls).toHaveLength(0);
    expect(counters.get(NOTIFIER_COUNTERS.sent, { type: 'EVICT' })).toBe(1);
  });

  it('a notifier killed mid-send leaves its lease to expire, and a second notifier sends the delivery again', async () => {
    await seed();
    // kill -9: from the moment of the kill, nothing the first notifier does reaches the store.
    let killed = false;
    const live = delegateTo(store);
    const killable: NotifierStore = {
      ...live,
      // A dead process records nothing; `true` keeps the dead notifier from counting a lost lease.
      completeDelivery: (id, owner, next) => (killed ? Promise.resolve(true) : live.completeDelivery(id, owner, next)),
      retryDelivery: (id, owner, dueAtMs, error) => (killed ? Promise.resolve(true) : live.retryDelivery(id, owner, dueAtMs, error)),
      abandonDelivery: (id, owner) => (killed ? Promise.resolve(true) : live.abandonDelivery(id, owner)),
    };
    const hanging = new HangingSender();
    const first = notifier({ WEBHOOK: hanging }, { store: killable, owner: 'first' });
    const firstPoll = first.pollOnce();
    await hanging.started;
    killed = true;

    const second = new ScriptedSender();
    const other = notifier({ WEBHOOK: second }, { owner: 'second' });
    nowMs += LEASE_MS - 1;
    expect(await other.pollOnce()).toBe(0);
    nowMs += 1;
    expect(await other.pollOnce()).toBe(1);

    expect(hanging.calls.map((c) => c.deliveryId)).toEqual(['del-1']);
    expect(second.calls.map((c) => c.deliveryId)).toEqual(['del-1']);
    expect(await outbox()).toEqual([]);
    // The second send is a duplicate the receiver may see: claimed before and never finished, it is counted, once.
    expect(counters.get(NOTIFIER_COUNTERS.redelivered, { type: 'WEBHOOK' })).toBe(1);
    expect(counters.get(NOTIFIER_COUNTERS.sent, { type: 'WEBHOOK' })).toBe(1);
    await first.stop();
    await firstPoll;
  });

  it('counts a retried delivery that was also claimed before as redelivered once per send', async () => {
    await seed();
    // A notifier died holding it, then a send failed: the third claim is the second redelivery, each counted once.
    await store.claimDeliveries(nowMs, LEASE_MS, 'died', 10);
    nowMs += LEASE_MS;
    const webhook = new ScriptedSender(retryable());
    const n = notifier({ WEBHOOK: webhook });
    expect(await n.pollOnce()).toBe(1);
    nowMs += 1_000;
    expect(await n.pollOnce()).toBe(1);
    expect(webhook.calls).toHaveLength(2);
    expect(counters.get(NOTIFIER_COUNTERS.redelivered, { type: 'WEBHOOK' })).toBe(2);
    expect(counters.get(NOTIFIER_COUNTERS.sent, { type: 'WEBHOOK' })).toBe(1);
  });

  // max_attempts 5 and a slack of MAX_CLAIMS_SLACK: claims up to 8 still send, the 9th gives up.
  it.each([
    { name: 'still sends at max_attempts + slack claims', deadClaims: 5 + MAX_CLAIMS_SLACK - 1, sends: 1, abandoned: 0 },
    { name: 'gives up a crash loop beyond max_attempts + slack claims', deadClaims: 5 + MAX_CLAIMS_SLACK, sends: 0, abandoned: 1 },
  ])('$name', async ({ deadClaims, sends, abandoned }) => {
    await seed();
    // Each of these notifiers is killed holding the delivery: its lease runs out with no outcome.
    for (let i = 0; i < deadClaims; i++) {
      expect(await store.claimDeliveries(nowMs, LEASE_MS, `crashed-${i}`, 10)).toHaveLength(1);
      nowMs += LEASE_MS;
    }
    const webhook = new ScriptedSender();
    expect(await notifier({ WEBHOOK: webhook }).pollOnce()).toBe(1);
    expect(webhook.calls).toHaveLength(sends);
    expect(counters.get(NOTIFIER_COUNTERS.abandoned, { type: 'WEBHOOK', reason: 'max_claims' })).toBe(abandoned);
    expect(counters.get(NOTIFIER_COUNTERS.redelivered, { type: 'WEBHOOK' })).toBe(sends);
    expect(await outbox()).toEqual([]);
  });

  describe('a notifier whose lease was taken over while it sent', () => {
    it.each<{ name: string; outcome: SendOutcome }>([
      { name: 'sent: does not complete it, nor start a second repeat chain', outcome: { kind: 'sent' } },
      { name: 'retryable: does not reschedule it', outcome: retryable() },
      { name: 'rejected: does not abandon it', outcome: { kind: 'rejected', error: 'HTTP 404' } },
    ])('$name; the lost lease is counted and the new holder keeps the delivery', async ({ outcome }) => {
      await seed({ periodSeconds: 60 });
      // The send outlives the lease; meanwhile another notifier claims the delivery.
      const slow = new ScriptedSender(async () => {
        nowMs += LEASE_MS;
        expect(await store.claimDeliveries(nowMs, LEASE_MS, 'taker', 10)).toEqual([expect.objectContaining({ id: 'del-1', claims: 2 })]);
        return outcome;
      });
      await notifier({ WEBHOOK: slow }, { owner: 'slow' }).pollOnce();

      expect(counters.get(NOTIFIER_COUNTERS.leaseLost)).toBe(1);
      expect(counters.total(NOTIFIER_COUNTERS.abandoned)).toBe(0);
      expect(counters.get(NOTIFIER_COUNTERS.retries)).toBe(0);
      // The taker's lease holds: nobody else can claim it, and its outcome is the one recorded.
      expect(await store.claimDeliveries(nowMs, LEASE_MS, 'third', 10)).toEqual([]);
      expect(await store.completeDelivery('del-1', 'taker')).toBe(true);
      expect(await outbox()).toEqual([]);
    });
  });

  it('stop aborts a send in flight after shutdown_timeout_ms and releases the delivery for another notifier at once', async () => {
    await seed();
    const hanging = new HangingSender();
    const first = notifier({ WEBHOOK: hanging }, { owner: 'first' });
    const poll = first.pollOnce();
    await hanging.started;
    await first.stop();
    await poll;
    expect(first.stop()).toBe(first.stop());

    const second = new ScriptedSender();
    expect(await notifier({ WEBHOOK: second }, { owner: 'second' }).pollOnce()).toBe(1);
    expect(second.calls).toHaveLength(1);
    expect(await first.pollOnce()).toBe(0);
    expect(counters.get(NOTIFIER_COUNTERS.retries)).toBe(0);
  });

  describe('periodic notifications', () => {
    it('re-notifies every period while the alarm stays in the state, and stops once it leaves', async () => {
      const { alarm } = await seed({ periodSeconds: 60 });
      const webhook = new ScriptedSender();
      const n = notifier({ WEBHOOK: webhook }, { newId: (() => { let i = 0; return () => `repeat-${++i}`; })() });

      await n.pollOnce();
      expect(await outbox()).toEqual([expect.objectContaining({ id: 'repeat-1', kind: 'repeat', transitionId: 'tr-alarm-1', dueAtMs: nowMs + 60_000, attempts: 0 })]);
      nowMs += 59_999;
      expect(await n.pollOnce()).toBe(0);
      nowMs += 1;
      expect(await n.pollOnce()).toBe(1);
      expect(webhook.calls.map((c) => [c.kind, c.state])).toEqual([
        ['transition', 'ALARM'],
        ['repeat', 'ALARM'],
      ]);

      // An operator sets the alarm back to OK through the API: the pending repeat of ALARM is dropped unsent.
      expect(await store.patchAlarm(TENANT, alarm.id, { state: 'OK' }, nowMs, transitionOf(alarm, 'tr-ok', 'ALARM', 'OK', nowMs))).toMatchObject({ state: 'OK' });
      nowMs += 60_000;
      expect(await n.pollOnce()).toBe(1);
      expect(webhook.calls).toHaveLength(2);
      expect(await outbox()).toEqual([]);
      expect(counters.get(NOTIFIER_COUNTERS.repeatsEnded, { type: 'WEBHOOK' })).toBe(1);
    });

    it('an engine transition drops the pending repeat: leaving and re-entering the state leaves one chain, not two', async () => {
      const { alarm, method } = await seed({ periodSeconds: 60 });
      const webhook = new ScriptedSender();
      const n = notifier({ WEBHOOK: webhook }, { newId: (() => { let i = 0; return () => `repeat-${++i}`; })() });
      await n.pollOnce();

      // ALARM → OK → ALARM in one checkpoint, each transition with its own delivery.
      const toOk = transitionOf(alarm, 'tr-ok', 'ALARM', 'OK', nowMs);
      const backToAlarm = transitionOf(alarm, 'tr-alarm-2', 'OK', 'ALARM', nowMs);
      const deliveryOf = (transition: AlarmTransitionRecord): DeliveryRecord => ({ id: `del-${transition.id}`, tenantId: TENANT, transitionId: transition.id, alarmId: alarm.id, methodId: method.id, kind: 'transition', dueAtMs: nowMs, attempts: 0, claims: 0, lastError: null });
      await store.checkpoint({ offsets: new Map(), alarms: [], transitions: [toOk, backToAlarm], deliveries: [deliveryOf(toOk), deliveryOf(backToAlarm)] });
      expect(await n.pollOnce()).toBe(2);
      expect(webhook.calls.slice(1).map((c) => [c.deliveryId, c.state]).sort()).toEqual([
        ['del-tr-alarm-2', 'ALARM'],
        ['del-tr-ok', 'OK'],
      ]);
      // One repeat, of the new ALARM: repeat-1 (the first chain) is gone, and OK, left at once, starts none.
      expect((await outbox()).map((d) => [d.id, d.transitionId])).toEqual([['repeat-2', 'tr-alarm-2']]);
    });

    it('schedules no repeat when the alarm left the state while the notification was being sent', async () => {
      const { alarm } = await seed({ periodSeconds: 60 });
      const webhook = new ScriptedSender(async () => {
        await store.checkpoint({ offsets: new Map(), alarms: [{ ...alarm, state: 'OK' }], transitions: [transitionOf(alarm, 'tr-ok', 'ALARM', 'OK', nowMs)], deliveries: [] });
        return { kind: 'sent' };
      });
      await notifier({ WEBHOOK: webhook }).pollOnce();
      expect(await outbox()).toEqual([]);
      expect(counters.get(NOTIFIER_COUNTERS.sent, { type: 'WEBHOOK' })).toBe(1);
    });

    it('schedules no repeat for a method with period 0', async () => {
      await seed({ periodSeconds: 0 });
      await notifier({ WEBHOOK: new ScriptedSender() }).pollOnce();
      expect(await outbox()).toEqual([]);
    });

    it('a repeat that fails is retried like any delivery and keeps repeating once sent', async () => {
      await seed({ periodSeconds: 60 });
      const webhook = new ScriptedSender({ kind: 'sent' }, retryable());
      const n = notifier({ WEBHOOK: webhook });
      await n.pollOnce();
      nowMs += 60_000;
      await n.pollOnce();
      expect(await outbox()).toEqual([expect.objectContaining({ kind: 'repeat', attempts: 1 })]);
      nowMs += 1_000;
      await n.pollOnce();
      expect(webhook.calls.map((c) => c.kind)).toEqual(['transition', 'repeat', 'repeat']);
      expect(await outbox()).toEqual([expect.objectContaining({ kind: 'repeat', attempts: 0, dueAtMs: nowMs + 60_000 })]);
    });
  });

  it('keeps at most `concurrency` sends in flight and drains a backlog on its own once started', async () => {
    for (let i = 0; i < 7; i++) await seed({ deliveryId: `del-${i}`, alarmId: `alarm-${i}` });
    let inFlight = 0;
    let most = 0;
    const slow: Sender = {
      async send() {
        inFlight++;
        most = Math.max(most, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 20));
        inFlight--;
        return { kind: 'sent' };
      },
    };
    const n = notifier({ WEBHOOK: slow }, {}, { concurrency: 2, poll_interval_ms: 5 });
    n.start();
    const deadlineMs = Date.now() + 5_000;
    while (counters.get(NOTIFIER_COUNTERS.sent, { type: 'WEBHOOK' }) < 7 && Date.now() < deadlineMs) await new Promise((resolve) => setTimeout(resolve, 10));
    await n.stop();
    expect(counters.get(NOTIFIER_COUNTERS.sent, { type: 'WEBHOOK' })).toBe(7);
    expect(most).toBe(2);
    expect(await outbox()).toEqual([]);
  });

  it('counts a failing store and keeps running', async () => {
    const broken: NotifierStore = { ...delegateTo(store), claimDeliveries: () => Promise.reject(new Error('database is locked')) };
    const n = notifier({ WEBHOOK: new ScriptedSender() }, { store: broken });
    expect(await n.pollOnce()).toBe(0);
    expect(counters.get(NOTIFIER_COUNTERS.storeErrors)).toBe(1);
  });

  it('describes every counter it keeps', () => {
    notifier({});
    const text = counters.render();
    for (const name of Object.values(NOTIFIER_COUNTERS)) counters.add(name, {}, 0);
    expect(counters.render().match(/# HELP /g)).toHaveLength(Object.keys(NOTIFIER_COUNTERS).length);
    expect(text).toBe('');
  });
});
