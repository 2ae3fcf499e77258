import { describe, expect, it } from 'vitest';
import type { MetricEnvelope } from '../../core/envelope.js';
import { delivered, rejected, retryable } from '../../core/outcome.js';
import { encodeBatch } from './lineProtocol.js';
import { deliverInRequests, outcomeOfWrite, type SentBatch, type WriteResponse } from './writeOutcome.js';

const NOW_MS = Date.parse('2026-03-01T12:00:00Z');

function item(name: string, valueMeta: Record<string, string> | null = null): MetricEnvelope {
  return { metric: { name, dimensions: {}, timestamp: 1, value: 1, value_meta: valueMeta }, meta: { tenantId: 't', region: '' }, creation_time: 0 };
}

function response(status: number, body = '', headers: Record<string, string> = {}): WriteResponse {
  return { status, body, headers: { get: (name) => headers[name.toLowerCase()] } };
}

function sent(...batch: (string | MetricEnvelope)[]): SentBatch {
  const { lines, items } = encodeBatch(batch.map((b) => (typeof b === 'string' ? item(b) : b)));
  return { lines, items };
}

describe('outcomeOfWrite honours Retry-After', () => {
  // The header itself is read by core/retryAfter; here: the fallback and the cap.
  const cases = [
    { name: 'absent: our own delay', header: undefined, expected: 123 },
    { name: 'delta seconds', header: '12', expected: 12_000 },
    { name: 'an HTTP date', header: new Date(NOW_MS + 30_000).toUTCString(), expected: 30_000 },
    { name: 'a date in the past', header: new Date(NOW_MS - 30_000).toUTCString(), expected: 0 },
    { name: 'absurdly far: capped', header: '86400', expected: 300_000 },
    { name: 'garbage: our own delay', header: 'soon', expected: 123 },
  ];
  for (const { name, header, expected } of cases) {
    it(name, () => {
      const headers: Record<string, string> = header === undefined ? {} : { 'retry-after': header };
      expect(outcomeOfWrite(response(429, 'slow down', headers), sent('a'), { nowMs: NOW_MS, retryDelayMs: 123 })).toEqual(retryable('InfluxDB answered 429: slow down', expected));
    });
  }
});

describe('outcomeOfWrite', () => {
  const options = { nowMs: NOW_MS, retryDelayMs: 123 };

  it('delivers on 204', () => {
    expect(outcomeOfWrite(response(204), sent('a'), options)).toEqual(delivered);
  });

  it('takes the error text from the 1.x header when the body is empty', () => {
    expect(outcomeOfWrite(response(500, '', { 'x-influxdb-error': 'timeout' }), sent('a'), options)).toEqual(retryable('InfluxDB answered 500: timeout', 123));
  });

  it('names every quoted line of a multi-line parse error, and the line may hold quotes itself', () => {
    const batch = sent(item('a', { quote: "it': s" }), 'b', 'c');
    expect(batch.lines[0]).toContain("': ");
    const text = `partial write: unable to parse '${batch.lines[0]}': bad timestamp\nunable to parse '${batch.lines[2]}': invalid boolean dropped=0`;
    const outcome = outcomeOfWrite(response(400, JSON.stringify({ error: text })), batch, options);
    expect(outcome).toMatchObject({ kind: 'rejected', items: [batch.items[0], batch.items[2]], delivered: 1 });
  });

  it('names every item when a type conflict dropped more than the measurement it names', () => {
    const batch = sent('m1', 'm2', 'm3');
    const text = 'partial write: field type conflict: input field "value" on measurement "m1" is type float, already exists as type string dropped=2';
    expect(outcomeOfWrite(response(400, JSON.stringify({ error: text })), batch, options)).toEqual(rejected(expect.stringContaining('refused 3 of 3') as unknown as string, batch.items, 0));
  });

  it('reads the measurement of a max-values-per-tag refusal', () => {
    const batch = sent('m1', 'm2');
    const text = 'partial write: max-values-per-tag limit exceeded (100000/100000): measurement="m2" tag="host" value="h" dropped=1';
    expect(outcomeOfWrite(response(400, JSON.stringify({ error: text })), batch, options)).toMatchObject({ kind: 'rejected', items: [batch.items[1]], delivered: 1 });
  });
});

describe('deliverInRequests', () => {
  it('rejects the unencodable together with what the server refused, and counts the rest delivered', async () => {
    const { lines, items, unencodable } = encodeBatch([item('a'), item('bad\nname'), item('c'), item('d')]);
    const outcome = await deliverInRequests({ lines, items }, unencodable, 2, (request) =>
      Promise.resolve(request.items.includes(items[2] as MetricEnvelope) ? rejected('no', [items[2] as MetricEnvelope], 1) : delivered),
    );
    expect(outcome).toMatchObject({ kind: 'rejected', items: [item('bad\nname'), items[2]], delivered: 2, reason: expect.stringMatching(/1 points cannot be written as line protocol.*metric name has a newline; no/) as unknown });
  });

  it('delivers an empty batch without a request', async () => {
    let requests = 0;
    const outcome = await deliverInRequests({ lines: [], items: [] }, [], 10, () => {
      requests += 1;
      return Promise.resolve(delivered);
    });
    expect(outcome).toEqual(delivered);
    expect(requests).toBe(0);
  });
});
