import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { expandGlob, segmentMatcher } from './globPattern.js';

describe('segmentMatcher', () => {
  const cases: [pattern: string, name: string, matches: boolean][] = [
    ['*.log', 'app.log', true],
    ['*.log', 'app.log.1', false],
    ['*.log', '.hidden.log', false],
    ['.*.log', '.hidden.log', true],
    ['a?c', 'abc', true],
    ['a?c', 'ac', false],
    ['*_*_*', 'ns_pod_uid', true],
    ['*_*_*', 'ns_pod', false],
    ['x.+(y)', 'x.+(y)', true],
    ['x.log', 'xylog', false],
    ['*', 'anything', true],
  ];
  for (const [pattern, name, matches] of cases) {
    it(`${pattern} ${matches ? 'matches' : 'does not match'} ${name}`, () => expect(segmentMatcher(pattern)(name)).toBe(matches));
  }
});

describe('expandGlob', () => {
  const dir = mkdtempSync(join(tmpdir(), 'glob-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  for (const p of ['pods/a_p_1/c1/0.log', 'pods/a_p_1/c2/0.log', 'pods/b_q_2/c1/0.log', 'pods/b_q_2/c1/0.log.2024', 'pods/other/c/0.log']) {
    mkdirSync(join(dir, p, '..'), { recursive: true });
    writeFileSync(join(dir, p), '');
  }

  it('matches wildcards in directory segments', async () => {
    expect(await expandGlob(join(dir, 'pods/*_*_*/*/*.log'))).toEqual(
      ['pods/a_p_1/c1/0.log', 'pods/a_p_1/c2/0.log', 'pods/b_q_2/c1/0.log'].map((p) => join(dir, p)),
    );
  });

  it('returns a literal pattern as it is and nothing under a missing directory', async () => {
    expect(await expandGlob(join(dir, 'pods/other/c/0.log'))).toEqual([join(dir, 'pods/other/c/0.log')]);
    expect(await expandGlob(join(dir, 'missing/*.log'))).toEqual([]);
  });
});
