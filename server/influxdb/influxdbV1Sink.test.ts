/**
 * The v1 sink's answers a healthy local influxd never gives (throttling, auth, a proxy
 * in front); test/influxdb/ runs it against the real influxd for everything else.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { MetricEnvelope } from '../../core/envelope.js';
import { PATIENT } from '../../core/pipeline.testkit.js';
import type { InfluxdbConfig } from './config.js';
import { InfluxdbV1Sink } from './influxdbV1Sink.js';
import { startRecordingInfluxdb, type RecordingInfluxdb } from './recordingInfluxdb.testkit.js';

const item: MetricEnvelope = { metric: { name: 'cpu', dimensions: {}, timestamp: 1_700_000_000_000, value: 1, value_meta: null }, meta: { tenantId: 't', region: 'r' }, creation_time: 1_700_000_000 };

let server: RecordingInfluxdb;
let config: InfluxdbConfig;

beforeEach(async () => {
  server = await startRecordingInfluxdb();
  config = { version: 1, url: `${server.url}/influx`, database: 'monasca', retentionPolicy: 'one week', username: 'writer', password: 'p:w', timeoutMs: 2_000, retryDelayMs: 50 };
});

afterEach(async () => {
  await server.close();
});

describe('InfluxdbV1Sink', () => {
  it('writes to /write under the URL path with db, rp, ms precision and basic auth', async () => {
    expect(await new InfluxdbV1Sink(config).deliver([item])).toEqual({ kind: 'delivered' });
    const [request] = server.requests;
    expect(request?.path).toBe('/influx/write');
    expect(Object.fromEntries(request?.query ?? [])).toEqual({ db: 'monasca', rp: 'one week', precision: 'ms' });
    expect(request?.headers.authorization).toBe(`Basic ${Buffer.from('writer:p:w').toString('base64')}`);
    expect(request?.body).toBe('cpu,_region=r,_tenant_id=t value=1,value_meta="{}" 1700000000000');
  });

  it('sends a request of many points in pieces (chunked) that arrive as one body, a line per point', async () => {
    const items = Array.from({ length: 1234 }, (_, i) => ({ ...item, metric: { ...item.metric, timestamp: item.metric.timestamp + i, value: i } }));
    expect(await new InfluxdbV1Sink(config).deliver(items)).toEqual({ kind: 'delivered' });
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]?.headers['transfer-encoding']).toBe('chunked');
    const lines = server.requests[0]?.body.split('\n') ?? [];
    expect(lines).toHaveLength(1234);
    expect(lines[1233]).toBe('cpu,_region=r,_tenant_id=t value=1233,value_meta="{}" 1700000001233');
  });

  const cases = [
    { name: '429 with Retry-After', answer: { status: 429, headers: { 'retry-after': '2' } }, expected: { kind: 'retryable', delayMs: 2_000 } },
    { name: '503 without Retry-After', answer: { status: 503, body: '{"error":"engine: cache maximum memory size exceeded"}' }, expected: { kind: 'retryable', delayMs: 50, reason: expect.stringMatching(/cache maximum memory/) as unknown } },
    { name: '403 from a user without write rights', answer: { status: 403, body: '{"error":"user is not authorized to write to database"}' }, expected: { kind: 'retryable', delayMs: 50 } },
    { name: '500 retention policy not found', answer: { status: 500, body: '{"error":"retention policy not found: one week"}' }, expected: { kind: 'retryable', reason: expect.stringMatching(/retention policy not found/) as unknown } },
  ];
  for (const { name, answer, expected } of cases) {
    it(`classifies ${name}`, async () => {
      server.answer(answer);
      expect(await new InfluxdbV1Sink(config).deliver([item])).toMatchObject(expected);
    });
  }

  it('creates a missing database once for concurrent deliveries and says so when it cannot', async () => {
    const notFound = { status: 404, body: '{"error":"database not found: \\"monasca\\""}' };
    // Both writes meet the 404; one CREATE DATABASE is sent, and the user may not run it.
    server.answer(notFound, notFound, { status: 200, body: '{"results":[{"statement_id":0,"error":"error authorizing query: writer not authorized to execute statement \'CREATE DATABASE monasca\', requires admin privilege"}]}' });
    const sink = new InfluxdbV1Sink(config);
    const outcomes = await Promise.all([sink.deliver([item]), sink.deliver([item])]);
    for (const outcome of outcomes) expect(outcome).toMatchObject({ kind: 'retryable', delayMs: 50, reason: expect.stringMatching(/could not be created: 200: error authorizing query/) as unknown });
    const creates = server.requests.filter((r) => r.path === '/influx/query');
    expect(creates).toHaveLength(1);
    expect(new URLSearchParams(creates[0]?.body).get('q')).toBe('CREATE DATABASE "monasca"');
  });

  it('answers retryable when the server does not answer within timeoutMs', async () => {
    server.answer('hang');
    expect(await new InfluxdbV1Sink({ ...config, timeoutMs: 100 }).deliver([item])).toMatchObject({ kind: 'retryable', reason: expect.stringMatching(/unreachable/) as unknown });
  });

  it('answers retryable for a delivery cut short by close()', async () => {
    server.answer('hang');
    const sink = new InfluxdbV1Sink(config);
    const delivery = sink.deliver([item]);
    await vi.waitFor(() => expect(server.requests).not.toHaveLength(0), PATIENT);
    await sink.close();
    expect(await delivery).toMatchObject({ kind: 'retryable' });
  });
});
