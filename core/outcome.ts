/**
 * Outcomes as data: what a delivery did, so that the caller decides whether to
 * acknowledge, retry or dead-letter without catching exceptions.
 */
export type DeliveryOutcome<T> =
  | { readonly kind: 'delivered' }
  | { readonly kind: 'retryable'; readonly delayMs: number; readonly reason: string }
  | { readonly kind: 'rejected'; readonly reason: string; readonly items: readonly T[]; readonly delivered: number };

export const delivered = { kind: 'delivered' } as const;

export function retryable(reason: string, delayMs: number): DeliveryOutcome<never> {
  return { kind: 'retryable', reason, delayMs };
}

export function rejected<T>(reason: string, items: readonly T[], deliveredCount = 0): DeliveryOutcome<T> {
  return { kind: 'rejected', reason, items, delivered: deliveredCount };
}

/** A result of decoding or validating one untrusted thing. */
export type Checked<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

export function ok<T>(value: T): Checked<T> {
  return { ok: true, value };
}

export function fail<T = never>(error: string): Checked<T> {
  return { ok: false, error };
}
