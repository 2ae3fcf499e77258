/**
 * Hostile kubelet pages, served over HTTP on 127.0.0.1 and scraped as the agent scrapes
 * (`scrapeMetricsPage` with the cAdvisor family filter, then `mapCadvisorSamples`), in
 * text and in protobuf. Each bad part is counted (a parse error or a dropped sample),
 * the good samples before and after it are kept, nothing throws, and the heap does not
 * grow by more than a bounded multiple of the page.
 */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFamilies, lengthPrefix, textToProtobuf } from '../../test/support/protobufExposition.js';
import { PROTOBUF_EXPOSITION_TYPE } from '../exposition/parseProtobuf.js';
import { mapCadvisorSamples, mapsSeries, type CadvisorDropReason } from './cadvisorMetrics.js';
import { scrapeMetricsPage, type ExpositionFormat } from './scrapeMetricsPage.js';

const SCRAPE_MS = 1_700_000_100_000;
const LABELS = 'namespace="shop",pod="cart-7d9",container="cart",image="registry/cart:1.2"';
const LABEL_PAIRS = [
  { name: 'namespace', value: 'shop' },
  { name: 'pod', value: 'cart-7d9' },
  { name: 'container', value: 'cart' },
  { name: 'image', value: 'registry/cart:1.2' },
];
const BEFORE = `# TYPE container_memory_rss gauge\ncontainer_memory_rss{${LABELS}} 1024 1700000000000\n`;
const AFTER = `# TYPE container_memory_cache gauge\ncontainer_memory_cache{${LABELS}} 2048 1700000000000\n`;
const TEN_MB = 10 * 1024 * 1024;

/** A family whose one sample has a million LabelPairs (~12 MB), written byte by byte: protobufjs would need a million objects. */
function millionLabelsFamily(): Buffer {
  const pairs: Buffer[] = [];
  for (let i = 0; i < 1_000_000; i++) {
    const name = `l${i}`;
    pairs.push(Buffer.from([0x0a, name.length + 5, 0x0a, name.length, ...Buffer.from(name), 0x12, 0x01, 0x76]));
  }
  // One metric: the four real labels, the million, then its gauge (field 2) of 1.
  const gauge = Buffer.from([0x12, 0x09, 0x09, ...new Uint8Array(new Float64Array([1]).buffer)]);
  const labels = Buffer.concat([...LABEL_PAIRS.map(({ name, value }) => Buffer.concat([Buffer.from([0x0a, name.length + value.length + 4, 0x0a, name.length]), Buffer.from(name), Buffer.from([0x12, value.length]), Buffer.from(value)])), ...pairs]);
  const metric = Buffer.concat([labels, gauge]);
  const name = Buffer.from('container_memory_usage_bytes');
  const family = Buffer.concat([Buffer.from([0x0a, name.length]), name, Buffer.from([0x18, 0x01, 0x22]), lengthPrefix(metric.length), metric]);
  return Buffer.concat([lengthPrefix(family.length), family]);
}

/** Bytes that look like nothing: a fixed pseudo-random sequence, so that every run sees the same. */
function garbage(length: number): Buffer {
  const bytes = Buffer.alloc(length);
  let state = 0x2545f491;
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes[i] = state & 0xff;
  }
  return bytes;
}

function withInvalidUtf8(bytes: Buffer): Buffer {
  // 'XX' in the value becomes C3 28: a two-byte lead followed by an ASCII byte.
  return Buffer.from(bytes.toString('latin1').replace('XX', '\xc3\x28'), 'latin1');
}

interface Expected {
  /** Parse errors: an exact count, or at least this many when `atLeast`. */
  readonly errors: number;
  readonly atLeast?: boolean;
  readonly dropped?: Partial<Record<CadvisorDropReason, number>>;
  /** container.mem.used_bytes measurements the bad part leaves (default none). */
  readonly usedBytes?: number;
  /** Whether the good sample after the bad part is there (false when the bad part is the end of the page). */
  readonly after?: boolean;
}

interface HostileCase {
  readonly name: string;
  /** The page in each format; a format left out does not apply. */
  readonly text?: () => Buffer;
  readonly protobuf?: () => Buffer;
  readonly expected: Partial<Record<ExpositionFormat, Expected>>;
}

const textPage = (middle: string | Buffer): Buffer => Buffer.concat([Buffer.from(BEFORE), typeof middle === 'string' ? Buffer.from(middle) : middle, Buffer.from(AFTER)]);
const protobufPage = (middle: Buffer): Buffer => Buffer.concat([textToProtobuf(BEFORE), middle, textToProtobuf(AFTER)]);
const usedBytes = (labels: string, value: string): string => `container_memory_usage_bytes{${labels}} ${value}\n`;

const CASES: HostileCase[] = [
  {
    name: 'a 10 MB line (a 10 MB label value)',
    text: () => textPage(usedBytes(`${LABELS.replace('registry/cart:1.2', 'x'.repeat(TEN_MB))}`, '1')),
    protobuf: () => protobufPage(encodeFamilies([{ name: 'container_memory_usage_bytes', type: 'gauge', metric: [{ label: LABEL_PAIRS.map((l) => (l.name === 'image' ? { name: 'image', value: 'x'.repeat(TEN_MB) } : l)), gauge: { value: 1 } }] }])),
    // Text refuses the line; protobuf has no lines, so the sample is read and the mapping refuses its 10 MB dimension.
    expected: { text: { errors: 1 }, protobuf: { errors: 0, dropped: { invalid: 1 } } },
  },
  {
    name: 'a sample with a million label pairs',
    text: () => textPage(usedBytes(`${LABELS},${Array.from({ length: 1_000_000 }, (_, i) => `l${i}="v"`).join(',')}`, '1')),
    protobuf: () => protobufPage(millionLabelsFamily()),
    expected: { text: { errors: 1 }, protobuf: { errors: 1 } },
  },
  {
    name: 'invalid UTF-8 in a label value',
    text: () => textPage(withInvalidUtf8(Buffer.from(usedBytes(LABELS.replace('registry/cart:1.2', 'bad-XX'), '1')))),
    protobuf: () => protobufPage(withInvalidUtf8(textToProtobuf(`# TYPE container_memory_usage_bytes gauge\n${usedBytes(LABELS.replace('registry/cart:1.2', 'bad-XX'), '1')}`))),
    expected: { text: { errors: 1 }, protobuf: { errors: 1 } },
  },
  {
    name: 'NaN and ±Inf values',
    text: () => textPage(['NaN', '+Inf', '-Inf'].map((v, i) => usedBytes(LABELS.replace('container="cart"', `container="c${i}"`), v)).join('')),
    protobuf: () => protobufPage(textToProtobuf(`# TYPE container_memory_usage_bytes gauge\n${['NaN', '+Inf', '-Inf'].map((v, i) => usedBytes(LABELS.replace('container="cart"', `container="c${i}"`), v)).join('')}`)),
    expected: { text: { errors: 0, dropped: { not_finite: 3 } }, protobuf: { errors: 0, dropped: { not_finite: 3 } } },
  },
  {
    name: 'a duplicate label in a sample',
    text: () => textPage(usedBytes(`${LABELS},namespace="other"`, '1')),
    protobuf: () => protobufPage(encodeFamilies([{ name: 'container_memory_usage_bytes', type: 'gauge', metric: [{ label: [...LABEL_PAIRS, { name: 'namespace', value: 'other' }], gauge: { value: 1 } }] }])),
    expected: { text: { errors: 1 }, protobuf: { errors: 1 } },
  },
  {
    // Not an error of the page's syntax: the mapping keeps the first value and counts the second.
    name: 'a duplicate series',
    text: () => textPage(usedBytes(LABELS, '1') + usedBytes(LABELS, '2')),
    protobuf: () => protobufPage(textToProtobuf(`# TYPE container_memory_usage_bytes gauge\n${usedBytes(LABELS, '1')}${usedBytes(LABELS, '2')}`)),
    expected: { text: { errors: 0, usedBytes: 1, dropped: { duplicate: 1 } }, protobuf: { errors: 0, usedBytes: 1, dropped: { duplicate: 1 } } },
  },
  {
    name: 'a body that ends mid-line / mid-message',
    text: () => Buffer.from(BEFORE + AFTER + usedBytes(LABELS, '1').slice(0, 40)),
    protobuf: () => {
      const cut = textToProtobuf(`# TYPE container_memory_usage_bytes gauge\n${usedBytes(LABELS, '1')}`);
      return Buffer.concat([textToProtobuf(BEFORE + AFTER), cut.subarray(0, cut.length - 10)]);
    },
    expected: { text: { errors: 1, after: true }, protobuf: { errors: 1, after: true } },
  },
  {
    name: 'garbage bytes',
    text: () => textPage(Buffer.concat([garbage(4096), Buffer.from('\n')])),
    protobuf: () => protobufPage(garbage(4096)),
    expected: { text: { errors: 1, atLeast: true }, protobuf: { errors: 1, atLeast: true } },
  },
];

let server: Server;
let baseUrl = '';
const bodies = new Map<string, { body: Buffer; contentType: string }>();

beforeAll(async () => {
  server = createServer((req, res) => {
    const page = bodies.get(req.url ?? '');
    if (page === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': page.contentType });
    // In 64 KB writes, as a kubelet's chunked responses come.
    let offset = 0;
    const next = (): void => {
      if (offset >= page.body.length) res.end();
      else if (res.write(page.body.subarray(offset, (offset += 65536)))) next();
      else res.once('drain', next);
    };
    next();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  baseUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

const request = (path: string) => ({ url: baseUrl + path, headers: {}, rejectUnauthorized: true, timeoutMs: 30_000, maxBodyBytes: 64 * 1024 * 1024 });

const runs = CASES.flatMap((hostile) =>
  (['text', 'protobuf'] as const).flatMap((format) => {
    const build = hostile[format];
    const expected = hostile.expected[format];
    return build === undefined || expected === undefined ? [] : [{ name: hostile.name, format, build, expected }];
  }),
);

describe('hostile kubelet pages', () => {
  it.each(runs)('$name ($format): counted, and the good samples around it kept', async ({ name, format, build, expected }) => {
    const path = `/${format}/${encodeURIComponent(name)}`;
    const body = build();
    bodies.set(path, { body, contentType: format === 'protobuf' ? PROTOBUF_EXPOSITION_TYPE : 'text/plain; version=0.0.4; charset=utf-8' });
    const heapBefore = process.memoryUsage().heapUsed;
    const page = await scrapeMetricsPage(request(path), format, mapsSeries);
    bodies.delete(path);
    if (!page.ok) throw new Error(page.error);
    const { result } = page.value;
    expect(page.value.format).toBe(format);
    if (expected.atLeast === true) expect(result.errors.length).toBeGreaterThanOrEqual(expected.errors);
    else expect(result.errors.map((e) => e.reason)).toHaveLength(expected.errors);
    const names = result.samples.map((s) => s.name);
    expect(names).toContain('container_memory_rss');
    if (expected.after !== false) expect(names).toContain('container_memory_cache');

    const mapped = mapCadvisorSamples(result.samples, { hostname: 'node-1', scrapeTimeMs: SCRAPE_MS });
    expect(mapped.dropped).toEqual({ not_finite: 0, invalid: 0, duplicate: 0, ...expected.dropped });
    const byName = (metric: string) => mapped.measurements.filter((m) => m.name === metric);
    expect(byName('container.mem.rss_bytes').map((m) => [m.value, m.timestamp])).toEqual([[1024, 1700000000000]]);
    expect(byName('container.mem.cache_bytes').map((m) => [m.value, m.timestamp])).toEqual([[2048, 1700000000000]]);
    expect(byName('container.mem.used_bytes')).toHaveLength(expected.usedBytes ?? 0);
    // Bounded: what a scrape leaves on the heap is a small multiple of the page (the page itself is not held).
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(Math.max(64 * 1024 * 1024, 4 * body.length));
  }, 60_000);

  it('a connection cut mid-page is a failed scrape, not half a page', async () => {
    const cut = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': PROTOBUF_EXPOSITION_TYPE, 'content-length': '100000' });
      res.write(textToProtobuf(BEFORE), () => res.destroy());
    });
    await new Promise<void>((resolve) => cut.listen(0, '127.0.0.1', resolve));
    const address = cut.address();
    const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/metrics/cadvisor`;
    try {
      for (const format of ['text', 'protobuf'] as const) {
        const page = await scrapeMetricsPage({ ...request(''), url }, format, mapsSeries);
        expect(page).toMatchObject({ ok: false, error: expect.stringMatching(/^the connection failed mid-page/) as unknown });
      }
    } finally {
      await new Promise((resolve) => cut.close(resolve));
    }
  });
});
