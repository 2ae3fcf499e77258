import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import './kafkaClient.js';
import { kafkajsIdleFixApplied } from './kafkajsIdleFix.js';

const require = createRequire(import.meta.url);
const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as { prototype: { scheduleCheckPendingRequests(this: unknown): void } };

function queue(pending: unknown[], throttledUntil: number) {
  return { pending, throttledUntil, throttleCheckTimeoutId: null as NodeJS.Timeout | null, checks: 0, checkPendingRequests() { this.checks++; } };
}

describe("kafkajs request queue's idle loop", () => {
  it('is replaced on the class kafkajs itself uses, once the Kafka client is loaded', () => {
    expect(kafkajsIdleFixApplied()).toBe(true);
  });

  it.each([
    ['nothing waits, nothing throttled: no timer (kafkajs 2.2.4 armed one that fired every millisecond)', [], -1, false],
    ['a request waits: checked again shortly', [{}], -1, true],
    ['throttled by the broker: checked when the throttle ends', [], Date.now() + 60_000, true],
  ])('%s', (_name, pending, throttledUntil, armed) => {
    const q = queue(pending, throttledUntil);
    RequestQueue.prototype.scheduleCheckPendingRequests.call(q);
    expect(q.throttleCheckTimeoutId !== null).toBe(armed);
    if (q.throttleCheckTimeoutId) clearTimeout(q.throttleCheckTimeoutId);
  });

  it('a waiting request is still picked up by the timer', async () => {
    const q = queue([{}], -1);
    RequestQueue.prototype.scheduleCheckPendingRequests.call(q);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(q.checks).toBe(1);
    expect(q.throttleCheckTimeoutId).toBeNull();
  });
});
