import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpReceiver, type HttpReceiver } from '../../alerting/notify/httpReceiver.testkit.js';
import { verifyKansokuSignature } from '../../alerting/notify/webhookSender.js';
import { startKafkaMockCluster, type KafkaMockCluster } from '../kafka/mockCluster.js';
import { withoutTimestamps } from '../support/cadvisorPages.js';
import { eventually, freePort, runKansoku, type KansokuProcess } from '../support/kansokuProcess.js';
import { serveKubeletPage, type KubeletStandIn } from '../support/kubeletStandIn.js';
import { KUBELET_PAGE, PIPELINE_TOPICS, kafkaEnv } from '../support/pipelineFixtures.js';
import { startPostgres, type RunningPostgres } from '../support/postgres.js';
import { counterValue, readSelfMetrics } from '../support/selfMetrics.js';
import { startSmtpServer, type SmtpTestServer } from '../support/smtpServer.js';

/**
 * The alert engine on real components: the real 1.25 kubelet page → `kansoku agent` →
 * Kafka (librdkafka's mock cluster) → `kansoku alerting` on PostgreSQL → a transition →
 * a signed webhook at an HTTP receiver and an email at Debian's aiosmtpd. Definitions and
 * notification methods are made through `kansoku server`'s Monasca API on the same store.
 * Then the engine is killed with SIGKILL while a webhook is in flight: a new engine sends
 * it again (at-least-once), counted as a redelivery, and no transition is made twice.
 */
describe('alert engine end to end: agent → Kafka → engine (PostgreSQL) → signed webhook and email', () => {
  let kafka: KafkaMockCluster;
  let postgres: RunningPostgres;
  let smtp: SmtpTestServer;
  let receiver: HttpReceiver;
  let kubelet: KubeletStandIn;
  let server: KansokuProcess;
  let alerting: KansokuProcess;
  let dir: string;
  let api: string;
  let config: string;
  let telemetryPort: number;
  let env: Record<string, string>;

  beforeAll(async () => {
    [kafka, postgres, smtp, receiver, kubelet] = await Promise.all([
      startKafkaMockCluster({ brokers: 1, topics: PIPELINE_TOPICS }),
      startPostgres(),
      startSmtpServer(),
      startHttpReceiver(),
      // Without timestamps the samples carry the scrape's time: the alarm windows are about now.
      serveKubeletPage(withoutTimestamps(KUBELET_PAGE)),
    ]);
    dir = mkdtempSync(join(tmpdir(), 'kansoku-alert-e2e-'));
    config = join(dir, 'kansoku.yaml');
    writeFileSync(
      config,
      [
        'alerting:',
        '  evaluation: { interval_ms: 200, delay_ms: 1000, definitions_poll_ms: 300, catch_up_timeout_ms: 3000 }',
        `  store: { kind: postgres, postgres_url: "${postgres.connectionString}" }`,
        '  notification:',
        '    poll_interval_ms: 100',
        '    lease_ms: 2000',
        '    retry: { initial_delay_ms: 200, max_delay_ms: 1000 }',
        '    http: { allow_private_addresses: true, timeout_ms: 30000 }',
        `    email: { host: 127.0.0.1, port: ${smtp.port}, from: kansoku@example.test, starttls: never }`,
        'server:',
        `  sqlite: { path: "${join(dir, 'metrics.db')}" }`,
        '',
      ].join('\n'),
    );
    const apiPort = await freePort();
    telemetryPort = await freePort();
    api = `http://127.0.0.1:${apiPort}`;
    env = {
      ...kafkaEnv(kafka.brokers),
      KANSOKU_AUTH_TOKENS: 'tok-kube:kube-system:monasca-user,tok-scraper:scraper:monasca-user',
      KANSOKU_SERVER__API__PORT: String(apiPort),
      KANSOKU_ALERTING__TELEMETRY__PORT: String(telemetryPort),
    };
    server = runKansoku(['server', '--config', config], env);
    alerting = runKansoku(['alerting', '--config', config], env);
    await Promise.all([server.waitFor(/tenant API listening/, 60_000), alerting.waitFor(/alert engine started/, 60_000)]);
  }, 180_000);

  afterAll(async () => {
    await Promise.all([server?.stop(), alerting?.stop()]);
    await Promise.all([kafka?.stop(), postgres?.stop(), smtp?.stop(), receiver?.close(), kubelet?.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  async function call(token: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
    const res = await fetch(`${api}/v2.0${path}`, {
      method,
      headers: { 'x-auth-token': token, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, json: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
  }

  let secret = '';
  let hookId = '';
  let definitionId = '';

  it('raises an alarm from the agent\'s measurements and notifies a signed webhook and an email', async () => {
    const hook = await call('tok-kube', 'POST', '/notification-methods', { name: 'ops hook', type: 'WEBHOOK', address: `${receiver.origin}/hook` });
    expect(hook.status, JSON.stringify(hook.json)).toBe(201);
    secret = String(hook.json['secret']);
    hookId = String(hook.json['id']);
    expect(secret.length).toBeGreaterThanOrEqual(32);
    const mail = await call('tok-kube', 'POST', '/notification-methods', { name: 'ops mail', type: 'EMAIL', address: 'ops@example.test' });
    expect(mail.status, JSON.stringify(mail.json)).toBe(201);
    const created = await call('tok-kube', 'POST', '/alarm-definitions', {
      name: 'kube-system cpu seen',
      expression: 'max(container.cpu.total_time{namespace=kube-system}) > 0',
      severity: 'HIGH',
      alarm_actions: [hook.json['id'], mail.json['id']],
    });
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    definitionId = String(created.json['id']);
    // The engine re-reads definitions when the store's revision moves: once at start, once for this one.
    await eventually(() => readSelfMetrics(`http://127.0.0.1:${telemetryPort}`), (t) => counterValue(t, 'kansoku_alerting_definition_reloads_total') >= 2, 30_000, 100);

    const agent = runKansoku(['agent', '--once', '--output', 'bus', '--kubelet-url', kubelet.url, '--hostname', 'node-e2e'], env);
    expect(await agent.exited(), agent.stderr()).toBe(0);

    await eventually(() => Promise.resolve(receiver.received.length), (n) => n >= 1, 30_000, 100);
    const [request] = receiver.received;
    if (!request) throw new Error('no webhook');
    expect(verifyKansokuSignature(request.body, request.headers['x-kansoku-signature'] as string, secret)).toBe(true);
    expect(verifyKansokuSignature(request.body, request.headers['x-kansoku-signature'] as string, 'not-the-secret')).toBe(false);
    const body = request.json() as { alarm_name: string; alarm_definition_id: string; state: string; old_state: string; tenant_id: string; metrics: { name: string; dimensions: Record<string, string> }[] };
    expect(body).toMatchObject({ alarm_name: 'kube-system cpu seen', alarm_definition_id: definitionId, state: 'ALARM', old_state: 'UNDETERMINED', tenant_id: 'kube-system' });
    expect(body.metrics.length).toBeGreaterThan(0);
    expect(body.metrics.every((m) => m.name === 'container.cpu.total_time' && m.dimensions['namespace'] === 'kube-system')).toBe(true);

    const [email] = await smtp.waitForMessages(1, 30_000);
    expect(email?.to).toContain('ops@example.test');
    expect(email?.from).toContain('kansoku@example.test');
    expect(email?.subject).toContain('kube-system cpu seen');
    expect(email?.subject).toContain('ALARM');
    expect(email?.body).toContain('container.cpu.total_time');
  }, 120_000);

  it('shows the alarm and its history through the API to its tenant only', async () => {
    const alarms = await call('tok-kube', 'GET', `/alarms?alarm_definition_id=${definitionId}`);
    const elements = alarms.json['elements'] as { id: string; state: string; alarm_definition: { name: string } }[];
    expect(elements.map((a) => [a.state, a.alarm_definition.name])).toEqual([['ALARM', 'kube-system cpu seen']]);
    const history = await call('tok-kube', 'GET', `/alarms/${elements[0]?.id}/state-history`);
    expect((history.json['elements'] as { old_state: string; new_state: string }[]).map((h) => `${h.old_state}>${h.new_state}`)).toEqual(['UNDETERMINED>ALARM']);

    const other = await call('tok-scraper', 'GET', '/alarms');
    expect(other.status).toBe(200);
    expect(other.json['elements']).toEqual([]);
    expect((await call('tok-scraper', 'GET', `/alarms/${elements[0]?.id}`)).status).toBe(404);
    expect((await call('tok-scraper', 'GET', `/alarm-definitions/${definitionId}`)).status).toBe(404);
  });

  it('sends a webhook again after the engine is killed mid-send, without a second transition', async () => {
    // The receiver holds the next request open: the send is in flight when the engine dies.
    receiver.reply({ status: 200, hang: true });
    const before = receiver.received.length;
    const patched = await call('tok-kube', 'PATCH', `/alarm-definitions/${definitionId}`, { expression: 'max(container.cpu.total_time{namespace=kube-system}) > 1000000000', ok_actions: [hookId] });
    expect(patched.status, JSON.stringify(patched.json)).toBe(200);
    // A threshold no container reaches: the next minute's view makes it OK, and the OK goes to the hook.
    const ok = await eventually(() => Promise.resolve(receiver.received.slice(before)), (r) => r.some((q) => (q.json() as { state: string }).state === 'OK'), 120_000, 200);
    const sent = ok.find((q) => (q.json() as { state: string }).state === 'OK');
    alerting.child.kill('SIGKILL');
    await alerting.exited();

    alerting = runKansoku(['alerting', '--config', config], env);
    await alerting.waitFor(/alert engine started/, 60_000);
    // After the lease (2 s) the new notifier claims the delivery and sends the same notification again.
    const again = await eventually(
      () => Promise.resolve(receiver.received.filter((q) => q.body.equals(sent?.body ?? Buffer.alloc(0)))),
      (r) => r.length >= 2,
      60_000,
      200,
    );
    expect(again).toHaveLength(2);
    const text = await eventually(() => readSelfMetrics(`http://127.0.0.1:${telemetryPort}`), (t) => counterValue(t, 'kansoku_notifications_sent_total') >= 1, 30_000, 100);
    expect(counterValue(text, 'kansoku_notifications_redelivered_total')).toBeGreaterThanOrEqual(1);

    const alarms = await call('tok-kube', 'GET', `/alarms?alarm_definition_id=${definitionId}`);
    const [alarm] = alarms.json['elements'] as { id: string; state: string }[];
    expect(alarm?.state).toBe('OK');
    const history = await call('tok-kube', 'GET', `/alarms/${alarm?.id}/state-history`);
    expect((history.json['elements'] as { old_state: string; new_state: string }[]).map((h) => `${h.old_state}>${h.new_state}`)).toEqual(['UNDETERMINED>ALARM', 'ALARM>OK']);
  }, 240_000);
});
