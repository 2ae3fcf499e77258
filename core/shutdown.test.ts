import { describe, expect, it } from 'vitest';
import { requireClean, shutdownInOrder } from './shutdown.js';

describe('shutdownInOrder', () => {
  it('runs every step in order and reports each', async () => {
    const ran: string[] = [];
    const outcomes = await shutdownInOrder(
      ['intake', 'consumer', 'sink'].map((name) => ({ name, run: () => Promise.resolve(void ran.push(name)) })),
      Date.now() + 1000,
    );
    expect(ran).toEqual(['intake', 'consumer', 'sink']);
    expect(outcomes.map((o) => [o.name, o.outcome])).toEqual([['intake', 'done'], ['consumer', 'done'], ['sink', 'done']]);
  });

  it('a failing step does not skip the steps after it', async () => {
    const ran: string[] = [];
    const outcomes = await shutdownInOrder(
      [
        { name: 'consumer', run: () => Promise.reject(new Error('broker gone')) },
        { name: 'throws synchronously', run: () => { throw new Error('bug'); } },
        { name: 'database', run: () => Promise.resolve(void ran.push('database')) },
      ],
      Date.now() + 1000,
    );
    expect(ran).toEqual(['database']);
    expect(outcomes).toEqual([
      { name: 'consumer', outcome: 'failed', ms: expect.any(Number) as number, error: 'broker gone' },
      { name: 'throws synchronously', outcome: 'failed', ms: expect.any(Number) as number, error: 'bug' },
      { name: 'database', outcome: 'done', ms: expect.any(Number) as number },
    ]);
  });

  it('a step that hangs past the deadline is left behind and the rest still run', async () => {
    const ran: string[] = [];
    const started = Date.now();
    const outcomes = await shutdownInOrder(
      [
        { name: 'hangs', run: () => new Promise<void>(() => undefined) },
        { name: 'database', run: () => Promise.resolve(void ran.push('database')) },
      ],
      started + 100,
    );
    expect(outcomes.map((o) => [o.name, o.outcome])).toEqual([['hangs', 'timed_out'], ['database', 'done']]);
    expect(ran).toEqual(['database']);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('requireClean passes clean steps and names the ones that were not', () => {
    expect(() => requireClean([{ name: 'sink', outcome: 'done', ms: 1 }])).not.toThrow();
    expect(() =>
      requireClean([
        { name: 'consumer', outcome: 'failed', ms: 1, error: 'broker gone' },
        { name: 'sink', outcome: 'done', ms: 1 },
        { name: 'producer', outcome: 'timed_out', ms: 1 },
      ]),
    ).toThrow('consumer failed: broker gone; producer timed out');
  });
});
