import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Counters } from '../../core/counters.js';
import type { AlarmStore, NotificationType } from '../store/alarmStore.js';
import { exampleAlarm } from '../store/alarmStoreContract.testkit.js';
import { openSqliteAlarmStore } from '../store/sqliteAlarmStore.js';
import { notificationDefaults } from './config.js';
import { startHttpReceiver, type HttpReceiver } from './httpReceiver.testkit.js';
import { NOTIFIER_COUNTERS, Notifier } from './notifier.js';
import { createNotificationSenders, type NotificationSenders } from './senders.js';
import { verifyKansokuSignature } from './webhookSender.js';

const T0 = Date.UTC(2026, 10, 26, 12, 0, 0);

// The whole path: a transition's delivery in the SQLite outbox, the Notifier, the registry's real senders, a receiver on 127.0.0.1.
describe('createNotificationSenders through the Notifier', () => {
  let receiver: HttpReceiver;
  let store: AlarmStore;
  let registry: NotificationSenders;

  beforeAll(async () => {
    receiver = await startHttpReceiver();
  });
  afterAll(() => receiver.close());
  beforeEach(async () => {
    (receiver.received as unknown[]).length = 0;
    store = await openSqliteAlarmStore(':memory:');
    registry = createNotificationSenders(notificationDefaults({ http: { allow_private_addresses: true }, pagerduty_url: `${receiver.origin}/v2/enqueue` }));
  });
  afterEach(async () => {
    registry.close();
    await store.close();
  });

  it('registers the four notification types', () => {
    expect([...registry.senders.keys()].sort()).toEqual(['EMAIL', 'PAGERDUTY', 'SLACK', 'WEBHOOK']);
  });

  async function deliverOne(type: NotificationType, address: string, secret: string | null): Promise<Counters> {
    const method = await store.createNotificationMethod({ tenantId: 'acme', name: 'ops', type, address, periodSeconds: 0, secret }, T0);
    const definition = await store.createDefinition(
      { tenantId: 'acme', name: 'disk full', description: '', expression: 'max(disk.used_percent) > 95', matchBy: [], severity: 'MEDIUM', alarmActions: [method.id], okActions: [], undeterminedActions: [], actionsEnabled: true },
      T0,
    );
    const alarm = exampleAlarm('acme', 'alarm-1', definition.id, { matchBy: {}, metrics: [{ name: 'disk.used_percent', dimensions: { hostname: 'db-1' } }], state: 'ALARM', subAlarms: [], stateUpdatedAtMs: T0, createdAtMs: T0, updatedAtMs: T0 });
    await store.checkpoint({
      offsets: new Map(),
      alarms: [alarm],
      transitions: [{ id: 'tr-1', tenantId: 'acme', alarmId: 'alarm-1', definitionId: definition.id, oldState: 'OK', newState: 'ALARM', reason: 'disk above 95', reasonData: '{}', subAlarms: [], metrics: alarm.metrics, timestampMs: T0 }],
      deliveries: [{ id: 'del-1', tenantId: 'acme', transitionId: 'tr-1', alarmId: 'alarm-1', methodId: method.id, kind: 'transition', dueAtMs: T0, attempts: 0, lastError: null }],
    });
    const counters = new Counters();
    const notifier = new Notifier({ store, senders: registry.senders, settings: notificationDefaults(), counters, owner: 'test', now: () => T0 + 1 });
    expect(await notifier.pollOnce()).toBe(1);
    await notifier.stop();
    return counters;
  }

  it('WEBHOOK: the signed body arrives and verifies with the method secret', async () => {
    const counters = await deliverOne('WEBHOOK', `${receiver.origin}/hook`, 's3cret');
    expect(counters.get(NOTIFIER_COUNTERS.sent, { type: 'WEBHOOK' })).toBe(1);
    const [request] = receiver.received;
    expect(request?.json()).toMatchObject({ alarm_id: 'alarm-1', alarm_name: 'disk full', state: 'ALARM', old_state: 'OK', message: 'disk above 95', tenant_id: 'acme', alarm_timestamp: T0 / 1000 });
    expect(verifyKansokuSignature(request!.body, request!.headers['x-kansoku-signature'] as string, 's3cret')).toBe(true);
  });

  it('SLACK: the message arrives at the method address', async () => {
    await deliverOne('SLACK', `${receiver.origin}/services/T/B/X`, null);
    expect(receiver.received[0]?.path).toBe('/services/T/B/X');
    expect(receiver.received[0]?.json()).toMatchObject({ text: 'ALARM MEDIUM "disk full" on db-1 (was OK)' });
  });

  it('PAGERDUTY: the event goes to the configured URL with the address as routing key', async () => {
    await deliverOne('PAGERDUTY', 'routing-key-1', null);
    expect(receiver.received[0]?.path).toBe('/v2/enqueue');
    expect(receiver.received[0]?.json()).toMatchObject({ routing_key: 'routing-key-1', event_action: 'trigger', dedup_key: 'alarm-1', payload: { severity: 'warning', source: 'db-1' } });
  });

  it('refuses loopback when private addresses are not allowed: the delivery is abandoned as rejected', async () => {
    registry.close();
    registry = createNotificationSenders(notificationDefaults());
    const counters = await deliverOne('WEBHOOK', `${receiver.origin}/hook`, 's3cret');
    expect(receiver.received).toHaveLength(0);
    expect(counters.get(NOTIFIER_COUNTERS.abandoned, { type: 'WEBHOOK', reason: 'rejected' })).toBe(1);
  });
});
