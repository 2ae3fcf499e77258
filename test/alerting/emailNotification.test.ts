import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { notificationDefaults } from '../../alerting/notify/config.js';
import { EmailSender } from '../../alerting/notify/emailSender.js';
import { methodFor, notificationFor } from '../../alerting/notify/notification.testkit.js';
import { NOTIFIER_COUNTERS, Notifier } from '../../alerting/notify/notifier.js';
import { openSqliteAlarmStore } from '../../alerting/store/sqliteAlarmStore.js';
import { Counters } from '../../core/counters.js';
import { startSmtpServer, type SmtpTestServer } from '../support/smtpServer.js';

// The email sender against a real SMTP server (aiosmtpd): what arrives is what a mail client would show.
describe('EMAIL notifications through aiosmtpd', () => {
  let smtp: SmtpTestServer;
  let sender: EmailSender;
  const signal = new AbortController().signal;

  beforeAll(async () => {
    smtp = await startSmtpServer();
    const settings = notificationDefaults({ email: { host: smtp.host, port: smtp.port, from: 'kansoku@alerts.example.com', starttls: 'never' } }).email;
    sender = new EmailSender(settings);
  });
  afterAll(async () => {
    sender?.close();
    await smtp?.stop();
  });

  it('delivers the alarm with Monasca-style subject and body', async () => {
    const notification = notificationFor({ link: 'https://runbooks.example.com/cpu', lifecycleState: 'OPEN' });
    const outcome = await sender.send(notification, methodFor('EMAIL', 'ops@example.com'), signal);
    expect(outcome).toEqual({ kind: 'sent' });

    const [message] = await smtp.waitForMessages(1);
    expect(message?.from).toBe('kansoku@alerts.example.com');
    expect(message?.to).toBe('ops@example.com');
    expect(message?.subject).toBe('ALARM HIGH "high-cpu" for Host: node-1');
    expect(message?.headers.get('content-type')).toMatch(/^text\/plain/);
    const body = message?.body ?? '';
    expect(body).toContain('On host "node-1": Thresholds were exceeded for the sub-alarms: avg(cpu.percent, 60) > 90 with the values: [95]');
    expect(body).toContain('Alarm "high-cpu" transitioned from the OK to the ALARM state at Tue Nov 14 22:13:20 2023 UTC');
    expect(body).toContain('alarm_id: a1b2c3d4-0000-0000-0000-000000000001');
    expect(body).toContain('Severity: HIGH');
    expect(body).toContain('Description: CPU above 90% for a minute');
    expect(body).toContain('Lifecycle state: OPEN');
    expect(body).toContain('Link: https://runbooks.example.com/cpu');
    expect(body).toContain('__name__: cpu.percent');
    expect(body).toContain('hostname: node-1');
    expect(body).toContain('service: compute');
  });

  it('words a recovery over several hosts and a non-ASCII name', async () => {
    const before = (await smtp.messages()).length;
    const notification = notificationFor({
      alarmName: 'disk ünïcødé',
      state: 'OK',
      oldState: 'ALARM',
      severity: 'LOW',
      message: 'The alarm threshold(s) have not been exceeded',
      metrics: [
        { name: 'disk.used', dimensions: { hostname: 'a' } },
        { name: 'disk.used', dimensions: { hostname: 'b' } },
      ],
    });
    expect(await sender.send(notification, methodFor('EMAIL', 'team@example.org'), signal)).toEqual({ kind: 'sent' });
    const message = (await smtp.waitForMessages(before + 1))[before];
    expect(message?.to).toBe('team@example.org');
    expect(message?.subject).toBe('OK LOW "disk ünïcødé"');
    expect(message?.body).toContain('On multiple hosts: The alarm threshold(s) have not been exceeded');
    expect(message?.body).toContain('Alarm "disk ünïcødé" transitioned from the ALARM to the OK state');
  });

  it('a Notifier sends an EMAIL method\'s delivery from the outbox and completes it', async () => {
    const T0 = Date.UTC(2026, 10, 26, 12, 0, 0);
    const store = await openSqliteAlarmStore(':memory:');
    try {
      const method = await store.createNotificationMethod({ tenantId: 'acme', name: 'on-call', type: 'EMAIL', address: 'oncall@example.net', periodSeconds: 0, secret: null }, T0);
      const definition = await store.createDefinition(
        { tenantId: 'acme', name: 'api latency', description: 'p99 over 2 s', expression: 'avg(http.latency_p99) > 2', matchBy: [], severity: 'CRITICAL', alarmActions: [method.id], okActions: [], undeterminedActions: [], actionsEnabled: true },
        T0,
      );
      const metrics = [{ name: 'http.latency_p99', dimensions: { hostname: 'api-7' } }];
      await store.checkpoint({
        offsets: new Map(),
        alarms: [{ id: 'alarm-9', tenantId: 'acme', definitionId: definition.id, matchBy: {}, metrics, state: 'ALARM', lifecycleState: null, link: null, partition: 0, subAlarms: [], stateUpdatedAtMs: T0, createdAtMs: T0, updatedAtMs: T0 }],
        transitions: [{ id: 'tr-9', tenantId: 'acme', alarmId: 'alarm-9', definitionId: definition.id, oldState: 'OK', newState: 'ALARM', reason: 'latency above 2 s', reasonData: '{}', subAlarms: [], metrics, timestampMs: T0 }],
        deliveries: [{ id: 'del-9', tenantId: 'acme', transitionId: 'tr-9', alarmId: 'alarm-9', methodId: method.id, kind: 'transition', dueAtMs: T0, attempts: 0, lastError: null }],
      });
      const counters = new Counters();
      const before = (await smtp.messages()).length;
      const notifier = new Notifier({ store, senders: new Map([['EMAIL', sender]]), settings: notificationDefaults(), counters, owner: 'email-test', now: () => T0 + 1 });
      expect(await notifier.pollOnce()).toBe(1);
      await notifier.stop();
      expect(counters.get(NOTIFIER_COUNTERS.sent, { type: 'EMAIL' })).toBe(1);
      const message = (await smtp.waitForMessages(before + 1))[before];
      expect(message?.to).toBe('oncall@example.net');
      expect(message?.subject).toBe('ALARM CRITICAL "api latency" for Host: api-7');
      expect(message?.body).toContain('On host "api-7": latency above 2 s');
      expect(await store.claimDeliveries(T0 + 10 ** 9, 1, 'inspector', 10)).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it('says loudly when aiosmtpd is not installed', async () => {
    await expect(startSmtpServer({ binary: '/nonexistent/aiosmtpd' })).rejects.toThrow('AIOSMTPD NOT INSTALLED: apt-get install python3-aiosmtpd (scripts/system-deps.sh)');
  });

  it('is retryable when no SMTP server answers', async () => {
    const unreachable = new EmailSender(notificationDefaults({ email: { host: '127.0.0.1', port: 1, connection_timeout_ms: 2_000 } }).email);
    const outcome = await unreachable.send(notificationFor(), methodFor('EMAIL', 'ops@example.com'), signal);
    expect(outcome).toMatchObject({ kind: 'retryable', error: expect.stringContaining('ECONNREFUSED') as unknown });
    unreachable.close();
  });
});
