import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BoundedQueue, type FullPolicy } from './boundedQueue.js';

/** A queue with a recording onDrop, filled with `initial`. */
function queueOf(capacity: number, whenFull: FullPolicy, initial: readonly number[] = []): { queue: BoundedQueue<number>; drops: number[] } {
  const drops: number[] = [];
  const queue = new BoundedQueue<number>({ capacity, whenFull, onDrop: (count) => drops.push(count) });
  for (const item of initial) queue.push(item);
  return { queue, drops };
}

describe('BoundedQueue construction', () => {
  it.each([
    ['zero', 0],
    ['negative', -1],
    ['fractional', 1.5],
    ['unbounded', Number.POSITIVE_INFINITY],
    ['not a number', Number.NaN],
  ])('rejects a %s capacity', (_name, capacity) => {
    expect(() => new BoundedQueue({ capacity, whenFull: 'refuse' })).toThrow(RangeError);
  });

  it('reports its capacity and starts empty', () => {
    const queue = new BoundedQueue<string>({ capacity: 3, whenFull: 'drop-oldest' });
    expect([queue.capacity, queue.length, queue.dropped, queue.shift()]).toEqual([3, 0, 0, undefined]);
  });
});

describe('BoundedQueue.push', () => {
  it.each<[string, FullPolicy, number[], number, boolean, number[], number[]]>([
    // name, policy, already queued (capacity 3), pushed, answer, queued after, onDrop calls
    ['refuse: room left', 'refuse', [1, 2], 3, true, [1, 2, 3], []],
    ['refuse: full refuses and counts', 'refuse', [1, 2, 3], 4, false, [1, 2, 3], [1]],
    ['drop-oldest: room left', 'drop-oldest', [1, 2], 3, true, [1, 2, 3], []],
    ['drop-oldest: full drops the oldest', 'drop-oldest', [1, 2, 3], 4, true, [2, 3, 4], [1]],
  ])('%s', (_name, policy, initial, item, answer, after, drops) => {
    const { queue, drops: seen } = queueOf(3, policy, initial);
    expect(queue.push(item)).toBe(answer);
    expect([...queue]).toEqual(after);
    expect(seen).toEqual(drops);
    expect(queue.dropped).toBe(drops.reduce((a, b) => a + b, 0));
  });
});

describe('BoundedQueue.pushAll', () => {
  it.each<[string, FullPolicy, number[], number[], number, number[], number[]]>([
    // name, policy, already queued (capacity 4), pushed, accepted, queued after, onDrop calls
    ['refuse: nothing pushed', 'refuse', [1], [], 0, [1], []],
    ['refuse: all fit', 'refuse', [1], [2, 3, 4], 3, [1, 2, 3, 4], []],
    ['refuse: only the first that fit', 'refuse', [1, 2], [3, 4, 5, 6], 2, [1, 2, 3, 4], [2]],
    ['refuse: full refuses all', 'refuse', [1, 2, 3, 4], [5, 6], 0, [1, 2, 3, 4], [2]],
    ['drop-oldest: all fit', 'drop-oldest', [1], [2, 3], 2, [1, 2, 3], []],
    ['drop-oldest: drops the oldest to make room', 'drop-oldest', [1, 2, 3], [4, 5, 6], 3, [3, 4, 5, 6], [2]],
    ['drop-oldest: exactly capacity replaces all', 'drop-oldest', [1, 2], [3, 4, 5, 6], 4, [3, 4, 5, 6], [2]],
    ['drop-oldest: longer than capacity keeps the newest', 'drop-oldest', [1, 2], [3, 4, 5, 6, 7, 8], 6, [5, 6, 7, 8], [4]],
  ])('%s', (_name, policy, initial, items, accepted, after, drops) => {
    const { queue, drops: seen } = queueOf(4, policy, initial);
    expect(queue.pushAll(items)).toBe(accepted);
    expect([...queue]).toEqual(after);
    expect(seen).toEqual(drops);
  });

  it.each<[string, FullPolicy, number, number, number]>([
    // name, policy, accepted, length, dropped
    ['refuse', 'refuse', 1000, 1000, 999_000],
    ['drop-oldest', 'drop-oldest', 1_000_000, 1000, 999_000],
  ])('%s: a million items do not overflow the stack', (_name, policy, accepted, length, dropped) => {
    const items = Array.from({ length: 1_000_000 }, (_, i) => i);
    const queue = new BoundedQueue<number>({ capacity: 1000, whenFull: policy });
    expect(queue.pushAll(items)).toBe(accepted);
    expect([queue.length, queue.dropped]).toEqual([length, dropped]);
  });

  it('a million items into a queue of a million', () => {
    const items = Array.from({ length: 1_000_000 }, (_, i) => i);
    const queue = new BoundedQueue<number>({ capacity: 1_000_000, whenFull: 'refuse' });
    expect(queue.pushAll(items)).toBe(1_000_000);
    expect(queue.peek(2)).toEqual([0, 1]);
    expect(queue.take(1_000_000).at(-1)).toBe(999_999);
    expect(queue.length).toBe(0);
  });
});

describe('BoundedQueue reading', () => {
  it.each<[string, number, number[]]>([
    ['fewer than queued', 2, [1, 2]],
    ['more than queued', 10, [1, 2, 3]],
    ['zero', 0, []],
    ['negative', -1, []],
    ['fractional rounds down', 2.7, [1, 2]],
  ])('peek %s', (_name, max, expected) => {
    const { queue } = queueOf(5, 'refuse', [1, 2, 3]);
    expect(queue.peek(max)).toEqual(expected);
    expect(queue.length).toBe(3);
  });

  it.each<[string, number, number | undefined]>([
    ['the oldest', 0, 1],
    ['the newest', 2, 3],
    ['past the newest', 3, undefined],
    ['negative', -1, undefined],
    ['fractional', 0.5, undefined],
  ])('at %s', (_name, index, expected) => {
    const { queue } = queueOf(5, 'refuse', [1, 2, 3]);
    expect(queue.at(index)).toBe(expected);
  });

  it('remove after peek takes the delivered items away without counting drops', () => {
    const { queue, drops } = queueOf(5, 'refuse', [1, 2, 3, 4]);
    const batch = queue.peek(3);
    queue.push(5);
    queue.remove(batch.length);
    expect([...queue]).toEqual([4, 5]);
    expect([queue.dropped, drops]).toEqual([0, []]);
  });

  it.each<[string, number, number[]]>([
    ['some', 2, [3]],
    ['more than queued', 9, []],
    ['none', 0, [1, 2, 3]],
  ])('remove %s', (_name, count, after) => {
    const { queue } = queueOf(5, 'refuse', [1, 2, 3]);
    queue.remove(count);
    expect([...queue]).toEqual(after);
  });

  it('shift and take return the oldest first', () => {
    const { queue } = queueOf(5, 'refuse', [1, 2, 3, 4]);
    expect(queue.shift()).toBe(1);
    expect(queue.take(2)).toEqual([2, 3]);
    expect(queue.take(5)).toEqual([4]);
    expect(queue.shift()).toBeUndefined();
  });

  it('clear counts what it drops', () => {
    const { queue, drops } = queueOf(5, 'refuse', [1, 2, 3]);
    expect(queue.clear()).toBe(3);
    expect(queue.clear()).toBe(0);
    expect([queue.length, queue.dropped, drops]).toEqual([0, 3, [3]]);
    expect(queue.push(9)).toBe(true);
    expect([...queue]).toEqual([9]);
  });
});

describe('BoundedQueue wrap-around', () => {
  it('keeps order when the ring wraps', () => {
    const { queue } = queueOf(4, 'refuse', [1, 2, 3, 4]);
    expect(queue.take(3)).toEqual([1, 2, 3]);
    queue.pushAll([5, 6, 7]);
    expect(queue.peek(4)).toEqual([4, 5, 6, 7]);
    expect(queue.push(8)).toBe(false);
    queue.remove(2);
    queue.push(8);
    expect([...queue]).toEqual([6, 7, 8]);
  });

  it('keeps order when a wrapped ring grows', () => {
    const queue = new BoundedQueue<number>({ capacity: 100, whenFull: 'refuse' });
    for (let i = 0; i < 16; i += 1) queue.push(i);
    queue.remove(10);
    for (let i = 16; i < 30; i += 1) queue.push(i);
    expect([...queue]).toEqual(Array.from({ length: 20 }, (_, i) => i + 10));
  });

  it('drop-oldest keeps the newest through many wraps', () => {
    const { queue, drops } = queueOf(3, 'drop-oldest');
    for (let i = 0; i < 100; i += 1) queue.push(i);
    expect([...queue]).toEqual([97, 98, 99]);
    expect([queue.dropped, drops.length]).toEqual([97, 97]);
  });
});

type Op =
  | { readonly kind: 'push'; readonly item: number }
  | { readonly kind: 'pushAll'; readonly items: number[] }
  | { readonly kind: 'peek' | 'remove' | 'take' | 'at'; readonly count: number }
  | { readonly kind: 'shift' | 'clear' };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('push' as const), item: fc.integer() }),
  fc.record({ kind: fc.constant('pushAll' as const), items: fc.array(fc.integer(), { maxLength: 12 }) }),
  fc.record({ kind: fc.constantFrom('peek' as const, 'remove' as const, 'take' as const, 'at' as const), count: fc.integer({ min: -2, max: 12 }) }),
  fc.record({ kind: fc.constantFrom('shift' as const, 'clear' as const) }),
);

/** The obvious array implementation the ring buffer must agree with. */
class NaiveQueue {
  items: number[] = [];
  dropped = 0;
  constructor(private readonly capacity: number, private readonly whenFull: FullPolicy) {}

  apply(o: Op): unknown {
    switch (o.kind) {
      case 'push':
        return this.pushOne(o.item);
      case 'pushAll': {
        let accepted = 0;
        for (const item of o.items) if (this.pushOne(item)) accepted += 1;
        return accepted;
      }
      case 'peek':
        return this.items.slice(0, Math.max(0, o.count));
      case 'at':
        return o.count >= 0 ? this.items[o.count] : undefined;
      case 'remove':
        this.items = this.items.slice(Math.max(0, o.count));
        return undefined;
      case 'take': {
        const taken = this.items.slice(0, Math.max(0, o.count));
        this.items = this.items.slice(taken.length);
        return taken;
      }
      case 'shift':
        return this.items.shift();
      case 'clear': {
        const count = this.items.length;
        this.dropped += count;
        this.items = [];
        return count;
      }
    }
  }

  private pushOne(item: number): boolean {
    if (this.items.length < this.capacity) {
      this.items.push(item);
      return true;
    }
    this.dropped += 1;
    if (this.whenFull === 'refuse') return false;
    this.items = [...this.items.slice(1), item];
    return true;
  }
}

function applyTo(queue: BoundedQueue<number>, o: Op): unknown {
  switch (o.kind) {
    case 'push': return queue.push(o.item);
    case 'pushAll': return queue.pushAll(o.items);
    case 'peek': return queue.peek(o.count);
    case 'at': return queue.at(o.count);
    case 'remove': return queue.remove(o.count);
    case 'take': return queue.take(o.count);
    case 'shift': return queue.shift();
    case 'clear': return queue.clear();
  }
}

describe('BoundedQueue against an array model', () => {
  it.each<[string, FullPolicy]>([
    ['refuse', 'refuse'],
    ['drop-oldest', 'drop-oldest'],
  ])('%s agrees with the model after every operation', (_name, policy) => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10 }), fc.array(op, { maxLength: 60 }), (capacity, ops) => {
        let reported = 0;
        const queue = new BoundedQueue<number>({ capacity, whenFull: policy, onDrop: (count) => { reported += count; } });
        const model = new NaiveQueue(capacity, policy);
        for (const o of ops) {
          expect(applyTo(queue, o)).toEqual(model.apply(o));
          expect([...queue]).toEqual(model.items);
          expect(queue.length).toBe(model.items.length);
          expect(queue.dropped).toBe(model.dropped);
          expect(reported).toBe(model.dropped);
        }
      }),
    );
  });
});
