import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startHttpReceiver, type HttpReceiver, type ScriptedReply } from './httpReceiver.testkit.js';
import { methodFor, notificationFor } from './notification.testkit.js';
import { SafeHttpClient } from './safeHttp.js';
import type { SendOutcome } from './sender.js';
import { kansokuSignature, verifyKansokuSignature, WebhookSender } from './webhookSender.js';

const SECRET = 'the-method-secret';

describe('WebhookSender', () => {
  let receiver: HttpReceiver;
  const sender = new WebhookSender(new SafeHttpClient({ timeoutMs: 2_000, maxRequestBytes: 64 * 1024, maxResponseBytes: 1024, allowPrivateAddresses: true }));
  const signal = new AbortController().signal;

  beforeAll(async () => {
    receiver = await startHttpReceiver();
  });
  afterAll(() => receiver.close());
  beforeEach(() => {
    (receiver.received as unknown[]).length = 0;
  });

  it("POSTs Monasca's webhook body as JSON", async () => {
    const outcome = await sender.send(notificationFor(), methodFor('WEBHOOK', `${receiver.origin}/hook`, { secret: SECRET }), signal);
    expect(outcome).toEqual({ kind: 'sent' });
    const [request] = receiver.received;
    expect(request?.method).toBe('POST');
    expect(request?.path).toBe('/hook');
    expect(request?.headers['content-type']).toBe('application/json');
    expect(request?.json()).toEqual({
      alarm_id: 'a1b2c3d4-0000-0000-0000-000000000001',
      alarm_definition_id: 'def-0001',
      alarm_name: 'high-cpu',
      alarm_description: 'CPU above 90% for a minute',
      alarm_timestamp: 1_700_000_000,
      state: 'ALARM',
      old_state: 'OK',
      message: 'Thresholds were exceeded for the sub-alarms: avg(cpu.percent, 60) > 90 with the values: [95]',
      tenant_id: 'acme',
      metrics: [{ name: 'cpu.percent', dimensions: { hostname: 'node-1', service: 'compute' } }],
    });
  });

  it('signs the exact body bytes: the signature verifies with the secret and fails with another', async () => {
    await sender.send(notificationFor({ alarmName: 'ünïcødé ✓' }), methodFor('WEBHOOK', `${receiver.origin}/hook`, { secret: SECRET }), signal);
    const [request] = receiver.received;
    const header = request?.headers['x-kansoku-signature'];
    expect(header).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(header).toBe(kansokuSignature(request!.body, SECRET));
    expect(verifyKansokuSignature(request!.body, header as string, SECRET)).toBe(true);
    expect(verifyKansokuSignature(request!.body, header as string, 'another-secret')).toBe(false);
    expect(verifyKansokuSignature(Buffer.concat([request!.body, Buffer.from(' ')]), header as string, SECRET)).toBe(false);
  });

  it.each([
    ['no header', undefined],
    ['no prefix', 'deadbeef'],
    ['a short digest', 'sha256=abcd'],
    ['not hex', `sha256=${'z'.repeat(64)}`],
    ['another algorithm', `sha1=${'0'.repeat(40)}`],
  ])('verifyKansokuSignature refuses %s', (_name, header) => {
    expect(verifyKansokuSignature('{}', header, SECRET)).toBe(false);
  });

  it('sends no signature for a method without a secret', async () => {
    await sender.send(notificationFor(), methodFor('WEBHOOK', `${receiver.origin}/hook`, { secret: null }), signal);
    expect(receiver.received[0]?.headers['x-kansoku-signature']).toBeUndefined();
  });

  it.each<[string, ScriptedReply, SendOutcome]>([
    ['200 is sent', { status: 200 }, { kind: 'sent' }],
    ['204 is sent', { status: 204 }, { kind: 'sent' }],
    ['500 is retryable', { status: 500 }, { kind: 'retryable', error: 'HTTP 500' }],
    ['502 is retryable', { status: 502 }, { kind: 'retryable', error: 'HTTP 502' }],
    ['503 with Retry-After is retryable after that delay', { status: 503, headers: { 'retry-after': '30' } }, { kind: 'retryable', error: 'HTTP 503', delayMs: 30_000 }],
    ['429 with Retry-After is retryable after that delay', { status: 429, headers: { 'retry-after': '2' } }, { kind: 'retryable', error: 'HTTP 429', delayMs: 2_000 }],
    ['408 is retryable', { status: 408 }, { kind: 'retryable', error: 'HTTP 408' }],
    ['400 is rejected', { status: 400 }, { kind: 'rejected', error: 'HTTP 400' }],
    ['403 is rejected', { status: 403 }, { kind: 'rejected', error: 'HTTP 403' }],
    ['404 is rejected', { status: 404 }, { kind: 'rejected', error: 'HTTP 404' }],
    ['410 is rejected', { status: 410 }, { kind: 'rejected', error: 'HTTP 410' }],
  ])('%s', async (_name, reply, expected) => {
    receiver.reply(reply);
    expect(await sender.send(notificationFor(), methodFor('WEBHOOK', `${receiver.origin}/hook`), signal)).toEqual(expected);
  });

  it('is refused for a loopback URL when private addresses are not allowed', async () => {
    const strict = new WebhookSender(new SafeHttpClient({ timeoutMs: 2_000, maxRequestBytes: 64 * 1024, maxResponseBytes: 1024, allowPrivateAddresses: false }));
    const outcome = await strict.send(notificationFor(), methodFor('WEBHOOK', `${receiver.origin}/hook`), signal);
    expect(outcome).toMatchObject({ kind: 'rejected', error: expect.stringContaining('loopback') as unknown });
    expect(receiver.received).toHaveLength(0);
  });
});
