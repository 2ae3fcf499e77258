import { describe, expect, it } from 'vitest';
import type { Series } from '../../core/query.js';
import { parsePeriodSeconds, parseStatistics, statisticsRows } from './statistics.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const series = (points: [number, number][]): Series => ({ name: 'm', dimensions: {}, points: points.map(([offsetSeconds, value]) => ({ timestampMs: T0 + offsetSeconds * 1000, value, valueMeta: null })) });

describe('statisticsRows', () => {
  it.each([
    ['one period, every statistic', [[0, 1], [10, 3], [59, 5]], ['avg', 'min', 'max', 'sum', 'count'], 60, [['2026-01-01T12:00:00.000Z', 3, 1, 5, 9, 3]]],
    ['periods aligned to the epoch, empty ones left out', [[30, 1], [70, 2], [250, 4]], ['sum'], 60, [['2026-01-01T12:00:00.000Z', 1], ['2026-01-01T12:01:00.000Z', 2], ['2026-01-01T12:04:00.000Z', 4]]],
    ['the asked order of columns', [[0, 2], [1, 4]], ['count', 'avg'], 300, [['2026-01-01T12:00:00.000Z', 2, 3]]],
    ['no points', [], ['avg'], 60, []],
  ] as const)('%s', (_name, points, statistics, period, expected) => {
    expect(statisticsRows(series(points as unknown as [number, number][]), statistics, period).map((r) => r.row)).toEqual(expected);
  });
});

describe('statistics parameters', () => {
  it('parses Monasca statistics names, case-insensitive, without repeats', () => {
    expect(parseStatistics('AVG,max,avg')).toEqual(['avg', 'max']);
  });

  it.each([undefined, '', 'median', 'avg,'])('refuses statistics %j', (text) => {
    expect(() => parseStatistics(text)).toThrow(/statistics/);
  });

  it('defaults the period to 300 s and refuses a non-positive one', () => {
    expect(parsePeriodSeconds(undefined)).toBe(300);
    expect(parsePeriodSeconds('60')).toBe(60);
    expect(() => parsePeriodSeconds('0')).toThrow(/period/);
    expect(() => parsePeriodSeconds('1.5')).toThrow(/period/);
  });
});
