import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpReceiver, type HttpReceiver } from '../../alerting/notify/httpReceiver.testkit.js';
import { startKafkaMockCluster, type KafkaMockCluster } from '../kafka/mockCluster.js';
import { eventually, freePort, runKansoku, type KansokuProcess } from '../support/kansokuProcess.js';
import { kafkaEnv } from '../support/pipelineFixtures.js';
import { counterValue, readSelfMetrics } from '../support/selfMetrics.js';

/**
 * `kansoku alerting` as a process on Kafka: an alarm definition from the YAML file,
 * measurements on the `metrics` topic, notifications at a real webhook and Monasca's
 * transition events on `alarm-state-transitions`; another tenant's data never moves it.
 *
 * "No webhook came" is asserted only once the daemon's own counters prove that the input
 * was read and every transition it made was notified, never after a pause.
 */
describe('kansoku alerting on Kafka', () => {
  let kafka: KafkaMockCluster;
  let webhook: HttpReceiver;
  let alerting: KansokuProcess;
  let telemetry: string;
  let producer: Producer;
  let dir: string;

  beforeAll(async () => {
    [kafka, webhook] = await Promise.all([
      startKafkaMockCluster({ brokers: 1, topics: { metrics: 2, 'alarm-state-transitions': 1, 'kansoku-dead-letter': 1 } }),
      startHttpReceiver(),
    ]);
    dir = mkdtempSync(join(tmpdir(), 'kansoku-alerting-'));
    const config = join(dir, 'kansoku.yaml');
    writeFileSync(
      config,
      [
        'alerting:',
        '  evaluation:',
        '    interval_ms: 200',
        '    delay_ms: 500',
        `  store: { sqlite_path: "${join(dir, 'alarms.db')}" }`,
        // The receiver is on 127.0.0.1: the SSRF guard lets internal addresses through only when told to.
        '  notification: { poll_interval_ms: 100, http: { allow_private_addresses: true } }',
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
        `      webhooks: ["${webhook.origin}/hook"]`,
        '',
      ].join('\n'),
    );
    const port = await freePort();
    telemetry = `http://127.0.0.1:${port}`;
    alerting = runKansoku(['alerting', '--config', config], {
      ...kafkaEnv(kafka.brokers),
      KANSOKU_ALERTING__TELEMETRY__PORT: String(port),
    });
    producer = new Kafka({ brokers: [...kafka.brokers], clientId: 'e2e-alerting', logLevel: logLevel.NOTHING }).producer();
    await Promise.all([alerting.waitFor(/alert engine started/, 60_000), alerting.waitFor(/self-metrics at \/metrics/, 60_000), producer.connect()]);
  }, 120_000);

  afterAll(async () => {
    await producer?.disconnect();
    await alerting?.stop();
    await Promise.all([kafka?.stop(), webhook?.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  async function publish(tenantId: string, value: number): Promise<void> {
    const envelope = { metric: { name: 'e2e.load', dimensions: { hostname: 'h1' }, timestamp: Date.now(), value, value_meta: null }, meta: { tenantId, region: 'r' }, creation_time: Math.floor(Date.now() / 1000) };
    await producer.send({ topic: 'metrics', messages: [{ key: tenantId, value: JSON.stringify(envelope) }] });
  }

  /** A counter of the daemon's once it has reached `atLeast` (or the deadline passed: the caller's expect then fails). */
  async function counterReaching(name: string, atLeast: number): Promise<number> {
    const text = await eventually(() => readSelfMetrics(telemetry), (t) => counterValue(t, name) >= atLeast, 30_000, 100);
    return counterValue(text, name);
  }

  /**
   * Waits until every transition the engine made so far has reached the webhook: each one
   * is counted before it is handed to the notifier, and the one definition has one webhook.
   */
  async function allTransitionsNotified(): Promise<void> {
    const transitions = counterValue(await readSelfMetrics(telemetry), 'kansoku_alerting_transitions_total');
    expect(transitions).toBeGreaterThan(0);
    await eventually(() => Promise.resolve(webhook.received.length), (n) => n >= transitions, 30_000, 100);
    expect(webhook.received.length).toBeGreaterThanOrEqual(transitions);
  }

  const states = (): string[] => webhook.received.map((r) => (r.json() as { state: string }).state);

  it('raises the alarm on its own tenant only, and clears it', async () => {
    await publish('other-tenant', 99);
    // Read (the engine counted it) before shop's measurement is sent: so the evaluation that
    // raises shop's alarm, or an earlier one, has seen it too.
    expect(await counterReaching('kansoku_alerting_measurements_total', 1)).toBe(1);

    await publish('shop', 9);
    await eventually(() => Promise.resolve(states()), (s) => s.includes('ALARM'), 30_000, 100);
    await allTransitionsNotified();
    expect(webhook.received.map((r) => (r.json() as { tenant_id: string }).tenant_id)).toEqual(webhook.received.map(() => 'shop'));
    const alarm = webhook.received.find((r) => (r.json() as { state: string }).state === 'ALARM');
    expect(alarm?.method).toBe('POST');
    // max over the window is shop's 9: the other tenant's 99, read before it, is not in it.
    expect(alarm?.json()).toMatchObject({ alarm_name: 'high load', tenant_id: 'shop', state: 'ALARM', message: expect.stringContaining('with the values: [9]') as unknown, metrics: [{ name: 'e2e.load', dimensions: { hostname: 'h1' } }] });
    expect(states().filter((s) => s === 'ALARM')).toHaveLength(1);

    // Low values until the 9 has left the two-second window and the alarm clears.
    await eventually(
      async () => {
        await publish('shop', 1);
        return states();
      },
      (s) => s.includes('OK'),
      30_000,
      200,
    );
    await allTransitionsNotified();
    expect(states().filter((s) => s !== 'UNDETERMINED')).toEqual(['ALARM', 'OK']);
    expect(webhook.received.every((r) => (r.json() as { tenant_id: string }).tenant_id === 'shop')).toBe(true);
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
