import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { MetricEnvelope } from '../../core/envelope.js';
import { encodeBatch, encodeMetric, parseLine, parseSeriesKey } from './lineProtocol.js';

function envelope(overrides: { name?: string; dimensions?: Record<string, string>; value?: number; timestamp?: number; valueMeta?: Record<string, string> | null; tenantId?: string; region?: string } = {}): MetricEnvelope {
  return {
    metric: {
      name: overrides.name ?? 'cpu.idle_perc',
      dimensions: overrides.dimensions ?? {},
      timestamp: overrides.timestamp ?? 1_700_000_000_123,
      value: overrides.value ?? 42.5,
      value_meta: overrides.valueMeta ?? null,
    },
    meta: { tenantId: overrides.tenantId ?? 'tenant-a', region: overrides.region ?? 'useast' },
    creation_time: 1_700_000_000,
  };
}

describe('encodeMetric', () => {
  const cases: { name: string; input: MetricEnvelope; line: string }[] = [
    {
      name: 'plain metric: tenant and region tags, value_meta "{}" when there is none',
      input: envelope(),
      line: 'cpu.idle_perc,_region=useast,_tenant_id=tenant-a value=42.5,value_meta="{}" 1700000000123',
    },
    {
      name: 'tags sorted by key, dimensions among the reserved tags',
      input: envelope({ dimensions: { zone: 'z1', hostname: 'h1', a: 'x' } }),
      line: 'cpu.idle_perc,_region=useast,_tenant_id=tenant-a,a=x,hostname=h1,zone=z1 value=42.5,value_meta="{}" 1700000000123',
    },
    {
      name: 'measurement escapes commas and spaces, not equals signs',
      input: envelope({ name: 'disk used,total=x y' }),
      line: 'disk\\ used\\,total=x\\ y,_region=useast,_tenant_id=tenant-a value=42.5,value_meta="{}" 1700000000123',
    },
    {
      name: 'tag keys and values escape commas, equals signs and spaces',
      input: envelope({ dimensions: { 'mount point': 'a,b=c d' } }),
      line: 'cpu.idle_perc,_region=useast,_tenant_id=tenant-a,mount\\ point=a\\,b\\=c\\ d value=42.5,value_meta="{}" 1700000000123',
    },
    {
      name: 'value_meta is JSON with quotes and backslashes escaped',
      input: envelope({ valueMeta: { msg: 'say "hi" \\o/' } }),
      line: 'cpu.idle_perc,_region=useast,_tenant_id=tenant-a value=42.5,value_meta="{\\"msg\\":\\"say \\\\\\"hi\\\\\\" \\\\\\\\o/\\"}" 1700000000123',
    },
    {
      name: 'an empty region is left out rather than written empty',
      input: envelope({ region: '' }),
      line: 'cpu.idle_perc,_tenant_id=tenant-a value=42.5,value_meta="{}" 1700000000123',
    },
    {
      name: 'tag keys sort by UTF-8 bytes: U+E000 before an astral character, unlike UTF-16 order',
      input: envelope({ dimensions: { '😀': '1', '\uE000': '2', é: '3', a: '4' } }),
      line: 'cpu.idle_perc,_region=useast,_tenant_id=tenant-a,a=4,é=3,\uE000=2,😀=1 value=42.5,value_meta="{}" 1700000000123',
    },
    {
      name: 'an escaped tenant or region tag among plain dimensions',
      input: envelope({ tenantId: 'tenant a', region: 'us=east', dimensions: { host: 'h1' } }),
      line: 'cpu.idle_perc,_region=us\\=east,_tenant_id=tenant\\ a,host=h1 value=42.5,value_meta="{}" 1700000000123',
    },
    {
      name: 'integral values stay floats, large ones use exponents, timestamps are rounded to ms',
      input: envelope({ value: 1e300, timestamp: 1_700_000_000_123.6 }),
      line: 'cpu.idle_perc,_region=useast,_tenant_id=tenant-a value=1e+300,value_meta="{}" 1700000000124',
    },
  ];
  for (const { name, input, line } of cases) {
    it(name, () => {
      expect(encodeMetric(input)).toEqual({ ok: true, value: line });
    });
  }

  const refusals: { name: string; input: MetricEnvelope; error: RegExp }[] = [
    { name: 'a newline in the name would end the line', input: envelope({ name: 'a\nb' }), error: /newline/ },
    { name: 'a backslash in a dimension value is ambiguous in 1.x', input: envelope({ dimensions: { k: 'c:\\' } }), error: /backslash/ },
    { name: 'a leading "#" makes the line a comment', input: envelope({ name: '#cpu' }), error: /comment/ },
    { name: 'a dimension may not pose as the tenant', input: envelope({ dimensions: { _tenant_id: 'other' } }), error: /reserved/ },
    { name: 'InfluxDB refuses the tag key "time"', input: envelope({ dimensions: { time: 'now' } }), error: /reserved/ },
    { name: 'an empty dimension value would vanish', input: envelope({ dimensions: { k: '' } }), error: /empty/ },
    { name: 'NaN has no line protocol form', input: envelope({ value: Number.NaN }), error: /finite/ },
    { name: 'timestamps beyond int64 nanoseconds', input: envelope({ timestamp: 1e16 }), error: /range/ },
  ];
  for (const { name, input, error } of refusals) {
    it(`refuses: ${name}`, () => {
      const result = encodeMetric(input);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.error).toMatch(error);
    });
  }
});

/**
 * The encoder as first written, plainly: tags as pairs sorted by their UTF-8 bytes, every
 * text escaped. encodeMetric takes shortcuts for speed; the property below holds it to this.
 */
function referenceEncode(input: MetricEnvelope): { ok: true; value: string } | { ok: false; error: string } {
  const { metric, meta } = input;
  const problem = (what: string, text: string): string | undefined =>
    text.length === 0 ? `${what} is empty` : text.includes('\n') ? `${what} has a newline` : text.includes('\\') ? `${what} has a backslash` : undefined;
  const refuse = (error: string) => ({ ok: false as const, error });
  const nameProblem = problem('metric name', metric.name);
  if (nameProblem) return refuse(nameProblem);
  if (metric.name.startsWith('#')) return refuse('metric name starts with "#", which InfluxDB reads as a comment');
  if (!Number.isFinite(metric.value)) return refuse('value is not finite');
  const timestampMs = Math.round(metric.timestamp);
  if (!(Math.abs(timestampMs) <= 9_223_372_036_854)) return refuse('timestamp is outside the range InfluxDB can store');
  const tenantProblem = problem('tenant id', meta.tenantId);
  if (tenantProblem) return refuse(tenantProblem);
  const tags: [string, string][] = [['_tenant_id', meta.tenantId]];
  if (meta.region.length > 0) {
    const regionProblem = problem('region', meta.region);
    if (regionProblem) return refuse(regionProblem);
    tags.push(['_region', meta.region]);
  }
  for (const [key, value] of Object.entries(metric.dimensions)) {
    if (['_tenant_id', '_region', 'time'].includes(key)) return refuse(`dimension name ${JSON.stringify(key)} is reserved`);
    const what = `dimension ${JSON.stringify(key.slice(0, 64))}`;
    const dimensionProblem = problem(what, key) ?? problem(`${what} value`, value);
    if (dimensionProblem) return refuse(dimensionProblem);
    tags.push([key, value]);
  }
  tags.sort(([a], [b]) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
  const escape = (text: string, special: RegExp) => text.replace(special, (c) => `\\${c}`);
  const tagText = tags.map(([k, v]) => `,${escape(k, /[,= ]/g)}=${escape(v, /[,= ]/g)}`).join('');
  const valueMeta = `"${escape(JSON.stringify(metric.value_meta ?? {}), /[\\"]/g)}"`;
  return { ok: true, value: `${escape(metric.name, /[, ]/g)}${tagText} value=${String(metric.value)},value_meta=${valueMeta} ${timestampMs}` };
}

// Text that takes every path of the encoder: plain ASCII, escapable and refused characters,
// and the ranges where UTF-16 and UTF-8 order differ (U+E000–U+FFFF, astral pairs, lone surrogates).
const anyText = fc.string({
  unit: fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom('a', 'b', 'z', 'A', '0', '_', '.', '-') },
    { weight: 2, arbitrary: fc.constantFrom(',', '=', ' ', '"', '#', '\n', '\\') },
    { weight: 2, arbitrary: fc.constantFrom('é', '☃', '\uD7FF', '\uE000', '\uFFFD', '\uFFFF', '😀', '𐀀', '\uD800', '\uDFFF') },
    fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
  ),
  maxLength: 8,
});

describe('encodeMetric against the reference encoder (property)', () => {
  it('gives the same line, or the same refusal, for any metric', () => {
    fc.assert(
      fc.property(
        fc.oneof(anyText, fc.constantFrom('cpu', '#cpu')),
        fc.dictionary(fc.oneof({ weight: 5, arbitrary: anyText }, fc.constantFrom('_tenant_id', '_region', 'time')), anyText, { maxKeys: 6 }),
        fc.oneof(fc.double(), fc.constant(-0)),
        fc.oneof(fc.integer({ min: -9_300_000_000_000, max: 9_300_000_000_000 }), fc.double({ noNaN: true })),
        fc.option(fc.dictionary(anyText, anyText, { maxKeys: 3 }), { nil: null }),
        fc.oneof(anyText, fc.constant('tenant-a')),
        fc.oneof(anyText, fc.constant('')),
        (name, dimensions, value, timestamp, valueMeta, tenantId, region) => {
          const input = envelope({ name, dimensions, value, timestamp, valueMeta, tenantId, region });
          expect(encodeMetric(input)).toEqual(referenceEncode(input));
        },
      ),
      { numRuns: 5_000 },
    );
  });
});

describe('encodeBatch', () => {
  it('keeps lines and items aligned and sets the unencodable aside', () => {
    const good1 = envelope({ name: 'a' });
    const bad = envelope({ name: 'b\nc' });
    const good2 = envelope({ name: 'd' });
    const encoded = encodeBatch([good1, bad, good2]);
    expect(encoded.items).toEqual([good1, good2]);
    expect(encoded.lines.map((l) => l.split(',')[0])).toEqual(['a', 'd']);
    expect(encoded.unencodable).toEqual([{ item: bad, reason: 'metric name has a newline' }]);
  });
});

describe('parseSeriesKey', () => {
  it('reads keys as InfluxDB 1.6 prints them in SHOW SERIES', () => {
    expect(parseSeriesKey('cpu,_region=r,_tenant_id=a,host=x\\ y\\,z\\=w')).toEqual({
      ok: true,
      value: { measurement: 'cpu', tags: { _region: 'r', _tenant_id: 'a', host: 'x y,z=w' } },
    });
    expect(parseSeriesKey('disk\\ used\\,x=1')).toEqual({ ok: true, value: { measurement: 'disk used,x=1', tags: {} } });
  });

  it('refuses a tag without a key', () => {
    expect(parseSeriesKey('cpu,=x').ok).toBe(false);
  });
});

// Text a tenant may send: anything but the characters encodeMetric refuses, weighted towards the escapable ones.
const awkwardText = fc.string({
  unit: fc.oneof(fc.constantFrom(',', '=', ' ', '"', "'", '#', '\t', 'é', '☃', '😀'), fc.string({ minLength: 1, maxLength: 1 })),
  minLength: 1,
  maxLength: 20,
});

describe('line protocol round trip (property)', () => {
  it('whatever encodeMetric accepts parses back to the same metric', () => {
    fc.assert(
      fc.property(
        awkwardText,
        fc.dictionary(awkwardText, awkwardText, { maxKeys: 5 }),
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        fc.integer({ min: -9_000_000_000_000, max: 9_000_000_000_000 }),
        fc.option(fc.dictionary(fc.string(), fc.string(), { minKeys: 1, maxKeys: 3 }), { nil: null }),
        (name, dimensions, value, timestamp, valueMeta) => {
          const input = envelope({ name, dimensions, value, timestamp, valueMeta });
          const line = encodeMetric(input);
          if (!line.ok) return; // refusals are covered above; the property is that an accepted line is faithful
          const parsed = parseLine(line.value);
          expect(parsed.ok).toBe(true);
          if (!parsed.ok) return;
          expect(parsed.value.measurement).toBe(name);
          expect(parsed.value.tags).toEqual({ ...dimensions, _tenant_id: 'tenant-a', _region: 'useast' });
          expect(parsed.value.fields['value']).toBe(value === 0 ? 0 : value);
          expect(JSON.parse(parsed.value.fields['value_meta'] as string)).toEqual(valueMeta ?? {});
          expect(parsed.value.timestamp).toBe(timestamp);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('accepts every name and dimension without newline, backslash, leading "#" or reserved key', () => {
    fc.assert(
      fc.property(awkwardText, fc.dictionary(awkwardText, awkwardText, { maxKeys: 5 }), (name, dimensions) => {
        const representable = (s: string) => !s.includes('\n') && !s.includes('\\');
        const expectOk =
          representable(name) &&
          !name.startsWith('#') &&
          Object.entries(dimensions).every(([k, v]) => representable(k) && representable(v) && !['_tenant_id', '_region', 'time'].includes(k));
        expect(encodeMetric(envelope({ name, dimensions })).ok).toBe(expectOk);
      }),
      { numRuns: 500 },
    );
  });
});
