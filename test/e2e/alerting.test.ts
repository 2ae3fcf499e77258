import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebhookServer, type WebhookServer } from '../../alerting/webhookServer.testkit.js';
import { startKafkaMockCluster, type KafkaMockCluster } from '../kafka/mockCluster.js';
import { eventually, runKansoku, type KansokuProcess } from '../support/kansokuProcess.js';
import { kafkaEnv } from '../support/pipelineFixtures.js';

/**
 * `kansoku alerting` as a process on Kafka: an alarm definition from the YAML file,
 * measurements on the `metrics` topic, notifications at a real webhook and Monasca's
 * transition events on `alarm-state-transitions`; another tenant's data never moves it.
 */
describe('kansoku alerting on Kafka', () => {
  let kafka: KafkaMockCluster;
  let webhook: WebhookServer;
  let alerting: KansokuProcess;
  let dir: string;

  beforeAll(async () => {
    [kafka, webhook] = await Promise.all([
      startKafkaMockCluster({ brokers: 1, topics: { metrics: 2, 'alarm-state-transitions': 1, 'kansoku-dead-letter': 1 } }),
      startWebhookServer(),
    ]);
    dir = mkdtempSync(join(tmpdir(), 'kansoku-alerting-'));
    const config = join(dir, 'kansoku.yaml');
    writeFileSync(
      config,
      [
        'alerting:',
        '  evaluation:',
        '    interval_ms: 200',
        '  alarm_definitions:',
        '    - name: high load',
        '      tenant_id: shop',
        '      metric: e2e.load',
        '      function: max',
        '      period_seconds: 2',
        '      operator: ">"',
        '      threshold: 5',
        '      severity: HIGH',
        '      match_by: [hostname]',
        `      webhooks: ["${webhook.url}"]`,
        '',
      ].join('\n'),
    );
    alerting = runKansoku(['alerting', '--config', config], {
      ...kafkaEnv(kafka.brokers),
    });
    await alerting.waitFor(/alert engine started/, 60_000);
  }, 120_000);

  afterAll(async () => {
    await alerting?.stop();
    await Promise.all([kafka?.stop(), webhook?.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  async function publish(tenantId: string, value: number): Promise<void> {
    const producer = new Kafka({ brokers: [...kafka.brokers], clientId: 'e2e-alerting', logLevel: logLevel.NOTHING }).producer();
    await producer.connect();
    const envelope = { metric: { name: 'e2e.load', dimensions: { hostname: 'h1' }, timestamp: Date.now(), value, value_meta: null }, meta: { tenantId, region: 'r' }, creation_time: Math.floor(Date.now() / 1000) };
    await producer.send({ topic: 'metrics', messages: [{ key: tenantId, value: JSON.stringify(envelope) }] });
    await producer.disconnect();
  }

  const states = (): string[] => webhook.received.map((r) => (r.body as { state: string }).state);

  it('raises the alarm on its own tenant only, and clears it', async () => {
    await publish('other-tenant', 99);
    await new Promise((r) => setTimeout(r, 1000));
    expect(webhook.received).toEqual([]);

    await publish('shop', 9);
    await eventually(() => Promise.resolve(states()), (s) => s.includes('ALARM'), 30_000, 100);
    const alarm = webhook.received.find((r) => (r.body as { state: string }).state === 'ALARM');
    expect(alarm?.method).toBe('POST');
    expect(alarm?.body).toMatchObject({ alarm_name: 'high load', tenant_id: 'shop', state: 'ALARM', metrics: [{ name: 'e2e.load', dimensions: { hostname: 'h1' } }] });

    await new Promise((r) => setTimeout(r, 2100));
    await publish('shop', 1);
    await eventually(() => Promise.resolve(states()), (s) => s.includes('OK'), 30_000, 100);
    expect(states().filter((s) => s !== 'UNDETERMINED')).toEqual(['ALARM', 'OK']);
    expect(webhook.received.every((r) => (r.body as { tenant_id: string }).tenant_id === 'shop')).toBe(true);
  });

  it("publishes Monasca's transition events on alarm-state-transitions", async () => {
    const consumer = new Kafka({ brokers: [...kafka.brokers], clientId: 'e2e-transitions', logLevel: logLevel.NOTHING }).consumer({ groupId: 'e2e-reader', sessionTimeout: 4000, heartbeatInterval: 300, maxWaitTimeInMs: 100 });
    const events: { 'alarm-transitioned'?: { newState: string; tenantId: string; alarmName: string } }[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic: 'alarm-state-transitions', fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void events.push(JSON.parse(message.value?.toString() ?? '{}') as (typeof events)[number]) });
    await eventually(() => Promise.resolve(events.length), (n) => n >= 2, 30_000, 100);
    await consumer.disconnect();
    const transitioned = events.map((e) => e['alarm-transitioned']);
    expect(transitioned.map((t) => t?.newState)).toEqual(expect.arrayContaining(['ALARM', 'OK']));
    expect(transitioned.every((t) => t?.tenantId === 'shop' && t.alarmName === 'high load')).toBe(true);
  });
});
