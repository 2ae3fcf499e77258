import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectedFromPage, KUBELET_PAGE, PIPELINE_TOPICS, serverEnv, type ApiSeries } from '../support/pipelineFixtures.js';
import { startKafkaMockCluster, type KafkaMockCluster } from '../kafka/mockCluster.js';
import { startInfluxd } from '../influxdb/influxd.js';
import { serveKubeletPage } from '../support/kubeletStandIn.js';
import { eventually, freePort, runKansoku, type KansokuProcess } from '../support/kansokuProcess.js';
import { counterValue } from '../support/selfMetrics.js';

/**
 * The walking skeleton end to end, on real components: a recorded kubelet page served over
 * HTTP → `kansoku agent` → Kafka (librdkafka's mock cluster, the real protocol) →
 * `kansoku server` → InfluxDB 1.x (the real server) → the tenant API. What comes back
 * through the API must equal what the page said, for the right tenant only.
 */
const page = KUBELET_PAGE;

/** Both wire forms end to end: the agent writes in one, the server reads whatever each message is. */
describe.each(['batched', 'monasca'] as const)('kubelet page → agent (%s wire) → Kafka → server → InfluxDB → tenant API', (wire) => {
  let kafka: KafkaMockCluster;
  let influx: { url: string; stop(): Promise<void> };
  let kubelet: Awaited<ReturnType<typeof serveKubeletPage>>;
  let server: KansokuProcess;
  let api: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    [kafka, influx, kubelet] = await Promise.all([
      startKafkaMockCluster({ brokers: 3, topics: PIPELINE_TOPICS }),
      startInfluxd(),
      serveKubeletPage(page),
    ]);
    const port = await freePort();
    api = `http://127.0.0.1:${port}`;
    env = serverEnv({
      brokers: kafka.brokers,
      influxUrl: influx.url,
      database: 'monasca_e2e',
      apiPort: port,
      tokens: 'tok-kube:kube-system:monasca-user,tok-scraper:scraper:monasca-user,tok-nobody:default:monasca-user',
    });
    server = runKansoku(['server'], env);
    await server.waitFor(/tenant API listening/, 60_000);
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    await Promise.all([kafka?.stop(), influx?.stop(), kubelet?.close()]);
  });

  async function measurements(token: string, name: string): Promise<{ status: number; series: ApiSeries[] }> {
    const url = `${api}/v2.0/metrics/measurements?name=${encodeURIComponent(name)}&start_time=2020-01-01T00:00:00Z&group_by=*`;
    const res = await fetch(url, { headers: { 'x-auth-token': token } });
    const body = (await res.json()) as { elements?: ApiSeries[] };
    return { status: res.status, series: body.elements ?? [] };
  }

  it('carries every container measurement of the page to its own tenant, values exact', async () => {
    const agent = runKansoku(['agent', '--once', '--output', 'bus', '--kubelet-url', kubelet.url, '--hostname', 'node-e2e'], { ...env, KANSOKU_BUS__KAFKA__WIRE: wire });
    expect(await agent.exited(), agent.stderr()).toBe(0);
    // The agent framed as told: one envelope per message in monasca mode, far fewer messages than envelopes batched.
    const printed = runKansoku(['agent', '--once', '--output', 'stdout', '--kubelet-url', kubelet.url, '--hostname', 'node-e2e'], env);
    expect(await printed.exited(), printed.stderr()).toBe(0);
    const published = printed.stdout().trim().split('\n').length;
    expect(published).toBeGreaterThan(100);
    const messages = await eventually(
      async () => {
        const text = await (await fetch(`${api}/metrics`)).text();
        return { messages: counterValue(text, 'kansoku_server_messages_total'), records: counterValue(text, 'kansoku_server_records_total') };
      },
      (c) => c.records >= published,
      30_000,
    );
    expect(messages.records).toBe(published);
    if (wire === 'monasca') expect(messages.messages).toBe(published);
    else expect(messages.messages).toBeLessThan(published / 10);

    for (const [tenant, token] of [['kube-system', 'tok-kube'], ['scraper', 'tok-scraper']] as const) {
      const expected = expectedFromPage('container_memory_usage_bytes', tenant);
      expect(expected.size).toBeGreaterThan(0);
      const { status, series } = await eventually(() => measurements(token, 'container.mem.used_bytes'), (r) => r.series.length >= expected.size, 60_000);
      expect(status).toBe(200);
      const got = new Map(series.map((s) => [`${s.dimensions['pod_name']}/${s.dimensions['container_name']}`, s]));
      expect([...got.keys()].sort()).toEqual([...expected.keys()].sort());
      for (const [key, want] of expected) {
        const s = got.get(key);
        expect(s?.dimensions).toMatchObject({ namespace: tenant, hostname: 'node-e2e' });
        expect(s?.measurements).toEqual([[new Date(want.timestampMs).toISOString(), want.value, {}]]);
      }
    }
  });

  it('shows a tenant nothing of another tenant, and refuses a wrong token', async () => {
    const nobody = await measurements('tok-nobody', 'container.mem.used_bytes');
    expect(nobody).toEqual({ status: 200, series: [] });
    const scraper = await measurements('tok-scraper', 'container.cpu.total_time');
    expect(scraper.series.length).toBeGreaterThan(0);
    expect(new Set(scraper.series.map((s) => s.dimensions['namespace']))).toEqual(new Set(['scraper']));
    const list = (await (await fetch(`${api}/v2.0/metrics`, { headers: { 'x-auth-token': 'tok-kube' } })).json()) as { elements: { dimensions: Record<string, string> }[] };
    expect(list.elements.length).toBeGreaterThan(0);
    expect(list.elements.every((m) => m.dimensions['namespace'] === 'kube-system')).toBe(true);
    const wrong = await fetch(`${api}/v2.0/metrics`, { headers: { 'x-auth-token': 'tok-wrong' } });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ title: 'Unauthorized' });
  });

  it('dead-letters a message that does not decode and keeps consuming', async () => {
    const { Kafka } = await import('kafkajs');
    const producer = new Kafka({ brokers: [...kafka.brokers], clientId: 'e2e-garbage', logLevel: 0 }).producer();
    await producer.connect();
    const now = Date.now();
    const good = JSON.stringify({ metric: { name: 'e2e.after_garbage', dimensions: {}, timestamp: now, value: 7, value_meta: null }, meta: { tenantId: 'scraper', region: 'x' }, creation_time: 1 });
    await producer.send({ topic: 'metrics', messages: [{ key: 'scraper', value: '{not json' }, { key: 'scraper', value: good }] });
    await producer.disconnect();
    const after = await eventually(() => measurements('tok-scraper', 'e2e.after_garbage'), (r) => r.series.length > 0, 30_000);
    expect(after.series[0]?.measurements.map((m) => m[1])).toEqual([7]);
    // The good message reaches the store before the bad one reaches the dead-letter topic: wait for that count.
    const deadLettered = /kansoku_server_dead_lettered_total\{topic="metrics"\} 1/;
    const selfMetrics = await eventually(async () => (await fetch(`${api}/metrics`)).text(), (text) => deadLettered.test(text), 10_000);
    expect(selfMetrics).toMatch(/kansoku_server_decode_errors_total\{topic="metrics"\} 1/);
    expect(selfMetrics).toMatch(/kansoku_server_dead_lettered_total\{topic="metrics"\} 1/);
  });

  it('writes a Monasca-form message and a batched one of the same partition alike', async () => {
    const { Kafka } = await import('kafkajs');
    const producer = new Kafka({ brokers: [...kafka.brokers], clientId: 'e2e-mixed', logLevel: 0 }).producer();
    await producer.connect();
    const now = Date.now();
    const envelope = (value: number) => ({ metric: { name: 'e2e.mixed', dimensions: { hostname: 'mixed-host' }, timestamp: now + value, value, value_meta: null }, meta: { tenantId: 'scraper', region: 'x' }, creation_time: 1 });
    // One key, so one partition: Monasca's single envelope, then a batch of two.
    await producer.send({
      topic: 'metrics',
      messages: [
        { key: 'scraper/mixed-host', value: JSON.stringify(envelope(1)) },
        { key: 'scraper/mixed-host', value: JSON.stringify([envelope(2), envelope(3)]), headers: { 'kansoku-wire': 'batch-v1' } },
      ],
    });
    await producer.disconnect();
    const got = await eventually(() => measurements('tok-scraper', 'e2e.mixed'), (r) => (r.series[0]?.measurements.length ?? 0) >= 3, 30_000);
    expect(got.series[0]?.measurements.map((m) => m[1])).toEqual([1, 2, 3]);
  });

  it('stops cleanly on SIGTERM: intake first, then the consumer, then the sink', async () => {
    expect(await server.stop()).toBe(0);
    const stderr = server.stderr();
    expect(stderr).toMatch(/server stopped/);
    expect(stderr).not.toMatch(/"level":(50|60)/);
  });
});
