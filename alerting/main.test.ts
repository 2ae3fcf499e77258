import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PATIENT } from '../core/pipeline.testkit.js';
import { metricCodec } from '../core/codec.js';
import { Counters } from '../core/counters.js';
import { TOPICS, metricEnvelope } from '../core/envelope.js';
import { MemoryBus } from '../bus/memory/memoryBus.js';
import { stableId } from './ids.js';
import { loadAlertingRules } from './config.js';
import { startAlerting } from './main.js';
import { startHttpReceiver, type HttpReceiver } from './notify/httpReceiver.testkit.js';
import { verifyKansokuSignature } from './notify/webhookSender.js';
import { openSqliteAlarmStore } from './store/sqliteAlarmStore.js';
import { TRANSITIONS_TOPIC, decodeTransitionEvent } from './transitionEvent.js';

let receiver: HttpReceiver | undefined;
afterEach(async () => {
  await receiver?.close();
});

describe('startAlerting', () => {
  it('stores the file definitions, evaluates the bus, records and publishes the transition, signs the webhook, and stops once', async () => {
    receiver = await startHttpReceiver();
    const url = `${receiver.origin}/hook`;
    const rules = loadAlertingRules({
      alarm_definitions: [{ name: 'high-cpu', tenant_id: 'acme', metric: 'cpu.percent', function: 'max', operator: '>', threshold: 90, webhooks: [url], match_by: ['hostname'] }],
      evaluation: { interval_ms: 5, delay_ms: 0, definitions_poll_ms: 50 },
      notification: { poll_interval_ms: 5, http: { allow_private_addresses: true } },
    });
    if (!rules.ok) throw new Error(rules.error);
    const bus = new MemoryBus({ capacity: 1000, maxBatch: 100 });
    const store = await openSqliteAlarmStore(':memory:');
    const nowMs = Date.now();
    const counters = new Counters();
    const alerting = await startAlerting({ bus, groupId: 'kansoku-alerting', rules: rules.value, store, counters, logger: pino({ level: 'silent' }), now: Date.now });

    const [definition] = await store.listDefinitions({ tenantId: 'acme', offset: 0, limit: 10 });
    expect(definition).toMatchObject({ name: 'high-cpu', expression: 'max(cpu.percent, 60) > 90.0', matchBy: ['hostname'] });

    const transitions: string[] = [];
    const reader = bus.consumer('reader');
    await reader.run([TRANSITIONS_TOPIC], (batch) => {
      for (const m of batch.messages) {
        const decoded = decodeTransitionEvent(m.value);
        if (decoded.ok) transitions.push(decoded.value['alarm-transitioned'].newState);
      }
      return Promise.resolve({ kind: 'commit' });
    });

    const publish = (tenantId: string, value: number) =>
      bus.producer().publish(TOPICS.metrics, [{ key: tenantId, value: metricCodec.encode(metricEnvelope({ name: 'cpu.percent', dimensions: { hostname: 'h1' }, timestamp: nowMs, value, value_meta: null }, { tenantId, region: 'local' }, nowMs)) }]);
    await publish('globex', 99); // another tenant's: moves nothing of acme's
    await publish('acme', 99); // max > 90 goes to ALARM before its minute ends
    await vi.waitFor(() => expect(transitions).toEqual(['ALARM']), PATIENT);
    await vi.waitFor(() => expect(receiver?.received).toHaveLength(1), PATIENT);

    const request = receiver.received[0];
    const body = request?.json() as { alarm_name: string; state: string; tenant_id: string; metrics: unknown[] };
    expect(body).toMatchObject({ alarm_name: 'high-cpu', state: 'ALARM', tenant_id: 'acme', metrics: [{ name: 'cpu.percent', dimensions: { hostname: 'h1' } }] });
    const methodId = stableId('notification-method', 'acme', url);
    const method = await store.getNotificationMethod('acme', methodId);
    expect(method?.secret).toBeTruthy();
    expect(verifyKansokuSignature(request?.body ?? Buffer.alloc(0), request?.headers['x-kansoku-signature'] as string, method?.secret ?? '')).toBe(true);

    const [alarm] = await store.listAlarms({ tenantId: 'acme', offset: 0, limit: 10 });
    expect(alarm).toMatchObject({ state: 'ALARM', matchBy: { hostname: 'h1' }, definitionName: 'high-cpu' });
    const history = await store.listHistory({ tenantId: 'acme', offset: 0, limit: 10 });
    expect(history.map((h) => `${h.oldState}>${h.newState}`)).toEqual(['UNDETERMINED>ALARM']);
    expect(await store.listAlarms({ tenantId: 'globex', offset: 0, limit: 10 })).toEqual([]);
    expect(counters.total('kansoku_alerting_measurements_total')).toBe(2);

    const stopped = alerting.stop();
    expect(alerting.stop()).toBe(stopped);
    await stopped;
    await reader.stop();
    expect(bus.backlog(TOPICS.metrics)).toBe(0);
    await store.close();
  });
});
