import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dimensionsKey, seriesKey } from './seriesKey.js';

/** Characters that separate things in this key or in the keys it replaced, and a few that sort oddly. */
const TRICKY = ['"', ',', '[', ']', '{', '}', ':', '\\', '\u0000', '=', ' ', 'a', 'B', '1', 'é', '😀'];
const text = fc.string({ unit: fc.constantFrom(...TRICKY), maxLength: 6 });
const dimensions = fc.dictionary(text, text, { maxKeys: 5 });

/** Dimension entries, and the same entries in another order. */
const entries = fc.uniqueArray(fc.tuple(text, text), { selector: ([key]) => key, maxLength: 5 });
const reorderedEntries = entries.chain((list) => fc.tuple(fc.constant(list), fc.shuffledSubarray(list, { minLength: list.length, maxLength: list.length })));

function sameSeries(a: { name: string; dims: Record<string, string> }, b: { name: string; dims: Record<string, string> }): boolean {
  const ka = Object.keys(a.dims);
  return a.name === b.name && ka.length === Object.keys(b.dims).length && ka.every((k) => Object.hasOwn(b.dims, k) && b.dims[k] === a.dims[k]);
}

describe('dimensionsKey', () => {
  // Persisted by the embedded store (series.dimensions_key): these texts must never change.
  const cases: { name: string; dimensions: Record<string, string>; key: string }[] = [
    { name: 'no dimensions', dimensions: {}, key: '[]' },
    { name: 'keys sorted', dimensions: { pod_name: 'web-1', hostname: 'node-a' }, key: '[["hostname","node-a"],["pod_name","web-1"]]' },
    { name: 'upper case before lower case (code units, not locale)', dimensions: { a: '1', B: '2' }, key: '[["B","2"],["a","1"]]' },
    { name: 'a surrogate pair before a high BMP character (code units, not code points)', dimensions: { '～': '1', '😀': '2' }, key: '[["😀","2"],["～","1"]]' },
    { name: 'quotes, backslashes and NUL escaped by JSON', dimensions: { 'k"': 'v\\', n: '\u0000' }, key: '[["k\\"","v\\\\"],["n","\\u0000"]]' },
  ];
  it.each(cases)('$name', ({ dimensions, key }) => {
    expect(dimensionsKey(dimensions)).toBe(key);
  });
});

describe('seriesKey', () => {
  const cases: { name: string; a: [string, Record<string, string>]; b: [string, Record<string, string>]; same: boolean }[] = [
    { name: 'dimension order does not matter', a: ['cpu', { a: '1', b: '2' }], b: ['cpu', { b: '2', a: '1' }], same: true },
    { name: 'another name is another series', a: ['cpu', { a: '1' }], b: ['mem', { a: '1' }], same: false },
    { name: 'another value is another series', a: ['cpu', { a: '1' }], b: ['cpu', { a: '2' }], same: false },
    { name: 'one dimension more is another series', a: ['cpu', { a: '1' }], b: ['cpu', { a: '1', b: '' }], same: false },
    { name: 'a name that looks like dimensions is only a name', a: ['cpu[["a","1"]]', {}], b: ['cpu', { a: '1' }], same: false },
    { name: 'a name that looks like a key is only a name', a: ['cpu",[]]', {}], b: ['cpu', {}], same: false },
    { name: 'a key cannot swallow its value', a: ['m', { 'a","b': '' }], b: ['m', { a: 'b' }], same: false },
  ];
  it.each(cases)('$name', ({ a, b, same }) => {
    expect(seriesKey(...a) === seriesKey(...b)).toBe(same);
  });

  it('is the name and the dimensionsKey as one JSON array', () => {
    expect(seriesKey('cpu', { b: '2', a: '1' })).toBe('["cpu",[["a","1"],["b","2"]]]');
    expect(JSON.parse(seriesKey('c"p,u', { k: 'v' }))).toEqual(['c"p,u', [['k', 'v']]]);
  });

  it('does not depend on the order of dimension keys', () => {
    fc.assert(
      fc.property(text, reorderedEntries, (name, [list, shuffled]) => {
        expect(seriesKey(name, Object.fromEntries(shuffled))).toBe(seriesKey(name, Object.fromEntries(list)));
      }),
    );
  });

  it('can be read back into its series, so two series never share a key', () => {
    fc.assert(
      fc.property(text, dimensions, (name, dims) => {
        const [readName, pairs] = JSON.parse(seriesKey(name, dims)) as [string, [string, string][]];
        expect(readName).toBe(name);
        expect(pairs).toHaveLength(Object.keys(dims).length);
        expect(Object.fromEntries(pairs)).toEqual({ ...dims });
      }),
    );
  });

  it('gives equal series equal keys and distinct series distinct keys', () => {
    // A small alphabet, so that equal and nearly equal pairs come up often.
    const small = fc.string({ unit: fc.constantFrom('"', ',', '\u0000', 'a'), maxLength: 2 });
    const series = fc.record({ name: small, dims: fc.dictionary(small, small, { maxKeys: 2 }) });
    fc.assert(
      fc.property(series, series, (a, b) => {
        expect(seriesKey(a.name, a.dims) === seriesKey(b.name, b.dims)).toBe(sameSeries(a, b));
      }),
      { numRuns: 2000 },
    );
  });

  it('gives distinct series distinct keys when they differ by one dimension', () => {
    // Two random series are rarely close; these differ in one key or one value only.
    fc.assert(
      fc.property(text, dimensions, text, text, text, (name, dims, key, value, other) => {
        fc.pre(value !== other);
        const a = { ...dims, [key]: value };
        expect(seriesKey(name, a)).not.toBe(seriesKey(name, { ...dims, [key]: other }));
        const { [key]: _dropped, ...without } = a;
        expect(seriesKey(name, a)).not.toBe(seriesKey(name, without));
      }),
    );
  });
});
