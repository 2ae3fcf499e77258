import { afterEach, describe, expect, it, vi } from 'vitest';
import { PATIENT, RecordingProducer } from '../core/pipeline.testkit.js';
import { metricCodec } from '../core/codec.js';
import { Counters } from '../core/counters.js';
import { TOPICS, metricEnvelope } from '../core/envelope.js';
import { MemoryBus } from '../bus/memory/memoryBus.js';
import { delivered, rejected, retryable } from '../core/outcome.js';
import type { BusConsumer, BusMessage, BusProducer } from '../core/pipeline.js';
import { AlertEngine, ENGINE_COUNTERS, type TransitionNotifier } from './alertEngine.js';
import type { AlarmTransition } from './alarmState.js';
import { definitionFor } from './alarmTransition.testkit.js';
import type { AlarmDefinition } from './config.js';
import { TRANSITIONS_TOPIC, decodeTransitionEvent, type AlarmTransitionedEvent } from './transitionEvent.js';
import { WebhookNotifier } from './webhookNotifier.js';
import { startWebhookServer, type WebhookServer } from './webhookServer.testkit.js';

const T0_MS = 1_700_000_000_000;

/** The clock the engine evaluates at; the tests move it. */
function testClock(): { now: () => number; set: (seconds: number) => void } {
  let nowMs = T0_MS;
  return { now: () => nowMs, set: (seconds) => (nowMs = T0_MS + seconds * 1000) };
}

function metricMessage(tenantId: string, atSeconds: number, value: number, dimensions: Record<string, string> = { hostname: 'node-1' }): BusMessage {
  const envelope = metricEnvelope({ name: 'cpu.percent', dimensions, timestamp: T0_MS + atSeconds * 1000, value, value_meta: null }, { tenantId, region: 'local' }, T0_MS);
  return { key: tenantId, value: metricCodec.encode(envelope) };
}

/** Reads the transitions topic as its own consumer group, as monasca-persister would. */
function readTransitions(consumer: BusConsumer): { events: AlarmTransitionedEvent['alarm-transitioned'][]; started: Promise<void> } {
  const events: AlarmTransitionedEvent['alarm-transitioned'][] = [];
  const started = consumer.run([TRANSITIONS_TOPIC], (batch) => {
    for (const m of batch.messages) {
      const decoded = decodeTransitionEvent(m.value);
      if (!decoded.ok) throw new Error(decoded.error);
      events.push(decoded.value['alarm-transitioned']);
    }
    return Promise.resolve({ kind: 'commit' });
  });
  return { events, started };
}

class RecordingNotifier implements TransitionNotifier {
  readonly transitions: AlarmTransition[] = [];
  drains = 0;
  notify(transition: AlarmTransition): void {
    this.transitions.push(transition);
  }
  drain(): Promise<void> {
    this.drains++;
    return Promise.resolve();
  }
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('AlertEngine over the in-process bus', () => {
  let server: WebhookServer;

  it('takes an alarm UNDETERMINED → ALARM → OK, notifies the webhook and publishes each transition', async () => {
    server = await startWebhookServer();
    cleanups.push(() => server.close());
    const bus = new MemoryBus({ capacity: 1000, maxBatch: 100 });
    const clock = testClock();
    const counters = new Counters();
    const definition = definitionFor({ description: 'CPU is busy', match_by: ['hostname'], webhooks: [server.url] });
    const notifier = new WebhookNotifier({ settings: { timeout_ms: 2000, max_attempts: 3, max_pending: 100, concurrency: 1, initial_delay_ms: 5, max_delay_ms: 50 }, counters });
    const engine = new AlertEngine({ consumer: bus.consumer('alerting'), producer: bus.producer(), definitions: [definition], notifier, counters, now: clock.now, evaluationIntervalMs: 5 });
    const reader = bus.consumer('persister');
    const { events, started } = readTransitions(reader);
    await started;
    cleanups.push(() => reader.stop());
    await engine.start();
    cleanups.push(() => engine.stop());
    const metrics = bus.producer();

    // Another tenant's measurement comes first and must not create the alarm.
    expect(await metrics.publish(TOPICS.metrics, [metricMessage('globex', 0, 99), { key: 'acme', value: 'not json' }])).toEqual(delivered);
    await vi.waitFor(() => expect(counters.get(ENGINE_COUNTERS.decodeErrors)).toBe(1), PATIENT);
    expect(engine.alarms()).toEqual([]);

    expect(await metrics.publish(TOPICS.metrics, [metricMessage('acme', 0, 95)])).toEqual(delivered);
    await vi.waitFor(() => expect(server.received).toHaveLength(1), PATIENT);
    expect(server.received[0]?.body).toMatchObject({ alarm_name: 'high-cpu', tenant_id: 'acme', old_state: 'UNDETERMINED', state: 'ALARM', alarm_timestamp: T0_MS / 1000 });

    clock.set(70);
    expect(await metrics.publish(TOPICS.metrics, [metricMessage('acme', 70, 10)])).toEqual(delivered);
    await vi.waitFor(() => expect(server.received).toHaveLength(2), PATIENT);
    expect(server.received[1]?.body).toMatchObject({ alarm_name: 'high-cpu', old_state: 'ALARM', state: 'OK', alarm_timestamp: T0_MS / 1000 + 70 });

    await vi.waitFor(() => expect(events).toHaveLength(2), PATIENT);
    expect(events.map((e) => [e.oldState, e.newState])).toEqual([
      ['UNDETERMINED', 'ALARM'],
      ['ALARM', 'OK'],
    ]);
    expect(events[0]).toMatchObject({
      tenantId: 'acme',
      alarmDefinitionId: definition.id,
      alarmName: 'high-cpu',
      alarmDescription: 'CPU is busy',
      severity: 'LOW',
      metrics: [{ name: 'cpu.percent', dimensions: { hostname: 'node-1' } }],
      timestamp: T0_MS,
      subAlarms: [{ subAlarmExpression: { function: 'AVG', operator: 'GT', threshold: 90, period: 60 }, subAlarmState: 'ALARM', currentValues: [95] }],
    });
    expect(events[1]?.alarmId).toBe(events[0]?.alarmId);
    expect(engine.alarms()).toMatchObject([{ tenantId: 'acme', matchBy: { hostname: 'node-1' }, state: 'OK' }]);
    expect(counters.get(ENGINE_COUNTERS.measurements)).toBe(3);
    expect(counters.get(ENGINE_COUNTERS.transitions, { state: 'ALARM' })).toBe(1);
    expect(counters.get(ENGINE_COUNTERS.transitions, { state: 'OK' })).toBe(1);
  });
});

describe('AlertEngine', () => {
  /** What the engine handed to the bus and was not told to retry (delivered or rejected). */
  const published = (producer: RecordingProducer): (readonly BusMessage[])[] => producer.attempts.filter((a) => a.outcome.kind !== 'retryable').map((a) => a.messages);

  async function engineWith(producer: BusProducer, definitions: readonly AlarmDefinition[] = [definitionFor({})], maxPendingTransitions?: number) {
    const bus = new MemoryBus({ capacity: 1000, maxBatch: 100 });
    const clock = testClock();
    const counters = new Counters();
    const notifier = new RecordingNotifier();
    const engine = new AlertEngine({ consumer: bus.consumer('alerting'), producer, definitions, notifier, counters, now: clock.now, evaluationIntervalMs: 5, maxPendingTransitions });
    await engine.start();
    cleanups.push(() => engine.stop());
    return { engine, counters, notifier, clock, bus, metrics: bus.producer() };
  }

  it('keeps transitions the bus asked to retry and publishes them with the next evaluation', async () => {
    const producer = new RecordingProducer([retryable('full', 1), retryable('full', 1)]);
    const { counters, notifier, metrics } = await engineWith(producer);
    await metrics.publish(TOPICS.metrics, [metricMessage('acme', 0, 95)]);
    await vi.waitFor(() => expect(published(producer)).toHaveLength(1), PATIENT);
    expect(counters.get(ENGINE_COUNTERS.publishRetries)).toBe(2);
    expect(published(producer)[0]?.map((m) => m.key)).toEqual(['acme']);
    expect(notifier.transitions.map((t) => t.newState)).toEqual(['ALARM']);
  });

  it('drops the oldest waiting transition when the outbox is full, and counts it', async () => {
    const producer = new RecordingProducer(Array.from({ length: 1000 }, () => retryable('down', 1)));
    const { counters, clock, metrics } = await engineWith(producer, [definitionFor({})], 1);
    await metrics.publish(TOPICS.metrics, [metricMessage('acme', 0, 95)]);
    await vi.waitFor(() => expect(counters.get(ENGINE_COUNTERS.transitions, { state: 'ALARM' })).toBe(1), PATIENT);
    clock.set(70);
    await metrics.publish(TOPICS.metrics, [metricMessage('acme', 70, 10)]);
    await vi.waitFor(() => expect(counters.get(ENGINE_COUNTERS.transitionsLost, { reason: 'outbox_full' })).toBe(1), PATIENT);
  });

  it('counts transitions the bus rejected and does not offer them again', async () => {
    const producer = new RecordingProducer([rejected('too large', [{ key: 'acme', value: '' }])]);
    const { counters, metrics } = await engineWith(producer);
    await metrics.publish(TOPICS.metrics, [metricMessage('acme', 0, 95)]);
    await vi.waitFor(() => expect(counters.get(ENGINE_COUNTERS.transitionsLost, { reason: 'rejected' })).toBe(1), PATIENT);
    expect(published(producer)).toHaveLength(1);
  });

  it('stops once: consumer, timer, then the notifier drained, and reads nothing after', async () => {
    const producer = new RecordingProducer();
    const { engine, counters, notifier, bus, metrics } = await engineWith(producer);
    const stopped = engine.stop();
    expect(engine.stop()).toBe(stopped);
    await stopped;
    expect(notifier.drains).toBe(1);
    await metrics.publish(TOPICS.metrics, [metricMessage('acme', 0, 95)]);
    // The message is on the bus and stays unread: nobody committed it.
    expect(bus.backlog(TOPICS.metrics)).toBe(1);
    expect(counters.get(ENGINE_COUNTERS.measurements)).toBe(0);
    expect(notifier.transitions).toEqual([]);
  });
});
