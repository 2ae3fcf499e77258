import { describe, expect, it } from 'vitest';
import { retryAfterMs } from './retryAfter.js';

const NOW_MS = Date.parse('2025-01-01T00:00:00Z');

describe('retryAfterMs', () => {
  it.each<[string, string | null | undefined, number | undefined]>([
    ['absent (null)', null, undefined],
    ['absent (undefined)', undefined, undefined],
    ['empty', '', undefined],
    ['blank', '   ', undefined],
    ['delta seconds', '7', 7_000],
    ['delta seconds with spaces around', ' 12 ', 12_000],
    ['zero seconds', '0', 0],
    ['a long delta, uncapped (callers cap)', '86400', 86_400_000],
    ['an IMF-fixdate ahead', 'Wed, 01 Jan 2025 00:00:10 GMT', 10_000],
    ['an IMF-fixdate past: 0', 'Tue, 31 Dec 2024 23:59:00 GMT', 0],
    ['an RFC 850 date ahead', 'Wednesday, 01-Jan-25 00:00:30 GMT', 30_000],
    ['an asctime date ahead, read as GMT', 'Wed Jan  1 00:01:00 2025', 60_000],
    ['unreadable text', 'soon', undefined],
    ['fractional seconds', '1.5', undefined],
    ['negative seconds', '-5', undefined],
    ['seconds with a unit', '5s', undefined],
    ['a month name but no date', 'next Nov', undefined],
  ])('%s', (_name, header, expected) => {
    expect(retryAfterMs(header, NOW_MS)).toBe(expected);
  });

  it('reads an asctime date as GMT whatever the local time zone', () => {
    const zone = process.env['TZ'];
    process.env['TZ'] = 'Asia/Tokyo';
    try {
      expect(retryAfterMs('Wed Jan  1 00:01:00 2025', NOW_MS)).toBe(60_000);
    } finally {
      if (zone === undefined) delete process.env['TZ'];
      else process.env['TZ'] = zone;
    }
  });
});
