import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PATIENT } from '../core/pipeline.testkit.js';
import { Counters } from '../core/counters.js';
import { definitionFor, transitionFor } from './alarmTransition.testkit.js';
import type { WebhookSettings } from './config.js';
import { NOTIFIER_COUNTERS, WebhookNotifier, postWebhook, webhookNotification, type WebhookNotifierDeps } from './webhookNotifier.js';
import { startWebhookServer, type ScriptedResponse, type WebhookServer } from './webhookServer.testkit.js';

// Retry delays are a few milliseconds here; the jitter is pinned to its maximum.
const SETTINGS: WebhookSettings = { timeout_ms: 2000, max_attempts: 5, max_pending: 100, concurrency: 1, initial_delay_ms: 5, max_delay_ms: 50 };

let server: WebhookServer;
const notifiers: WebhookNotifier[] = [];

beforeEach(async () => {
  server = await startWebhookServer();
});

afterEach(async () => {
  await Promise.all(notifiers.splice(0).map((n) => n.drain()));
  await server.close();
});

function notifier(settings: Partial<WebhookSettings> = {}, extra: Partial<WebhookNotifierDeps> = {}): { notifier: WebhookNotifier; counters: Counters; retries: { reason: string; delayMs: number }[] } {
  const counters = new Counters();
  const retries: { reason: string; delayMs: number }[] = [];
  const created = new WebhookNotifier({ settings: { ...SETTINGS, ...settings }, counters, random: () => 1, onRetry: (reason, delayMs) => retries.push({ reason, delayMs }), ...extra });
  notifiers.push(created);
  return { notifier: created, counters, retries };
}

const names = (): unknown[] => server.received.map((r) => (r.body as { alarm_name?: unknown }).alarm_name);
const count = (counters: Counters, name: string, labels: Record<string, string>) => counters.get(name, labels);

describe('webhookNotification', () => {
  it("carries Monasca's webhook body, with the timestamp in whole seconds", () => {
    const definition = definitionFor({ description: 'CPU is busy' });
    expect(webhookNotification(transitionFor(definition))).toEqual({
      alarm_id: 'a1b2c3d4-0000-0000-0000-000000000001',
      alarm_definition_id: definition.id,
      alarm_name: 'high-cpu',
      alarm_description: 'CPU is busy',
      alarm_timestamp: 1_700_000_000,
      state: 'ALARM',
      old_state: 'UNDETERMINED',
      message: 'Thresholds were exceeded for the sub-alarms: avg(cpu.percent, 60) > 90 with the values: [95]',
      tenant_id: 'acme',
      metrics: [{ name: 'cpu.percent', dimensions: { hostname: 'node-1' } }],
    });
  });
});

describe('postWebhook', () => {
  const notification = webhookNotification(transitionFor(definitionFor({})));

  it.each<{ name: string; response: ScriptedResponse; expected: Record<string, unknown> }>([
    { name: '200 is delivered', response: { status: 200 }, expected: { kind: 'delivered' } },
    { name: '204 is delivered', response: { status: 204 }, expected: { kind: 'delivered' } },
    { name: '500 is retryable', response: { status: 500 }, expected: { kind: 'retryable', reason: 'HTTP 500', delayMs: 0 } },
    { name: '503 with Retry-After is retryable after it', response: { status: 503, headers: { 'retry-after': '3' } }, expected: { kind: 'retryable', delayMs: 3000 } },
    { name: '503 with an unreadable Retry-After asks for no delay', response: { status: 503, headers: { 'retry-after': 'soon' } }, expected: { kind: 'retryable', delayMs: 0 } },
    { name: '429 with Retry-After is retryable after it', response: { status: 429, headers: { 'retry-after': '2' } }, expected: { kind: 'retryable', reason: 'HTTP 429', delayMs: 2000 } },
    { name: '408 is retryable', response: { status: 408 }, expected: { kind: 'retryable' } },
    { name: '400 is rejected', response: { status: 400 }, expected: { kind: 'rejected', reason: 'HTTP 400', items: [notification] } },
    { name: '404 is rejected', response: { status: 404 }, expected: { kind: 'rejected', reason: 'HTTP 404' } },
    { name: 'a redirect is rejected, not followed', response: { status: 307, headers: { location: '/elsewhere' } }, expected: { kind: 'rejected' } },
  ])('$name', async ({ response, expected }) => {
    server.script(response);
    expect(await postWebhook(server.url, notification, { timeoutMs: 2000 })).toMatchObject(expected);
    expect(server.received).toEqual([{ method: 'POST', path: '/hook', contentType: 'application/json', body: notification }]);
  });

  it('is retryable when the far side does not answer in time', async () => {
    server.script('hold');
    expect(await postWebhook(server.url, notification, { timeoutMs: 50 })).toMatchObject({ kind: 'retryable', reason: 'no response within 50 ms' });
  });

  it('is retryable when the connection is refused', async () => {
    const closed = await startWebhookServer();
    await closed.close();
    expect(await postWebhook(closed.url, notification, { timeoutMs: 2000 })).toMatchObject({ kind: 'retryable', reason: expect.stringContaining('ECONNREFUSED') as unknown });
  });

  it('is rejected, without a request, when the URL is not one', async () => {
    expect(await postWebhook('not a url', notification, { timeoutMs: 2000 })).toMatchObject({ kind: 'rejected', reason: 'not a URL' });
  });
});

describe('WebhookNotifier', () => {
  it('delivers a transition to every webhook of its definition', async () => {
    const { notifier: n, counters } = notifier();
    n.notify(transitionFor(definitionFor({ webhooks: [`${server.url}?to=a`, `${server.url}?to=b`] })));
    await vi.waitFor(() => expect(count(counters, NOTIFIER_COUNTERS.notifications, { outcome: 'delivered' })).toBe(2), PATIENT);
    expect(server.received.map((r) => r.path).sort()).toEqual(['/hook?to=a', '/hook?to=b']);
  });

  it('retries a 500 with backoff and delivers on the 200 that follows', async () => {
    server.script({ status: 500 });
    const { notifier: n, counters, retries } = notifier();
    n.notify(transitionFor(definitionFor({ webhooks: [server.url] })));
    await vi.waitFor(() => expect(count(counters, NOTIFIER_COUNTERS.notifications, { outcome: 'delivered' })).toBe(1), PATIENT);
    expect(server.received).toHaveLength(2);
    expect(retries).toEqual([{ reason: 'HTTP 500', delayMs: SETTINGS.initial_delay_ms }]);
    expect(counters.total(NOTIFIER_COUNTERS.retries)).toBe(1);
  });

  it('waits as long as a 429 asks with Retry-After, and drain abandons that retry', async () => {
    server.script({ status: 429, headers: { 'retry-after': '30' } });
    const { notifier: n, counters, retries } = notifier({ max_delay_ms: 60_000 });
    n.notify(transitionFor(definitionFor({ webhooks: [server.url] })));
    await vi.waitFor(() => expect(retries).toHaveLength(1), PATIENT);
    expect(retries[0]).toEqual({ reason: 'HTTP 429', delayMs: 30_000 });
    await n.drain();
    expect(server.received).toHaveLength(1);
    expect(count(counters, NOTIFIER_COUNTERS.dropped, { reason: 'shutdown' })).toBe(1);
  });

  it('delivers after a 429 once the (capped) Retry-After has passed', async () => {
    server.script({ status: 429, headers: { 'retry-after': '1' } });
    const { notifier: n, counters, retries } = notifier({ max_delay_ms: 20 });
    n.notify(transitionFor(definitionFor({ webhooks: [server.url] })));
    await vi.waitFor(() => expect(count(counters, NOTIFIER_COUNTERS.notifications, { outcome: 'delivered' })).toBe(1), PATIENT);
    expect(retries).toEqual([{ reason: 'HTTP 429', delayMs: 20 }]);
    expect(server.received).toHaveLength(2);
  });

  it('does not retry a 400', async () => {
    server.script({ status: 400 });
    const { notifier: n, counters } = notifier();
    n.notify(transitionFor(definitionFor({ webhooks: [server.url] })));
    await vi.waitFor(() => expect(count(counters, NOTIFIER_COUNTERS.notifications, { outcome: 'rejected' })).toBe(1), PATIENT);
    expect(n.pendingCount()).toBe(0);
    expect(server.received).toHaveLength(1);
    expect(counters.total(NOTIFIER_COUNTERS.retries)).toBe(0);
  });

  it('gives up after max_attempts', async () => {
    server.script({ status: 500 }, { status: 502 }, { status: 503 });
    const { notifier: n, counters } = notifier({ max_attempts: 3 });
    n.notify(transitionFor(definitionFor({ webhooks: [server.url] })));
    await vi.waitFor(() => expect(count(counters, NOTIFIER_COUNTERS.notifications, { outcome: 'gave_up' })).toBe(1), PATIENT);
    expect(server.received).toHaveLength(3);
    expect(counters.total(NOTIFIER_COUNTERS.retries)).toBe(2);
  });

  it('drops the oldest pending notification when the queue is full, and counts it', async () => {
    server.script('hold');
    const { notifier: n, counters } = notifier({ max_pending: 2 });
    const definition = definitionFor({ webhooks: [server.url] });
    n.notify(transitionFor(definition, { alarmDefinition: { ...definition, name: 'first' } }));
    await vi.waitFor(() => expect(server.received).toHaveLength(1), PATIENT);
    for (const name of ['second', 'third', 'fourth']) n.notify(transitionFor(definition, { alarmDefinition: { ...definition, name } }));
    expect(n.pendingCount()).toBe(2);
    expect(count(counters, NOTIFIER_COUNTERS.dropped, { reason: 'queue_full' })).toBe(1);
    server.release();
    await vi.waitFor(() => expect(count(counters, NOTIFIER_COUNTERS.notifications, { outcome: 'delivered' })).toBe(3), PATIENT);
    expect(names()).toEqual(['first', 'third', 'fourth']);
  });

  it('sends what is due past a waiting retry, and that retry stays the oldest', async () => {
    server.script({ status: 500 }, 'hold', 'hold');
    const { notifier: n, counters, retries } = notifier({ max_pending: 3, initial_delay_ms: 60_000, max_delay_ms: 60_000 });
    const definition = definitionFor({ webhooks: [server.url] });
    const notify = (name: string): void => n.notify(transitionFor(definition, { alarmDefinition: { ...definition, name } }));
    notify('retrying');
    await vi.waitFor(() => expect(retries).toHaveLength(1), PATIENT);
    notify('held');
    await vi.waitFor(() => expect(server.received).toHaveLength(2), PATIENT);
    notify('a');
    notify('b');
    server.release();
    // 'a' is taken from behind the waiting retry; the queue keeps [retrying, b] in that order.
    await vi.waitFor(() => expect(server.received).toHaveLength(3), PATIENT);
    notify('c');
    notify('d');
    expect(count(counters, NOTIFIER_COUNTERS.dropped, { reason: 'queue_full' })).toBe(1);
    server.release();
    await vi.waitFor(() => expect(count(counters, NOTIFIER_COUNTERS.notifications, { outcome: 'delivered' })).toBe(5), PATIENT);
    expect(names()).toEqual(['retrying', 'held', 'a', 'b', 'c', 'd']);
    expect(n.pendingCount()).toBe(0);
  });

  it('drains by abandoning retries, sending what was never tried, then refusing more', async () => {
    server.script({ status: 500 }, 'hold');
    const { notifier: n, counters, retries } = notifier({ initial_delay_ms: 60_000, max_delay_ms: 60_000 });
    const definition = definitionFor({ webhooks: [server.url] });
    n.notify(transitionFor(definition, { alarmDefinition: { ...definition, name: 'retrying' } }));
    await vi.waitFor(() => expect(retries).toHaveLength(1), PATIENT);
    n.notify(transitionFor(definition, { alarmDefinition: { ...definition, name: 'in-flight' } }));
    await vi.waitFor(() => expect(server.received).toHaveLength(2), PATIENT);
    n.notify(transitionFor(definition, { alarmDefinition: { ...definition, name: 'untried' } }));

    const drained = n.drain();
    expect(n.drain()).toBe(drained);
    server.release();
    await drained;

    expect(names()).toEqual(['retrying', 'in-flight', 'untried']);
    expect(count(counters, NOTIFIER_COUNTERS.notifications, { outcome: 'delivered' })).toBe(2);
    expect(count(counters, NOTIFIER_COUNTERS.dropped, { reason: 'shutdown' })).toBe(1);
    n.notify(transitionFor(definition));
    expect(count(counters, NOTIFIER_COUNTERS.dropped, { reason: 'shutdown' })).toBe(2);
    expect(n.pendingCount()).toBe(0);
  });

  it('stops waiting at the drain deadline and counts what it could not send', async () => {
    server.script('hold', 'hold');
    const { notifier: n, counters } = notifier({ timeout_ms: 100 });
    const definition = definitionFor({ webhooks: [server.url] });
    n.notify(transitionFor(definition));
    await vi.waitFor(() => expect(server.received).toHaveLength(1), PATIENT);
    n.notify(transitionFor(definition));
    await n.drain();
    expect(count(counters, NOTIFIER_COUNTERS.dropped, { reason: 'shutdown' })).toBe(2);
    expect(count(counters, NOTIFIER_COUNTERS.notifications, { outcome: 'delivered' })).toBe(0);
  });
});
