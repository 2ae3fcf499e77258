import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AlarmState } from '../alarmState.js';
import type { Severity } from '../store/alarmStore.js';
import { startHttpReceiver, type HttpReceiver } from './httpReceiver.testkit.js';
import { methodFor, notificationFor } from './notification.testkit.js';
import { PagerdutySender, type PagerdutyEvent } from './pagerdutySender.js';
import { SafeHttpClient } from './safeHttp.js';

const ROUTING_KEY = 'R0UT1NGK3Y0000000000000000000000';

describe('PagerdutySender', () => {
  let receiver: HttpReceiver;
  let sender: PagerdutySender;
  const signal = new AbortController().signal;

  beforeAll(async () => {
    receiver = await startHttpReceiver();
    sender = new PagerdutySender(new SafeHttpClient({ timeoutMs: 2_000, maxRequestBytes: 64 * 1024, maxResponseBytes: 1024, allowPrivateAddresses: true }), `${receiver.origin}/v2/enqueue`);
  });
  afterAll(() => receiver.close());
  beforeEach(() => {
    (receiver.received as unknown[]).length = 0;
  });

  it('POSTs an Events API v2 trigger to the configured URL, keyed by the method address', async () => {
    receiver.reply({ status: 202, headers: { 'content-type': 'application/json' }, bodyBytes: 64 });
    const outcome = await sender.send(notificationFor(), methodFor('PAGERDUTY', ROUTING_KEY), signal);
    expect(outcome).toEqual({ kind: 'sent' });
    const [request] = receiver.received;
    expect(request?.path).toBe('/v2/enqueue');
    expect(request?.headers['content-type']).toBe('application/json');
    expect(request?.json()).toEqual({
      routing_key: ROUTING_KEY,
      event_action: 'trigger',
      dedup_key: 'a1b2c3d4-0000-0000-0000-000000000001',
      payload: {
        summary: 'ALARM HIGH "high-cpu" on node-1: Thresholds were exceeded for the sub-alarms: avg(cpu.percent, 60) > 90 with the values: [95]',
        source: 'node-1',
        severity: 'error',
        timestamp: '2023-11-14T22:13:20.999Z',
        component: 'cpu.percent',
        group: 'acme',
        class: 'high-cpu',
        custom_details: {
          alarm_id: 'a1b2c3d4-0000-0000-0000-000000000001',
          alarm_definition_id: 'def-0001',
          alarm_description: 'CPU above 90% for a minute',
          state: 'ALARM',
          old_state: 'OK',
          message: 'Thresholds were exceeded for the sub-alarms: avg(cpu.percent, 60) > 90 with the values: [95]',
          tenant_id: 'acme',
          metrics: [{ name: 'cpu.percent', dimensions: { hostname: 'node-1', service: 'compute' } }],
        },
      },
    });
  });

  it.each<[AlarmState, Severity, PagerdutyEvent['event_action'], PagerdutyEvent['payload']['severity']]>([
    ['ALARM', 'LOW', 'trigger', 'info'],
    ['ALARM', 'MEDIUM', 'trigger', 'warning'],
    ['ALARM', 'HIGH', 'trigger', 'error'],
    ['ALARM', 'CRITICAL', 'trigger', 'critical'],
    ['OK', 'CRITICAL', 'resolve', 'critical'],
    ['UNDETERMINED', 'MEDIUM', 'trigger', 'warning'],
  ])('%s with severity %s → %s, %s', async (state, severity, action, pdSeverity) => {
    await sender.send(notificationFor({ state, severity }), methodFor('PAGERDUTY', ROUTING_KEY), signal);
    const event = receiver.received[0]?.json() as PagerdutyEvent;
    expect(event.event_action).toBe(action);
    expect(event.payload.severity).toBe(pdSeverity);
    expect(event.dedup_key).toBe('a1b2c3d4-0000-0000-0000-000000000001');
  });

  it('names the tenant as source when the metrics have no single host, and cuts a long summary to 1024', async () => {
    const notification = notificationFor({
      message: 'x'.repeat(5000),
      metrics: [
        { name: 'cpu.percent', dimensions: { hostname: 'a' } },
        { name: 'cpu.percent', dimensions: { hostname: 'b' } },
      ],
    });
    await sender.send(notification, methodFor('PAGERDUTY', ROUTING_KEY), signal);
    const event = receiver.received[0]?.json() as PagerdutyEvent;
    expect(event.payload.source).toBe('kansoku/acme');
    expect(event.payload.summary).toHaveLength(1024);
  });

  it('maps PagerDuty answers: 400 invalid event rejected, 429 retryable with Retry-After, 500 retryable', async () => {
    receiver.reply({ status: 400 }, { status: 429, headers: { 'retry-after': '5' } }, { status: 500 });
    const method = methodFor('PAGERDUTY', ROUTING_KEY);
    expect(await sender.send(notificationFor(), method, signal)).toEqual({ kind: 'rejected', error: 'HTTP 400' });
    expect(await sender.send(notificationFor(), method, signal)).toEqual({ kind: 'retryable', error: 'HTTP 429', delayMs: 5_000 });
    expect(await sender.send(notificationFor(), method, signal)).toEqual({ kind: 'retryable', error: 'HTTP 500' });
  });
});
