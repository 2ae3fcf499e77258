import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AlarmState } from '../alarmState.js';
import type { Severity } from '../store/alarmStore.js';
import { startHttpReceiver, type HttpReceiver } from './httpReceiver.testkit.js';
import { methodFor, notificationFor } from './notification.testkit.js';
import { SafeHttpClient } from './safeHttp.js';
import { SlackSender, type SlackMessage } from './slackSender.js';

describe('SlackSender', () => {
  let receiver: HttpReceiver;
  const sender = new SlackSender(new SafeHttpClient({ timeoutMs: 2_000, maxRequestBytes: 64 * 1024, maxResponseBytes: 1024, allowPrivateAddresses: true }));
  const signal = new AbortController().signal;

  beforeAll(async () => {
    receiver = await startHttpReceiver();
  });
  afterAll(() => receiver.close());
  beforeEach(() => {
    (receiver.received as unknown[]).length = 0;
  });

  it('POSTs an incoming-webhook message to the method address', async () => {
    const outcome = await sender.send(notificationFor({ link: 'https://runbooks.example.com/cpu' }), methodFor('SLACK', `${receiver.origin}/services/T0/B0/X`), signal);
    expect(outcome).toEqual({ kind: 'sent' });
    const [request] = receiver.received;
    expect(request?.path).toBe('/services/T0/B0/X');
    expect(request?.headers['content-type']).toBe('application/json');
    const message = request?.json() as SlackMessage;
    expect(message.text).toBe('ALARM HIGH "high-cpu" on node-1 (was OK)');
    expect(message.attachments).toHaveLength(1);
    expect(message.attachments[0]).toMatchObject({
      color: '#e8713c',
      title: 'high-cpu',
      text: 'CPU above 90% for a minute\nThresholds were exceeded for the sub-alarms: avg(cpu.percent, 60) > 90 with the values: [95]',
      ts: 1_700_000_000,
      footer: 'Kansoku',
    });
    expect(message.attachments[0]?.fields).toEqual([
      { title: 'State', value: 'OK → ALARM', short: true },
      { title: 'Severity', value: 'HIGH', short: true },
      { title: 'Alarm id', value: 'a1b2c3d4-0000-0000-0000-000000000001', short: true },
      { title: 'Tenant', value: 'acme', short: true },
      { title: 'Metrics', value: 'cpu.percent{hostname=node-1, service=compute}', short: false },
      { title: 'Link', value: 'https://runbooks.example.com/cpu', short: false },
    ]);
  });

  it.each<[string, AlarmState, Severity, string]>([
    ['LOW alarm', 'ALARM', 'LOW', '#439fe0'],
    ['MEDIUM alarm', 'ALARM', 'MEDIUM', '#daa038'],
    ['HIGH alarm', 'ALARM', 'HIGH', '#e8713c'],
    ['CRITICAL alarm', 'ALARM', 'CRITICAL', '#d00000'],
    ['back to OK', 'OK', 'CRITICAL', '#2eb886'],
    ['no data', 'UNDETERMINED', 'CRITICAL', '#9e9e9e'],
  ])('colours a %s %s', async (_name, state, severity, colour) => {
    await sender.send(notificationFor({ state, severity }), methodFor('SLACK', `${receiver.origin}/hook`), signal);
    expect((receiver.received[0]?.json() as SlackMessage).attachments[0]?.color).toBe(colour);
  });

  it('says a repeat is a reminder', async () => {
    await sender.send(notificationFor({ kind: 'repeat' }), methodFor('SLACK', `${receiver.origin}/hook`), signal);
    expect((receiver.received[0]?.json() as SlackMessage).attachments[0]?.footer).toContain('reminder');
  });

  it('maps Slack errors: 404 no_service rejected, 500 retryable', async () => {
    receiver.reply({ status: 404 }, { status: 500 });
    const method = methodFor('SLACK', `${receiver.origin}/hook`);
    expect(await sender.send(notificationFor(), method, signal)).toEqual({ kind: 'rejected', error: 'HTTP 404' });
    expect(await sender.send(notificationFor(), method, signal)).toEqual({ kind: 'retryable', error: 'HTTP 500' });
  });
});
