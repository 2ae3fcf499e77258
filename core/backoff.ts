/**
 * Exponential backoff with full jitter, floored by what the far side asked for
 * (Retry-After): retries spread out instead of arriving in lock-step.
 */
export interface BackoffPolicy {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
}

export const defaultBackoff: BackoffPolicy = { initialDelayMs: 100, maxDelayMs: 30_000 };

export function backoffDelayMs(attempt: number, policy: BackoffPolicy, requestedMs = 0, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** Math.min(attempt, 30));
  const jittered = ceiling / 2 + random() * (ceiling / 2);
  return Math.max(Math.round(jittered), Math.min(requestedMs, policy.maxDelayMs));
}

/** Resolves after `ms`, or at once when the signal aborts; timers never hold the process open. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    timer.unref();
    signal?.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}
