/**
 * InfluxDB 2.x and 3.x are not packaged for this machine's Debian (only influxdb 1.6.7
 * is), so the v2 sink is tested against a recording HTTP server on 127.0.0.1 that
 * answers /api/v2/write the way those servers do.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { MetricEnvelope } from '../../core/envelope.js';
import { PATIENT } from '../../core/pipeline.testkit.js';
import type { InfluxdbConfig } from './config.js';
import { InfluxdbV2Sink } from './influxdbV2Sink.js';
import { encodeMetric, parseLine } from './lineProtocol.js';
import { startRecordingInfluxdb, type RecordingInfluxdb } from './recordingInfluxdb.testkit.js';

const NOW_MS = Date.parse('2026-01-01T00:00:00Z');

function metric(name: string, value: number): MetricEnvelope {
  return { metric: { name, dimensions: { host: 'h 1' }, timestamp: 1_700_000_000_000, value, value_meta: { why: 'x' } }, meta: { tenantId: 'tenant-a', region: 'r1' }, creation_time: 1_700_000_000 };
}

function lineOf(item: MetricEnvelope): string {
  const line = encodeMetric(item);
  if (!line.ok) throw new Error(line.error);
  return line.value;
}

let server: RecordingInfluxdb;
let config: InfluxdbConfig;

beforeEach(async () => {
  server = await startRecordingInfluxdb();
  config = { version: 2, url: server.url, database: 'monasca', org: 'acme', bucket: 'metrics', token: 'secret', timeoutMs: 2_000, retryDelayMs: 50 };
});

afterEach(async () => {
  await server.close();
});

describe('InfluxdbV2Sink', () => {
  it('writes Monasca line protocol to /api/v2/write with bucket, org, ms precision and the token', async () => {
    const sink = new InfluxdbV2Sink(config);
    const batch = [metric('cpu', 1), metric('mem', 2)];
    expect(await sink.deliver(batch)).toEqual({ kind: 'delivered' });

    expect(server.requests).toHaveLength(1);
    const [request] = server.requests;
    expect(request?.method).toBe('POST');
    expect(request?.path).toBe('/api/v2/write');
    expect(Object.fromEntries(request?.query ?? [])).toEqual({ bucket: 'metrics', org: 'acme', precision: 'ms' });
    expect(request?.headers.authorization).toBe('Token secret');
    const lines = (request?.body ?? '').split('\n').map(parseLine);
    expect(lines).toEqual([
      { ok: true, value: { measurement: 'cpu', tags: { _region: 'r1', _tenant_id: 'tenant-a', host: 'h 1' }, fields: { value: 1, value_meta: '{"why":"x"}' }, timestamp: 1_700_000_000_000 } },
      { ok: true, value: { measurement: 'mem', tags: { _region: 'r1', _tenant_id: 'tenant-a', host: 'h 1' }, fields: { value: 2, value_meta: '{"why":"x"}' }, timestamp: 1_700_000_000_000 } },
    ]);
  });

  it('writes to the database as bucket and without org when they are not configured (InfluxDB 3)', async () => {
    const sink = new InfluxdbV2Sink({ version: 2, url: server.url, database: 'monasca', timeoutMs: 2_000 });
    expect(await sink.deliver([metric('cpu', 1)])).toEqual({ kind: 'delivered' });
    expect(Object.fromEntries(server.requests[0]?.query ?? [])).toEqual({ bucket: 'monasca', precision: 'ms' });
    expect(server.requests[0]?.headers.authorization).toBeUndefined();
  });

  const bad = metric('conflicted', 1);
  const good = metric('fine', 2);
  const cases: { name: string; answer: { status: number; body?: string; headers?: Record<string, string> }; expected: object }[] = [
    { name: '429 with Retry-After seconds', answer: { status: 429, headers: { 'retry-after': '3' } }, expected: { kind: 'retryable', delayMs: 3_000 } },
    { name: '503 with Retry-After as an HTTP date', answer: { status: 503, headers: { 'retry-after': new Date(NOW_MS + 7_000).toUTCString() } }, expected: { kind: 'retryable', delayMs: 7_000 } },
    { name: '500 without Retry-After: the configured delay', answer: { status: 500, body: '{"code":"internal error","message":"boom"}' }, expected: { kind: 'retryable', delayMs: 50, reason: expect.stringMatching(/500: boom/) as unknown } },
    { name: '401: credentials are the operator\'s to fix, not the data\'s fault', answer: { status: 401, body: '{"code":"unauthorized","message":"unauthorized access"}' }, expected: { kind: 'retryable', delayMs: 50 } },
    { name: '404 bucket not found', answer: { status: 404, body: '{"code":"not found","message":"bucket \\"metrics\\" not found"}' }, expected: { kind: 'retryable' } },
    {
      name: '400 type conflict (2.x): the named measurement\'s items',
      answer: { status: 400, body: JSON.stringify({ code: 'invalid', message: 'failure writing points to database: partial write: field type conflict: input field "value" on measurement "conflicted" is type float, already exists as type string dropped=1' }) },
      expected: { kind: 'rejected', items: [bad], delivered: 1 },
    },
    {
      name: '400 parse error (2.x): the quoted line\'s item',
      answer: { status: 400, body: JSON.stringify({ code: 'invalid', message: `unable to parse '${lineOf(good)}': bad timestamp` }) },
      expected: { kind: 'rejected', items: [good], delivered: 1 },
    },
    {
      name: '400 partial write (3.x): the numbered lines\' items',
      answer: { status: 400, body: JSON.stringify({ error: 'partial write of line protocol occurred', data: [{ original_line: 'x', line_number: 2, error_message: 'invalid column type' }] }) },
      expected: { kind: 'rejected', items: [good], delivered: 1 },
    },
    {
      name: '422 beyond retention: every item, since InfluxDB does not say which',
      answer: { status: 422, body: JSON.stringify({ code: 'unprocessable entity', message: 'failure writing points to database: partial write: points beyond retention policy dropped=1' }) },
      expected: { kind: 'rejected', items: [bad, good], delivered: 0 },
    },
    { name: '413 too large', answer: { status: 413, body: '{"code":"request too large","message":"too large"}' }, expected: { kind: 'rejected', items: [bad, good], delivered: 0, reason: expect.stringMatching(/batchSize/) as unknown } },
  ];
  for (const { name, answer, expected } of cases) {
    it(`classifies ${name}`, async () => {
      server.answer(answer);
      expect(await new InfluxdbV2Sink(config, { now: () => NOW_MS }).deliver([bad, good])).toMatchObject(expected);
    });
  }

  it('never retries a rejection: the same batch is rejected again, not held', async () => {
    const conflict = { status: 400, body: '{"code":"invalid","message":"partial write: field type conflict: input field \\"value\\" on measurement \\"conflicted\\" is type float, already exists as type string dropped=1"}' };
    server.answer(conflict, conflict);
    const sink = new InfluxdbV2Sink(config);
    expect((await sink.deliver([bad, good])).kind).toBe('rejected');
    expect((await sink.deliver([bad, good])).kind).toBe('rejected');
  });

  it('sends batchSize points per request and stops at the first retryable one', async () => {
    server.answer({ status: 204 }, { status: 503 });
    const sink = new InfluxdbV2Sink({ ...config, batchSize: 2 });
    const batch = [1, 2, 3, 4, 5].map((i) => metric(`m${i}`, i));
    expect(await sink.deliver(batch)).toMatchObject({ kind: 'retryable' });
    expect(server.requests.map((r) => r.body.split('\n').length)).toEqual([2, 2]);

    expect(await sink.deliver(batch)).toEqual({ kind: 'delivered' });
    expect(server.requests.slice(2).map((r) => r.body.split('\n').length)).toEqual([2, 2, 1]);
  });

  it('answers retryable, not a throw, when nothing listens', async () => {
    await server.close();
    expect(await new InfluxdbV2Sink(config).deliver([good])).toMatchObject({ kind: 'retryable', delayMs: 50, reason: expect.stringMatching(/unreachable/) as unknown });
  });

  it('answers retryable when the server does not answer within timeoutMs', async () => {
    server.answer('hang');
    expect(await new InfluxdbV2Sink({ ...config, timeoutMs: 100 }).deliver([good])).toMatchObject({ kind: 'retryable', reason: expect.stringMatching(/unreachable/) as unknown });
  });

  it('answers retryable for a delivery cut short by close()', async () => {
    server.answer('hang');
    const sink = new InfluxdbV2Sink(config);
    const delivery = sink.deliver([good]);
    await vi.waitFor(() => expect(server.requests).not.toHaveLength(0), PATIENT);
    await sink.close();
    expect(await delivery).toMatchObject({ kind: 'retryable' });
    expect(await sink.deliver([good])).toMatchObject({ kind: 'retryable', reason: expect.stringMatching(/closed/) as unknown });
  });

  it('is healthy when /ping answers and unhealthy otherwise', async () => {
    server.answer({ status: 204 }, { status: 503 });
    const sink = new InfluxdbV2Sink(config);
    expect(await sink.health()).toEqual({ healthy: true });
    expect(server.requests[0]?.path).toBe('/ping');
    expect(await sink.health()).toEqual({ healthy: false, reason: 'InfluxDB /ping answered 503' });
    await server.close();
    expect(await sink.health()).toMatchObject({ healthy: false, reason: expect.stringMatching(/unreachable/) as unknown });
  });
});
