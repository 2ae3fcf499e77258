/**
 * A workaround for kafkajs 2.2.4's idle loop (tulios/kafkajs#1556, #1704; fixes proposed
 * in #1667 and #1768, unmerged, and the project has had no release since 2023). Every
 * broker connection's request queue re-arms a timer after each check even when nothing
 * waits and nothing is throttled, with a negative delay, so it fires again within a
 * millisecond, forever: about 1,000 wake-ups a second per connection. Measured here, an
 * agent connected to three brokers spent ~30 ms of CPU per second doing nothing.
 *
 * The replacement arms the timer only when a request waits or the broker throttles us;
 * otherwise the next request (`push`) or the next response (`fulfillRequest`) runs the
 * check, as they already do. Applied once, at load, to kafkajs's own class.
 */
import { createRequire } from 'node:module';

interface RequestQueueLike {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
}

/** kafkajs's own pause between checks while requests wait (its CHECK_PENDING_REQUESTS_INTERVAL). */
const WAITING_CHECK_MS = 10;

const require = createRequire(import.meta.url);
const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as { prototype: RequestQueueLike };

function scheduleCheckPendingRequests(this: RequestQueueLike): void {
  if (this.throttleCheckTimeoutId) return;
  const throttledForMs = this.throttledUntil - Date.now();
  if (this.pending.length === 0 && throttledForMs <= 0) return;
  this.throttleCheckTimeoutId = setTimeout(() => {
    this.throttleCheckTimeoutId = null;
    this.checkPendingRequests();
  }, throttledForMs > 0 ? throttledForMs : WAITING_CHECK_MS);
}

RequestQueue.prototype.scheduleCheckPendingRequests = scheduleCheckPendingRequests;

/** True once the workaround is in place (for a test that it was applied to the class kafkajs uses). */
export function kafkajsIdleFixApplied(): boolean {
  return RequestQueue.prototype.scheduleCheckPendingRequests === scheduleCheckPendingRequests;
}
