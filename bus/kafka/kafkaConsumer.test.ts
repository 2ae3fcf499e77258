import type { Kafka } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { KafkaConsumer } from './kafkaConsumer.js';

/** Just enough of a kafkajs client to deliver the consumer's instrumentation events. */
function fakeKafka() {
  const listeners = new Map<string, (event: unknown) => void>();
  const events = { CRASH: 'consumer.crash', GROUP_JOIN: 'consumer.group_join' };
  const consumer = { events, on: (name: string, listener: (event: unknown) => void) => listeners.set(name, listener), disconnect: () => Promise.resolve() };
  const emit = (name: string, payload: unknown): void => listeners.get(name)?.({ payload });
  return { kafka: { consumer: () => consumer } as unknown as Kafka, emit, events };
}

describe('KafkaConsumer health', () => {
  it('is healthy, unhealthy after a crash (saying whether kafkajs restarts), healthy again once it rejoined its group', () => {
    const { kafka, emit, events } = fakeKafka();
    const crashes: [string, boolean][] = [];
    const consumer = new KafkaConsumer({ kafka, groupId: 'g', onCrash: (error, restart) => crashes.push([error.message, restart]) });
    expect(consumer.health()).toEqual({ healthy: true });

    emit(events.CRASH, { error: new Error('coordinator not available'), restart: true });
    expect(consumer.health()).toEqual({ healthy: false, reason: 'Kafka consumer crashed: coordinator not available (restarting)' });
    emit(events.GROUP_JOIN, {});
    expect(consumer.health()).toEqual({ healthy: true });

    emit(events.CRASH, { error: new Error('invalid request'), restart: false });
    expect(consumer.health()).toEqual({ healthy: false, reason: 'Kafka consumer crashed: invalid request (gave up; restart the process)' });
    expect(crashes).toEqual([['coordinator not available', true], ['invalid request', false]]);
  });

  it('is unhealthy once stopped', async () => {
    const { kafka } = fakeKafka();
    const consumer = new KafkaConsumer({ kafka, groupId: 'g' });
    await consumer.stop();
    expect(consumer.health()).toEqual({ healthy: false, reason: 'Kafka consumer stopped' });
  });
});
