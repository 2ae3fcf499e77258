import type { NotificationMethodRecord } from '../store/alarmStore.js';
import type { Notification } from './notification.js';

/**
 * What one send did, as data: the notifier alone decides to complete, retry or abandon.
 * `delayMs` on a retryable outcome is what the far side asked for (Retry-After); the
 * notifier's backoff is floored by it.
 */
export type SendOutcome =
  | { readonly kind: 'sent' }
  | { readonly kind: 'retryable'; readonly delayMs?: number; readonly error: string }
  | { readonly kind: 'rejected'; readonly error: string };

export const sent: SendOutcome = Object.freeze({ kind: 'sent' });

export function retryableOutcome(error: string, delayMs?: number): SendOutcome {
  return delayMs === undefined ? { kind: 'retryable', error } : { kind: 'retryable', error, delayMs };
}

export function rejectedOutcome(error: string): SendOutcome {
  return { kind: 'rejected', error };
}

/**
 * One per notification type (EMAIL, WEBHOOK, …; actions such as EVICT later), registered
 * in the notifier's `Map<type, Sender>`. `signal` aborts on shutdown or when the lease is
 * about to run out; a sender then returns retryable. Throws only for bugs.
 */
export interface Sender {
  send(notification: Notification, method: NotificationMethodRecord, signal: AbortSignal): Promise<SendOutcome>;
}
