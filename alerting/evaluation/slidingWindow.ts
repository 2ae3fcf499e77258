import type { AggregateFunction } from '../expression/alarmExpression.js';

/**
 * One sub-alarm's sliding window, as monasca-thresh's SlidingWindowStats keeps it: slots
 * one period wide, aligned to multiples of the period since the epoch; `times` slots in
 * view and two more ahead of it for data that arrives before its slot is evaluated (more
 * when the evaluation delay is longer than a period: the slots the delay holds back too).
 *
 * The window starts at `startSlot`: the view is [startSlot, startSlot + times), the two
 * future slots follow. Measurements older than the view are refused ('too_old'), as are
 * those beyond the future slots ('too_new', a clock ahead of ours); both are counted by the
 * caller. Each slot keeps count, sum, min, max and the latest value with its timestamp, so
 * every Monasca function is O(1) per measurement and the slot serialises to six numbers.
 */

export const FUTURE_SLOTS = 2;
const FIELDS = 6; // count, sum, min, max, last value, last timestamp
const COUNT = 0;
const SUM = 1;
const MIN = 2;
const MAX = 3;
const LAST = 4;
const LAST_TS = 5;

export type AddResult = 'added' | 'too_old' | 'too_new';

export class SlidingWindow {
  private slots: Float64Array;
  private startSlot: number;

  /** times + the slots ahead of the view. */
  private readonly size: number;

  constructor(
    readonly periodMs: number,
    readonly times: number,
    startSlot: number,
    readonly futureSlots = FUTURE_SLOTS,
  ) {
    this.startSlot = startSlot;
    this.size = times + futureSlots;
    this.slots = new Float64Array(this.size * FIELDS);
  }

  /** Slots ahead of the view for an evaluation delay: thresh's two, plus those the delay holds back. */
  static futureSlotsFor(periodMs: number, delayMs: number): number {
    return FUTURE_SLOTS + Math.ceil(delayMs / periodMs);
  }

  /** The slot a timestamp falls in. */
  slotOf(timestampMs: number): number {
    return Math.floor(timestampMs / this.periodMs);
  }

  get firstSlot(): number {
    return this.startSlot;
  }

  add(timestampMs: number, value: number): AddResult {
    const offset = this.slotOf(timestampMs) - this.startSlot;
    if (offset < 0) return 'too_old';
    if (offset >= this.size) return 'too_new';
    const at = offset * FIELDS;
    const s = this.slots;
    const count = s[at + COUNT] as number;
    if (count === 0) {
      s[at + MIN] = value;
      s[at + MAX] = value;
      s[at + LAST] = value;
      s[at + LAST_TS] = timestampMs;
    } else {
      if (value < (s[at + MIN] as number)) s[at + MIN] = value;
      if (value > (s[at + MAX] as number)) s[at + MAX] = value;
      // Late data does not overwrite a newer last value.
      if (timestampMs >= (s[at + LAST_TS] as number)) {
        s[at + LAST] = value;
        s[at + LAST_TS] = timestampMs;
      }
    }
    s[at + COUNT] = count + 1;
    s[at + SUM] = (s[at + SUM] as number) + value;
    return 'added';
  }

  /** Moves the window so the view starts at `startSlot`; slots that fall out are forgotten. Never moves back. */
  slideTo(startSlot: number): void {
    const shift = startSlot - this.startSlot;
    if (shift <= 0) return;
    const { size } = this;
    if (shift >= size) this.slots.fill(0);
    else {
      this.slots.copyWithin(0, shift * FIELDS);
      this.slots.fill(0, (size - shift) * FIELDS);
    }
    this.startSlot = startSlot;
  }

  /**
   * The function's value of each of `count` slots from `fromSlot` (NaN for an empty slot or
   * one outside the window). `count` ≤ times + 2.
   */
  values(fn: AggregateFunction, fromSlot: number, count: number): number[] {
    const out: number[] = [];
    for (let i = 0; i < count; i++) {
      const offset = fromSlot + i - this.startSlot;
      out.push(offset < 0 || offset >= this.size ? Number.NaN : this.slotValue(fn, offset * FIELDS));
    }
    return out;
  }

  /** Whether any slot of the window holds data. */
  isEmpty(): boolean {
    for (let at = 0; at < this.slots.length; at += FIELDS) if ((this.slots[at + COUNT] as number) > 0) return false;
    return true;
  }

  private slotValue(fn: AggregateFunction, at: number): number {
    const s = this.slots;
    const count = s[at + COUNT] as number;
    if (count === 0) return Number.NaN;
    switch (fn) {
      case 'COUNT':
        return count;
      case 'SUM':
        return s[at + SUM] as number;
      case 'AVG':
        return (s[at + SUM] as number) / count;
      case 'MIN':
        return s[at + MIN] as number;
      case 'MAX':
        return s[at + MAX] as number;
      case 'LAST':
        return s[at + LAST] as number;
    }
  }

  /**
   * Compact text for the store: `p t x s` (period, times, slots ahead, start slot), then
   * each non-empty slot as `i:count,sum,min,max,last,lastTs`, all space-separated. Plain
   * numbers and no quotes: the store nests it in JSON at every checkpoint, and text that
   * needs no escaping is copied, not rewritten. Numbers are JavaScript's shortest
   * round-trip form, so a window reads back exactly.
   */
  encode(): string {
    let text = `${this.periodMs} ${this.times} ${this.futureSlots} ${this.startSlot}`;
    const s = this.slots;
    for (let i = 0; i < this.size; i++) {
      const at = i * FIELDS;
      if ((s[at + COUNT] as number) > 0) text += ` ${i}:${s[at]},${s[at + 1]},${s[at + 2]},${s[at + 3]},${s[at + 4]},${s[at + 5]}`;
    }
    return text;
  }

  /** A window from `encode`, or null when the text is not one for this period and times (the caller starts afresh). */
  static decode(text: string, periodMs: number, times: number, futureSlots = FUTURE_SLOTS): SlidingWindow | null {
    const parts = text.split(' ');
    const [p, t, x, s] = parts.slice(0, 4).map(Number);
    if (p !== periodMs || t !== times || x === undefined || !Number.isInteger(x) || x < 0 || s === undefined || !Number.isInteger(s)) return null;
    const window = new SlidingWindow(periodMs, times, s, futureSlots);
    for (const part of parts.slice(4)) {
      const colon = part.indexOf(':');
      const index = Number(part.slice(0, colon));
      const texts = part.slice(colon + 1).split(',');
      const fields = texts.map(Number);
      // NaN is written for a sum of +Infinity and -Infinity; any other text that is not a number is not a window.
      if (colon < 1 || !Number.isInteger(index) || index < 0 || index >= times + x || fields.length !== FIELDS || texts.some((t, i) => t === '' || (Number.isNaN(fields[i]) && t !== 'NaN'))) return null;
      if (index < window.size) window.slots.set(fields, index * FIELDS);
    }
    return window;
  }

  /**
   * A window in the JSON of earlier versions (its text, or that parsed), or null when it is
   * not one of this shape (the caller starts afresh).
   */
  static fromJson(text: unknown, periodMs: number, times: number, futureSlots = FUTURE_SLOTS): SlidingWindow | null {
    let parsed: unknown = text;
    if (typeof text === 'string') {
      try {
        parsed = JSON.parse(text);
      } catch {
        return null;
      }
    }
    if (typeof parsed !== 'object' || parsed === null) return null;
    const { p, t, x, s, f } = parsed as { p?: unknown; t?: unknown; x?: unknown; s?: unknown; f?: unknown };
    // A window kept for another period or times (the definition changed) does not carry over.
    if (p !== periodMs || t !== times || typeof s !== 'number' || !Array.isArray(f)) return null;
    // Kept with fewer or more slots ahead (another delay): its slots still fit where they fall.
    const window = new SlidingWindow(periodMs, times, s, futureSlots);
    const storedSize = times + (typeof x === 'number' ? x : FUTURE_SLOTS);
    for (const row of f) {
      if (!Array.isArray(row) || row.length !== FIELDS + 1 || !row.every((n) => typeof n === 'number')) return null;
      const [index, ...fields] = row;
      if (index === undefined || index < 0 || index >= storedSize) return null;
      if (index < window.size) window.slots.set(fields, index * FIELDS);
    }
    return window;
  }
}
