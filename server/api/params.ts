import { checkDimensions } from '../../core/validation.js';
import type { DimensionFilter } from '../../core/query.js';
import { unprocessable } from './errors.js';

/**
 * Monasca's query-string mini-languages, parsed strictly: anything odd is a 422 that says
 * what was wrong, never a query that runs with half the filter.
 */

/** `key:value`, `key:v1|v2` or bare `key`, comma-separated. */
export function parseDimensionFilter(text: string | undefined): DimensionFilter {
  if (text === undefined || text.trim() === '') return {};
  const filter: Record<string, readonly string[] | null> = {};
  for (const item of text.split(',')) {
    const colon = item.indexOf(':');
    const key = (colon < 0 ? item : item.slice(0, colon)).trim();
    const values = colon < 0 ? null : item.slice(colon + 1).split('|').map((v) => v.trim());
    // A bare key is checked with a stand-in value; every given value is checked as itself.
    for (const value of values ?? ['x']) {
      const checked = checkDimensions({ [key]: value });
      if (!checked.ok) throw unprocessable(`dimensions: ${checked.error}`);
    }
    filter[key] = values;
  }
  return filter;
}

/** ISO 8601 instant (Monasca's `start_time`/`end_time`); returns milliseconds since the epoch. */
export function parseInstant(name: string, text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$/i.test(text)) {
    throw unprocessable(`${name} must be an ISO 8601 date and time, such as 2024-05-01T12:00:00Z`);
  }
  const ms = Date.parse(/(Z|[+-]\d{2}:?\d{2})$/i.test(text) ? text : `${text}Z`);
  if (!Number.isFinite(ms)) throw unprocessable(`${name} is not a valid instant`);
  return ms;
}

export function parseLimit(text: string | number | undefined, max: number): number {
  if (text === undefined || text === '') return max;
  const n = typeof text === 'number' ? text : Number(text);
  if (!Number.isInteger(n) || n < 1) throw unprocessable('limit must be a positive whole number');
  return Math.min(n, max);
}

/** As oslo's bool_from_string reads them: the python monasca CLI sends `True`. */
const TRUE_WORDS = new Set(['true', 't', '1', 'yes', 'y', 'on']);
const FALSE_WORDS = new Set(['false', 'f', '0', 'no', 'n', 'off', '']);

export function parseBoolean(name: string, text: string | boolean | undefined): boolean {
  if (text === undefined || typeof text === 'boolean') return text ?? false;
  const word = text.trim().toLowerCase();
  if (TRUE_WORDS.has(word)) return true;
  if (FALSE_WORDS.has(word)) return false;
  throw unprocessable(`${name} must be true or false`);
}

export function parseGroupBy(text: string | undefined): readonly string[] {
  if (text === undefined || text.trim() === '') return [];
  return text.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
}
