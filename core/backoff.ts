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

/**
 * Resolves after `ms`, or at once when the signal aborts. The timer holds the process
 * open on purpose: a wait between retries is the work in progress (an agent whose bus is
 * down must not exit 0 mid-retry); shutdown ends it through the signal.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}
