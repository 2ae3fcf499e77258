import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { logCodec, metricCodec } from './codec.js';
import type { LogEnvelope, MetricEnvelope } from './envelope.js';

const good: MetricEnvelope = {
  metric: { name: 'container.cpu.total_time_sec', dimensions: { namespace: 'ns', pod_name: 'p' }, timestamp: 1700000000123, value: 12.5, value_meta: null },
  meta: { tenantId: 'ns', region: 'r1' },
  creation_time: 1700000000,
};

describe('metricCodec', () => {
  it("writes Monasca's envelope field for field", () => {
    expect(JSON.parse(metricCodec.encode(good))).toEqual({
      metric: { name: 'container.cpu.total_time_sec', dimensions: { namespace: 'ns', pod_name: 'p' }, timestamp: 1700000000123, value: 12.5, value_meta: null },
      meta: { tenantId: 'ns', region: 'r1' },
      creation_time: 1700000000,
    });
  });

  it('round-trips any valid envelope', () => {
    const name = fc.stringMatching(/^[a-z][a-z0-9._]{0,40}$/);
    const dimValue = fc.stringMatching(/^[A-Za-z0-9]([A-Za-z0-9 ._/:-]{0,18}[A-Za-z0-9])?$/);
    fc.assert(
      fc.property(name, fc.dictionary(name, dimValue, { maxKeys: 5 }), fc.integer({ min: 0, max: 2 ** 45 }), fc.double({ noNaN: true, noDefaultInfinity: true }), (n, dims, ts, value) => {
        const envelope: MetricEnvelope = { metric: { name: n, dimensions: dims, timestamp: ts, value, value_meta: null }, meta: { tenantId: 't', region: 'r' }, creation_time: 1 };
        const decoded = metricCodec.decode(Buffer.from(metricCodec.encode(envelope)));
        expect(decoded).toEqual({ ok: true, value: { ...envelope, metric: { ...envelope.metric, value: Object.is(value, -0) ? 0 : value } } });
      }),
    );
  });

  it.each([
    ['not JSON', '{"metric":', /not JSON/],
    ['a JSON array', '[]', /envelope must be an object/],
    ['no meta', JSON.stringify({ metric: good.metric, creation_time: 1 }), /meta must be an object/],
    ['an empty tenant', JSON.stringify({ ...good, meta: { tenantId: '', region: 'r' } }), /tenantId/],
    ['a string value', JSON.stringify({ ...good, metric: { ...good.metric, value: '1' } }), /value must be a finite number/],
    ['a null value (NaN written by JSON.stringify)', JSON.stringify({ ...good, metric: { ...good.metric, value: null } }), /value must be a finite number/],
    ['an empty name', JSON.stringify({ ...good, metric: { ...good.metric, name: '' } }), /name must be a non-empty string/],
    ['a numeric dimension value', JSON.stringify({ ...good, metric: { ...good.metric, dimensions: { a: 1 } } }), /dimension "a" must have a string value/],
    ['no dimensions', JSON.stringify({ ...good, metric: { ...good.metric, dimensions: undefined } }), /dimension must be an object/],
    ['a string timestamp', JSON.stringify({ ...good, metric: { ...good.metric, timestamp: '1' } }), /timestamp/],
    ['no creation_time', JSON.stringify({ metric: good.metric, meta: good.meta }), /creation_time/],
  ])('refuses %s with a reason', (_name, bytes, reason) => {
    const decoded = metricCodec.decode(bytes);
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) expect(decoded.error).toMatch(reason);
  });
});

describe('logCodec', () => {
  it("reads monasca-log-api's envelope", () => {
    const bytes = JSON.stringify({ log: { message: 'hello\nworld', dimensions: { pod_name: 'p' }, timestamp: 5 }, meta: { tenantId: 't', region: 'r' }, creation_time: 1 });
    expect(logCodec.decode(bytes)).toEqual({ ok: true, value: JSON.parse(bytes) as unknown });
  });

  it('refuses a log without a message', () => {
    expect(logCodec.decode(JSON.stringify({ log: {}, meta: { tenantId: 't', region: 'r' }, creation_time: 1 })).ok).toBe(false);
  });
});

describe('logCodec.encode', () => {
  const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
  const envelope = fc.record({
    log: fc.record(
      {
        message: fc.string({ unit: 'binary' }),
        dimensions: fc.dictionary(fc.string(), fc.string({ unit: 'binary' })),
        timestamp: optional(fc.integer()),
        level: optional(fc.constantFrom('error', 'warn', 'info')),
        origin: optional(fc.string()),
        truncated: optional(fc.boolean()),
        split: optional(fc.boolean()),
        parse_error: optional(fc.string({ unit: 'binary' })),
      },
      { requiredKeys: ['message', 'dimensions'] },
    ),
    meta: fc.record({ tenantId: fc.string({ minLength: 1 }), region: fc.string() }),
    creation_time: fc.integer(),
  });

  it('gives the value JSON.stringify gives, whatever the envelope holds', () => {
    fc.assert(
      fc.property(envelope, (e) => {
        expect(JSON.parse(logCodec.encode(e as LogEnvelope))).toEqual(JSON.parse(JSON.stringify(e)));
      }),
      { numRuns: 500 },
    );
  });

  it('reuses the JSON of dimensions and meta shared by many records', () => {
    const dimensions = { pod_name: 'web-1', namespace: 'shop' };
    const meta = { tenantId: 'shop', region: 'r' };
    const a = logCodec.encode({ log: { message: 'a "quoted"\nline', dimensions, timestamp: 1 }, meta, creation_time: 0 });
    const b = logCodec.encode({ log: { message: 'b', dimensions }, meta, creation_time: 0 });
    expect(JSON.parse(a)).toEqual({ log: { message: 'a "quoted"\nline', dimensions, timestamp: 1 }, meta, creation_time: 0 });
    expect(JSON.parse(b)).toEqual({ log: { message: 'b', dimensions }, meta, creation_time: 0 });
  });
});

describe('metricCodec.encode', () => {
  const envelope = fc.record({
    metric: fc.record({
      name: fc.string(),
      dimensions: fc.dictionary(fc.string(), fc.string({ unit: 'binary' })),
      timestamp: fc.oneof(fc.integer(), fc.double()),
      value: fc.double(),
      value_meta: fc.option(fc.dictionary(fc.string(), fc.string({ unit: 'binary' })), { nil: null }),
    }),
    meta: fc.record({ tenantId: fc.string({ minLength: 1 }), region: fc.string() }),
    creation_time: fc.integer(),
  });

  it('gives the text JSON.stringify gives, NaN and -0 included', () => {
    fc.assert(
      fc.property(envelope, (e) => {
        expect(metricCodec.encode(e)).toBe(JSON.stringify(e));
      }),
      { numRuns: 500 },
    );
  });

  it('reuses the JSON of dimensions shared by a series', () => {
    const dimensions = { pod_name: 'web-1', namespace: 'shop' };
    const meta = { tenantId: 'shop', region: 'r' };
    const at = (value: number): MetricEnvelope => ({ metric: { name: 'm', dimensions, timestamp: 1, value, value_meta: null }, meta, creation_time: 0 });
    expect([metricCodec.encode(at(1)), metricCodec.encode(at(2))]).toEqual([JSON.stringify(at(1)), JSON.stringify(at(2))]);
  });
});
