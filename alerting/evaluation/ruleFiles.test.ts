import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseRuleTest, runRuleTest } from './ruleTest.testkit.js';

const DIR = join(import.meta.dirname, 'testdata');
const files = readdirSync(DIR).filter((f) => f.endsWith('.test'));

describe('rule test files (alerting/evaluation/testdata)', () => {
  it('has files to run', () => {
    expect(files.length).toBeGreaterThanOrEqual(7);
  });

  it.each(files)('%s', (file) => {
    const test = parseRuleTest(readFileSync(join(DIR, file), 'utf8'));
    // Every file makes claims: a file of only input would pass vacuously.
    expect(test.checks.length + test.transitionChecks.length).toBeGreaterThan(0);
    const failures = runRuleTest(test).map((f) => `${file}:${f.line}: ${f.message}`);
    expect(failures).toEqual([]);
  });
});

describe('rule test format', () => {
  it.each([
    ['an unknown directive', 'frobnicate 1', /line 1: unknown directive/],
    ['a bad state', 'definition d: avg(x) > 1\neval 5s d MAYBE', /line 2: "MAYBE" is not OK/],
    ['a bad time', 'eval soon d OK', /line 1: "soon" is not a time/],
    ['a bad value', 'series x from 0s every 60s: 1 two', /line 1: "two" is not a number/],
    ['a stray indent', '  match_by host', /line 1: only "match_by"/],
  ])('refuses %s with its line', (_name, text, error) => {
    expect(() => parseRuleTest(text)).toThrow(error);
  });

  it('reports a wrong expectation with its line', () => {
    const test = parseRuleTest('definition d: avg(x) > 1\nseries x from 0s every 60s: 5\neval 60s d OK\ntransitions d: OK');
    expect(runRuleTest(test)).toEqual([
      { line: 3, message: 'at 60s expected OK, got ALARM' },
      { line: 4, message: 'transitions: expected [OK], got [ALARM]' },
    ]);
  });
});
