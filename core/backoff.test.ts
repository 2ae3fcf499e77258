import { describe, expect, it } from 'vitest';
import { backoffDelayMs, sleep } from './backoff.js';

const policy = { initialDelayMs: 100, maxDelayMs: 1000 };

describe('backoffDelayMs', () => {
  it.each([
    ['first attempt, lowest jitter', 0, 0, 0, 50],
    ['first attempt, highest jitter', 0, 0, 0.999999, 100],
    ['third attempt doubles twice', 2, 0, 0.999999, 400],
    ['capped at the maximum', 20, 0, 0.999999, 1000],
    ['a Retry-After longer than the backoff wins', 0, 700, 0, 700],
    ['a Retry-After is capped at the maximum too', 0, 60_000, 0, 1000],
  ])('%s', (_name, attempt, requestedMs, random, expected) => {
    expect(backoffDelayMs(attempt, policy, requestedMs, () => random)).toBe(expected);
  });
});

describe('sleep', () => {
  it('ends at once when its signal aborts', async () => {
    const controller = new AbortController();
    const slept = sleep(60_000, controller.signal);
    controller.abort();
    await expect(slept).resolves.toBeUndefined();
  });

  it('does not start when the signal has already aborted', async () => {
    await expect(sleep(60_000, AbortSignal.abort())).resolves.toBeUndefined();
  });
});
