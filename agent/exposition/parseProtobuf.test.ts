import { existsSync, readdirSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeFamilies, encodeFamily, lengthPrefix, metricFamilyType, textToProtobuf, type FamilyInput } from '../../test/support/protobufExposition.js';
import { mapCadvisorSamples, mapsSeries } from '../kubelet/cadvisorMetrics.js';
import { ExpositionParser, MAX_LABELS_PER_SAMPLE, parseExposition, type Sample } from './parseExposition.js';
import { ProtobufExpositionParser, formatGoFloat, parseProtobufExposition } from './parseProtobuf.js';

const FIXTURES = new URL('../../test/fixtures/prometheus/', import.meta.url);
const SHARED_FIXTURES = '/work/shared/fixtures/01-prometheus-cadvisor/';
const TYPE = metricFamilyType();

/** Every text page: the project's fixtures, and the shared set's when it is there (its pages are copied into ours). */
const PAGES: { name: string; text: string }[] = [
  ...readdirSync(FIXTURES)
    .filter((name) => name.endsWith('.prom'))
    .map((name) => ({ name, text: readFileSync(new URL(name, FIXTURES), 'utf8') })),
  ...(existsSync(SHARED_FIXTURES) ? readdirSync(SHARED_FIXTURES).filter((name) => name.endsWith('.prom')) : []).map((name) => ({ name: `shared/${name}`, text: readFileSync(SHARED_FIXTURES + name, 'utf8') })),
];
const KUBELET_125 = PAGES.find((page) => page.name.startsWith('nri-k8s__k8s-1.25'))?.text ?? '';

function decodeInPieces(bytes: Buffer, pieceBytes: number, wanted?: (name: string) => boolean) {
  const parser = new ProtobufExpositionParser(wanted);
  for (let offset = 0; offset < bytes.length; offset += pieceBytes) parser.push(bytes.subarray(offset, offset + pieceBytes));
  return parser.finish();
}

function sample(name: string, labels: Record<string, string>, value: number, timestampMs?: number): Sample {
  return { name, labels, value, timestampMs };
}

const CART = [
  { name: 'namespace', value: 'shop' },
  { name: 'pod', value: 'cart-7d9' },
];

describe('parseProtobufExposition: the same samples as the text parser', () => {
  it('has every shared fixture page among the project fixtures', () => {
    const own = new Set(readdirSync(FIXTURES));
    for (const page of PAGES.filter((p) => p.name.startsWith('shared/'))) expect(own.has(page.name.slice('shared/'.length)), page.name).toBe(true);
  });

  it.each(PAGES)('$name', ({ text }) => {
    const fromText = parseExposition(text);
    const bytes = textToProtobuf(text, TYPE);
    const fromProtobuf = decodeInPieces(bytes, 65536);
    expect(fromProtobuf.errors).toEqual([]);
    expect(fromProtobuf.samples).toEqual(fromText.samples);
    // Filtered by the cAdvisor mapping: the same samples kept and the same count passed over.
    const textFiltered = new ExpositionParser(mapsSeries);
    textFiltered.push(text);
    const expected = textFiltered.finish();
    const filtered = decodeInPieces(bytes, 4096, mapsSeries);
    expect(filtered.samples).toEqual(expected.samples);
    expect(filtered.skipped).toBe(expected.skipped);
    const context = { hostname: 'node-1', scrapeTimeMs: 1_700_000_000_000 };
    expect(mapCadvisorSamples(filtered.samples, context)).toEqual(mapCadvisorSamples(fromText.samples, context));
  });

  it('decodes a message split anywhere between pieces, down to one byte at a time', () => {
    const text = 'a{x="1"} 1 5\nb_total{y="2",z="é"} 2\nc NaN\n';
    const bytes = textToProtobuf(text, TYPE);
    const expected = parseExposition(text).samples;
    for (const pieceBytes of [1, 2, 3, 7, 13]) expect(decodeInPieces(bytes, pieceBytes).samples, `pieces of ${pieceBytes}`).toEqual(expected);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: bytes.length }), { maxLength: 8 }), (cuts) => {
        const parser = new ProtobufExpositionParser();
        let from = 0;
        for (const cut of [...cuts].sort((a, b) => a - b)) {
          parser.push(bytes.subarray(from, cut));
          from = cut;
        }
        parser.push(bytes.subarray(from));
        expect(parser.finish().samples).toEqual(expected);
      }),
    );
  });
});

describe('parseProtobufExposition: any family protobufjs encodes', () => {
  const labelName = fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,12}$/);
  const family = fc.record({
    name: fc.stringMatching(/^[a-zA-Z_:][a-zA-Z0-9_:]{0,40}$/),
    type: fc.constantFrom('counter' as const, 'gauge' as const, 'untyped' as const),
    metric: fc.array(
      fc.record({
        labels: fc.uniqueArray(fc.tuple(labelName, fc.string({ unit: 'grapheme', maxLength: 200 }).filter((value) => !value.includes('\uFFFD'))), { selector: ([name]) => name, maxLength: 12 }),
        value: fc.double(),
        timestampMs: fc.option(fc.integer({ min: -62135596800000, max: 253402300799000 }), { nil: undefined }),
      }),
      { minLength: 1, maxLength: 5 },
    ),
  });

  // U+FFFD is left out: it is what invalid UTF-8 decodes to, and refused as such.
  it('decodes to the samples it was made of, long strings, multi-byte lengths and all', () => {
    fc.assert(
      fc.property(fc.array(family, { maxLength: 6 }), fc.integer({ min: 1, max: 300 }), (families, pieceBytes) => {
        const inputs: FamilyInput[] = families.map(({ name, type, metric }) => ({
          name,
          type,
          metric: metric.map(({ labels, value, timestampMs }) => ({ label: labels.map(([n, v]) => ({ name: n, value: v })), [type]: { value }, ...(timestampMs === undefined ? {} : { timestamp_ms: timestampMs }) })),
        }));
        const expected = families.flatMap(({ name, metric }) => metric.map(({ labels, value, timestampMs }) => sample(name, Object.fromEntries(labels), value, timestampMs)));
        const result = decodeInPieces(encodeFamilies(inputs, TYPE), pieceBytes);
        expect(result.errors).toEqual([]);
        expect(result.samples).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });
});

describe('parseProtobufExposition: values', () => {
  const cases: { name: string; families: FamilyInput[]; samples: Sample[] }[] = [
    { name: 'a counter with a timestamp', families: [{ name: 'c_total', type: 'counter', metric: [{ label: CART, counter: { value: 3 }, timestamp_ms: 1694017169416 }] }], samples: [sample('c_total', { namespace: 'shop', pod: 'cart-7d9' }, 3, 1694017169416)] },
    { name: 'a gauge without labels', families: [{ name: 'g', type: 'gauge', metric: [{ gauge: { value: -2.5 } }] }], samples: [sample('g', {}, -2.5)] },
    { name: 'untyped', families: [{ name: 'u', type: 'untyped', metric: [{ untyped: { value: 7 } }] }], samples: [sample('u', {}, 7)] },
    {
      name: 'NaN, +Inf and -Inf',
      families: [{ name: 'g', type: 'gauge', metric: [{ label: [{ name: 'k', value: 'a' }], gauge: { value: NaN } }, { label: [{ name: 'k', value: 'b' }], gauge: { value: Infinity } }, { label: [{ name: 'k', value: 'c' }], gauge: { value: -Infinity } }] }],
      samples: [sample('g', { k: 'a' }, NaN), sample('g', { k: 'b' }, Infinity), sample('g', { k: 'c' }, -Infinity)],
    },
    { name: 'a negative (Go zero-time) timestamp', families: [{ name: 'g', type: 'gauge', metric: [{ gauge: { value: 1 }, timestamp_ms: -62135596800000 }] }], samples: [sample('g', {}, 1, -62135596800000)] },
    { name: 'a timestamp of -1 ms (ten bytes of two\'s complement)', families: [{ name: 'g', type: 'gauge', metric: [{ gauge: { value: 1 }, timestamp_ms: -1 }] }], samples: [sample('g', {}, 1, -1)] },
    { name: 'the largest exact timestamp', families: [{ name: 'g', type: 'gauge', metric: [{ gauge: { value: 1 }, timestamp_ms: Number.MAX_SAFE_INTEGER }] }], samples: [sample('g', {}, 1, Number.MAX_SAFE_INTEGER)] },
    { name: 'a timestamp of 0 is kept', families: [{ name: 'g', type: 'gauge', metric: [{ gauge: { value: 1 }, timestamp_ms: 0 }] }], samples: [sample('g', {}, 1, 0)] },
    { name: 'an absent value is the proto2 default, 0', families: [{ name: 'g', type: 'gauge', metric: [{ gauge: {} as { value: number } }] }], samples: [sample('g', {}, 0)] },
    { name: 'an empty label value', families: [{ name: 'g', type: 'gauge', metric: [{ label: [{ name: 'container', value: '' }], gauge: { value: 1 } }] }], samples: [sample('g', { container: '' }, 1)] },
    { name: 'a __proto__ label is a label like any other', families: [{ name: 'g', type: 'gauge', metric: [{ label: [{ name: '__proto__', value: 'p' }], gauge: { value: 1 } }] }], samples: [sample('g', JSON.parse('{"__proto__":"p"}') as Record<string, string>, 1)] },
    {
      name: 'a summary as the text format writes it',
      families: [{ name: 'rpc_seconds', type: 'summary', metric: [{ label: [{ name: 'service', value: 'a' }], summary: { sample_count: 12, sample_sum: 3.5, quantile: [{ quantile: 0.5, value: 0.2 }, { quantile: 0.99, value: 1.5 }] }, timestamp_ms: 9 }] }],
      samples: [
        sample('rpc_seconds', { service: 'a', quantile: '0.5' }, 0.2, 9),
        sample('rpc_seconds', { service: 'a', quantile: '0.99' }, 1.5, 9),
        sample('rpc_seconds_sum', { service: 'a' }, 3.5, 9),
        sample('rpc_seconds_count', { service: 'a' }, 12, 9),
      ],
    },
    {
      name: 'a histogram gets the +Inf bucket the text format adds',
      families: [{ name: 'req_seconds', type: 'histogram', metric: [{ histogram: { sample_count: 10, sample_sum: 4, bucket: [{ upper_bound: 0.005, cumulative_count: 2 }, { upper_bound: 1e6, cumulative_count: 9 }] } }] }],
      samples: [
        sample('req_seconds_bucket', { le: '0.005' }, 2),
        sample('req_seconds_bucket', { le: '1e+06' }, 9),
        sample('req_seconds_bucket', { le: '+Inf' }, 10),
        sample('req_seconds_sum', {}, 4),
        sample('req_seconds_count', {}, 10),
      ],
    },
  ];

  it.each(cases)('$name', ({ families, samples }) => {
    const result = parseProtobufExposition(encodeFamilies(families, TYPE));
    expect(result.errors).toEqual([]);
    expect(result.samples).toEqual(samples);
    expect([...result.types.keys()]).toEqual(families.map((family) => family.name));
  });

  it('gives a text page with a summary and a histogram the same samples both ways', () => {
    const text = [
      '# TYPE rpc_seconds summary',
      'rpc_seconds{service="a",quantile="0.5"} 0.2 7',
      'rpc_seconds{service="a",quantile="0.99"} 1.5 7',
      'rpc_seconds_sum{service="a"} 3.5 7',
      'rpc_seconds_count{service="a"} 12 7',
      '# TYPE req_seconds histogram',
      'req_seconds_bucket{code="200",le="0.005"} 2',
      'req_seconds_bucket{code="200",le="1e+06"} 9',
      'req_seconds_bucket{code="200",le="+Inf"} 10',
      'req_seconds_sum{code="200"} 4',
      'req_seconds_count{code="200"} 10',
      'up 1',
      '',
    ].join('\n');
    const result = parseProtobufExposition(textToProtobuf(text, TYPE));
    expect(result.errors).toEqual([]);
    expect(result.samples).toEqual(parseExposition(text).samples);
    expect(Object.fromEntries(result.types)).toEqual({ rpc_seconds: 'summary', req_seconds: 'histogram', up: 'untyped' });
  });

  it('does not decode the metrics of an unwanted family, so their faults are not reported', () => {
    const bad = encodeFamily({ name: 'unwanted', type: 'gauge', metric: [{ label: [{ name: 'a', value: '1' }, { name: 'a', value: '2' }], gauge: { value: 1 } }, { gauge: { value: 2 } }] }, TYPE);
    const bytes = Buffer.concat([lengthPrefix(bad.length), bad, encodeFamilies([{ name: 'wanted', type: 'gauge', metric: [{ gauge: { value: 3 } }] }], TYPE)]);
    const result = parseProtobufExposition(bytes, (name) => name === 'wanted');
    expect(result.samples).toEqual([sample('wanted', {}, 3)]);
    expect(result.errors).toEqual([]);
    expect(result.skipped).toBe(2);
  });

  it('filters a summary by its lines, as the text parser does', () => {
    const families: FamilyInput[] = [{ name: 's', type: 'summary', metric: [{ summary: { sample_count: 1, sample_sum: 2, quantile: [{ quantile: 0.5, value: 3 }] } }] }];
    const result = parseProtobufExposition(encodeFamilies(families, TYPE), (name) => name === 's_count');
    expect(result.samples).toEqual([sample('s_count', {}, 1)]);
    expect(result.skipped).toBe(2);
  });

  it.each([
    [0.5, '0.5'],
    [0.0001, '0.0001'],
    [0.00001, '1e-05'],
    [100000, '100000'],
    [1e6, '1e+06'],
    [123456789, '1.23456789e+08'],
    [1e21, '1e+21'],
    [-2.5e-7, '-2.5e-07'],
    [Infinity, '+Inf'],
    [-Infinity, '-Inf'],
    [NaN, 'NaN'],
    [0, '0'],
  ])('formatGoFloat(%d) is %s, as Go writes it', (value, text) => {
    expect(formatGoFloat(value)).toBe(text);
  });
});

describe('parseProtobufExposition: bad input', () => {
  const first: FamilyInput = { name: 'first', type: 'gauge', metric: [{ label: CART, gauge: { value: 1 } }] };
  const last: FamilyInput = { name: 'last', type: 'counter', metric: [{ label: CART, counter: { value: 2 } }] };
  const FIRST = sample('first', { namespace: 'shop', pod: 'cart-7d9' }, 1);
  const LAST = sample('last', { namespace: 'shop', pod: 'cart-7d9' }, 2);
  const framed = (body: Buffer): Buffer => Buffer.concat([lengthPrefix(body.length), body]);
  const page = (...middle: Buffer[]): Buffer => Buffer.concat([encodeFamilies([first], TYPE), ...middle, encodeFamilies([last], TYPE)]);

  const cases: { name: string; bytes: Buffer; samples: Sample[]; errors: number }[] = [
    { name: 'garbage bytes between two families', bytes: page(Buffer.from([0xff, 0xff, 0xff, 0x13, 0x00, 0x9a, 0x42, 0x07, 0x01])), samples: [FIRST, LAST], errors: 1 },
    { name: 'a text page where protobuf was expected', bytes: page(Buffer.from('# TYPE x counter\nx{a="b"} 1\n')), samples: [FIRST, LAST], errors: 1 },
    { name: 'a framed message of garbage', bytes: page(framed(Buffer.from([0x0a, 0x02, 0x61, 0x62, 0x22, 0x05, 0x01]))), samples: [FIRST, LAST], errors: 1 },
    { name: 'a family without a name', bytes: page(framed(encodeFamily({ name: '', type: 'gauge', metric: [{ gauge: { value: 1 } }] }, TYPE))), samples: [FIRST, LAST], errors: 1 },
    { name: 'an invalid metric name', bytes: page(framed(encodeFamily({ name: 'bad-name', type: 'gauge', metric: [{ gauge: { value: 1 } }] }, TYPE))), samples: [FIRST, LAST], errors: 1 },
    {
      name: 'an invalid label name: that sample only',
      bytes: page(framed(encodeFamily({ name: 'mid', type: 'gauge', metric: [{ label: [{ name: '0bad', value: 'v' }], gauge: { value: 1 } }, { gauge: { value: 5 } }] }, TYPE))),
      samples: [FIRST, sample('mid', {}, 5), LAST],
      errors: 1,
    },
    {
      name: 'a duplicate label: that sample only',
      bytes: page(framed(encodeFamily({ name: 'mid', type: 'gauge', metric: [{ label: [{ name: 'a', value: '1' }, { name: 'a', value: '2' }], gauge: { value: 1 } }] }, TYPE))),
      samples: [FIRST, LAST],
      errors: 1,
    },
    {
      name: 'a metric without a value of its family type',
      bytes: page(framed(encodeFamily({ name: 'mid', type: 'counter', metric: [{ gauge: { value: 1 } }] }, TYPE))),
      samples: [FIRST, LAST],
      errors: 1,
    },
    {
      name: `more than ${MAX_LABELS_PER_SAMPLE} labels`,
      bytes: page(framed(encodeFamily({ name: 'mid', type: 'gauge', metric: [{ label: Array.from({ length: MAX_LABELS_PER_SAMPLE + 1 }, (_, i) => ({ name: `l${i}`, value: 'v' })), gauge: { value: 1 } }] }, TYPE))),
      samples: [FIRST, LAST],
      errors: 1,
    },
    {
      name: 'invalid UTF-8 in a label value',
      bytes: page(framed(Buffer.from(encodeFamily({ name: 'mid', type: 'gauge', metric: [{ label: [{ name: 'a', value: 'xx' }], gauge: { value: 1 } }] }, TYPE).toString('latin1').replace('xx', '\xc3\x28'), 'latin1'))),
      samples: [FIRST, LAST],
      errors: 1,
    },
  ];

  it.each(cases)('$name: an error, and the families around it are kept', ({ bytes, samples, errors }) => {
    for (const pieceBytes of [bytes.length, 5]) {
      const result = decodeInPieces(bytes, pieceBytes);
      expect(result.samples).toEqual(samples);
      expect(result.errors).toHaveLength(errors);
    }
  });

  it('a page cut anywhere keeps the families before the cut and counts the cut one', () => {
    const bytes = page(encodeFamilies([{ name: 'mid', type: 'gauge', metric: [{ label: CART, gauge: { value: 3 } }] }], TYPE));
    const boundaries = [0, encodeFamilies([first], TYPE).length];
    for (let cut = 1; cut < bytes.length; cut++) {
      const result = decodeInPieces(bytes.subarray(0, cut), 3);
      const whole = parseProtobufExposition(bytes.subarray(0, cut));
      expect(result.samples).toEqual(whole.samples);
      if (cut < (boundaries[1] as number)) expect(result.samples).toEqual([]);
      else expect(result.samples[0]).toEqual(FIRST);
      const onBoundary = result.errors.length === 0;
      if (!onBoundary) expect(result.errors[0]?.reason).toMatch(/truncated/);
    }
  });

  it('never throws, whatever the bytes', () => {
    const valid = textToProtobuf(KUBELET_125.slice(0, 20_000), TYPE);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 1, max: 64 }), (bytes, pieceBytes) => {
        decodeInPieces(Buffer.from(bytes), pieceBytes);
      }),
    );
    // A valid page with bytes changed: never a throw, and whatever comes out is well-formed samples.
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(valid.length - 1), fc.nat(255)), { minLength: 1, maxLength: 4 }), (changes) => {
        const bytes = Buffer.from(valid);
        for (const [at, value] of changes) bytes[at] = value;
        const result = decodeInPieces(bytes, 1000);
        for (const { name, value } of result.samples) {
          expect(name).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/);
          expect(typeof value).toBe('number');
        }
      }),
      { numRuns: 200 },
    );
  });
});
