import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKafkaMockCluster, type KafkaMockCluster } from '../kafka/mockCluster.js';
import { startElasticsearch, type RunningSearchEngine } from '../search/searchEngine.js';
import { eventually, freePort, ROOT, runKansoku, type KansokuProcess } from '../support/kansokuProcess.js';
import { kafkaEnv } from '../support/pipelineFixtures.js';
import { containerLogLink, type WriterSpec } from '../support/rotatingLogWriter.js';
import { counterValue, readSelfMetrics } from '../support/selfMetrics.js';

/**
 * The acceptance for container logs, on real processes and services: a container
 * writes 10,000 lines/s while its file is rotated every 100 ms for 30 s; meanwhile the
 * agent is killed with SIGKILL twice and restarted, and every Kafka broker is down for
 * 10 s. Every line must then be in Elasticsearch exactly once (document ids are
 * deterministic, so a line the agent sent twice after a crash is stored once).
 * Run once with the kubelet's rename + create, once with copytruncate.
 */
const BROKERS = 3;
const LINES_PER_SECOND = 10_000;
const DURATION_MS = 30_000;
const TENANT = 'shop';
const TOPICS = { metrics: 1, logs: 12, 'kansoku-dead-letter': 1, 'alarm-state-transitions': 1 };

interface Run {
  readonly written: number;
  readonly found: number;
  readonly duplicatesDelivered: number;
  readonly lost: number;
  readonly storedTwice: number;
}

describe('container logs under rotation, crashes and a Kafka outage → Elasticsearch', () => {
  let kafka: KafkaMockCluster;
  let es: RunningSearchEngine;
  let server: KansokuProcess;
  let serverUrl: string;
  const processes: KansokuProcess[] = [];
  const dirs: string[] = [];

  beforeAll(async () => {
    [kafka, es] = await Promise.all([startKafkaMockCluster({ brokers: BROKERS, topics: TOPICS }), startElasticsearch()]);
    const port = await freePort();
    serverUrl = `http://127.0.0.1:${port}`;
    server = runKansoku(['server'], {
      ...kafkaEnv(kafka.brokers),
      KANSOKU_LOG_LEVEL: 'info',
      KANSOKU_SERVER__API__PORT: String(port),
      KANSOKU_AUTH_TOKENS: `tok-shop:${TENANT}:monasca-user`,
      KANSOKU_SERVER__SQLITE__PATH: join(tmp(), 'metrics.db'),
      KANSOKU_SERVER__LOGS__STORE: 'elasticsearch',
      KANSOKU_SERVER__LOGS__ELASTICSEARCH__URLS: es.url,
    });
    processes.push(server);
    await server.waitFor(/tenant API listening/, 60_000);
  }, 240_000);

  afterAll(async () => {
    await Promise.allSettled(processes.map((p) => p.stop()));
    await Promise.allSettled([kafka?.stop(), es?.stop()]);
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  function tmp(): string {
    const dir = mkdtempSync(join(tmpdir(), 'kansoku-rotation-'));
    dirs.push(dir);
    return dir;
  }

  function startAgent(root: string, include: string, telemetryPort: number): KansokuProcess {
    const agent = runKansoku(['agent'], {
      ...kafkaEnv(kafka.brokers),
      KANSOKU_LOG_LEVEL: 'info',
      // The mock cluster keeps about 5 MiB per partition and a container's lines go to one
      // partition: compressed, a lagging server has ten times the room before Kafka drops them.
      KANSOKU_BUS__KAFKA__COMPRESSION: 'gzip',
      KANSOKU_AGENT__HOSTNAME: 'node-rotation',
      KANSOKU_AGENT__TELEMETRY__PORT: String(telemetryPort),
      KANSOKU_AGENT__LOGS__ENABLED: 'true',
      KANSOKU_AGENT__LOGS__INCLUDE: include,
      KANSOKU_AGENT__LOGS__START_AT: 'beginning',
      KANSOKU_AGENT__LOGS__CHECKPOINT_PATH: join(root, 'checkpoints.json'),
      KANSOKU_AGENT__LOGS__POLL_INTERVAL_MS: '100',
      KANSOKU_AGENT__PUBLISHER__SHUTDOWN_FLUSH_MS: '1000',
    });
    processes.push(agent);
    return agent;
  }

  async function kill9(agent: KansokuProcess): Promise<void> {
    agent.child.kill('SIGKILL');
    await agent.exited();
  }

  function runWriter(spec: WriterSpec): Promise<number> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/rotatingLogWriter.ts', JSON.stringify(spec)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.once('exit', (code) => (code === 0 ? resolve((JSON.parse(out) as { written: number }).written) : reject(new Error(`log writer exited ${String(code)}`))));
    });
  }

  /** The sequence numbers of every line of `pod` in Elasticsearch, as stored (a repeated one is stored twice). */
  async function storedSequence(pod: string): Promise<number[]> {
    const seqs: number[] = [];
    let after: unknown[] | undefined;
    for (;;) {
      const res = await fetch(`${es.url}/logs-kansoku-*/_search`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          size: 10_000,
          _source: ['message'],
          query: { bool: { filter: [{ term: { 'tenant.id': TENANT } }, { term: { 'kubernetes.pod.name': pod } }] } },
          sort: [{ 'kansoku.id': 'asc' }],
          ...(after ? { search_after: after } : {}),
        }),
      });
      const body = (await res.json()) as { hits: { hits: { _source: { message: string }; sort: unknown[] }[] } };
      expect(res.status, JSON.stringify(body).slice(0, 500)).toBe(200);
      const hits = body.hits.hits;
      for (const hit of hits) seqs.push(Number(/seq=(\d+)/.exec(hit._source.message)?.[1] ?? -1));
      if (hits.length < 10_000) return seqs;
      after = hits[hits.length - 1]?.sort;
    }
  }

  async function storedCount(pod: string): Promise<number> {
    await fetch(`${es.url}/logs-kansoku-*/_refresh`, { method: 'POST' });
    const res = await fetch(`${es.url}/logs-kansoku-*/_count`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: { bool: { filter: [{ term: { 'tenant.id': TENANT } }, { term: { 'kubernetes.pod.name': pod } }] } } }),
    });
    return res.ok ? ((await res.json()) as { count: number }).count : 0;
  }

  async function rotateUnderLoad(rotation: WriterSpec['rotation']): Promise<Run> {
    const root = tmp();
    const pod = `writer-${rotation}`;
    const spec: WriterSpec = { root, namespace: TENANT, pod, container: 'app', linesPerSecond: LINES_PER_SECOND, durationMs: DURATION_MS, rotateEveryMs: 100, rotation };
    const telemetryPort = await freePort();
    const agentUrl = `http://127.0.0.1:${telemetryPort}`;
    const include = containerLogLink(spec).replace(/[^/]+$/, '*.log');
    // The agent is up before the container starts writing: files that were rotated away before an
    // agent ever ran are not its to read (as with Fluent Bit, only the live file is read from its start).
    let agent = startAgent(root, include, telemetryPort);
    await agent.waitFor(/shipping container logs/, 60_000);
    const writing = runWriter(spec);
    const t0 = Date.now();
    const at = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, t0 + ms - Date.now())));
    // The first kill comes once the agent has published something (its checkpoints have moved).
    await eventually(() => readSelfMetrics(agentUrl), (m) => counterValue(m, 'kansoku_agent_published_total') > 0, 30_000);
    await at(5_000);
    await kill9(agent);
    agent = startAgent(root, include, telemetryPort);

    await at(10_000);
    for (let id = 1; id <= BROKERS; id++) await kafka.brokerDown(id);
    await at(20_000);
    for (let id = 1; id <= BROKERS; id++) await kafka.brokerUp(id);

    await at(23_000);
    await kill9(agent);
    agent = startAgent(root, include, telemetryPort);

    const written = await writing;
    const found = await eventually(() => storedCount(pod), (count) => count >= written, 180_000, 1000);
    const seqs = await storedSequence(pod);
    const seen = new Set(seqs);
    let lost = 0;
    const lostRanges: string[] = [];
    for (let seq = 0; seq < written; seq++) {
      if (seen.has(seq)) continue;
      lost++;
      const last = lostRanges[lostRanges.length - 1];
      if (last !== undefined && last.endsWith(`-${seq - 1}`)) lostRanges[lostRanges.length - 1] = `${last.slice(0, last.lastIndexOf('-'))}-${seq}`;
      else lostRanges.push(`${seq}-${seq}`);
    }
    if (lost > 0) process.stdout.write(`rotation ${rotation}: lost line ranges ${lostRanges.slice(0, 20).join(' ')}\n`);
    const duplicatesDelivered = counterValue(await readSelfMetrics(serverUrl), 'kansoku_server_log_duplicates_total');
    await agent.stop();
    const run = { written, found, duplicatesDelivered, lost, storedTwice: seqs.length - seen.size };
    process.stdout.write(`rotation ${rotation}: lines written ${written}, found ${found}, duplicates delivered (stored once) ${duplicatesDelivered}, lost ${lost}\n`);
    return run;
  }

  it('rename + create: every line is in Elasticsearch exactly once', async () => {
    const run = await rotateUnderLoad('rename');
    expect(run.written).toBeGreaterThanOrEqual(LINES_PER_SECOND * (DURATION_MS / 1000) * 0.99);
    expect(run.lost).toBe(0);
    expect(run.storedTwice).toBe(0);
    expect(run.found).toBe(run.written);
  }, 400_000);

  it('copytruncate: every line is in Elasticsearch exactly once', async () => {
    const run = await rotateUnderLoad('copytruncate');
    expect(run.written).toBeGreaterThanOrEqual(LINES_PER_SECOND * (DURATION_MS / 1000) * 0.99);
    expect(run.lost).toBe(0);
    expect(run.storedTwice).toBe(0);
    expect(run.found).toBe(run.written);
  }, 400_000);
});
