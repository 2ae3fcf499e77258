import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { Counters } from '../../core/counters.js';
import { retryable } from '../../core/outcome.js';
import { RecordingProducer } from '../../core/pipeline.testkit.js';
import { Publisher } from '../../bus/publisher.js';
import { unframe } from '../../bus/wire.js';
import { logCodec } from '../../core/codec.js';
import { ContainerLogsSource, type LogTailer, type TailedChunk } from './containerLogsSource.js';
import type { RawLine } from './logLine.js';
import { LogFileParser } from './parse/logFileParser.js';
import { positionedLogCodec, positionedLogKey, type PositionedLog } from './positionedLog.js';
import { enrichWithPodMetadata } from '../enrich/enrichWithPodMetadata.js';
import { startLogShipping } from './shipLogs.js';

const CONTAINER = `/var/log/containers/web-1_shop_nginx-${'a'.repeat(64)}.log`;

/** A file that always has more lines: each poll hands out up to `maxBytes` of them, numbered. */
class EndlessTailer implements LogTailer {
  readonly commits: number[] = [];
  polls = 0;
  flushes = 0;
  private offset = 0;
  private seq = 0;

  poll(maxBytes: number): Promise<readonly TailedChunk[]> {
    this.polls++;
    const lines: RawLine[] = [];
    for (let bytes = 0; bytes < maxBytes; ) {
      const text = `2026-11-26T06:00:00.000000000Z stdout F line ${this.seq++}`;
      const start = this.offset;
      this.offset += text.length + 1;
      bytes += text.length + 1;
      lines.push({ text, startOffset: start, endOffset: this.offset });
    }
    return Promise.resolve([{ file: { key: 'f1', path: CONTAINER }, lines, ended: false }]);
  }

  commit(_key: string, offset: number): void {
    this.commits.push(offset);
  }

  flushCheckpoints(): Promise<void> {
    this.flushes++;
    return Promise.resolve();
  }
}

function shipping(busUp: () => boolean, maxQueued: number) {
  const counters = new Counters();
  const tailer = new EndlessTailer();
  const source = new ContainerLogsSource({
    tailer,
    newParser: () => new LogFileParser({ multiline: false, multilineFlushMs: 1000, maxMessageBytes: 65536 }),
    hostname: 'node-1',
    region: 'r',
    defaultTenant: 'local',
    counters,
    now: () => Date.now(),
  });
  const producer = new RecordingProducer(() => (busUp() ? { kind: 'delivered' } : retryable('brokers down', 5)));
  const publisher = new Publisher<PositionedLog>({
    producer,
    codec: positionedLogCodec,
    keyOf: positionedLogKey,
    wire: { mode: 'batched', maxMessageBytes: 1_000_000 },
    counters,
    counterPrefix: 'kansoku_agent',
    maxQueued,
    batchSize: 500,
    backoff: { initialDelayMs: 1, maxDelayMs: 5 },
    onDelivered: (records) => source.delivered(records),
  });
  // The namespace's tenant comes from the step between the source and the publisher.
  const enrichment = enrichWithPodMetadata({
    settings: { podLabels: [], podAnnotations: [], waitForMetadataMs: 0 },
    tenants: { tenantOf: (namespace) => (namespace === 'shop' ? 'tenant-shop' : undefined) },
    region: 'r',
    counters,
    now: () => Date.now(),
  });
  const running = startLogShipping({
    source,
    publisher,
    counters,
    logger: pino({ level: 'silent' }),
    pollIntervalMs: 10,
    readBudgetBytes: 16 * 1024,
    shutdownFlushMs: 500,
    transform: (records) => enrichment.logs(records),
  });
  return { counters, tailer, producer, publisher, running };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('startLogShipping', () => {
  it('publishes every line it reads, stamped with its tenant, and commits only past what the bus took', async () => {
    const { tailer, producer, running } = shipping(() => true, 10_000);
    await sleep(300);
    await running.stop();
    const records = producer.messages('logs').flatMap((m) => {
      const decoded = unframe(Buffer.from(m.value), m.headers, logCodec);
      return decoded.ok ? decoded.records : [];
    });
    expect(records.length).toBeGreaterThan(100);
    // In order and none missing: line 0, 1, 2, …
    expect(records.map((r) => r.log.message)).toEqual(records.map((_r, i) => `line ${i}`));
    expect(records[0]?.meta.tenantId).toBe('tenant-shop');
    expect(records[0]?.log.dimensions).toEqual({ hostname: 'node-1', namespace: 'shop', pod_name: 'web-1', container_name: 'nginx', container_id: 'a'.repeat(64), stream: 'stdout' });
    const lastLine = records[records.length - 1]?.log.origin ?? '';
    expect(lastLine.startsWith(`node-1|${CONTAINER}|f1|`)).toBe(true);
    // The furthest checkpoint is the end of the last published line, not further.
    const lastStart = Number(lastLine.split('|')[3]);
    expect(Math.max(...tailer.commits)).toBe(lastStart + `2026-11-26T06:00:00.000000000Z stdout F ${records[records.length - 1]?.log.message ?? ''}`.length + 1);
  });

  it('stops reading while the bus is down (the files are the buffer), and resumes when it is back', async () => {
    let up = false;
    const { tailer, publisher, running, counters } = shipping(() => up, 2_000);
    await sleep(400);
    const pollsWhileDown = tailer.polls;
    const queuedWhileDown = publisher.queued;
    // It read until its queue was full, then no more: bounded, nothing dropped, nothing committed.
    expect(queuedWhileDown).toBeLessThanOrEqual(2_000);
    expect(queuedWhileDown).toBeGreaterThan(0);
    await sleep(300);
    expect(tailer.polls).toBe(pollsWhileDown);
    expect(tailer.commits).toEqual([]);
    expect(counters.total('kansoku_agent_dropped_total')).toBe(0);
    up = true;
    await sleep(400);
    expect(tailer.polls).toBeGreaterThan(pollsWhileDown);
    expect(tailer.commits.length).toBeGreaterThan(0);
    await running.stop();
  });
});
