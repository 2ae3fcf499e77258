import { describe, expect, it } from 'vitest';
import { logTerms } from './query.js';

describe('logTerms', () => {
  const cases: [string, string | undefined, ReturnType<typeof logTerms>][] = [
    ['nothing asked', undefined, { words: [], phrases: [], excluded: [] }],
    ['words, lower-cased, split on punctuation', 'Connection REFUSED: Foo.bar(x)', { words: ['connection', 'refused', 'foo', 'bar', 'x'], phrases: [], excluded: [] }],
    ['a quoted phrase', 'a "Connection  refused" b', { words: ['a', 'b'], phrases: [['connection', 'refused']], excluded: [] }],
    ['a quoted single word is a word', '"refused"', { words: ['refused'], phrases: [], excluded: [] }],
    ['an excluded word', 'upstream -good', { words: ['upstream'], phrases: [], excluded: ['good'] }],
    ['a hyphen inside a word is a separator, not an exclusion', 'x-ray', { words: ['x', 'ray'], phrases: [], excluded: [] }],
    ['query syntax of the stores is words or nothing', 'secret OR * tenant.id:x NEAR( "', { words: ['secret', 'or', 'tenant', 'id', 'x', 'near'], phrases: [], excluded: [] }],
    ['letters of any script', 'Ошибка 接続', { words: ['ошибка', '接続'], phrases: [], excluded: [] }],
  ];
  it.each(cases)('%s', (_name, q, expected) => {
    expect(logTerms(q)).toEqual(expected);
  });

  it('bounds what one query may ask', () => {
    const terms = logTerms(Array.from({ length: 100 }, (_, i) => `w${i} "p${i} q${i}"`).join(' '));
    expect(terms.words).toHaveLength(32);
    expect(terms.phrases).toHaveLength(8);
  });
});
