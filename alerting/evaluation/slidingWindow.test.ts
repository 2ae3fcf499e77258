import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SlidingWindow } from './slidingWindow.js';
import { SubAlarm } from './subAlarm.js';
import { earlierSubAlarmJson } from './earlierWindow.testkit.js';
import { subExpressions } from '../expression/alarmExpression.js';
import { parseAlarmExpression } from '../expression/parseAlarmExpression.js';

const FUNCTIONS = ['MIN', 'MAX', 'SUM', 'COUNT', 'AVG', 'LAST'] as const;
const PERIOD_MS = 60_000;
const START = 28_000_000; // a slot number in 2023

function filled(times: number, points: readonly (readonly [number, number])[]): SlidingWindow {
  const window = new SlidingWindow(PERIOD_MS, times, START, 3);
  for (const [offsetMs, value] of points) window.add(START * PERIOD_MS + offsetMs, value);
  return window;
}

function everyValue(window: SlidingWindow, times: number): number[][] {
  return FUNCTIONS.map((fn) => window.values(fn, START, times + 3));
}

describe('SlidingWindow text for the store', () => {
  it('reads back exactly what it wrote, for every function, whatever the values', () => {
    // -0 reads back as 0 (as it did from JSON): no threshold comparison tells them apart. ±Infinity can make a NaN sum.
    const value = fc.oneof(fc.double({ noNaN: true }), fc.integer(), fc.constantFrom(0, 1e308, -1e-308, Number.MAX_SAFE_INTEGER, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY)).map((v) => (v === 0 ? 0 : v));
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.array(fc.tuple(fc.integer({ min: 0, max: 8 * PERIOD_MS - 1 }), value), { maxLength: 30 }), (times, points) => {
        const window = filled(times, points);
        const text = window.encode();
        expect(text).not.toMatch(/["\\\n]/);
        const back = SlidingWindow.decode(text, PERIOD_MS, times, 3);
        expect(back).not.toBeNull();
        expect(back?.encode()).toBe(text);
        expect(back && everyValue(back, times)).toEqual(everyValue(window, times));
      }),
    );
  });

  it('refuses text of another period or times, and text that is not a window', () => {
    const text = filled(2, [[1000, 5]]).encode();
    expect(SlidingWindow.decode(text, PERIOD_MS, 2, 3)).not.toBeNull();
    expect(SlidingWindow.decode(text, 2 * PERIOD_MS, 2, 3)).toBeNull();
    expect(SlidingWindow.decode(text, PERIOD_MS, 3, 3)).toBeNull();
    for (const bad of ['', 'garbage', `${PERIOD_MS} 2 3`, `${PERIOD_MS} 2 3 ${START} 0:1,2`, `${PERIOD_MS} 2 3 ${START} 9:1,1,1,1,1,1`, `${PERIOD_MS} 2 3 ${START} x:1,1,1,1,1,1`, `${PERIOD_MS} 2 3 ${START} 0:1,a,1,1,1,1`]) {
      expect(SlidingWindow.decode(bad, PERIOD_MS, 2, 3)).toBeNull();
    }
  });
});

describe('SubAlarm.serialize and restore', () => {
  const parsed = parseAlarmExpression('avg(cpu, 60) > 5 times 2', { rules: 'api' });
  const [sub] = parsed.ok ? subExpressions(parsed.value) : [];

  it('restores the window and the decision clock it wrote, and those of the JSON earlier versions wrote', () => {
    if (!sub) throw new Error('no sub-expression');
    const nowMs = (START + 3) * PERIOD_MS;
    const original = SubAlarm.create(sub, nowMs, 0);
    original.add(nowMs - 90_000, 4);
    original.add(nowMs - 30_000, 8);
    const text = original.serialize();
    const restored = SubAlarm.restore(sub, 'OK', text, nowMs, 0);
    expect(restored.serialize()).toBe(text);
    expect(restored.lastDataMs).toBe(nowMs - 30_000);
    expect(restored.decidedEndSlot).toBe(original.decidedEndSlot);
    expect(restored.window.values('AVG', START, 4)).toEqual(original.window.values('AVG', START, 4));

    const earlier = earlierSubAlarmJson(text);
    expect(earlier).toMatch(/^\{"w":"\{\\"p\\":60000,/);
    expect(SubAlarm.restore(sub, 'OK', earlier, nowMs, 0).serialize()).toBe(text);
  });

  it('starts a fresh window, keeping the state, from text it cannot read', () => {
    if (!sub) throw new Error('no sub-expression');
    const nowMs = (START + 3) * PERIOD_MS;
    const fresh = SubAlarm.create(sub, nowMs, 0).serialize();
    for (const bad of ['', '{', '{"w":1}', 'k1', 'k1 - x 1', 'k2 - 1 60000 2 2 1', 'k1 - 28000002 120000 2 2 1']) {
      const restored = SubAlarm.restore(sub, 'ALARM', bad, nowMs, 0);
      expect(restored.state).toBe('ALARM');
      expect(restored.serialize()).toBe(fresh);
    }
  });
});
