import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PATIENT } from '../core/pipeline.testkit.js';
import { metricCodec } from '../core/codec.js';
import { Counters } from '../core/counters.js';
import { TOPICS, metricEnvelope } from '../core/envelope.js';
import { MemoryBus } from '../bus/memory/memoryBus.js';
import { loadAlertingRules } from './config.js';
import { startAlerting } from './main.js';
import { TRANSITIONS_TOPIC, decodeTransitionEvent } from './transitionEvent.js';
import { startWebhookServer, type WebhookServer } from './webhookServer.testkit.js';

let server: WebhookServer | undefined;
afterEach(async () => {
  await server?.close();
});

describe('startAlerting', () => {
  it('wires bus, evaluator and webhook notifier from validated rules, and stops once', async () => {
    server = await startWebhookServer();
    const rules = loadAlertingRules({
      alarm_definitions: [{ name: 'high-cpu', tenant_id: 'acme', metric: 'cpu.percent', operator: '>', threshold: 90, webhooks: [server.url] }],
      webhook: { initial_delay_ms: 5, max_delay_ms: 50 },
      evaluation: { interval_ms: 5 },
    });
    if (!rules.ok) throw new Error(rules.error);
    const bus = new MemoryBus({ capacity: 1000, maxBatch: 100 });
    const nowMs = 1_700_000_000_000;
    const alerting = await startAlerting({
      bus,
      groupId: 'kansoku-alerting',
      definitions: rules.value.definitions,
      webhook: rules.value.webhook,
      evaluation: rules.value.evaluation,
      counters: new Counters(),
      logger: pino({ level: 'silent' }),
      now: () => nowMs,
    });

    const transitions: string[] = [];
    const reader = bus.consumer('reader');
    await reader.run([TRANSITIONS_TOPIC], (batch) => {
      for (const m of batch.messages) {
        const decoded = decodeTransitionEvent(m.value);
        if (decoded.ok) transitions.push(decoded.value['alarm-transitioned'].newState);
      }
      return Promise.resolve({ kind: 'commit' });
    });

    const envelope = metricEnvelope({ name: 'cpu.percent', dimensions: {}, timestamp: nowMs, value: 99, value_meta: null }, { tenantId: 'acme', region: 'local' }, nowMs);
    await bus.producer().publish(TOPICS.metrics, [{ key: 'acme', value: metricCodec.encode(envelope) }]);
    await vi.waitFor(() => expect(transitions).toEqual(['ALARM']), PATIENT);
    await vi.waitFor(() => expect(server?.received.map((r) => (r.body as { state?: unknown }).state)).toEqual(['ALARM']), PATIENT);

    const stopped = alerting.stop();
    expect(alerting.stop()).toBe(stopped);
    await stopped;
    await reader.stop();
    expect(bus.backlog(TOPICS.metrics)).toBe(0);
  });
});
