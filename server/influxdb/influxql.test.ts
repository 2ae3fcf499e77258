import { describe, expect, it } from 'vitest';
import type { DimensionFilter } from '../../core/query.js';
import { quoteIdentifier, quoteString, tenantConditions, timeLiteral } from './influxql.js';

describe('quoting', () => {
  const cases = [
    { name: 'plain', input: 'cpu', identifier: '"cpu"', literal: "'cpu'" },
    { name: 'the other quote stays as it is', input: `it's "x"`, identifier: `"it's \\"x\\""`, literal: `'it\\'s "x"'` },
    { name: 'backslash before a quote cannot unescape it', input: "\\'", identifier: `"\\\\'"`, literal: "'\\\\\\''" },
    { name: 'newline, which InfluxQL refuses raw', input: 'a\nb', identifier: '"a\\nb"', literal: "'a\\nb'" },
    { name: 'injection attempt', input: "x' OR '1'='1", identifier: `"x' OR '1'='1"`, literal: "'x\\' OR \\'1\\'=\\'1'" },
  ];
  for (const { name, input, identifier, literal } of cases) {
    it(name, () => {
      expect(quoteIdentifier(input)).toBe(identifier);
      expect(quoteString(input)).toBe(literal);
    });
  }
});

describe('tenantConditions', () => {
  it('puts the tenant first and adds one condition per filter key', () => {
    expect(tenantConditions("t'1", { host: ['a'], zone: ['x', 'y', 'x'], rack: null })).toEqual([
      `"_tenant_id"::tag = 't\\'1'`,
      `"host"::tag = 'a'`,
      `("zone"::tag = 'x' OR "zone"::tag = 'y')`,
      `"rack"::tag != ''`,
    ]);
  });

  const matchNothing: { name: string; filter: DimensionFilter }[] = [
    { name: 'an empty list of values', filter: { host: [] } },
    { name: 'only empty values', filter: { host: [''] } },
    { name: 'the tenant tag', filter: { _tenant_id: ['other'] } },
    { name: 'the region tag', filter: { _region: null } },
    { name: 'time, never a tag', filter: { time: null } },
    { name: 'an empty key', filter: { '': null } },
  ];
  for (const { name, filter } of matchNothing) {
    it(`matches nothing for ${name}`, () => {
      expect(tenantConditions('t', filter)).toBeUndefined();
    });
  }
});

describe('timeLiteral', () => {
  it('writes whole milliseconds and refuses what is not an instant', () => {
    expect(timeLiteral(1_700_000_000_123)).toBe('1700000000123ms');
    expect(timeLiteral(-5)).toBe('-5ms');
    expect(() => timeLiteral(Number.NaN)).toThrow(RangeError);
  });
});
