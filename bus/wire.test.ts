import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { metricCodec } from '../core/codec.js';
import type { MetricEnvelope } from '../core/envelope.js';
import { metricKey } from './partitionKey.js';
import { BATCH_V1, WIRE_HEADER, frame, unframe, type WireFormat } from './wire.js';

const env = (tenantId: string, hostname: string, value: number, extra: Record<string, string> = {}): MetricEnvelope => ({
  metric: { name: 'container.cpu.total_time', dimensions: { hostname, ...extra }, timestamp: 1_700_000_000_000 + value, value, value_meta: null },
  meta: { tenantId, region: 'RegionOne' },
  creation_time: 1_700_000_000,
});

const batched = (maxMessageBytes = 1_000_000): WireFormat => ({ mode: 'batched', maxMessageBytes });

function roundTrip(messages: readonly { value: string | Buffer; headers?: Readonly<Record<string, string>> }[]): MetricEnvelope[] {
  return messages.flatMap((m) => {
    const decoded = unframe(Buffer.from(m.value), m.headers, metricCodec);
    if (!decoded.ok) throw new Error(decoded.reason);
    return decoded.records;
  });
}

describe('frame', () => {
  it('batched: one message per tenant and host, headed batch-v1, a JSON array of envelopes in order', () => {
    const records = [env('shop', 'n1', 1), env('kube-system', 'n1', 2), env('shop', 'n1', 3), env('shop', 'n2', 4)];
    const framed = frame(records, metricCodec, metricKey, batched());
    expect(framed.messages.map((m) => m.key)).toEqual(['shop/n1', 'kube-system/n1', 'shop/n2']);
    expect(framed.messages.every((m) => m.headers?.[WIRE_HEADER] === BATCH_V1)).toBe(true);
    expect(JSON.parse(String(framed.messages[0]?.value))).toEqual([records[0], records[2]]);
    expect(framed.carried).toEqual([[records[0], records[2]], [records[1]], [records[3]]]);
    expect(framed.tooLarge).toEqual([]);
  });

  it('batched: the message is the UTF-8 of the JSON array, exactly, whatever characters the envelopes hold', () => {
    const records = [env('shop', 'n1', 1, { app: 'café ☕ 𝄞' }), env('shop', 'n1', 2), env('shop', 'n1', 3, { note: '"quoted" \\ \u0000' })];
    const [message] = frame(records, metricCodec, metricKey, batched()).messages;
    expect(message?.value).toEqual(Buffer.from(JSON.stringify(records)));
  });

  it("monasca: one envelope per message, byte for byte Monasca's envelope, no header", () => {
    const records = [env('shop', 'n1', 1), env('shop', 'n1', 2)];
    const framed = frame(records, metricCodec, metricKey, { mode: 'monasca', maxMessageBytes: 1_000_000 });
    expect(framed.messages).toEqual(records.map((r) => ({ key: 'shop/n1', value: JSON.stringify(r) })));
    expect(framed.messages[0]?.value).toBe(
      '{"metric":{"name":"container.cpu.total_time","dimensions":{"hostname":"n1"},"timestamp":1700000000001,"value":1,"value_meta":null},"meta":{"tenantId":"shop","region":"RegionOne"},"creation_time":1700000000}',
    );
  });

  it('splits a batch before it passes the size limit, counting bytes, not characters', () => {
    const records = Array.from({ length: 100 }, (_, i) => env('shop', 'n1', i, { pod_name: `ポッド-${i}` }));
    const one = Buffer.byteLength(JSON.stringify(records[0]));
    const limit = one * 10;
    const framed = frame(records, metricCodec, metricKey, batched(limit));
    expect(framed.messages.length).toBeGreaterThanOrEqual(10);
    for (const m of framed.messages) expect(Buffer.byteLength(m.value)).toBeLessThanOrEqual(limit);
    expect(roundTrip(framed.messages)).toEqual(records);
  });

  it('returns an envelope larger than the limit on its own as too large, in both modes', () => {
    const big = env('shop', 'n1', 1, { blob: 'x'.repeat(5000) });
    for (const mode of ['batched', 'monasca'] as const) {
      const framed = frame([env('shop', 'n1', 0), big], metricCodec, metricKey, { mode, maxMessageBytes: 2000 });
      expect(framed.tooLarge).toEqual([big]);
      expect(roundTrip(framed.messages)).toEqual([env('shop', 'n1', 0)]);
    }
  });

  it('any records, any limit: every message fits, and unframing gives back every record that fit, per key in order', () => {
    const record = fc.record({ tenant: fc.constantFrom('a', 'b', 'c'), host: fc.constantFrom('n1', 'n2'), value: fc.integer(), pod: fc.string({ maxLength: 40 }) });
    fc.assert(
      fc.property(fc.array(record, { maxLength: 60 }), fc.integer({ min: 200, max: 3000 }), fc.constantFrom<'batched' | 'monasca'>('batched', 'monasca'), (raw, limit, mode) => {
        const records = raw.map((r) => env(r.tenant, r.host, r.value, { pod_name: r.pod }));
        const framed = frame(records, metricCodec, metricKey, { mode, maxMessageBytes: limit });
        for (const m of framed.messages) expect(Buffer.byteLength(m.value)).toBeLessThanOrEqual(limit);
        const fitting = records.filter((r) => !framed.tooLarge.includes(r));
        const back = roundTrip(framed.messages);
        expect(back).toHaveLength(fitting.length);
        for (const key of new Set(fitting.map(metricKey))) {
          expect(back.filter((r) => metricKey(r) === key)).toEqual(fitting.filter((r) => metricKey(r) === key));
        }
      }),
    );
  });
});

describe('unframe', () => {
  const good = env('shop', 'n1', 1);

  it.each([
    ['a Monasca envelope', JSON.stringify(good), undefined, [good]],
    ['a batch with its header', JSON.stringify([good, good]), { [WIRE_HEADER]: BATCH_V1 }, [good, good]],
    ['a batch whose header was lost on the way', JSON.stringify([good]), undefined, [good]],
    ['an empty batch', '[]', { [WIRE_HEADER]: BATCH_V1 }, []],
  ])('reads %s', (_name, value, headers, expected) => {
    expect(unframe(Buffer.from(value), headers, metricCodec)).toEqual({ ok: true, records: expected, invalid: [] });
  });

  it.each([
    ['bytes that are not JSON', '{"metric":', undefined, /not JSON/],
    ['a batch that is not JSON', '[{"metric":', { [WIRE_HEADER]: BATCH_V1 }, /not JSON/],
    ['a batch header on an object', JSON.stringify(good), { [WIRE_HEADER]: BATCH_V1 }, /must hold a JSON array/],
    ['a Monasca message without a tenant', JSON.stringify({ ...good, meta: { region: 'r' } }), undefined, /tenantId/],
  ])('refuses %s whole, with the reason', (_name, value, headers, reason) => {
    const decoded = unframe(Buffer.from(value), headers, metricCodec);
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) expect(decoded.reason).toMatch(reason);
  });

  it('keeps the good envelopes of a batch and names each bad one by its index', () => {
    const value = JSON.stringify([good, { ...good, metric: { ...good.metric, value: 'NaN' } }, 42, good]);
    expect(unframe(Buffer.from(value), { [WIRE_HEADER]: BATCH_V1 }, metricCodec)).toEqual({
      ok: true,
      records: [good, good],
      invalid: [
        { index: 1, reason: expect.stringMatching(/value must be a finite number/) as string },
        { index: 2, reason: 'envelope must be an object' },
      ],
    });
  });
});
