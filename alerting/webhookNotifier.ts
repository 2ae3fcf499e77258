import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { backoffDelayMs, sleep } from '../core/backoff.js';
import { BoundedQueue } from '../core/boundedQueue.js';
import type { Counters } from '../core/counters.js';
import { delivered, rejected, retryable, type DeliveryOutcome } from '../core/outcome.js';
import type { MetricDefinition } from '../core/query.js';
import { retryAfterMs } from '../core/retryAfter.js';
import type { AlarmState, AlarmTransition } from './alarmState.js';
import type { WebhookSettings } from './config.js';

/**
 * Webhook notifications: every transition is POSTed as JSON, in the body Monasca's
 * notification engine sends, to each webhook of its definition. Delivery is
 * at-least-once while the process lives: 408, 429, 5xx, timeouts and connection errors
 * are retried with exponential backoff and jitter (Retry-After honoured) up to
 * max_attempts; other 4xx are not retried. Pending notifications, retries included,
 * sit in one bounded queue that drops the oldest and counts it. `drain` stops retrying
 * first, then sends what has not been tried yet, within timeout_ms.
 */
export interface WebhookNotification {
  readonly alarm_id: string;
  readonly alarm_definition_id: string;
  readonly alarm_name: string;
  readonly alarm_description: string;
  /** Whole seconds, as Monasca sends it. */
  readonly alarm_timestamp: number;
  readonly state: AlarmState;
  readonly old_state: AlarmState;
  readonly message: string;
  readonly tenant_id: string;
  readonly metrics: readonly MetricDefinition[];
}

export type WebhookOutcome = DeliveryOutcome<WebhookNotification>;

export const NOTIFIER_COUNTERS = {
  /** Labelled outcome=delivered|rejected|gave_up. */
  notifications: 'kansoku_alerting_notifications_total',
  retries: 'kansoku_alerting_notification_retries_total',
  /** Labelled reason=queue_full|shutdown. */
  dropped: 'kansoku_alerting_notifications_dropped_total',
} as const;

export function webhookNotification(transition: AlarmTransition): WebhookNotification {
  return {
    alarm_id: transition.alarmId,
    alarm_definition_id: transition.alarmDefinition.id,
    alarm_name: transition.alarmDefinition.name,
    alarm_description: transition.alarmDefinition.description,
    alarm_timestamp: Math.floor(transition.timestampMs / 1000),
    state: transition.newState,
    old_state: transition.oldState,
    message: transition.reason,
    tenant_id: transition.tenantId,
    metrics: transition.metrics,
  };
}

/**
 * One POST, its result as data. A retryable outcome's `delayMs` is what the far side asked
 * for (Retry-After), 0 when it asked for nothing; the caller adds its backoff.
 */
export async function postWebhook(url: string, notification: WebhookNotification, options: { readonly timeoutMs: number; readonly signal?: AbortSignal }): Promise<WebhookOutcome> {
  if (!URL.canParse(url)) return rejected('not a URL', [notification]);
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
  let response: Response;
  try {
    // Redirects are not followed: a redirected POST may turn into a GET and lose the body.
    response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(notification), signal, redirect: 'manual' });
  } catch (error) {
    if (options.signal?.aborted) return retryable('aborted by shutdown', 0);
    if (timeout.aborted) return retryable(`no response within ${options.timeoutMs} ms`, 0);
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    return retryable(`connection failed: ${cause?.code ?? cause?.message ?? (error as Error).message}`, 0);
  }
  // The body is not read; cancelling it frees the connection for the next request.
  await response.body?.cancel().catch(() => undefined);
  const status = response.status;
  if (status >= 200 && status < 300) return delivered;
  if (status === 408 || status === 429 || status >= 500) return retryable(`HTTP ${status}`, retryAfterMs(response.headers.get('retry-after'), Date.now()) ?? 0);
  return rejected(`HTTP ${status}`, [notification]);
}

export interface WebhookNotifierDeps {
  readonly settings: Readonly<WebhookSettings>;
  readonly counters: Counters;
  readonly logger?: Logger;
  /** Jitter source; tests pin it. */
  readonly random?: () => number;
  /** Told of every retry that was scheduled, with its delay. */
  readonly onRetry?: (reason: string, delayMs: number) => void;
}

interface Job {
  readonly url: string;
  readonly notification: WebhookNotification;
  attempts: number;
  /** On the monotonic clock: retries wait in the queue, they do not hold a worker. */
  readyAtMs: number;
}

export class WebhookNotifier {
  private readonly pending: BoundedQueue<Job>;
  private readonly waiters = new Set<() => void>();
  private readonly shutdown = new AbortController();
  private readonly workers: Promise<void>[] = [];
  private closing = false;
  private drained: Promise<void> | undefined;

  constructor(private readonly deps: WebhookNotifierDeps) {
    const { counters } = deps;
    // Full policy: drop-oldest, counted as queue_full; a newer transition of an alarm supersedes an older one.
    this.pending = new BoundedQueue({ capacity: deps.settings.max_pending, whenFull: 'drop-oldest', onDrop: (count) => this.countDropped('queue_full', count) });
    counters.describe(NOTIFIER_COUNTERS.notifications, 'Webhook notifications by final outcome.');
    counters.describe(NOTIFIER_COUNTERS.retries, 'Webhook requests scheduled for another attempt.');
    counters.describe(NOTIFIER_COUNTERS.dropped, 'Webhook notifications dropped unsent: oldest first when the queue was full, or pending at shutdown.');
    for (let i = 0; i < deps.settings.concurrency; i++) this.workers.push(this.work());
  }

  /** Queues the transition for each of its definition's webhooks; never waits. */
  notify(transition: AlarmTransition): void {
    const webhooks = transition.alarmDefinition.webhooks;
    if (webhooks.length === 0) return;
    const notification = webhookNotification(transition);
    for (const url of webhooks) this.enqueue({ url, notification, attempts: 0, readyAtMs: performance.now() });
  }

  /** Notifications queued or waiting to retry. */
  pendingCount(): number {
    return this.pending.length;
  }

  /** Runs once: stop retrying, send what was never tried within timeout_ms, then drop the rest. */
  drain(): Promise<void> {
    this.drained ??= this.runDrain();
    return this.drained;
  }

  private async runDrain(): Promise<void> {
    this.closing = true;
    const waiting = this.pending.take(this.pending.length);
    const untried = waiting.filter((job) => job.attempts === 0);
    this.countDropped('shutdown', waiting.length - untried.length);
    this.pending.pushAll(untried);
    this.wakeAll();
    const deadline = setTimeout(() => this.shutdown.abort(), this.deps.settings.timeout_ms);
    deadline.unref();
    await Promise.all(this.workers);
    clearTimeout(deadline);
    this.deps.logger?.info({ delivered: this.deps.counters.get(NOTIFIER_COUNTERS.notifications, { outcome: 'delivered' }) }, 'webhook notifier drained');
  }

  private enqueue(job: Job): void {
    if (this.closing) {
      this.countDropped('shutdown', 1);
      return;
    }
    this.pending.push(job);
    this.wakeAll();
  }

  private async work(): Promise<void> {
    for (;;) {
      if (this.shutdown.signal.aborted) {
        // Removed rather than cleared: the queue's onDrop counts queue_full, and these are lost to shutdown.
        const abandoned = this.pending.length;
        this.pending.remove(abandoned);
        this.countDropped('shutdown', abandoned);
        return;
      }
      const now = performance.now();
      const job = this.takeReady(now);
      if (job) {
        await this.attempt(job);
        continue;
      }
      if (this.closing) return;
      let nextReadyMs = Number.POSITIVE_INFINITY;
      for (const waiting of this.pending) nextReadyMs = Math.min(nextReadyMs, waiting.readyAtMs);
      await this.waitForWork(nextReadyMs - now);
    }
  }

  private async attempt(job: Job): Promise<void> {
    const { settings, counters } = this.deps;
    job.attempts++;
    const outcome = await postWebhook(job.url, job.notification, { timeoutMs: settings.timeout_ms, signal: this.shutdown.signal });
    if (outcome.kind === 'delivered') {
      counters.add(NOTIFIER_COUNTERS.notifications, { outcome: 'delivered' });
    } else if (outcome.kind === 'rejected') {
      counters.add(NOTIFIER_COUNTERS.notifications, { outcome: 'rejected' });
    } else if (this.closing) {
      this.countDropped('shutdown', 1);
    } else if (job.attempts >= settings.max_attempts) {
      counters.add(NOTIFIER_COUNTERS.notifications, { outcome: 'gave_up' });
    } else {
      const delayMs = backoffDelayMs(job.attempts - 1, { initialDelayMs: settings.initial_delay_ms, maxDelayMs: settings.max_delay_ms }, outcome.delayMs, this.deps.random);
      counters.add(NOTIFIER_COUNTERS.retries);
      this.deps.onRetry?.(outcome.reason, delayMs);
      job.readyAtMs = performance.now() + delayMs;
      this.enqueue(job);
    }
  }

  /**
   * The first job in queue order that is due, taken out of the queue; the others keep
   * their order, so the oldest is still the one drop-oldest drops. A retry waiting for its
   * delay does not hold up the fresh jobs behind it.
   */
  private takeReady(nowMs: number): Job | undefined {
    let index = 0;
    for (const job of this.pending) {
      if (job.readyAtMs <= nowMs) break;
      index++;
    }
    if (index === this.pending.length) return undefined;
    if (index === 0) return this.pending.shift();
    // Due job in the middle: one turn of the ring puts every other job back where it was.
    let ready: Job | undefined;
    for (let turn = this.pending.length, at = 0; turn > 0; turn--, at++) {
      const job = this.pending.shift() as Job;
      if (at === index) ready = job;
      else this.pending.push(job);
    }
    return ready;
  }

  /** Until a job is queued, the soonest retry is due, or shutdown. */
  private waitForWork(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const cancelSleep = new AbortController();
      const done = (): void => {
        this.waiters.delete(done);
        cancelSleep.abort();
        resolve();
      };
      this.waiters.add(done);
      if (Number.isFinite(timeoutMs)) void sleep(Math.max(0, timeoutMs), cancelSleep.signal).then(done);
    });
  }

  private wakeAll(): void {
    for (const wake of [...this.waiters]) wake();
  }

  private countDropped(reason: 'queue_full' | 'shutdown', amount: number): void {
    if (amount > 0) this.deps.counters.add(NOTIFIER_COUNTERS.dropped, { reason }, amount);
  }
}
