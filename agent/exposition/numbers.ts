/**
 * Sample values and timestamps, read in place from the page. Integers of up to 15
 * digits (most counters and every millisecond timestamp) are summed digit by digit, so
 * they cost no substring; anything else goes through `Number` after a character check,
 * because `Number` alone would also take "0x1f", "Infinity" spelt in full, or "".
 */

const MAX_EXACT_DIGITS = 15; // every 15-digit integer is below 2^53

const PLUS = 43;
const MINUS = 45;
const DOT = 46;
const ZERO = 48;
const NINE = 57;
const UPPER_E = 69;
const LOWER_E = 101;

/** Go's ParseFloat spellings of the special values, which Prometheus accepts (case-insensitive). */
const SPECIAL_VALUES: ReadonlyMap<string, number> = new Map([
  ['nan', NaN],
  ['inf', Infinity],
  ['+inf', Infinity],
  ['-inf', -Infinity],
  ['infinity', Infinity],
  ['+infinity', Infinity],
  ['-infinity', -Infinity],
]);

/** The float in text[start, stop), or undefined when it is not one. NaN and ±Inf are values. */
export function parseFloatToken(text: string, start: number, stop: number): number | undefined {
  const integer = parseIntegerToken(text, start, stop);
  if (integer !== undefined) return integer;
  for (let p = start; p < stop; p++) {
    const c = text.charCodeAt(p);
    const numeric = (c >= ZERO && c <= NINE) || c === DOT || c === UPPER_E || c === LOWER_E || c === PLUS || c === MINUS;
    if (!numeric) return SPECIAL_VALUES.get(text.slice(start, stop).toLowerCase());
  }
  const value = Number(text.slice(start, stop));
  return Number.isNaN(value) ? undefined : value;
}

/** The integer in text[start, stop) (an optional sign, then digits), or undefined. */
export function parseIntegerToken(text: string, start: number, stop: number): number | undefined {
  let p = start;
  const sign = text.charCodeAt(p);
  const negative = sign === MINUS;
  if (negative || sign === PLUS) p++;
  if (p === stop) return undefined;
  if (stop - p > MAX_EXACT_DIGITS) {
    for (let q = p; q < stop; q++) {
      const c = text.charCodeAt(q);
      if (c < ZERO || c > NINE) return undefined;
    }
    return Number(text.slice(start, stop));
  }
  let value = 0;
  for (; p < stop; p++) {
    const c = text.charCodeAt(p);
    if (c < ZERO || c > NINE) return undefined;
    value = value * 10 + (c - ZERO);
  }
  return negative ? -value : value;
}
