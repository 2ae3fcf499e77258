import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKafkaMockCluster, type KafkaMockCluster } from '../kafka/mockCluster.js';
import { serveKubeletPage } from '../support/kubeletStandIn.js';
import { eventually, freePort, runKansoku } from '../support/kansokuProcess.js';
import { kafkaEnv, KUBELET_PAGE } from '../support/pipelineFixtures.js';
import { counterValue } from '../support/selfMetrics.js';

/** The agent and alerting daemons have no tenant API; their own /metrics and /healthz are how an operator watches them. */
describe('daemon self-metrics', () => {
  let kafka: KafkaMockCluster;
  let kubelet: Awaited<ReturnType<typeof serveKubeletPage>>;
  beforeAll(async () => {
    [kafka, kubelet] = await Promise.all([startKafkaMockCluster({ brokers: 1, topics: { metrics: 1, 'alarm-state-transitions': 1 } }), serveKubeletPage(KUBELET_PAGE)]);
  });
  afterAll(async () => {
    await Promise.all([kafka?.stop(), kubelet?.close()]);
  });

  it('the agent daemon counts what it collected and published, and stops cleanly', async () => {
    const port = await freePort();
    const agent = runKansoku(['agent', '--kubelet-url', kubelet.url, '--hostname', 'node-t'], {
      ...kafkaEnv(kafka.brokers),
      KANSOKU_AGENT__INTERVAL_SECONDS: '1',
      KANSOKU_AGENT__TELEMETRY__PORT: String(port),
    });
    try {
      await agent.waitFor(/self-metrics at \/metrics/, 60_000);
      const text = await eventually(
        async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text(),
        (t) => counterValue(t, 'kansoku_agent_published_total') >= 631,
        30_000,
      );
      expect(counterValue(text, 'kansoku_agent_measurements_total')).toBeGreaterThanOrEqual(631);
      expect(counterValue(text, 'kansoku_agent_published_total')).toBeGreaterThanOrEqual(631);
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${port}/nope`)).status).toBe(404);
    } finally {
      expect(await agent.stop()).toBe(0);
    }
    expect(agent.stderr()).toMatch(/agent stopped/);
  });

  it('alerting alone serves its counters too', async () => {
    const port = await freePort();
    const alerting = runKansoku(['alerting'], { ...kafkaEnv(kafka.brokers), KANSOKU_ALERTING__TELEMETRY__PORT: String(port) });
    try {
      await alerting.waitFor(/alert engine started/, 60_000);
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      const producer = new Kafka({ brokers: [...kafka.brokers], clientId: 'telemetry-test', logLevel: logLevel.NOTHING }).producer();
      await producer.connect();
      const envelope = { metric: { name: 'm', dimensions: {}, timestamp: Date.now(), value: 1, value_meta: null }, meta: { tenantId: 't', region: 'r' }, creation_time: 0 };
      await producer.send({ topic: 'metrics', messages: [{ key: 't', value: JSON.stringify(envelope) }, { key: 't', value: '{broken' }] });
      await producer.disconnect();
      const text = await eventually(
        async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text(),
        (t) => counterValue(t, 'kansoku_alerting_decode_errors_total') >= 1,
        30_000,
      );
      expect(counterValue(text, 'kansoku_alerting_decode_errors_total')).toBe(1);
      expect(counterValue(text, 'kansoku_alerting_measurements_total')).toBeGreaterThanOrEqual(1);
    } finally {
      expect(await alerting.stop()).toBe(0);
    }
  });
});
