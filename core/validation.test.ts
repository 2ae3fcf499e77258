import { describe, expect, it } from 'vitest';
import { checkMetric } from './validation.js';

const base = { name: 'm', timestamp: 1, value: 1 };

describe('checkMetric (Monasca rules)', () => {
  it.each([
    ['a minimal metric', base, { name: 'm', dimensions: {}, timestamp: 1, value: 1, value_meta: null }],
    ['a float millisecond timestamp, as the monasca CLI sends', { ...base, timestamp: 1795383280162.5444 }, { name: 'm', dimensions: {}, timestamp: 1795383280163, value: 1, value_meta: null }],
    ['dimensions trimmed', { ...base, dimensions: { ' k ': ' v ' } }, { name: 'm', dimensions: { k: 'v' }, timestamp: 1, value: 1, value_meta: null }],
    ['parentheses in a dimension value', { ...base, dimensions: { k: 'f(x)' } }, { name: 'm', dimensions: { k: 'f(x)' }, timestamp: 1, value: 1, value_meta: null }],
    ['a 255-character name', { ...base, name: 'n'.repeat(255) }, { name: 'n'.repeat(255), dimensions: {}, timestamp: 1, value: 1, value_meta: null }],
    ['value_meta', { ...base, value_meta: { rc: '500' } }, { name: 'm', dimensions: {}, timestamp: 1, value: 1, value_meta: { rc: '500' } }],
  ])('accepts %s', (_name, input, expected) => {
    expect(checkMetric(input)).toEqual({ ok: true, value: expected });
  });

  it.each([
    ['NaN', { ...base, value: NaN }, /finite/],
    ['Infinity', { ...base, value: Infinity }, /finite/],
    ['a 256-character name', { ...base, name: 'n'.repeat(256) }, /longer than 255/],
    ['a 256-character dimension value', { ...base, dimensions: { k: 'v'.repeat(256) } }, /longer than 255/],
    ['parentheses in a name', { ...base, name: 'f(x)' }, /restricted/],
    ['a newline in a name', { ...base, name: 'a\nb' }, /restricted/],
    ['a quote in a dimension name', { ...base, dimensions: { 'k"': 'v' } }, /restricted/],
    ['a number as a dimension value', { ...base, dimensions: { k: 1 } }, /string value/],
    ['no timestamp', { name: 'm', value: 1 }, /timestamp/],
    ['a negative timestamp', { ...base, timestamp: -1 }, /negative/],
    ['value_meta of 2049 characters as JSON', { ...base, value_meta: { k: 'v'.repeat(2041) } }, /2048/],
    ['a non-object', 'm', /JSON object/],
  ])('refuses %s', (_name, input, reason) => {
    const checked = checkMetric(input);
    expect(checked.ok).toBe(false);
    if (!checked.ok) expect(checked.error).toMatch(reason);
  });
});
