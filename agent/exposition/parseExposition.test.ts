import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { peerSamples } from '../../test/prometheusPeer.js';
import { ExpositionParser, MAX_LABELS_PER_SAMPLE, MAX_LINE_CHARS, parseExposition, type Sample } from './parseExposition.js';

const FIXTURES = new URL('../../test/fixtures/prometheus/', import.meta.url);
const fixture = (name: string): string => readFileSync(new URL(name, FIXTURES), 'utf8');

const KUBELET_PAGES = [
  'nri-k8s__k8s-1.15-minikube-docker17.09__kubelet_metrics_cadvisor.prom',
  'nri-k8s__k8s-1.16.15-minikube-docker20.10-systemd__kubelet_metrics_cadvisor.prom',
  'nri-k8s__k8s-1.25.13-containerd1.6__kubelet_metrics_cadvisor.prom',
];

function sample(name: string, labels: Record<string, string>, value: number, timestampMs?: number): Sample {
  return { name, labels, value, timestampMs };
}

describe('parseExposition: valid lines', () => {
  const cases: { name: string; page: string; samples: Sample[] }[] = [
    { name: 'a bare sample', page: 'up 1\n', samples: [sample('up', {}, 1)] },
    { name: 'no newline at the end', page: 'up 1', samples: [sample('up', {}, 1)] },
    { name: 'labels and a timestamp', page: 'http_requests_total{method="post",code="200"} 1027 1395066363000\n', samples: [sample('http_requests_total', { method: 'post', code: '200' }, 1027, 1395066363000)] },
    { name: 'an empty label set', page: 'up{} 3\n', samples: [sample('up', {}, 3)] },
    { name: 'an empty label set right before the value', page: 'up{}3\n', samples: [sample('up', {}, 3)] },
    { name: 'a trailing comma in the label set', page: 'gc_seconds_count{gc="Copy",} 104.0\n', samples: [sample('gc_seconds_count', { gc: 'Copy' }, 104)] },
    { name: 'an empty label value', page: 'x{container=""} 0\n', samples: [sample('x', { container: '' }, 0)] },
    {
      name: 'escaped backslash, quote and newline in label values',
      page: 'msdos_file_access_time_seconds{path="C:\\\\DIR\\\\FILE.TXT",error="Cannot find file:\\n\\"FILE.TXT\\""} 1.458255915e9\n',
      samples: [sample('msdos_file_access_time_seconds', { path: 'C:\\DIR\\FILE.TXT', error: 'Cannot find file:\n"FILE.TXT"' }, 1.458255915e9)],
    },
    { name: 'braces, commas and equals signs inside a label value', page: 'x{a="{b=c,}"} 1\n', samples: [sample('x', { a: '{b=c,}' }, 1)] },
    { name: 'NaN', page: 'x NaN\n', samples: [sample('x', {}, NaN)] },
    { name: '+Inf and -Inf', page: 'x{le="+Inf"} +Inf\ny -Inf\n', samples: [sample('x', { le: '+Inf' }, Infinity), sample('y', {}, -Infinity)] },
    {
      name: 'exponent and fractional floats',
      page: 'a 1.5e-3\nb -2E+10\nc .5\nd 5.\ne 1.6509742024191372e+09\n',
      samples: [sample('a', {}, 1.5e-3), sample('b', {}, -2e10), sample('c', {}, 0.5), sample('d', {}, 5), sample('e', {}, 1.6509742024191372e9)],
    },
    { name: 'a negative zero-time timestamp', page: 'x -6.7953645788713455e+09 -62135596800000\n', samples: [sample('x', {}, -6.7953645788713455e9, -62135596800000)] },
    { name: 'an integer beyond 15 digits', page: 'x 9007199254740991 1\n', samples: [sample('x', {}, 9007199254740991, 1)] },
    { name: 'CRLF line endings', page: 'a{b="c"} 1 2\r\n# TYPE a gauge\r\nd 3\r\n', samples: [sample('a', { b: 'c' }, 1, 2), sample('d', {}, 3)] },
    {
      name: 'blanks and tabs: leading, between tokens, inside the label set, trailing',
      page: '  \tx \t { a = "1" ,\tb="2" } \t 7 \t 8 \t\n',
      samples: [sample('x', { a: '1', b: '2' }, 7, 8)],
    },
    { name: 'a blank between the name and the label set', page: 'x {a="1"} 1\n', samples: [sample('x', { a: '1' }, 1)] },
    { name: 'colons in metric names', page: 'job:http_requests:rate5m 0.25\n', samples: [sample('job:http_requests:rate5m', {}, 0.25)] },
    { name: 'blank lines and comments are skipped', page: '\n# a comment\n   \n#HELP-ish text\n# HELP\n# TYPE\nx 1\n\n', samples: [sample('x', {}, 1)] },
    { name: 'a __proto__ label is a label like any other', page: 'x{__proto__="p"} 1\n', samples: [sample('x', JSON.parse('{"__proto__":"p"}') as Record<string, string>, 1)] },
    {
      name: 'a name that extends or shortens the previous line\'s is read in full',
      page: 'foo 1\nfoo_bar 2\nfoo 3\nx{ab="1"} 4\nx{a="2"} 5\nx{abc="3",a="4"} 6\n',
      samples: [sample('foo', {}, 1), sample('foo_bar', {}, 2), sample('foo', {}, 3), sample('x', { ab: '1' }, 4), sample('x', { a: '2' }, 5), sample('x', { abc: '3', a: '4' }, 6)],
    },
    {
      name: 'backslashes in a comment or an earlier value do not disturb later values',
      page: '# HELP x a \\ b\nx{a="1"} 1\ny{b="c\\\\d",e="f"} 2\nz{g="h"} 3\n',
      samples: [sample('x', { a: '1' }, 1), sample('y', { b: 'c\\d', e: 'f' }, 2), sample('z', { g: 'h' }, 3)],
    },
    { name: 'histogram samples are samples', page: '# TYPE h histogram\nh_bucket{le="0.1"} 3\nh_sum 0.2\nh_count 3\n', samples: [sample('h_bucket', { le: '0.1' }, 3), sample('h_sum', {}, 0.2), sample('h_count', {}, 3)] },
  ];

  it.each(cases)('$name', ({ page, samples }) => {
    const result = parseExposition(page);
    expect(result.errors).toEqual([]);
    expect(result.samples).toEqual(samples);
  });

  it('keeps a __proto__ label as an own property and the prototype intact', () => {
    const [parsed] = parseExposition('x{__proto__="p",a="b"} 1\n').samples;
    expect(Object.keys(parsed?.labels ?? {})).toEqual(['__proto__', 'a']);
    expect(Object.getPrototypeOf(parsed?.labels)).toBe(Object.prototype);
  });
});

describe('parseExposition: # TYPE lines', () => {
  it('records the type of each family', () => {
    const page = '# HELP a The a.\n# TYPE a counter\na 1\n# TYPE b gauge\n#  TYPE  c\thistogram  \n# TYPE d summary\n# TYPE e untyped\n';
    expect(Object.fromEntries(parseExposition(page).types)).toEqual({ a: 'counter', b: 'gauge', c: 'histogram', d: 'summary', e: 'untyped' });
  });

  it('keeps the first TYPE of a family and reports the second', () => {
    const result = parseExposition('# TYPE a counter\n# TYPE a gauge\n');
    expect(result.types.get('a')).toBe('counter');
    expect(result.errors).toEqual([{ line: 2, reason: 'second TYPE line for a', text: '# TYPE a gauge' }]);
  });
});

describe('parseExposition: malformed lines become errors and parsing goes on', () => {
  const cases: { name: string; line: string; reason: string }[] = [
    { name: 'a name and no value', line: 'up', reason: 'missing value' },
    { name: 'a label set and no value', line: 'up{a="1"}', reason: 'missing value' },
    { name: 'a value that is not a number', line: 'up one', reason: 'invalid value' },
    { name: 'a hexadecimal value', line: 'up 0x1f', reason: 'invalid value' },
    { name: 'a value of only a dot', line: 'up .', reason: 'invalid value' },
    { name: 'a float timestamp', line: 'up 1 1.5', reason: 'invalid timestamp' },
    { name: 'text after the timestamp', line: 'up 1 2 3', reason: 'unexpected text after timestamp' },
    { name: 'a name starting with a digit', line: '1up 1', reason: 'invalid metric name' },
    { name: 'a dash in the name', line: 'up-time 1', reason: 'invalid metric name' },
    { name: 'an unterminated label value', line: 'up{a="1} 1', reason: 'unterminated label value' },
    { name: 'an unknown escape', line: 'up{a="\\x2d"} 1', reason: 'invalid escape sequence in label value' },
    { name: 'a backslash at the end of the line', line: 'up{a="\\', reason: 'invalid escape sequence in label value' },
    { name: 'a duplicate label', line: 'up{a="1",a="2"} 1', reason: 'duplicate label a' },
    { name: 'an unquoted label value', line: 'up{a=1} 1', reason: 'value of label a is not quoted' },
    { name: 'a label without =', line: 'up{a "1"} 1', reason: "expected '=' after label a" },
    { name: 'a label name starting with a digit', line: 'up{1a="1"} 1', reason: 'invalid label name' },
    { name: 'a colon in a label name', line: 'up{a:b="1"} 1', reason: "expected '=' after label a" },
    { name: 'a lone comma in the label set', line: 'up{,} 1', reason: 'invalid label name' },
    { name: 'an unterminated label set', line: 'up{a="1" 1', reason: "expected ',' or '}' after a label value" },
    { name: 'a label set cut at the end of the line', line: 'up{a="1",', reason: 'unterminated label set' },
    { name: 'an unknown metric type', line: '# TYPE up counters', reason: 'unknown metric type "counters"' },
    { name: 'a TYPE with trailing words', line: '# TYPE up counter gauge', reason: 'unknown metric type "counter"' },
    { name: 'a TYPE without a type', line: '# TYPE up', reason: 'unknown metric type ""' },
    { name: 'an invalid name in a TYPE line', line: '# TYPE 1up counter', reason: 'invalid metric name in TYPE line' },
    { name: 'an invalid name in a HELP line', line: '# HELP up-time Uptime.', reason: 'invalid metric name in HELP line' },
  ];

  it.each(cases)('$name', ({ line, reason }) => {
    const result = parseExposition(`before 1\n${line}\r\nafter 2\n`);
    expect(result.errors).toEqual([{ line: 2, reason, text: line }]);
    expect(result.samples).toEqual([sample('before', {}, 1), sample('after', {}, 2)]);
  });

  it("keeps only a bad line's first 200 characters", () => {
    const line = `up{a="${'x'.repeat(300)}`;
    const [error] = parseExposition(line).errors;
    expect(error?.text).toBe(line.slice(0, 200));
    expect(error?.reason).toBe('unterminated label value');
  });
});

describe('parseExposition: real pages', () => {
  it.each(KUBELET_PAGES)('agrees with the peer parser on every sample of %s', (file) => {
    const page = fixture(file);
    const ours = parseExposition(page);
    const peer = peerSamples(page);
    expect(ours.errors).toEqual([]);
    expect(ours.samples.length).toBe(peer.length);
    expect(ours.samples.length).toBeGreaterThan(2000);
    expect(ours.samples.map((s) => ({ ...s, labels: { ...s.labels } }))).toEqual(peer);
  });

  it('reads the k8s 1.15 page, whose systemd unit ids escape backslashes', () => {
    const result = parseExposition(fixture(KUBELET_PAGES[0] ?? ''));
    const swap = result.samples.find((s) => s.name === 'container_cpu_load_average_10s' && s.labels['id']?.endsWith('part2.swap'));
    expect(swap?.labels['id']).toBe('/system.slice/dev-disk-by\\x2did-ata\\x2dVBOX_HARDDISK_VB889e9320\\x2d6f5efc34\\x2dpart2.swap');
    expect(result.samples.every((s) => s.timestampMs === undefined)).toBe(true);
    expect(result.types.get('container_cpu_usage_seconds_total')).toBe('counter');
  });

  it('reads the k8s 1.25 page with its per-sample timestamps and all 67 families typed', () => {
    const result = parseExposition(fixture(KUBELET_PAGES[2] ?? ''));
    expect(result.samples).toHaveLength(2985);
    expect(result.types.size).toBe(67);
    expect(result.samples[0]).toEqual(sample('cadvisor_version_info', { cadvisorRevision: '', cadvisorVersion: '', dockerVersion: '', kernelVersion: '5.15.49-linuxkit-pr', osVersion: 'Ubuntu 22.04.2 LTS' }, 1));
    // cAdvisor stamps usage samples with their collection time; spec and machine samples carry none.
    expect(result.samples.filter((s) => s.timestampMs !== undefined)).toHaveLength(2608);
    expect(result.samples.filter((s) => s.name.startsWith('container_spec_')).every((s) => s.timestampMs === undefined)).toBe(true);
  });

  it("reads cAdvisor's own golden output", () => {
    const result = parseExposition(fixture('google-cadvisor__prometheus_metrics.prom'));
    expect(result.errors).toEqual([]);
    expect(result.samples).toHaveLength(287);
    expect(result.samples.filter((s) => s.timestampMs === 1395066363000).length).toBeGreaterThan(200);
  });

  it("reads metrics-server's zero-time edge case: negative value and timestamp are still numbers", () => {
    const result = parseExposition(fixture('metrics-server__edgecase__negative-zero-time-timestamp.prom'));
    expect(result.errors).toEqual([]);
    expect(result.samples.map((s) => [s.value, s.timestampMs])).toEqual([
      [-6.7953645788713455e9, -62135596800000],
      [1.6509742024191372e9, 1650974202419],
    ]);
  });
});

/** The serialiser the property test round-trips through: Prometheus' own escaping rules. */
function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return Object.is(value, -0) ? '-0' : String(value);
}

describe('parseExposition: properties', () => {
  const labelName = fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,15}$/);
  // U+FFFD is left out: the parser reads decoded text, where it stands for bytes that were not UTF-8,
  // and refuses it (see 'refuses a label value that was invalid UTF-8' below).
  const grapheme = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }).filter((g) => !g.includes('\uFFFD'));
  const labelValue = fc.string({ unit: fc.oneof(fc.constantFrom('\\', '"', '\n', '{', '}', ',', '=', ' ', '#'), grapheme), maxLength: 20 });
  const blanks = fc.string({ unit: fc.constantFrom(' ', '\t'), minLength: 1, maxLength: 3 });
  const line = fc.record({
    name: fc.stringMatching(/^[a-zA-Z_:][a-zA-Z0-9_:]{0,20}$/),
    labels: fc.uniqueArray(fc.tuple(labelName, labelValue), { selector: ([name]) => name, maxLength: 6 }),
    trailingComma: fc.boolean(),
    value: fc.oneof(fc.double(), fc.integer()),
    timestampMs: fc.option(fc.maxSafeInteger(), { nil: undefined }),
    gap: blanks,
    crlf: fc.boolean(),
  });

  it('round-trips names, escaped label values, values and timestamps', () => {
    fc.assert(
      fc.property(fc.array(line, { maxLength: 8 }), (lines) => {
        const page = lines
          .map((l) => {
            const labels = l.labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',') + (l.trailingComma && l.labels.length > 0 ? ',' : '');
            const timestamp = l.timestampMs === undefined ? '' : `${l.gap}${l.timestampMs}`;
            return `${l.name}{${labels}}${l.gap}${formatValue(l.value)}${timestamp}${l.crlf ? '\r\n' : '\n'}`;
          })
          .join('');
        const result = parseExposition(page);
        expect(result.errors).toEqual([]);
        expect(result.samples).toEqual(lines.map((l) => sample(l.name, Object.fromEntries(l.labels), l.value, l.timestampMs)));
      }),
    );
  });

  it('never throws, and reports every bad line with its number and at most 200 characters', () => {
    const unit = fc.constantFrom('a', '_', ':', '{', '}', '"', '\\', '=', ',', ' ', '\t', '\n', '\r', '#', '1', '.', 'e', '-', '+', 'N', 'I', 'n', 'f');
    fc.assert(
      fc.property(fc.string({ unit, maxLength: 300 }), (page) => {
        const result = parseExposition(page);
        const lineCount = page.split('\n').length;
        for (const error of result.errors) {
          expect(error.line).toBeGreaterThanOrEqual(1);
          expect(error.line).toBeLessThanOrEqual(lineCount);
          expect(error.text.length).toBeLessThanOrEqual(200);
        }
        for (const s of result.samples) expect(typeof s.value).toBe('number');
      }),
    );
  });

  it('gives the same result however the page is cut into pieces (inside lines, between CR and LF, at escapes)', () => {
    const unit = fc.constantFrom('a', 'b', '_', '{', '}', '"', '\\', '=', ',', ' ', '\n', '\r', '#', '1', '.', 'e', '-', 'T', 'Y', 'P', 'E');
    const validPage = KUBELET_PAGES[0] ? fixture(KUBELET_PAGES[0]).slice(0, 4000) : '';
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit, maxLength: 300 }), fc.constant(validPage)), fc.array(fc.nat(), { maxLength: 12 }), (page, rawCuts) => {
        const cuts = [...new Set(rawCuts.map((c) => c % (page.length + 1)))].sort((a, b) => a - b);
        const parser = new ExpositionParser();
        let from = 0;
        for (const cut of [...cuts, page.length]) {
          parser.push(page.slice(from, cut));
          from = cut;
        }
        const pieces = parser.finish();
        const whole = parseExposition(page);
        expect(pieces.samples).toEqual(whole.samples);
        expect(pieces.errors).toEqual(whole.errors);
        expect([...pieces.types]).toEqual([...whole.types]);
      }),
    );
  });
});

describe('ExpositionParser with a filter of wanted families', () => {
  it('reads the wanted families as a full parse does, and passes over the others (and their errors) unread', () => {
    const page = fixture(KUBELET_PAGES[2] ?? '');
    const wanted = (name: string): boolean => name === 'container_memory_usage_bytes' || name === 'container_cpu_usage_seconds_total';
    const parser = new ExpositionParser(wanted);
    parser.push(`${page}garbage{ line of an unwanted family\n`);
    const filtered = parser.finish();
    const full = parseExposition(page);
    expect(filtered.samples.length).toBeGreaterThan(0);
    expect(filtered.samples).toEqual(full.samples.filter((s) => wanted(s.name)));
    expect(filtered.skipped).toBe(full.samples.length - filtered.samples.length + 1);
    expect(filtered.errors).toEqual([]);
  });
});

describe('parseExposition: hostile pages are bounded', () => {
  const after = 'after{pod="p"} 1\n';
  const AFTER = sample('after', { pod: 'p' }, 1);

  it(`refuses a line over ${MAX_LINE_CHARS} characters, whole or in pieces, and reads the next line`, () => {
    const long = `long{a="${'x'.repeat(MAX_LINE_CHARS)}"} 1\n`;
    const whole = parseExposition(long + after);
    expect(whole.samples).toEqual([AFTER]);
    expect(whole.errors).toEqual([{ line: 1, reason: `line longer than ${MAX_LINE_CHARS} characters`, text: long.slice(0, 200) }]);
    const parser = new ExpositionParser();
    const page = `before 2\n${long}${after}`;
    for (let offset = 0; offset < page.length; offset += 65536) parser.push(page.slice(offset, offset + 65536));
    const pieces = parser.finish();
    expect(pieces.samples).toEqual([sample('before', {}, 2), AFTER]);
    expect(pieces.errors).toEqual([{ line: 2, reason: `line longer than ${MAX_LINE_CHARS} characters`, text: long.slice(0, 200) }]);
  });

  it('refuses an overlong last line without a line break', () => {
    const parser = new ExpositionParser();
    parser.push(after);
    for (let i = 0; i < 20; i++) parser.push('y'.repeat(65536));
    const result = parser.finish();
    expect(result.samples).toEqual([AFTER]);
    expect(result.errors.map((e) => e.reason)).toEqual([`line longer than ${MAX_LINE_CHARS} characters`]);
  });

  it(`refuses a sample with more than ${MAX_LABELS_PER_SAMPLE} labels`, () => {
    const labels = (n: number): string => Array.from({ length: n }, (_, i) => `l${i}="v"`).join(',');
    const result = parseExposition(`ok{${labels(MAX_LABELS_PER_SAMPLE)}} 1\nbad{${labels(MAX_LABELS_PER_SAMPLE + 1)}} 1\n${after}`);
    expect(result.samples.map((s) => s.name)).toEqual(['ok', 'after']);
    expect(result.errors.map((e) => e.reason)).toEqual([`more than ${MAX_LABELS_PER_SAMPLE} labels`]);
  });

  it('refuses a label value that was invalid UTF-8 (decoded to U+FFFD), also after a backslash', () => {
    const result = parseExposition(`a{v="bad\uFFFD"} 1\nb{v="\\\\\uFFFD"} 2\nc{v="é"} 3\n${after}`);
    expect(result.samples).toEqual([sample('c', { v: 'é' }, 3), AFTER]);
    expect(result.errors.map((e) => e.reason)).toEqual(['label value is not valid UTF-8', 'label value is not valid UTF-8']);
  });
});
