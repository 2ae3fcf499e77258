import { Kafka, logLevel, type Admin } from 'kafkajs';
import { counterValue } from '../support/selfMetrics.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KUBELET_PAGE, PIPELINE_TOPICS, kafkaEnv, serverEnv, type ApiSeries } from '../support/pipelineFixtures.js';
import { startKafkaMockCluster, type KafkaMockCluster } from '../kafka/mockCluster.js';
import { startInfluxd, type RunningInfluxd } from '../influxdb/influxd.js';
import { serveKubeletPage } from '../support/kubeletStandIn.js';
import { eventually, freePort, runKansoku, type KansokuProcess } from '../support/kansokuProcess.js';

/**
 * Horizontal scale, on real processes: two `kansoku server` processes in one consumer
 * group share the partitions of "metrics"; one is SIGKILLed while its partitions hold
 * messages it has not committed, agents keep publishing, and the other server takes its
 * partitions over. Every point must reach InfluxDB, and no point may appear twice: a batch the dead
 * server wrote but did not commit is written again by the survivor, onto the same series
 * and timestamp, which overwrites it.
 *
 * The expected points are well defined because every `agent --once` run has a hostname of
 * its own and the page's samples carry their own timestamps: a run adds exactly one page
 * of new points (hostname × series × timestamp), however often anything is redelivered.
 */
const DATABASE = 'monasca_scaleout';
const GROUP_ID = 'kansoku-server-scaleout';
/** More partitions than servers, so that each server gets several and the rebalance has something to move. */
const TOPICS = { ...PIPELINE_TOPICS, metrics: 12 } as const;
const TENANTS = [
  ['kube-system', 'tok-kube'],
  ['scraper', 'tok-scraper'],
] as const;
/** Agents publishing at the same time; each lane runs `agent --once` for a fresh hostname, then the next. */
const LANES = 2;
/** Agents started after the kill: new points that reach InfluxDB only if the survivor consumes the dead server's partitions. */
const AGENTS_AFTER_KILL = LANES;
/** Bounds the stream should the kill never come. */
const MAX_AGENTS = 16;
/** `agent --once --output bus` gives the bus one interval to take the cycle. */
const AGENT_INTERVAL_SECONDS = 10;
/** The kill waits for both servers to have written and for messages the group has not yet committed. */
const MID_STREAM_DEADLINE_MS = 40_000;
/** A dead member leaves the group after the session timeout (4 s in kafkaEnv); the survivor then rejoins and catches up. */
const TAKEOVER_DEADLINE_MS = 40_000;
/** Both servers have joined and split the partitions (the mock's first join waits ~3 s for members). */
const GROUP_FORMED_DEADLINE_MS = 30_000;
/** Times both servers start over when the mock coordinator stopped a consumer while the group formed (see formGroup). */
const MAX_GROUP_RESTARTS = 5;
const WRITTEN = 'kansoku_server_written_total';

const sum = (values: Iterable<number>): number => [...values].reduce((a, b) => a + b, 0);

interface Server {
  readonly process: KansokuProcess;
  readonly api: string;
}

/** The end of a server's log, for a failure message. */
function tail(server: Server): string {
  return server.process.stderr().split('\n').slice(-30).join('\n');
}

/** A server's consumer as its log tells it: joined with these partitions, not yet joined (or restarting), or stopped for good. */
type GroupView = { state: 'joined'; partitions: number[] } | { state: 'waiting' } | { state: 'stopped'; error: string };

/** Reads the kafkajs lines of a server's JSON log: the latest join, crash or restart wins. */
function groupView(server: Server): GroupView {
  let view: GroupView = { state: 'waiting' };
  for (const line of server.process.stderr().split('\n')) {
    if (!line.startsWith('{')) continue;
    let entry: { msg?: unknown; kafka?: { memberAssignment?: Record<string, number[]> } };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      continue;
    }
    const msg = typeof entry.msg === 'string' ? entry.msg : '';
    if (msg === 'kafka: Consumer has joined the group') view = { state: 'joined', partitions: entry.kafka?.memberAssignment?.['metrics'] ?? [] };
    else if (msg.startsWith('kafka: Crash:')) view = { state: 'stopped', error: msg };
    else if (msg.startsWith('kafka: Restarting the consumer')) view = { state: 'waiting' };
  }
  return view;
}

interface AgentRun {
  readonly hostname: string;
  readonly startedAfterKill: boolean;
  readonly code: number | null;
  readonly stderr: string;
}

interface Stream {
  readonly runs: readonly AgentRun[];
  started(): number;
  running(): number;
  readonly done: Promise<void>;
}

describe('scale-out: two servers in one consumer group, one killed mid-stream', () => {
  let kafka: KafkaMockCluster;
  let influx: RunningInfluxd;
  let kubelet: Awaited<ReturnType<typeof serveKubeletPage>>;
  let admin: Admin | undefined;
  let victim: Server;
  let survivor: Server;
  /** One scrape of the page, counted from the agent's own stdout rather than assumed. */
  let page: { total: number; perTenant: Map<string, number> };
  const processes: KansokuProcess[] = [];
  /** How many agents the stream may start in all; lowered at the kill, zeroed on the way out. */
  let agentLimit = MAX_AGENTS;

  function kansoku(args: readonly string[], env: Record<string, string>): KansokuProcess {
    const p = runKansoku(args, env);
    processes.push(p);
    return p;
  }

  const agentArgs = (hostname: string, output: 'bus' | 'stdout'): string[] => ['agent', '--once', '--output', output, '--kubelet-url', kubelet.url, '--hostname', hostname];
  const agentEnv = (): Record<string, string> => ({ ...kafkaEnv(kafka.brokers), KANSOKU_LOG_LEVEL: 'warn', KANSOKU_AGENT__INTERVAL_SECONDS: String(AGENT_INTERVAL_SECONDS) });

  async function onePage(): Promise<{ total: number; perTenant: Map<string, number> }> {
    const probe = kansoku(agentArgs('probe', 'stdout'), agentEnv());
    expect(await probe.exited(), probe.stderr()).toBe(0);
    const lines = probe.stdout().split('\n').filter((l) => l.trim() !== '');
    const perTenant = new Map<string, number>();
    for (const line of lines) {
      const tenant = (JSON.parse(line) as { meta: { tenantId: string } }).meta.tenantId;
      perTenant.set(tenant, (perTenant.get(tenant) ?? 0) + 1);
    }
    return { total: lines.length, perTenant };
  }

  async function startServer(): Promise<Server> {
    const port = await freePort();
    const tokens = TENANTS.map(([tenant, token]) => `${token}:${tenant}:monasca-user`).join(',');
    // Metrics only: the logs' consumer group would double the group joins, and the mock
    // cluster is what this test is hardest on (kafkajs followers joining a running group).
    const env = { ...serverEnv({ brokers: kafka.brokers, influxUrl: influx.url, database: DATABASE, apiPort: port, tokens }), KANSOKU_SERVER__GROUP_ID: GROUP_ID, KANSOKU_SERVER__LOGS__ENABLED: 'false' };
    const child = kansoku(['server'], env);
    await child.waitFor(/tenant API listening/, 45_000);
    return { process: child, api: `http://127.0.0.1:${port}` };
  }

  /**
   * Two servers, and proof from their own logs that the group gave each a share of the
   * partitions of "metrics": their latest assignments are disjoint and cover every partition.
   *
   * librdkafka's mock coordinator ends a SyncGroup round as soon as the leader's assignment
   * covers every member, and answers a follower whose SyncGroup comes after that with
   * INVALID_REQUEST, which a real broker does not; kafkajs takes that as fatal and its
   * consumer stops for good (the process stays up, see the report). On a loaded machine a
   * follower still busy starting up loses that race now and then. A lone replacement would
   * be the slow follower of a running leader and lose it again, so both servers start over,
   * together, a bounded number of times, and the count is reported.
   */
  async function formGroup(): Promise<{ servers: [Server, Server]; restarts: number }> {
    for (let restarts = 0; ; restarts++) {
      const servers: [Server, Server] = await Promise.all([startServer(), startServer()]);
      const views = await eventually(
        async () => servers.map(groupView),
        (v) => v.some((s) => s.state === 'stopped') || splitsPartitions(v),
        GROUP_FORMED_DEADLINE_MS,
        100,
      );
      if (splitsPartitions(views)) return { servers, restarts };
      const why = servers.map((s, i) => `server ${i}: ${JSON.stringify(views[i])}\n${tail(s)}`).join('\n');
      if (restarts >= MAX_GROUP_RESTARTS || views.every((v) => v.state !== 'stopped')) throw new Error(`the two servers did not split the partitions of "metrics" (${restarts} restarts):\n${why}`);
      await Promise.all(servers.map((s) => s.process.stop()));
    }
  }

  /** Whether both servers joined and their latest assignments split "metrics" between them. */
  function splitsPartitions(views: readonly GroupView[]): boolean {
    const shares = views.map((v) => (v.state === 'joined' ? v.partitions : []));
    const all = new Set(shares.flat());
    return shares.every((p) => p.length > 0) && all.size === TOPICS.metrics && sum(shares.map((p) => p.length)) === TOPICS.metrics;
  }

  let groupRestarts = 0;

  beforeAll(async () => {
    [kafka, influx, kubelet] = await Promise.all([startKafkaMockCluster({ brokers: 3, topics: TOPICS }), startInfluxd(), serveKubeletPage(KUBELET_PAGE)]);
    admin = new Kafka({ brokers: [...kafka.brokers], clientId: 'e2e-scaleout-admin', logLevel: logLevel.NOTHING }).admin();
    // Both servers join the group at once; the probe scrapes meanwhile.
    let group: Awaited<ReturnType<typeof formGroup>>;
    [page, group] = await Promise.all([onePage(), formGroup(), admin.connect()]);
    [victim, survivor] = group.servers;
    groupRestarts = group.restarts;
  }, 120_000);

  afterAll(async () => {
    // Every step is attempted even when an earlier one fails, so that nothing outlives the run.
    agentLimit = 0;
    await Promise.allSettled(processes.map((p) => p.stop()));
    await Promise.allSettled([admin?.disconnect(), kafka?.stop(), influx?.stop(), kubelet?.close()]);
  });

  async function written(server: Server): Promise<number> {
    return counterValue(await (await fetch(`${server.api}/metrics`)).text(), WRITTEN);
  }

  /**
   * Agents with hostnames node-1, node-2, … in `LANES` lanes, each lane starting the next
   * as soon as its last one exits, until `agentLimit` agents have been started.
   */
  function startStream(killed: () => boolean): Stream {
    const runs: AgentRun[] = [];
    let started = 0;
    let running = 0;
    const lane = async (): Promise<void> => {
      while (started < agentLimit) {
        const hostname = `node-${++started}`;
        const startedAfterKill = killed();
        const agent = kansoku(agentArgs(hostname, 'bus'), agentEnv());
        running++;
        const code = await agent.exited();
        running--;
        runs.push({ hostname, startedAfterKill, code, stderr: agent.stderr() });
      }
    };
    const done = Promise.all(Array.from({ length: LANES }, lane)).then(() => undefined);
    return { runs, started: () => started, running: () => running, done };
  }

  /** Messages on "metrics", and per partition how many the group has not committed past yet, asked of Kafka itself. */
  async function consumption(): Promise<{ onTopic: number; committed: number; lag: Map<number, number> }> {
    if (!admin) throw new Error('no admin client');
    const [ends, offsets] = await Promise.all([admin.fetchTopicOffsets('metrics'), admin.fetchOffsets({ groupId: GROUP_ID, topics: ['metrics'] })]);
    const committed = new Map(offsets.flatMap((t) => t.partitions.map((p) => [p.partition, Math.max(0, Number(p.offset))] as const)));
    const lag = new Map(ends.map((p) => [p.partition, Number(p.high) - (committed.get(p.partition) ?? 0)] as const));
    return { onTopic: sum(ends.map((p) => Number(p.high))), committed: sum(committed.values()), lag };
  }

  /** The partitions a server's consumer holds now, from its log. */
  function partitionsOf(server: Server): number[] {
    const view = groupView(server);
    return view.state === 'joined' ? view.partitions : [];
  }

  /** Points per hostname, asked of influxd directly: `count(value)` over every measurement. */
  async function pointsPerHost(): Promise<Map<string, number>> {
    const form = new URLSearchParams({ q: 'SELECT count(value) FROM /.*/ GROUP BY hostname', db: DATABASE, epoch: 'ms' });
    const res = await fetch(`${influx.url}/query`, { method: 'POST', body: form });
    const body = (await res.json()) as { results: { series?: { tags?: Record<string, string>; values: [number, number][] }[]; error?: string }[] };
    expect(body.results[0]?.error, JSON.stringify(body)).toBeUndefined();
    const perHost = new Map<string, number>();
    for (const series of body.results[0]?.series ?? []) {
      const host = series.tags?.['hostname'] ?? '';
      perHost.set(host, (perHost.get(host) ?? 0) + sum(series.values.map(([, n]) => n)));
    }
    return perHost;
  }

  async function metricNames(server: Server, token: string): Promise<string[]> {
    const res = await fetch(`${server.api}/v2.0/metrics/names`, { headers: { 'x-auth-token': token } });
    expect(res.status).toBe(200);
    return ((await res.json()) as { elements: { name: string }[] }).elements.map((e) => e.name);
  }

  async function measurements(server: Server, token: string, name: string): Promise<ApiSeries[]> {
    const url = `${server.api}/v2.0/metrics/measurements?name=${encodeURIComponent(name)}&start_time=2020-01-01T00:00:00Z&group_by=*`;
    const res = await fetch(url, { headers: { 'x-auth-token': token } });
    const body = (await res.json()) as { elements?: ApiSeries[] };
    expect(res.status, JSON.stringify(body)).toBe(200);
    return body.elements ?? [];
  }

  it('loses no point when one of two servers is killed mid-stream; the survivor takes its partitions over', async () => {
    const startedMs = Date.now();
    expect(page.total).toBeGreaterThan(0);

    let killed = false;
    const stream = startStream(() => killed);

    // Mid-stream: both servers have written (each got partitions with data), and the partitions of
    // the server about to die hold messages the group has not committed yet.
    const victimPartitions = partitionsOf(victim);
    const moment = await eventually(
      async () => {
        const [victimWritten, survivorWritten, c] = await Promise.all([written(victim), written(survivor), consumption()]);
        return { victim: victimWritten, survivor: survivorWritten, victimLag: sum(victimPartitions.map((p) => c.lag.get(p) ?? 0)) };
      },
      (m) => m.victim > 0 && m.survivor > 0 && m.victimLag > 0,
      MID_STREAM_DEADLINE_MS,
      20,
    );
    const seen = `${JSON.stringify(moment)} after ${stream.started()} agents`;
    expect(moment.victim, `the first server wrote nothing (${seen}); its log:\n${tail(victim)}`).toBeGreaterThan(0);
    expect(moment.survivor, `the second server wrote nothing (${seen}); its log:\n${tail(survivor)}`).toBeGreaterThan(0);
    expect(moment.victimLag, `the first server never had messages left to write (${seen})`).toBeGreaterThan(0);
    // No rebalance since the group formed: the victim still holds what it held.
    expect(partitionsOf(victim)).toEqual(victimPartitions);

    // A crash: nothing gets a chance to commit on the way out. Its count, read just before, is a lower bound of what it wrote.
    const survivorAtKill = await written(survivor);
    const victimAtKill = await written(victim);
    victim.process.child.kill('SIGKILL');
    const killedMs = Date.now();
    killed = true;
    const agentsRunningAtKill = stream.running();
    agentLimit = stream.started() + AGENTS_AFTER_KILL;
    expect(await victim.process.exited()).toBeNull();

    await stream.done;
    for (const run of stream.runs) expect(run.code, `agent ${run.hostname}: ${run.stderr}`).toBe(0);
    expect(stream.runs.filter((r) => r.startedAfterKill)).toHaveLength(AGENTS_AFTER_KILL);
    const hosts = stream.runs.map((r) => r.hostname).sort();
    const unique = hosts.length * page.total;

    // The group, now the survivor alone, has consumed and committed every message on the topic.
    const consumed = await eventually(consumption, (c) => c.committed === c.onTopic, TAKEOVER_DEADLINE_MS);
    expect(consumed.committed, 'the group did not commit past every message on the topic').toBe(consumed.onTopic);
    const caughtUpMs = Date.now();
    // The survivor's own log: after the rebalance it holds every partition.
    expect([...partitionsOf(survivor)].sort((a, b) => a - b)).toEqual([...Array(TOPICS.metrics).keys()]);

    // influxd holds exactly one page per hostname: nothing lost, nothing doubled.
    const perHost = await eventually(pointsPerHost, (p) => sum(p.values()) >= unique, 10_000);
    expect(Object.fromEntries(perHost)).toEqual(Object.fromEntries(hosts.map((h) => [h, page.total])));
    expect(sum(perHost.values())).toBe(unique);

    // The same through the survivor's tenant API, tenant by tenant: every host, one point per series.
    for (const [tenant, token] of TENANTS) {
      const names = await metricNames(survivor, token);
      expect(names.length, tenant).toBeGreaterThan(0);
      let points = 0;
      const seenHosts = new Set<string>();
      for (const name of names) {
        for (const series of await measurements(survivor, token, name)) {
          expect(series.dimensions['namespace'], `${tenant} ${name}`).toBe(tenant);
          expect(series.measurements, `${name} ${JSON.stringify(series.dimensions)}`).toHaveLength(1);
          seenHosts.add(series.dimensions['hostname'] ?? '');
          points += series.measurements.length;
        }
      }
      expect([...seenHosts].sort(), tenant).toEqual(hosts);
      expect(points, tenant).toBe(hosts.length * (page.perTenant.get(tenant) ?? 0));
    }

    // The survivor took over: it wrote after the kill. Writes beyond the unique points were redeliveries.
    const survivorFinal = await written(survivor);
    expect(survivorFinal, 'the survivor wrote nothing after the kill').toBeGreaterThan(survivorAtKill);
    // Only a lower bound, and it may come out negative: the victim can finish a write between the
    // read of its counter and the SIGKILL (CI once saw -310, one batch). Exactness is asserted above,
    // on what influxd holds; this figure is reported, not asserted.
    const duplicates = Math.max(0, survivorFinal + victimAtKill - unique);
    console.info(
      `scale-out: ${hosts.length} agents × ${page.total} points = ${unique} unique points; ` +
        `at the kill the killed server's ${victimPartitions.length} partitions held ${moment.victimLag} uncommitted messages and ${agentsRunningAtKill} agents were running; ` +
        `killed server wrote ≥ ${victimAtKill}; survivor wrote ${survivorAtKill} before the kill, ${survivorFinal} in all; ` +
        `written twice (overwritten in place): at least ${duplicates}; caught up ${caughtUpMs - killedMs} ms after the kill; test ${Date.now() - startedMs} ms; ` +
        `group formation restarts: ${groupRestarts}`,
    );
  }, 110_000);
});
