import { describe, expect, it } from 'vitest';
import { RecordingSink } from '../../core/pipeline.testkit.js';
import { SetupFirstSink } from './setupFirstSink.js';

const quiet = { info: () => undefined, warn: () => undefined };

describe('SetupFirstSink', () => {
  it('holds deliveries back (retryable) until the set-up succeeds, then sets up no more', async () => {
    const inner = new RecordingSink<number>();
    const answers = [{ ok: false as const, reason: 'connection refused' }, { ok: true as const }];
    let setups = 0;
    const sink = new SetupFirstSink(inner, () => Promise.resolve(answers[setups++] ?? { ok: true as const }), 250, quiet);
    expect(await sink.deliver([1])).toEqual({ kind: 'retryable', reason: 'set-up of recording not done: connection refused', delayMs: 250 });
    expect(inner.items).toEqual([]);
    expect(await sink.deliver([1])).toEqual({ kind: 'delivered' });
    expect(await sink.deliver([2])).toEqual({ kind: 'delivered' });
    expect(inner.items).toEqual([1, 2]);
    expect(setups).toBe(2);
  });

  it('turns a set-up that throws into a retryable outcome', async () => {
    const sink = new SetupFirstSink(new RecordingSink<number>(), () => Promise.reject(new Error('boom')), 10, quiet);
    expect(await sink.deliver([1])).toMatchObject({ kind: 'retryable', reason: expect.stringContaining('boom') as string });
  });
});
