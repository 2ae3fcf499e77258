import type { AlarmState } from '../alarmState.js';
import { compareToThreshold, formatSubExpression, type SubExpression } from '../expression/alarmExpression.js';
import { SlidingWindow } from './slidingWindow.js';

/**
 * One sub-expression of one alarm: its window and its own state, decided as
 * monasca-thresh's SubAlarmStats decides it.
 *
 * A decision is made once per closed view, in order: when `now − delay` passes the end of
 * the view's last slot. Then
 * - any non-empty slot that does not breach makes it OK;
 * - every slot non-empty and breaching makes it ALARM;
 * - an empty view, with no data for period × times × 2, makes it UNDETERMINED, or OK for a
 *   `deterministic` sub-expression (a metric that is only sent when something happens);
 * - anything else (some slots empty, the rest breaching) keeps the state it had.
 * `min` with `<`/`<=`, and `max` or `count` with `>`/`>=`, can only breach more as data
 * comes in, so those may go to ALARM as soon as the open slot breaches (thresh's
 * "evaluate immediately" sub-alarms), before their slot ends.
 */

export const UNDETERMINED_COEFFICIENT = 2;

export class SubAlarm {
  readonly expression: string;
  readonly canAlarmEarly: boolean;
  readonly periodMs: number;
  state: AlarmState;
  window: SlidingWindow;
  /** Newest measurement timestamp seen, or -Infinity. */
  lastDataMs: number;
  /** End slot (exclusive) of the last view decided; decisions happen once per view. */
  decidedEndSlot: number;
  currentValues: number[] = [];

  constructor(
    readonly sub: SubExpression,
    state: AlarmState,
    window: SlidingWindow,
    lastDataMs: number,
    decidedEndSlot: number,
  ) {
    this.expression = formatSubExpression(sub);
    this.periodMs = sub.periodSeconds * 1000;
    this.canAlarmEarly = alarmsEarly(sub);
    this.state = state;
    this.window = window;
    this.lastDataMs = lastDataMs;
    this.decidedEndSlot = decidedEndSlot;
  }

  /** A sub-alarm first seen at `nowMs`: its view ends at the last slot closed by `nowMs − delayMs`. */
  static create(sub: SubExpression, nowMs: number, delayMs: number): SubAlarm {
    const periodMs = sub.periodSeconds * 1000;
    const endSlot = Math.floor((nowMs - delayMs) / periodMs);
    const window = new SlidingWindow(periodMs, sub.periods, endSlot - sub.periods, SlidingWindow.futureSlotsFor(periodMs, delayMs));
    return new SubAlarm(sub, sub.deterministic ? 'OK' : 'UNDETERMINED', window, Number.NEGATIVE_INFINITY, endSlot);
  }

  add(timestampMs: number, value: number): ReturnType<SlidingWindow['add']> {
    const result = this.window.add(timestampMs, value);
    if (result === 'added' && timestampMs > this.lastDataMs) this.lastDataMs = timestampMs;
    return result;
  }

  /** When the next view closes: the end of the slot after the last decided one, plus the delay. */
  nextDecisionMs(delayMs: number): number {
    return (this.decidedEndSlot + 1) * this.periodMs + delayMs;
  }

  /**
   * Decides the next view (the one `nextDecisionMs` closes), at that instant; returns whether
   * the state changed. Views are decided one by one, in order, so a replica catching up on
   * a backlog makes every transition the data calls for rather than only the last.
   */
  decideNext(delayMs: number): boolean {
    const endSlot = this.decidedEndSlot + 1;
    const times = this.sub.periods;
    this.decidedEndSlot = endSlot;
    this.window.slideTo(endSlot - times);
    const next = this.decide(this.window.values(this.sub.function, endSlot - times, times), endSlot * this.periodMs + delayMs);
    if (next === null || next === this.state) return false;
    this.state = next;
    return true;
  }

  /**
   * Skips undecided views so that at most `keep` remain before `nowMs`: views older than
   * the window hold no data, and deciding each of a long outage's views costs time for nothing.
   */
  skipTo(nowMs: number, delayMs: number, keep: number): void {
    const latest = Math.floor((nowMs - delayMs) / this.periodMs);
    if (latest - this.decidedEndSlot > keep) this.decidedEndSlot = latest - keep;
  }

  /**
   * `min` with `<`, `max`/`count` with `>`: whether the view that ends with the open slot
   * already breaches; more data cannot undo that, so the sub-alarm goes to ALARM now.
   */
  checkEarly(): boolean {
    if (!this.canAlarmEarly || this.state === 'ALARM') return false;
    const times = this.sub.periods;
    const values = this.window.values(this.sub.function, this.decidedEndSlot - times + 1, times);
    if (!values.every((v) => !Number.isNaN(v) && compareToThreshold(this.sub.operator, v, this.sub.threshold))) return false;
    this.currentValues = values;
    this.state = 'ALARM';
    return true;
  }

  private decide(values: number[], atMs: number): AlarmState | null {
    const { operator, threshold } = this.sub;
    let empty = 0;
    let breaching = 0;
    const present: number[] = [];
    for (const value of values) {
      if (Number.isNaN(value)) {
        empty++;
        continue;
      }
      present.push(value);
      if (compareToThreshold(operator, value, threshold)) breaching++;
    }
    if (present.length > 0) this.currentValues = present;
    if (present.length > breaching) return 'OK';
    if (empty === 0) return 'ALARM';
    if (present.length > 0) return null;
    const quietMs = atMs - this.lastDataMs;
    if (quietMs < this.periodMs * this.sub.periods * UNDETERMINED_COEFFICIENT) return null;
    this.currentValues = [];
    return this.sub.deterministic ? 'OK' : 'UNDETERMINED';
  }

  /**
   * The decision clock and the window, for the store (opaque to it): `k1 <last data ms or ->
   * <decided end slot>` and the window's `encode`. `empty`: the decision clock only.
   */
  serialize(empty = false): string {
    const window = empty ? new SlidingWindow(this.periodMs, this.sub.periods, this.window.firstSlot, this.window.futureSlots) : this.window;
    return `${TEXT_VERSION} ${Number.isFinite(this.lastDataMs) ? this.lastDataMs : '-'} ${this.decidedEndSlot} ${window.encode()}`;
  }

  /**
   * A sub-alarm restored from the store. A window kept for a different function, period or
   * times (the definition changed) starts afresh, as thresh resets a changed sub-alarm's
   * stats; a changed operator or threshold keeps the data. Text that is not a window (or a
   * window of earlier versions' JSON) restores the state with a fresh window.
   */
  static restore(sub: SubExpression, state: AlarmState, text: string, nowMs: number, delayMs: number): SubAlarm {
    const fresh = SubAlarm.create(sub, nowMs, delayMs);
    const stored = text.startsWith('{') ? fromEarlierJson(text) : fromText(text);
    const window = stored?.window(fresh.periodMs, sub.periods, fresh.window.futureSlots);
    if (!stored || !window) return new SubAlarm(sub, state, fresh.window, fresh.lastDataMs, fresh.decidedEndSlot);
    return new SubAlarm(sub, state, window, stored.lastDataMs, stored.decidedEndSlot);
  }
}

const TEXT_VERSION = 'k1';

interface StoredSubAlarm {
  readonly lastDataMs: number;
  readonly decidedEndSlot: number;
  readonly window: (periodMs: number, times: number, futureSlots: number) => SlidingWindow | null;
}

function fromText(text: string): StoredSubAlarm | null {
  const [version, last, decided] = text.split(' ', 3);
  if (version !== TEXT_VERSION || last === undefined || decided === undefined) return null;
  const lastDataMs = last === '-' ? Number.NEGATIVE_INFINITY : Number(last);
  const decidedEndSlot = Number(decided);
  if (Number.isNaN(lastDataMs) || !Number.isInteger(decidedEndSlot)) return null;
  const encoded = text.slice(version.length + last.length + decided.length + 3);
  return { lastDataMs, decidedEndSlot, window: (periodMs, times, futureSlots) => SlidingWindow.decode(encoded, periodMs, times, futureSlots) };
}

/** `{"w": <window JSON, or a string of it>, "l": last data ms | null, "d": decided end slot}`. */
function fromEarlierJson(text: string): StoredSubAlarm | null {
  let parsed: { w?: unknown; l?: unknown; d?: unknown };
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    return null;
  }
  if (parsed.w === undefined || typeof parsed.d !== 'number') return null;
  const { w } = parsed;
  return { lastDataMs: typeof parsed.l === 'number' ? parsed.l : Number.NEGATIVE_INFINITY, decidedEndSlot: parsed.d, window: (periodMs, times, futureSlots) => SlidingWindow.fromJson(w, periodMs, times, futureSlots) };
}

function alarmsEarly(sub: SubExpression): boolean {
  const rising = sub.operator === 'GT' || sub.operator === 'GTE';
  return (sub.function === 'MIN' && !rising) || ((sub.function === 'MAX' || sub.function === 'COUNT') && rising);
}
