/**
 * The one queue Kansoku holds data in: bounded, with a stated policy for when it is full and
 * a count of what that policy lost. `drop-oldest` keeps the newest items (a notifier would
 * rather send the latest state than a stale one); `refuse` hands the decision back to the
 * caller, which answers retryable so its producer backs off (the block policy).
 *
 * A ring buffer that grows by doubling up to `capacity`, so a large capacity costs memory
 * only once it is used: push and shift are O(1), peek, take and remove O(k), and nothing
 * spreads an input into a call, so a million-item batch cannot overflow the stack.
 */
export type FullPolicy = 'drop-oldest' | 'refuse';

export interface BoundedQueueOptions {
  readonly capacity: number;
  readonly whenFull: FullPolicy;
  /** told how many items were dropped (drop-oldest) or refused */
  readonly onDrop?: (count: number) => void;
}

const INITIAL_SLOTS = 16;

export class BoundedQueue<T> implements Iterable<T> {
  private slots: (T | undefined)[] = [];
  private head = 0;
  private size = 0;
  private droppedCount = 0;
  private readonly maxItems: number;
  private readonly whenFull: FullPolicy;
  private readonly onDrop: ((count: number) => void) | undefined;

  constructor(options: BoundedQueueOptions) {
    if (!Number.isSafeInteger(options.capacity) || options.capacity < 1) {
      throw new RangeError(`a bounded queue needs a whole capacity of at least 1, not ${options.capacity}`);
    }
    this.maxItems = options.capacity;
    this.whenFull = options.whenFull;
    this.onDrop = options.onDrop;
  }

  get length(): number {
    return this.size;
  }

  get capacity(): number {
    return this.maxItems;
  }

  /** total items dropped or refused since creation */
  get dropped(): number {
    return this.droppedCount;
  }

  /** Appends one item; drop-oldest makes room by dropping the oldest; refuse returns false when full. */
  push(item: T): boolean {
    if (this.size === this.maxItems) {
      if (this.whenFull === 'refuse') {
        this.countDropped(1);
        return false;
      }
      this.discardOldest(1);
      this.countDropped(1);
    }
    this.reserve(this.size + 1);
    this.slots[this.indexOf(this.size)] = item;
    this.size += 1;
    return true;
  }

  /**
   * Appends items in order; returns how many were accepted. refuse accepts the ones that
   * fit; drop-oldest accepts all, dropping the oldest to make room, and keeps only the
   * newest `capacity` of an input longer than the queue (the rest count as dropped).
   */
  pushAll(items: readonly T[]): number {
    if (items.length === 0) return 0;
    let first = 0;
    let lost = 0;
    if (this.whenFull === 'refuse') {
      const fits = Math.min(items.length, this.maxItems - this.size);
      lost = items.length - fits;
      this.appendRange(items, 0, fits);
      this.countDropped(lost);
      return fits;
    }
    if (items.length >= this.maxItems) {
      first = items.length - this.maxItems;
      lost = this.size + first;
      this.reset();
    } else {
      const overflow = this.size + items.length - this.maxItems;
      if (overflow > 0) {
        this.discardOldest(overflow);
        lost = overflow;
      }
    }
    this.appendRange(items, first, items.length);
    this.countDropped(lost);
    return items.length;
  }

  /** The oldest `max` items, oldest first, without removing them (a publisher peeks, delivers, then removes). */
  peek(max: number): T[] {
    const count = this.clamp(max);
    const out = new Array<T>(count);
    for (let i = 0; i < count; i += 1) out[i] = this.slots[this.indexOf(i)] as T;
    return out;
  }

  /**
   * The item `index` places after the oldest (0 is the oldest), without removing it;
   * undefined outside 0..length-1. Lets a reader that is ahead of the oldest (a faster
   * consumer group) read from the middle without copying what lies before.
   */
  at(index: number): T | undefined {
    if (!Number.isInteger(index) || index < 0 || index >= this.size) return undefined;
    return this.slots[this.indexOf(index)];
  }

  /** Removes the oldest `count` items (after they were delivered); not counted as dropped. */
  remove(count: number): void {
    this.discardOldest(this.clamp(count));
  }

  /** Removes and returns the oldest item. */
  shift(): T | undefined {
    if (this.size === 0) return undefined;
    const item = this.slots[this.head];
    this.discardOldest(1);
    return item;
  }

  /** Removes and returns up to `max` oldest items. */
  take(max: number): T[] {
    const out = this.peek(max);
    this.discardOldest(out.length);
    return out;
  }

  /** Drops everything still queued, counting it as dropped; returns how many. */
  clear(): number {
    const count = this.size;
    this.reset();
    this.countDropped(count);
    return count;
  }

  /** Oldest first; the queue must not change while it is iterated. */
  *[Symbol.iterator](): Iterator<T> {
    for (let i = 0; i < this.size; i += 1) yield this.slots[this.indexOf(i)] as T;
  }

  private indexOf(position: number): number {
    return (this.head + position) % this.slots.length;
  }

  /** A requested count as a whole number between 0 and the length. */
  private clamp(requested: number): number {
    if (!(requested > 0)) return 0;
    return Math.min(Math.floor(requested), this.size);
  }

  private appendRange(items: readonly T[], from: number, to: number): void {
    const count = to - from;
    if (count <= 0) return;
    this.reserve(this.size + count);
    for (let i = from; i < to; i += 1) {
      this.slots[this.indexOf(this.size)] = items[i];
      this.size += 1;
    }
  }

  /** Grows the ring (never past capacity) so that it holds `needed` items, unwrapping it. */
  private reserve(needed: number): void {
    if (needed <= this.slots.length) return;
    let next = Math.max(INITIAL_SLOTS, this.slots.length * 2);
    while (next < needed) next *= 2;
    next = Math.min(next, this.maxItems);
    const grown = new Array<T | undefined>(next);
    for (let i = 0; i < this.size; i += 1) grown[i] = this.slots[this.indexOf(i)];
    this.slots = grown;
    this.head = 0;
  }

  /** Forgets the oldest `count` items, clearing their slots so they can be collected. */
  private discardOldest(count: number): void {
    for (let i = 0; i < count; i += 1) {
      this.slots[this.head] = undefined;
      this.head = (this.head + 1) % this.slots.length;
    }
    this.size -= count;
    if (this.size === 0) this.head = 0;
  }

  private reset(): void {
    this.slots = [];
    this.head = 0;
    this.size = 0;
  }

  private countDropped(count: number): void {
    if (count <= 0) return;
    this.droppedCount += count;
    this.onDrop?.(count);
  }
}
