/**
 * A sub-alarm's stored text (`SubAlarm.serialize`) rewritten in the JSON that versions
 * before the compact text wrote: `{"w": "<window JSON as a string>", "l": ..., "d": ...}`,
 * so tests can check that rows written by them still restore.
 */
export function earlierSubAlarmJson(text: string): string {
  const [, last, decided, p, t, x, start, ...slots] = text.split(' ').map((part) => part.split(/[:,]/).map(Number));
  const window = { p: p?.[0], t: t?.[0], x: x?.[0], s: start?.[0], f: slots };
  return JSON.stringify({ w: JSON.stringify(window), l: Number.isFinite(last?.[0]) ? last?.[0] : null, d: decided?.[0] });
}
