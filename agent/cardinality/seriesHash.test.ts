import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { seriesHash } from './seriesHash.js';

describe('seriesHash', () => {
  it('does not depend on the order of the dimensions', () => {
    expect(seriesHash('cpu', { a: '1', b: '2', c: '3' })).toBe(seriesHash('cpu', { c: '3', a: '1', b: '2' }));
  });

  it('is a non-negative safe integer, the same for any order of the same dimensions', () => {
    fc.assert(
      fc.property(fc.string(), fc.dictionary(fc.string(), fc.string()), (name, dimensions) => {
        const hash = seriesHash(name, dimensions);
        expect(Number.isSafeInteger(hash) && hash >= 0).toBe(true);
        expect(seriesHash(name, Object.fromEntries(Object.entries(dimensions).reverse()))).toBe(hash);
      }),
    );
  });

  const apart: { name: string; a: [string, Record<string, string>]; b: [string, Record<string, string>] }[] = [
    { name: 'name differs', a: ['cpu', { a: '1' }], b: ['mem', { a: '1' }] },
    { name: 'value differs', a: ['cpu', { a: '1' }], b: ['cpu', { a: '2' }] },
    { name: 'key and value boundary moves', a: ['cpu', { ab: 'c' }], b: ['cpu', { a: 'bc' }] },
    { name: 'an extra empty dimension', a: ['cpu', { a: '1' }], b: ['cpu', { a: '1', b: '' }] },
    { name: 'values swapped between keys', a: ['cpu', { a: '1', b: '2' }], b: ['cpu', { a: '2', b: '1' }] },
    { name: 'name and dimension trade text', a: ['cpux', { a: '1' }], b: ['cpu', { xa: '1' }] },
    { name: 'text moves between pairs', a: ['cpu', { a: '12', b: '3' }], b: ['cpu', { a: '1', b: '23' }] },
    { name: 'a trailing NUL', a: ['cpu', { a: 'x' }], b: ['cpu', { a: 'x\u0000' }] },
    { name: 'a key ending in NUL', a: ['cpu', { a: 'x' }], b: ['cpu', { 'a\u0000': 'x' }] },
    { name: 'odd and even lengths', a: ['cpu', { abc: 'de' }], b: ['cpu', { ab: 'cde' }] },
    { name: 'no dimensions vs one empty', a: ['cpu', {}], b: ['cpu', { '': '' }] },
  ];
  it.each(apart)('tells series apart: $name', ({ a, b }) => {
    expect(seriesHash(...a)).not.toBe(seriesHash(...b));
  });

  it('has no collisions among 400k near-identical series (the guard trusts the hash alone)', () => {
    const hashes = new Set<number>();
    for (let i = 0; i < 200_000; i++) {
      hashes.add(seriesHash('container.cpu.total_time', { namespace: `ns-${i % 50}`, pod_name: `web-${i}`, container_name: 'web', hostname: 'node-1' }));
      hashes.add(seriesHash(`m${i % 100}`, { namespace: 'ns', pod_name: `web-${Math.floor(i / 100)}`, device: `sd${i % 7}` }));
    }
    expect(hashes.size).toBe(400_000);
  });
});
