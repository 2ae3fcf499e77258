import { describe, expect, it } from 'vitest';
import { requestsOf } from './kafkaProducer.js';

const message = (key: string, bytes: number) => ({ key, value: 'x'.repeat(bytes) });

describe('requestsOf', () => {
  it.each([
    ['nothing', [], 100, []],
    ['all in one request when they fit', [10, 20, 30], 100, [[10, 20, 30]]],
    ['a new request before the limit would be passed', [60, 30, 20, 90], 100, [[60, 30], [20], [90]]],
    ['a message over the limit alone (the broker decides)', [10, 150, 10], 100, [[10], [150], [10]]],
  ])('%s', (_name, sizes, maxBytes, expected) => {
    const requests = requestsOf(sizes.map((size, i) => message(`k${i}`, size)), maxBytes);
    expect(requests.map((r) => r.map((m) => m.value.length))).toEqual(expected);
  });

  it('counts bytes, not characters', () => {
    const requests = requestsOf([{ key: 'a', value: 'é'.repeat(40) }, { key: 'a', value: 'é'.repeat(40) }], 100);
    expect(requests).toHaveLength(2);
  });
});
