/**
 * RFC 3339 timestamps as container runtimes write them (`2016-10-20T18:39:20.57606443Z`,
 * `2019-05-07T18:57:52.904275089+00:00`), read with a char-code scan: this runs once per log line.
 */

const ZERO = 48;

function digits(text: string, at: number, count: number): number {
  let value = 0;
  for (let i = at; i < at + count; i++) {
    const d = text.charCodeAt(i) - ZERO;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  return value;
}

/** Days from 1970-01-01 to the given civil date (proleptic Gregorian), by Hinnant's algorithm. */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146097 + dayOfEra - 719468;
}

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Epoch milliseconds of the RFC 3339 timestamp in `text[start, end)`, or NaN when it is not one.
 * Fractions finer than a millisecond are cut (not rounded), so a record never moves to a later millisecond.
 * A lower-case `t`/`z` and a space for `T` are accepted, as Docker and some shims write them.
 */
export function parseRfc3339Ms(text: string, start: number, end: number): number {
  if (end - start < 20) return NaN;
  const year = digits(text, start, 4);
  const month = digits(text, start + 5, 2);
  const day = digits(text, start + 8, 2);
  const hour = digits(text, start + 11, 2);
  const minute = digits(text, start + 14, 2);
  const second = digits(text, start + 17, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 60) return NaN;
  if (day > (DAYS_IN_MONTH[month - 1] ?? 0)) return NaN;
  const sep = text.charCodeAt(start + 10);
  if (text.charCodeAt(start + 4) !== 45 || text.charCodeAt(start + 7) !== 45 || (sep !== 84 && sep !== 116 && sep !== 32)) return NaN;
  if (text.charCodeAt(start + 13) !== 58 || text.charCodeAt(start + 16) !== 58) return NaN;

  let i = start + 19;
  let fractionMs = 0;
  if (text.charCodeAt(i) === 46) {
    i++;
    const fractionStart = i;
    let scale = 100;
    while (i < end) {
      const d = text.charCodeAt(i) - ZERO;
      if (d < 0 || d > 9) break;
      fractionMs += d * scale;
      scale = scale >= 10 ? scale / 10 : 0;
      i++;
    }
    if (i === fractionStart) return NaN;
  }

  let offsetMinutes = 0;
  const zone = text.charCodeAt(i);
  if (zone === 90 || zone === 122) {
    i++;
  } else if (zone === 43 || zone === 45) {
    if (end - i < 6 || text.charCodeAt(i + 3) !== 58) return NaN;
    const offsetHours = digits(text, i + 1, 2);
    const offsetMins = digits(text, i + 4, 2);
    if (offsetHours < 0 || offsetHours > 23 || offsetMins < 0 || offsetMins > 59) return NaN;
    offsetMinutes = (offsetHours * 60 + offsetMins) * (zone === 45 ? -1 : 1);
    i += 6;
  } else {
    return NaN;
  }
  if (i !== end) return NaN;

  const days = daysFromCivil(year, month, day);
  return ((days * 24 + hour) * 60 + minute - offsetMinutes) * 60_000 + second * 1000 + fractionMs;
}
