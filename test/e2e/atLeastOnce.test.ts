import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectedFromPage, KUBELET_PAGE, PIPELINE_TOPICS, serverEnv, type ApiSeries } from '../support/pipelineFixtures.js';
import { startKafkaMockCluster, type KafkaMockCluster } from '../kafka/mockCluster.js';
import { startInfluxd } from '../influxdb/influxd.js';
import { serveKubeletPage } from '../support/kubeletStandIn.js';
import { eventually, freePort, runKansoku, type KansokuProcess } from '../support/kansokuProcess.js';
import { counterValue } from '../support/selfMetrics.js';
import { startTcpProxy, type TcpProxy } from '../support/tcpProxy.js';

/**
 * The delivery guarantees, on real components and real processes: the server commits a
 * Kafka offset only after InfluxDB took the batch (so neither a store outage nor a crash
 * loses data), the agent tells its caller when Kafka did not take a cycle, and redelivery
 * writes nothing twice (points are keyed by series and timestamp). InfluxDB is reached
 * through a TCP proxy, so that the test can take it away from the server alone and still
 * look at what it holds.
 */
const page = KUBELET_PAGE;
const DATABASE = 'monasca_atleastonce';
const GROUP_ID = 'kansoku-server-atleastonce';
const TENANTS = [
  ['kube-system', 'tok-kube'],
  ['scraper', 'tok-scraper'],
] as const;
/**
 * `agent --once --output bus` gives the bus one interval (cmd/kansoku.ts; 5 s here); a
 * kafkajs connect attempt under way at the deadline still runs to its end (5 retries, up to
 * ~11 s), then start-up.
 */
const AGENT_INTERVAL_SECONDS = 5;
const AGENT_GIVES_UP_WITHIN_MS = 25_000;



describe('at-least-once delivery: agent → Kafka → server → InfluxDB', () => {
  let kafka: KafkaMockCluster;
  let influx: { url: string; stop(): Promise<void> };
  let kubelet: Awaited<ReturnType<typeof serveKubeletPage>>;
  let proxy: TcpProxy;
  let env: Record<string, string>;
  let api: string;
  const processes: KansokuProcess[] = [];

  beforeAll(async () => {
    [kafka, influx, kubelet] = await Promise.all([
      startKafkaMockCluster({ brokers: 3, topics: PIPELINE_TOPICS }),
      startInfluxd(),
      serveKubeletPage(page),
    ]);
    const influxUrl = new URL(influx.url);
    proxy = await startTcpProxy({ host: influxUrl.hostname, port: Number(influxUrl.port) }, { refusing: true });
    const port = await freePort();
    api = `http://127.0.0.1:${port}`;
    env = {
      ...serverEnv({
        brokers: kafka.brokers,
        influxUrl: proxy.url,
        database: DATABASE,
        apiPort: port,
        tokens: TENANTS.map(([tenant, token]) => `${token}:${tenant}:monasca-user`).join(','),
      }),
      KANSOKU_SERVER__GROUP_ID: GROUP_ID,
    };
  }, 60_000);

  afterAll(async () => {
    // Every step is attempted even when an earlier one fails, so that nothing outlives the run.
    await Promise.allSettled(processes.map((p) => p.stop()));
    await Promise.allSettled([kafka?.stop(), influx?.stop(), kubelet?.close(), proxy?.close()]);
  });

  function kansoku(args: readonly string[], extraEnv: Record<string, string> = {}): KansokuProcess {
    const p = runKansoku(args, { ...env, ...extraEnv });
    processes.push(p);
    return p;
  }

  async function startServer(extraEnv: Record<string, string> = {}): Promise<KansokuProcess> {
    const server = kansoku(['server'], extraEnv);
    await server.waitFor(/tenant API listening/, 30_000);
    return server;
  }

  const runAgentOnce = (): KansokuProcess =>
    kansoku(['agent', '--once', '--output', 'bus', '--kubelet-url', kubelet.url, '--hostname', 'node-e2e'], { KANSOKU_AGENT__INTERVAL_SECONDS: String(AGENT_INTERVAL_SECONDS) });

  async function selfMetrics(): Promise<string> {
    return (await fetch(`${api}/metrics`)).text();
  }

  async function measurements(token: string, name: string): Promise<ApiSeries[]> {
    const url = `${api}/v2.0/metrics/measurements?name=${encodeURIComponent(name)}&start_time=2020-01-01T00:00:00Z&group_by=*`;
    const res = await fetch(url, { headers: { 'x-auth-token': token } });
    const body = (await res.json()) as { elements?: ApiSeries[] };
    expect(res.status, JSON.stringify(body)).toBe(200);
    return body.elements ?? [];
  }

  async function metricNames(token: string): Promise<string[]> {
    const res = await fetch(`${api}/v2.0/metrics/names`, { headers: { 'x-auth-token': token } });
    expect(res.status).toBe(200);
    return ((await res.json()) as { elements: { name: string }[] }).elements.map((e) => e.name);
  }

  /** Asked of Kafka itself, with a client of the test's own. */
  async function withAdmin<T>(work: (admin: ReturnType<Kafka['admin']>) => Promise<T>): Promise<T> {
    const admin = new Kafka({ brokers: [...kafka.brokers], clientId: 'e2e-admin', logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      return await work(admin);
    } finally {
      await admin.disconnect();
    }
  }

  /** How many messages topic "metrics" holds (the sum of its partitions' high watermarks). */
  const messagesOnTopic = (): Promise<number> =>
    withAdmin(async (admin) => (await admin.fetchTopicOffsets('metrics')).reduce((sum, p) => sum + Number(p.high), 0));

  const committedOffsets = (groupId: string): Promise<string[]> =>
    withAdmin(async (admin) => (await admin.fetchOffsets({ groupId, topics: ['metrics'] })).flatMap((t) => t.partitions.map((p) => p.offset)));

  /** The databases influxd holds, asked directly rather than through the proxy. */
  async function influxDatabases(): Promise<string[]> {
    const res = await fetch(`${influx.url}/query?q=${encodeURIComponent('SHOW DATABASES')}`);
    const body = (await res.json()) as { results: { series?: { values?: string[][] }[] }[] };
    return (body.results[0]?.series?.[0]?.values ?? []).map((v) => v[0] ?? '');
  }

  /**
   * Every series of every metric of both tenants, through the tenant API: each must hold
   * exactly one point (the page has one sample per series), and there must be as many
   * points in all as the agent published measurements.
   */
  async function expectOnePointPerMeasurement(measurementsPublished: number): Promise<void> {
    let points = 0;
    for (const [tenant, token] of TENANTS) {
      const names = await metricNames(token);
      expect(names.length).toBeGreaterThan(0);
      for (const name of names) {
        for (const series of await measurements(token, name)) {
          expect(series.dimensions['namespace'], `${tenant} ${name}`).toBe(tenant);
          expect(series.measurements, `${name} ${JSON.stringify(series.dimensions)}`).toHaveLength(1);
          points += series.measurements.length;
        }
      }
    }
    expect(points).toBe(measurementsPublished);
  }

  /** Measurements in one agent cycle, counted from `agent --once --output stdout`; set by the first test. */
  let published = 0;
  /** Kafka messages one agent cycle put on the topic (batched: a few per tenant); set by the first test. */
  let messagesPerCycle = 0;
  /** The server process that currently runs, if any. */
  let server: KansokuProcess | undefined;

  it('loses nothing when the store is down and the server is then killed: offsets wait for the write', async () => {
    const first = await startServer();

    const printed = kansoku(['agent', '--once', '--output', 'stdout', '--kubelet-url', kubelet.url, '--hostname', 'node-e2e'], {});
    expect(await printed.exited(), printed.stderr()).toBe(0);
    published = printed.stdout().trim().split('\n').length;
    expect(published).toBeGreaterThan(100);

    const agent = runAgentOnce();
    expect(await agent.exited(), agent.stderr()).toBe(0);
    messagesPerCycle = await messagesOnTopic();
    // Batched: a message per tenant and host (two tenants here), not one per measurement.
    expect(messagesPerCycle).toBeGreaterThan(0);
    expect(messagesPerCycle).toBeLessThan(published / 10);

    // The server keeps getting the batch back from a sink that cannot write, and writes nothing.
    const during = await eventually(selfMetrics, (m) => counterValue(m, 'kansoku_server_retries_total') >= 3, 30_000);
    expect(counterValue(during, 'kansoku_server_retries_total')).toBeGreaterThanOrEqual(3);
    expect(counterValue(during, 'kansoku_server_written_total')).toBe(0);
    expect(proxy.forwarded()).toBe(0);
    expect(await influxDatabases()).not.toContain(DATABASE);

    // A crash, not a shutdown: nothing gets a chance to commit on the way out.
    first.child.kill('SIGKILL');
    expect(await first.exited()).toBeNull();
    expect(await committedOffsets(GROUP_ID), 'offsets committed before InfluxDB had the data').toEqual(['-1', '-1', '-1', '-1']);

    // The store is back; a new process in the same group starts where the group's offsets are: at the beginning.
    await proxy.forward();
    server = await startServer();
    const after = await eventually(selfMetrics, (m) => counterValue(m, 'kansoku_server_written_total') >= published, 30_000);
    expect(counterValue(after, 'kansoku_server_written_total')).toBeGreaterThanOrEqual(published);
    await expectOnePointPerMeasurement(published);

    for (const [tenant, token] of TENANTS) {
      const expected = expectedFromPage('container_memory_usage_bytes', tenant);
      expect(expected.size).toBeGreaterThan(0);
      const series = await measurements(token, 'container.mem.used_bytes');
      const got = new Map(series.map((s) => [`${s.dimensions['pod_name']}/${s.dimensions['container_name']}`, s]));
      expect([...got.keys()].sort()).toEqual([...expected.keys()].sort());
      for (const [key, want] of expected) {
        expect(got.get(key)?.dimensions).toMatchObject({ namespace: tenant, hostname: 'node-e2e' });
        expect(got.get(key)?.measurements).toEqual([[new Date(want.timestampMs).toISOString(), want.value, {}]]);
      }
    }
    // Committed now that InfluxDB has it: every partition's offset has moved past what it held.
    const committed = await eventually(
      () => committedOffsets(GROUP_ID),
      (offsets) => offsets.reduce((sum, o) => sum + Math.max(0, Number(o)), 0) === messagesPerCycle,
      10_000,
    );
    expect(committed.reduce((sum, o) => sum + Math.max(0, Number(o)), 0)).toBe(messagesPerCycle);
  }, 75_000);

  it('writes nothing twice when a new consumer group reads the whole topic again', async () => {
    expect(published, 'needs the data of the previous test').toBeGreaterThan(0);
    await server?.stop();

    server = await startServer({ KANSOKU_SERVER__GROUP_ID: `${GROUP_ID}-replay` });
    // The new group starts at the beginning: it has written every message once more.
    const replayed = await eventually(selfMetrics, (m) => counterValue(m, 'kansoku_server_written_total') >= published, 30_000);
    expect(counterValue(replayed, 'kansoku_server_written_total')).toBeGreaterThanOrEqual(published);
    // Every measurement written twice now, yet one point per series and no more points than measurements.
    await expectOnePointPerMeasurement(published);
    await server.stop();
  }, 60_000);

  it('exits non-zero with a message when Kafka is down, and delivers on a rerun once it is back', async () => {
    expect(published, 'needs the cycle size found by the first test').toBeGreaterThan(0);
    const onTopic = await messagesOnTopic();
    await kafka.brokerDown(-1);
    try {
      const startedMs = Date.now();
      const agent = runAgentOnce();
      const code = await Promise.race([agent.exited(), new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), AGENT_GIVES_UP_WITHIN_MS).unref())]);
      const tookMs = Date.now() - startedMs;
      const said = agent.stderr().split('\n').filter((l) => l !== '' && !l.startsWith('{'));
      expect(code, `agent's exit code after ${tookMs} ms, Kafka down; stderr besides the JSON logs: ${JSON.stringify(said)}`).toBe(1);
      // The whole cycle is reported as not taken.
      expect(agent.stderr()).toMatch(new RegExp(`^kansoku: the bus did not take ${published} measurements in time$`, 'm'));
      // Reported, not crashed: no uncaught error printed by the CLI's last-resort handler.
      expect(agent.stderr()).not.toMatch(/^kansoku: [^\n]*\n\s+at /m);
      expect(agent.stdout()).toBe('');
    } finally {
      await kafka.brokerUp(-1);
    }
    expect(await messagesOnTopic()).toBe(onTopic);

    const rerun = runAgentOnce();
    expect(await rerun.exited(), rerun.stderr()).toBe(0);
    expect(await messagesOnTopic()).toBe(onTopic + messagesPerCycle);
  }, AGENT_GIVES_UP_WITHIN_MS + 20_000);
});
