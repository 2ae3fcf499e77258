import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { backoffDelayMs } from '../../core/backoff.js';
import type { Counters } from '../../core/counters.js';
import type { AlarmState } from '../alarmState.js';
import type { AlarmDefinitionRecord, AlarmStore, AlarmTransitionRecord, AlarmView, DeliveryRecord, NewDelivery, NotificationMethodRecord } from '../store/alarmStore.js';
import type { NotificationSection } from './config.js';
import { buildNotification } from './notification.js';
import type { SendOutcome, Sender } from './sender.js';

/**
 * The notifier: drains the durable outbox at least once. Each poll leases due deliveries
 * (`claimDeliveries`), sends each through the sender registered for its method's type,
 * and only once the send returned is the delivery completed, retried or abandoned. A
 * notifier killed mid-send leaves its lease to expire, and then any notifier sends the
 * delivery again: a receiver may see a notification twice, never zero times. Such a second
 * send is counted as redelivered; a notifier that outlived its lease finds another holder
 * when it records the outcome, and leaves the delivery to it (counted as a lost lease).
 * A delivery whose holders keep dying before any outcome (a crash loop) is given up once
 * it was claimed max_attempts + MAX_CLAIMS_SLACK times.
 *
 * After a sent notification, a method with a period gets the next 'repeat' delivery in
 * the same transaction as the completion (Monasca's periodic notifications), as long as
 * the alarm is still in the transition's new state and the method is still one of the
 * definition's actions for it.
 */

/** The part of the store the notifier uses. */
export type NotifierStore = Pick<
  AlarmStore,
  'claimDeliveries' | 'completeDelivery' | 'retryDelivery' | 'abandonDelivery' | 'getTransition' | 'getAlarm' | 'getDefinition' | 'getNotificationMethod'
>;

export type NotifierSettings = Pick<NotificationSection, 'poll_interval_ms' | 'lease_ms' | 'concurrency' | 'shutdown_timeout_ms' | 'retry'>;

export interface NotifierDeps {
  readonly store: NotifierStore;
  /** By method type (EMAIL, WEBHOOK, …); actions such as EVICT register here too. */
  readonly senders: ReadonlyMap<string, Sender>;
  readonly settings: Readonly<NotifierSettings>;
  readonly counters: Counters;
  /** Who holds the leases; unique per notifier (host, pid and a random part, say). */
  readonly owner: string;
  /** Epoch milliseconds: due times and leases are compared with it. */
  readonly now?: () => number;
  /** Jitter source; tests pin it. */
  readonly random?: () => number;
  /** Ids of the 'repeat' deliveries. */
  readonly newId?: () => string;
  readonly logger?: Logger;
}

export const NOTIFIER_COUNTERS = {
  /** Labelled type. */
  sent: 'kansoku_notifications_sent_total',
  /** Labelled type, reason=retryable|rejected|sender_error: each attempt that did not go through. */
  failed: 'kansoku_notifications_failed_total',
  /** Labelled type, reason. */
  abandoned: 'kansoku_notifications_abandoned_total',
  retries: 'kansoku_notification_retries_total',
  redelivered: 'kansoku_notifications_redelivered_total',
  /** Labelled type. */
  repeatsEnded: 'kansoku_notification_repeats_ended_total',
  storeErrors: 'kansoku_notifier_store_errors_total',
  leaseLost: 'kansoku_notifier_lease_lost_total',
} as const;

export type AbandonReason = 'missing_transition' | 'missing_alarm' | 'missing_definition' | 'missing_method' | 'no_sender' | 'rejected' | 'max_attempts' | 'max_claims' | 'sender_error';

/**
 * Claims beyond max_attempts before a delivery is given up as a crash loop: leases lost to
 * a restart, a store error or a slow send, which end with no attempt counted.
 */
export const MAX_CLAIMS_SLACK = 3;

/** The share of the lease a send may take, so that its outcome is recorded before the lease runs out. */
const SEND_SHARE_OF_LEASE = 0.8;

/** How long aborted sends get at stop to record their outcome. */
const ABORT_GRACE_MS = 1_000;

type Loaded =
  | { readonly ok: true; readonly transition: AlarmTransitionRecord; readonly alarm: AlarmView; readonly definition: AlarmDefinitionRecord; readonly method: NotificationMethodRecord }
  | { readonly ok: false; readonly reason: AbandonReason; readonly type: string };

export class Notifier {
  private readonly now: () => number;
  private readonly newId: () => string;
  private readonly inFlight = new Set<Promise<void>>();
  /** Aborts the sends in flight once shutdown_timeout_ms has passed at stop. */
  private readonly shutdown = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private timerDueMs = Number.POSITIVE_INFINITY;
  private claiming: Promise<void> | undefined;
  /** The last claim filled every free slot: more may be due, so a freed slot polls at once. */
  private backlog = false;
  private started = false;
  private stopping = false;
  private stopped: Promise<void> | undefined;

  constructor(private readonly deps: NotifierDeps) {
    this.now = deps.now ?? Date.now;
    this.newId = deps.newId ?? randomUUID;
    const { counters } = deps;
    counters.describe(NOTIFIER_COUNTERS.sent, 'Notifications the receiving side accepted, by method type.');
    counters.describe(NOTIFIER_COUNTERS.failed, 'Notification attempts that did not go through, by method type and reason (retryable, rejected, sender_error).');
    counters.describe(NOTIFIER_COUNTERS.abandoned, 'Deliveries given up, by method type and reason (rejected, max_attempts, max_claims, missing method/alarm/transition/definition, no sender).');
    counters.describe(NOTIFIER_COUNTERS.retries, 'Deliveries scheduled for another attempt after a retryable failure.');
    counters.describe(NOTIFIER_COUNTERS.redelivered, 'Deliveries sent again after an earlier attempt that may have reached the receiver (at-least-once duplicates).');
    counters.describe(NOTIFIER_COUNTERS.repeatsEnded, 'Periodic re-notifications ended because the alarm left the state (or the method left its actions).');
    counters.describe(NOTIFIER_COUNTERS.storeErrors, 'Outbox reads or writes that failed; the delivery is sent again once its lease expires.');
    counters.describe(NOTIFIER_COUNTERS.leaseLost, 'Delivery outcomes not recorded because the lease had passed to another notifier (or the delivery was gone); that holder decides.');
  }

  /** Polls every poll_interval_ms until `stop`, at once again while the outbox has a backlog. */
  start(): void {
    if (this.started || this.stopping) return;
    this.started = true;
    this.deps.logger?.info({ owner: this.deps.owner, concurrency: this.deps.settings.concurrency, senders: [...this.deps.senders.keys()] }, 'notifier started');
    this.schedule(0);
  }

  /**
   * One poll, driven by hand (tests, or a caller with its own loop): claims as many due
   * deliveries as there are free slots and resolves when every one of them is finished.
   * Returns how many were claimed.
   */
  async pollOnce(): Promise<number> {
    const started = await this.claim();
    await Promise.all(started);
    return started.length;
  }

  /**
   * Runs once: stop claiming, let sends in flight finish for shutdown_timeout_ms, then
   * abort them (an aborted send is released for another notifier at once) and wait for
   * their outcome to be recorded.
   */
  stop(): Promise<void> {
    this.stopped ??= this.runStop();
    return this.stopped;
  }

  private async runStop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.claiming;
    const inFlight = this.inFlight.size;
    if (!(await settlesWithin([...this.inFlight], this.deps.settings.shutdown_timeout_ms))) {
      this.shutdown.abort();
      // A sender or store that ignores the abort must not hold shutdown: what it holds is leased, and the lease expires.
      await settlesWithin([...this.inFlight], ABORT_GRACE_MS);
    }
    this.deps.logger?.info({ owner: this.deps.owner, inFlightAtStop: inFlight, leftLeased: this.inFlight.size }, 'notifier stopped');
  }

  private schedule(delayMs: number): void {
    if (this.stopping || !this.started) return;
    const dueMs = Date.now() + delayMs;
    if (this.timer && this.timerDueMs <= dueMs) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerDueMs = dueMs;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerDueMs = Number.POSITIVE_INFINITY;
      void this.claim().then(() => this.schedule(this.deps.settings.poll_interval_ms));
    }, delayMs);
    this.timer.unref();
  }

  /** Leases deliveries for the free slots and starts them; never throws (a store error is counted and the poll tried again later). */
  private async claim(): Promise<Promise<void>[]> {
    if (this.stopping) return [];
    // One claim at a time: two overlapping claims would both count the same free slots.
    while (this.claiming) await this.claiming;
    let release!: () => void;
    this.claiming = new Promise((resolve) => (release = resolve));
    try {
      const free = this.deps.settings.concurrency - this.inFlight.size;
      if (free <= 0) return [];
      const claimed = await this.deps.store.claimDeliveries(this.now(), this.deps.settings.lease_ms, this.deps.owner, free);
      this.backlog = claimed.length === free;
      return claimed.map((delivery) => this.track(delivery));
    } catch (error) {
      this.storeError(error, 'claiming deliveries failed');
      return [];
    } finally {
      this.claiming = undefined;
      release();
    }
  }

  private track(delivery: DeliveryRecord): Promise<void> {
    const run = this.deliver(delivery).catch((error: unknown) => this.storeError(error, 'recording a delivery outcome failed', delivery.id));
    const tracked = run.finally(() => {
      this.inFlight.delete(tracked);
      if (this.backlog) this.schedule(0);
    });
    this.inFlight.add(tracked);
    return tracked;
  }

  private async deliver(delivery: DeliveryRecord): Promise<void> {
    const { store, counters } = this.deps;
    const loaded = await this.load(delivery);
    if (!loaded.ok) return this.abandon(delivery, loaded.type, loaded.reason);
    const { transition, alarm, definition, method } = loaded;
    const type = method.type;

    if (delivery.kind === 'repeat' && !stillWanted(alarm, transition.newState, definition, method)) {
      if (await this.recorded(store.completeDelivery(delivery.id, this.deps.owner))) counters.add(NOTIFIER_COUNTERS.repeatsEnded, { type });
      return;
    }
    const sender = this.deps.senders.get(type);
    if (!sender) return this.abandon(delivery, type, 'no_sender');
    if (delivery.claims > this.deps.settings.retry.max_attempts + MAX_CLAIMS_SLACK) return this.abandon(delivery, type, 'max_claims');
    // A retried delivery, or one claimed before and never finished, may already have reached the receiver (a timeout after it was accepted, a notifier killed after the send).
    if (delivery.attempts > 0 || delivery.claims > 1) counters.add(NOTIFIER_COUNTERS.redelivered, { type });

    const notification = buildNotification({ delivery, transition, alarm, definition, method });
    const signal = AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(Math.max(1, Math.floor(this.deps.settings.lease_ms * SEND_SHARE_OF_LEASE)))]);
    let outcome: SendOutcome;
    try {
      outcome = await sender.send(notification, method, signal);
    } catch (error) {
      // A sender throws only for a bug: retrying would repeat it, so the delivery is given up and the bug logged.
      counters.add(NOTIFIER_COUNTERS.failed, { type, reason: 'sender_error' });
      this.deps.logger?.error({ err: error, deliveryId: delivery.id, type }, 'notification sender threw');
      return this.abandon(delivery, type, 'sender_error', errorText(error));
    }

    switch (outcome.kind) {
      case 'sent': {
        counters.add(NOTIFIER_COUNTERS.sent, { type });
        await this.recorded(store.completeDelivery(delivery.id, this.deps.owner, await this.nextRepeat(delivery, transition, definition, method)));
        return;
      }
      case 'rejected':
        counters.add(NOTIFIER_COUNTERS.failed, { type, reason: 'rejected' });
        return this.abandon(delivery, type, 'rejected', outcome.error);
      case 'retryable':
        counters.add(NOTIFIER_COUNTERS.failed, { type, reason: 'retryable' });
        return this.retry(delivery, type, outcome);
    }
  }

  private async retry(delivery: DeliveryRecord, type: string, outcome: Extract<SendOutcome, { kind: 'retryable' }>): Promise<void> {
    const { store, counters, settings } = this.deps;
    if (this.shutdown.signal.aborted) {
      // Cut off by shutdown: released for any notifier now, not held back by a backoff this process will not see through.
      await this.recorded(store.retryDelivery(delivery.id, this.deps.owner, this.now(), `shutdown: ${outcome.error}`));
      return;
    }
    if (delivery.attempts + 1 >= settings.retry.max_attempts) return this.abandon(delivery, type, 'max_attempts', outcome.error);
    const delayMs = backoffDelayMs(delivery.attempts, { initialDelayMs: settings.retry.initial_delay_ms, maxDelayMs: settings.retry.max_delay_ms }, outcome.delayMs ?? 0, this.deps.random);
    if (await this.recorded(store.retryDelivery(delivery.id, this.deps.owner, this.now() + delayMs, outcome.error))) counters.add(NOTIFIER_COUNTERS.retries);
  }

  private async abandon(delivery: DeliveryRecord, type: string, reason: AbandonReason, error?: string): Promise<void> {
    if (!(await this.recorded(this.deps.store.abandonDelivery(delivery.id, this.deps.owner)))) return;
    this.deps.counters.add(NOTIFIER_COUNTERS.abandoned, { type, reason });
    this.deps.logger?.warn(
      { deliveryId: delivery.id, tenantId: delivery.tenantId, alarmId: delivery.alarmId, methodId: delivery.methodId, type, reason, earlierAttempts: delivery.attempts, claims: delivery.claims, detail: { error } },
      'notification abandoned',
    );
  }

  /** Whether an outcome was recorded: false when the lease passed to another holder (or the delivery is gone), counted and left to that holder. */
  private async recorded(outcome: Promise<boolean>): Promise<boolean> {
    if (await outcome) return true;
    this.deps.counters.add(NOTIFIER_COUNTERS.leaseLost);
    return false;
  }

  /** The next periodic re-notification, when the method has a period and the alarm still holds the state (read after the send). */
  private async nextRepeat(delivery: DeliveryRecord, transition: AlarmTransitionRecord, definition: AlarmDefinitionRecord, method: NotificationMethodRecord): Promise<NewDelivery | undefined> {
    if (method.periodSeconds <= 0) return undefined;
    const alarm = await this.deps.store.getAlarm(delivery.tenantId, delivery.alarmId);
    if (alarm === null || !stillWanted(alarm, transition.newState, definition, method)) {
      this.deps.counters.add(NOTIFIER_COUNTERS.repeatsEnded, { type: method.type });
      return undefined;
    }
    return {
      id: this.newId(),
      tenantId: delivery.tenantId,
      transitionId: delivery.transitionId,
      alarmId: delivery.alarmId,
      methodId: delivery.methodId,
      kind: 'repeat',
      dueAtMs: this.now() + method.periodSeconds * 1000,
      attempts: 0,
      lastError: null,
    };
  }

  private async load(delivery: DeliveryRecord): Promise<Loaded> {
    const { store } = this.deps;
    const [transition, alarm, method] = await Promise.all([
      store.getTransition(delivery.tenantId, delivery.transitionId),
      store.getAlarm(delivery.tenantId, delivery.alarmId),
      store.getNotificationMethod(delivery.tenantId, delivery.methodId),
    ]);
    const type = method?.type ?? 'unknown';
    if (method === null) return { ok: false, reason: 'missing_method', type };
    if (alarm === null) return { ok: false, reason: 'missing_alarm', type };
    if (transition === null) return { ok: false, reason: 'missing_transition', type };
    const definition = await store.getDefinition(delivery.tenantId, transition.definitionId);
    if (definition === null) return { ok: false, reason: 'missing_definition', type };
    return { ok: true, transition, alarm, definition, method };
  }

  private storeError(error: unknown, message: string, deliveryId?: string): void {
    this.deps.counters.add(NOTIFIER_COUNTERS.storeErrors);
    this.deps.logger?.error({ err: error, deliveryId }, message);
  }
}

/** Does a periodic notification of `state` still make sense: the alarm in it, the method still among the definition's actions for it? */
function stillWanted(alarm: AlarmView, state: AlarmState, definition: AlarmDefinitionRecord, method: NotificationMethodRecord): boolean {
  if (alarm.state !== state || !definition.actionsEnabled) return false;
  const actions = state === 'ALARM' ? definition.alarmActions : state === 'OK' ? definition.okActions : definition.undeterminedActions;
  return actions.includes(method.id);
}

async function settlesWithin(promises: readonly Promise<void>[], timeoutMs: number): Promise<boolean> {
  if (promises.length === 0) return true;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  const settled = await Promise.race([Promise.all(promises).then(() => true as const), timedOut]);
  clearTimeout(timer);
  return settled;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
