/**
 * Log records from Kafka into Elasticsearch: the whole `kansoku server` process against
 * bulk-indexing the very same documents straight into the same Elasticsearch, in the same
 * run.
 *
 * - The records are what the agent makes of the logs benchmark's container log
 *   (containerLogFile.ts), continued until there are `RECORDS` of them: its own
 *   `ContainerLogsSource` and `LogFileParser` over the lines (stack traces joined, levels,
 *   origins), only the file reading stood in for.
 * - Elasticsearch 8.12.2 (test/search/searchEngine.ts: single node, 512 MB heap, full JIT, on
 *   loopback) gets Kansoku's ILM policy and index template (`ensureTemplates`, the
 *   server's own code, `number_of_replicas: 0`), so every run writes into a
 *   `logs-kansoku-<tenant>` data stream with Kansoku's mapping. The data stream is
 *   deleted between runs, so that each writes the same ids into an empty one.
 * - The baseline posts the documents the server's sink writes (`encodeBatch` → ECS
 *   `bulkCreateLines` with `logRecordId`, split as the sink splits them: `bulk_max_docs`
 *   5,000, `bulk_max_bytes` 10 MB) to `_bulk`, one request after another, pre-encoded
 *   before the clock starts. It runs once untimed over all the records, to warm the JVM,
 *   then once before and once after the server's run; the mean time is taken.
 * - Kansoku: the records are framed in the batched wire (`frame` with `logCodec`, 5,000
 *   records a publish call, the agent's key) and pre-filled onto a fresh mock cluster's
 *   `logs` topic; then `node dist/cmd/kansoku.js server` consumes them with
 *   `server.logs.store: elasticsearch`. Its window runs from the first records it reports
 *   written (`kansoku_server_written_total{sink="elasticsearch"}`) to the last, as the
 *   server e2e bench does (start-up and the group join are not counted); its CPU is
 *   utime + stime over that window.
 *
 * The mock cluster keeps at most 5 MiB per partition (metricsTopicLoad.ts), so the
 * ~600 MB of envelopes are spread over `LOGS_PARTITIONS` partitions, message by message in
 * turn, as many agents would spread them. Every count is checked: the topic must hold every
 * message from offset 0, and Elasticsearch every document (`_count` after `_refresh`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Value } from '@sinclair/typebox/value';
import { AgentSectionSchema } from '../agent/config.js';
import { ContainerLogsSource, type LogTailer, type TailedChunk } from '../agent/logs/containerLogsSource.js';
import type { RawLine } from '../agent/logs/logLine.js';
import { LogFileParser } from '../agent/logs/parse/logFileParser.js';
import { positionedLogKey } from '../agent/logs/positionedLog.js';
import { logCodec } from '../core/codec.js';
import { Counters } from '../core/counters.js';
import type { LogEnvelope } from '../core/envelope.js';
import { defaultTenantMapping, tenantOf } from '../core/tenant.js';
import { enrichWithPodMetadata } from '../agent/enrich/enrichWithPodMetadata.js';
import { createKafka } from '../bus/kafka/kafkaClient.js';
import { DEFAULT_WIRE, frame } from '../bus/wire.js';
import { bulkBody, encodeBatch, splitIntoRequests } from '../server/search/bulkRequests.js';
import { LogSearchSectionSchema, type LogSearchSection } from '../server/search/config.js';
import { dataStreamName } from '../server/search/dataStream.js';
import { elasticsearchTransport } from '../server/search/elasticsearchTransport.js';
import { ensureTemplates } from '../server/search/templates.js';
import { startKafkaMockCluster } from '../test/kafka/mockCluster.js';
import { startElasticsearch, type RunningSearchEngine } from '../test/search/searchEngine.js';
import { buildKansoku, startBuiltKansoku } from '../test/support/builtKansoku.js';
import { freePort } from '../test/support/kansokuProcess.js';
import { requireTopicIntact, MOCK_PARTITION_LIMIT_BYTES } from '../test/support/metricsTopicLoad.js';
import { clockTicksPerSecond, cpuTicks } from '../test/support/procStat.js';
import { criLine, LOG_CONTAINER, LOG_NAMESPACE, LOG_POD } from './containerLogFile.js';
import { benchResult, type BenchResult } from './harness.js';
import { sampleSum } from './logsToKafka.js';

export const RECORDS = 1_000_000;
const HOSTNAME = 'bench';
const REGION = 'local';
/** The agent's `agent.logs.batch_size`: records framed per publish call. */
const PUBLISH_BATCH = 5_000;
const BROKERS = 3;
/** ~600 MB of envelopes in ~1 MB messages: at most 4 messages on each, well under the mock's 5 MiB. */
const LOGS_PARTITIONS = 160;
const TOPIC_PARTITIONS = { metrics: 1, logs: LOGS_PARTITIONS, 'kansoku-dead-letter': 1 } as const;
const POLL_MS = 100;
const STALL_MS = 120_000;
const STOP_DEADLINE_MS = 30_000;
const GOAL = '>= 0.8x direct bulk';
const SINK = 'elasticsearch';
/** Counters that must stay at 0: a record decoded badly, refused or dead-lettered is a document not written. */
const MUST_BE_ZERO = ['kansoku_server_decode_errors_total', 'kansoku_server_rejected_total', 'kansoku_server_dead_lettered_total'] as const;

/** The section the server runs with, as its defaults make it, with the bench's URL and no replicas (one node). */
function searchSection(url: string): LogSearchSection {
  return { ...(Value.Default(LogSearchSectionSchema, {}) as LogSearchSection), urls: [url], number_of_replicas: 0 };
}

/** The benchmark's lines as the tailer hands them over, about `budgetBytes` a poll, without end. */
function linesTailer(budgetBytes: number): LogTailer {
  const key = `${HOSTNAME}|bench-file`;
  const path = join('/var/log/containers', `${LOG_POD}_${LOG_NAMESPACE}_${LOG_CONTAINER}-${'3f6e2a9c0b1d4e5f'.repeat(4)}.log`);
  let seq = 0;
  let offset = 0;
  return {
    poll: async (): Promise<readonly TailedChunk[]> => {
      const lines: RawLine[] = [];
      for (let bytes = 0; bytes < budgetBytes; ) {
        const line = criLine(seq++);
        const size = Buffer.byteLength(line);
        lines.push({ text: line.slice(0, -1), startOffset: offset, endOffset: offset + size });
        offset += size;
        bytes += size;
      }
      return [{ file: { key, path }, lines, ended: false }];
    },
    commit: () => undefined,
    flushCheckpoints: () => Promise.resolve(),
  };
}

/** The first `count` records the agent makes of the benchmark's lines, with its own source and parser. */
export async function agentRecords(count: number): Promise<LogEnvelope[]> {
  const logs = Value.Default(AgentSectionSchema, {}) as { logs: { format: 'auto' | 'cri' | 'docker'; multiline: boolean; multiline_flush_ms: number; max_message_bytes: number; read_budget_bytes: number } };
  const tailer = linesTailer(logs.logs.read_budget_bytes);
  const nowMs = Date.now();
  const source = new ContainerLogsSource({
    tailer,
    newParser: () => new LogFileParser({ format: logs.logs.format, multiline: logs.logs.multiline, multilineFlushMs: logs.logs.multiline_flush_ms, maxMessageBytes: logs.logs.max_message_bytes }),
    hostname: HOSTNAME,
    region: REGION,
    defaultTenant: 'local',
    counters: new Counters(),
    // A clock that stands still: no stack trace is flushed for being held too long.
    now: () => nowMs,
  });
  // The agent's default tenancy: a namespace is its own tenant.
  const enrichment = enrichWithPodMetadata({
    settings: { podLabels: [], podAnnotations: [], waitForMetadataMs: 0 },
    tenants: { tenantOf: (namespace) => tenantOf(namespace, defaultTenantMapping) },
    region: REGION,
    counters: new Counters(),
    now: () => nowMs,
  });
  const records: LogEnvelope[] = [];
  while (records.length < count) for (const record of (await enrichment.logs(await source.read(logs.logs.read_budget_bytes))).kept) records.push(record.envelope);
  return records.slice(0, count);
}

// --- Elasticsearch -------------------------------------------------------------------------

async function call(url: string, method: string, path: string, body?: string, contentType = 'application/json'): Promise<unknown> {
  const response = await fetch(`${url}${path}`, { method, ...(body !== undefined ? { body, headers: { 'content-type': contentType } } : {}) });
  const text = await response.text();
  if (response.status >= 300) throw new Error(`${method} ${path} answered ${response.status}: ${text.slice(0, 500)}`);
  return text.length > 0 ? (JSON.parse(text) as unknown) : undefined;
}

async function documentCount(url: string, dataStream: string): Promise<number> {
  await call(url, 'POST', `/${dataStream}/_refresh`);
  const answer = (await call(url, 'GET', `/${dataStream}/_count`)) as { count?: number };
  return answer.count ?? NaN;
}

async function deleteDataStream(url: string, dataStream: string): Promise<void> {
  const response = await fetch(`${url}/_data_stream/${dataStream}`, { method: 'DELETE' });
  await response.text();
  if (response.status !== 200 && response.status !== 404) throw new Error(`DELETE /_data_stream/${dataStream} answered ${response.status}`);
}

async function requireDocuments(url: string, dataStream: string, expected: number, what: string): Promise<void> {
  const count = await documentCount(url, dataStream);
  if (count !== expected) throw new Error(`${what}: ${dataStream} holds ${count} documents where ${expected} were written`);
}

/** The `_bulk` bodies the sink sends for `records`, split as its defaults split them. */
function bulkBodies(records: readonly LogEnvelope[], section: LogSearchSection): string[] {
  const bodies: string[] = [];
  for (let start = 0; start < records.length; start += section.bulk_max_docs) {
    const encoded = encodeBatch(records.slice(start, start + section.bulk_max_docs), (tenantId) => dataStreamName(section.data_stream, tenantId));
    if (encoded.unencodable.length > 0) throw new Error(`${encoded.unencodable.length} records cannot be documents`);
    for (const request of splitIntoRequests(encoded.items, section.bulk_max_docs, section.bulk_max_bytes)) bodies.push(bulkBody(request));
  }
  return bodies;
}

interface DirectRun {
  readonly ms: number;
  readonly cpuMs: number;
}

/** Posts every body to `_bulk`, one after another; throws on any item error. */
async function postBulk(url: string, bodies: readonly string[]): Promise<DirectRun> {
  const cpuBefore = process.cpuUsage();
  const startMs = performance.now();
  for (const body of bodies) {
    const answer = (await call(url, 'POST', '/_bulk', body, 'application/x-ndjson')) as { errors?: boolean; items?: { create?: { status?: number; error?: unknown } }[] };
    if (answer.errors !== false) {
      const failed = answer.items?.find((item) => (item.create?.status ?? 0) >= 300);
      throw new Error(`a direct _bulk request had item errors: ${JSON.stringify(failed).slice(0, 500)}`);
    }
  }
  const ms = performance.now() - startMs;
  const cpu = process.cpuUsage(cpuBefore);
  return { ms, cpuMs: (cpu.user + cpu.system) / 1000 };
}

// --- Kansoku server ---------------------------------------------------------------------------

interface ServerRun {
  readonly records: number;
  readonly windowRecords: number;
  readonly windowMs: number;
  readonly cpuMs: number;
  readonly messages: number;
  readonly retries: number;
  readonly duplicates: number;
}

/** Frames `records` as the agent's Publisher does and puts the messages on `logs`, partition after partition in turn. */
async function prefillLogsTopic(brokers: readonly string[], records: readonly LogEnvelope[]): Promise<number> {
  const kafka = createKafka({ brokers, clientId: 'kansoku-bench-prefill' });
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const partitionBytes = new Array<number>(LOGS_PARTITIONS).fill(0);
  let messages = 0;
  try {
    for (let start = 0; start < records.length; start += PUBLISH_BATCH) {
      const framed = frame(records.slice(start, start + PUBLISH_BATCH), logCodec, (envelope) => positionedLogKey({ envelope, fileKey: '', resumeOffset: 0 }), DEFAULT_WIRE);
      if (framed.tooLarge.length > 0) throw new Error(`${framed.tooLarge.length} records are too large for one message`);
      const placed = framed.messages.map((message) => {
        const partition = messages++ % LOGS_PARTITIONS;
        partitionBytes[partition] = (partitionBytes[partition] ?? 0) + Buffer.byteLength(message.value) + 200;
        return { key: message.key, value: message.value, headers: { ...message.headers }, partition };
      });
      await producer.send({ topic: logCodec.topic, acks: -1, messages: placed });
    }
  } finally {
    await producer.disconnect();
  }
  const fullest = Math.max(...partitionBytes);
  if (fullest > MOCK_PARTITION_LIMIT_BYTES * 0.97) throw new Error(`one partition of logs holds ${(fullest / 2 ** 20).toFixed(2)} MiB, near the mock's limit: use more partitions`);
  await requireTopicIntact(brokers, logCodec.topic, messages);
  return messages;
}

async function runServer(esUrl: string, dataStream: string, records: readonly LogEnvelope[]): Promise<ServerRun> {
  const dir = mkdtempSync(join(tmpdir(), 'kansoku-bench-server-'));
  const cluster = await startKafkaMockCluster({ brokers: BROKERS, topics: TOPIC_PARTITIONS });
  try {
    const messages = await prefillLogsTopic(cluster.brokers, records);
    const port = await freePort();
    const server = startBuiltKansoku(['server'], {
      KANSOKU_BUS__KIND: 'kafka',
      KANSOKU_KAFKA_BROKERS: cluster.brokers.join(','),
      KANSOKU_BUS__KAFKA__SESSION_TIMEOUT_MS: '6000',
      KANSOKU_BUS__KAFKA__HEARTBEAT_INTERVAL_MS: '500',
      KANSOKU_BUS__KAFKA__MAX_WAIT_TIME_MS: '100',
      KANSOKU_SERVER__SQLITE__PATH: join(dir, 'kansoku.db'),
      KANSOKU_SERVER__LOGS__STORE: 'elasticsearch',
      KANSOKU_SERVER__LOGS__ELASTICSEARCH__URLS: esUrl,
      KANSOKU_SERVER__LOGS__ELASTICSEARCH__NUMBER_OF_REPLICAS: '0',
      KANSOKU_SERVER__API__PORT: String(port),
      KANSOKU_AUTH_TOKENS: 't:t:monasca-user',
      KANSOKU_LOG_LEVEL: 'warn',
    });
    try {
      const metricsUrl = `http://127.0.0.1:${port}/metrics`;
      let first: { readonly ms: number; readonly written: number; readonly ticks: number } | undefined;
      let last = { ms: performance.now(), written: 0 };
      for (;;) {
        if (server.exited()) throw new Error(`the server exited (${String(server.child.exitCode ?? server.child.signalCode)}):\n${server.output()}`);
        const page = await fetch(metricsUrl, { signal: AbortSignal.timeout(5_000) })
          .then((response) => (response.ok ? response.text() : ''))
          .catch(() => ''); // not listening yet
        const written = sampleSum(page, 'kansoku_server_written_total', { sink: SINK });
        const nowMs = performance.now();
        if (written > 0 && first === undefined) first = { ms: nowMs, written, ticks: cpuTicks(server.pid) };
        if (written >= records.length && first !== undefined) {
          const ticks = cpuTicks(server.pid);
          for (const name of MUST_BE_ZERO) {
            if (sampleSum(page, name) !== 0) throw new Error(`the server counted ${sampleSum(page, name)} ${name}: not every record was written as sent\n${server.output()}`);
          }
          if (written !== records.length) throw new Error(`the server wrote ${written} records where ${records.length} were published (a batch written twice?)`);
          if (written - first.written < records.length / 2) throw new Error(`the server wrote ${first.written} of ${records.length} records before the first poll saw any: too little load to time`);
          await requireDocuments(esUrl, dataStream, records.length, 'kansoku server');
          return {
            records: written,
            windowRecords: written - first.written,
            windowMs: nowMs - first.ms,
            cpuMs: ((ticks - first.ticks) * 1000) / clockTicksPerSecond(),
            messages,
            retries: sampleSum(page, 'kansoku_server_retries_total', { sink: SINK }),
            duplicates: sampleSum(page, 'kansoku_server_log_duplicates_total'),
          };
        }
        if (written > last.written) last = { ms: nowMs, written };
        else if (nowMs - last.ms > STALL_MS) throw new Error(`the server wrote ${written} of ${records.length} records and nothing more for ${STALL_MS / 1000} s:\n${server.output()}`);
        await sleep(POLL_MS);
      }
    } finally {
      await server.stop(STOP_DEADLINE_MS);
    }
  } finally {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

// --- the rows ------------------------------------------------------------------------------

const quiet = { info: () => undefined, warn: () => undefined };

/** `recordCount` is for trying the bench at a smaller scale by hand; the rows are measured at `RECORDS`. */
export async function measureLogsToElasticsearch(recordCount = RECORDS): Promise<BenchResult[]> {
  await buildKansoku();
  const records = await agentRecords(recordCount);
  const tenants = new Set(records.map((record) => record.meta.tenantId));
  if (tenants.size !== 1) throw new Error(`the records belong to ${tenants.size} tenants; the bench counts one data stream`);
  const log = (line: string): void => console.error(`logs → Elasticsearch, ${line}; 1-minute load average ${(loadavg()[0] ?? NaN).toFixed(1)}`);
  let engine: RunningSearchEngine | undefined;
  try {
    // Full JIT (C2): the C1-only JVM the tests start faster reaches a fraction of its peak speed.
    engine = await startElasticsearch({ fullJit: true });
    const url = engine.url;
    const section = searchSection(url);
    const dataStream = dataStreamName(section.data_stream, [...tenants][0] ?? '');
    const transport = elasticsearchTransport(section);
    try {
      const setup = await ensureTemplates(transport, section, 'elasticsearch', quiet);
      if (!setup.ok) throw new Error(`installing Kansoku's index template failed: ${setup.reason}`);
    } finally {
      await transport.close();
    }
    const bodies = bulkBodies(records, section);
    const bytes = bodies.reduce((sum, body) => sum + Buffer.byteLength(body), 0);
    log(`${records.length.toLocaleString('en-US')} documents in ${bodies.length} _bulk requests of up to ${section.bulk_max_docs.toLocaleString('en-US')} (${(bytes / 1e6).toFixed(0)} MB) into ${dataStream}, Elasticsearch ${engine.version}`);

    const direct = async (label: string): Promise<DirectRun> => {
      await deleteDataStream(url, dataStream);
      const run = await postBulk(url, bodies);
      await requireDocuments(url, dataStream, records.length, label);
      log(`${label}: ${Math.round(records.length / (run.ms / 1000)).toLocaleString('en-US')} docs/s over ${(run.ms / 1000).toFixed(1)} s`);
      return run;
    };
    await direct('warm-up (untimed), direct _bulk');
    const before = await direct('direct _bulk (before)');
    await deleteDataStream(url, dataStream);
    const server = await runServer(url, dataStream, records);
    log(
      `kansoku server: ${Math.round(server.windowRecords / (server.windowMs / 1000)).toLocaleString('en-US')} docs/s over ${(server.windowMs / 1000).toFixed(1)} s, ` +
        `${((server.cpuMs * 1000) / server.windowRecords).toFixed(1)} µs CPU/doc (${((server.cpuMs / server.windowMs) * 100).toFixed(0)} % of a core), ${server.messages} Kafka messages, ${server.retries} retries, ${server.duplicates} duplicates`,
    );
    const after = await direct('direct _bulk (after)');
    await deleteDataStream(url, dataStream);

    const directMs = (before.ms + after.ms) / 2;
    const directRate = records.length / (directMs / 1000);
    const serverRate = server.windowRecords / (server.windowMs / 1000);
    const workload = `${records.length.toLocaleString('en-US')} log records as the agent makes them of the logs bench's CRI lines (ECS documents, ${Math.round(bytes / records.length)} bytes of _bulk each)`;
    const baseline = `_bulk of the same documents (the sink's encodeBatch, ${section.bulk_max_docs.toLocaleString('en-US')}-document requests one after another, plain fetch) into the same data stream and index template, after a warm-up of the same ${records.length.toLocaleString('en-US')}; mean time of a run before and one after the server's`;
    return [
      benchResult({
        name: `kansoku server process, Kafka (mock, ${BROKERS} brokers, logs on ${LOGS_PARTITIONS} partitions, batched wire) → Elasticsearch ${engine.version} (1 node, 0 replicas), fresh consumer group, first to last record written, ${workload}`,
        unit: 'docs/s',
        value: serverRate,
        baseline,
        baseline_value: directRate,
        goal: `${GOAL}: ${serverRate >= 0.8 * directRate ? 'met' : 'MISSED'}`,
      }),
      benchResult({
        name: `server process CPU (utime + stime) per document, ${workload}`,
        unit: 'µs CPU/doc',
        value: (server.cpuMs * 1000) / server.windowRecords,
        baseline: 'the bench client CPU per document of posting the pre-encoded _bulk bodies (plain fetch): the HTTP part of the server\'s work alone',
        baseline_value: (((before.cpuMs + after.cpuMs) / 2) * 1000) / records.length,
        goal: 'informational',
      }),
    ];
  } finally {
    await engine?.stop();
  }
}
