import { describe, expect, it } from 'vitest';
import { TOPICS } from './envelope.js';
import { delivered, rejected, retryable, type DeliveryOutcome } from './outcome.js';
import type { BusMessage } from './pipeline.js';
import { RecordingProducer } from './pipeline.testkit.js';

const message = (value: string): BusMessage => ({ key: 'tenant', value });

describe('RecordingProducer', () => {
  const cases: { name: string; script: DeliveryOutcome<BusMessage>[]; answers: DeliveryOutcome<BusMessage>['kind'][]; delivered: string[][] }[] = [
    { name: 'no script: every batch delivered', script: [], answers: ['delivered', 'delivered', 'delivered'], delivered: [['a'], ['b'], ['c']] },
    { name: 'a script first, then delivered', script: [retryable('full', 5), rejected('too large', [message('b')])], answers: ['retryable', 'rejected', 'delivered'], delivered: [['c']] },
    { name: 'delivered in the script is recorded like the rest', script: [delivered, retryable('full', 5)], answers: ['delivered', 'retryable', 'delivered'], delivered: [['a'], ['c']] },
  ];
  it.each(cases)('$name', async ({ script, answers, delivered: expected }) => {
    const producer = new RecordingProducer(script);
    const outcomes = [];
    for (const value of ['a', 'b', 'c']) outcomes.push(await producer.publish(TOPICS.metrics, [message(value)]));
    expect(outcomes.map((o) => o.kind)).toEqual(answers);
    expect(producer.batches(TOPICS.metrics).map((b) => b.map((m) => m.value))).toEqual(expected);
    expect(producer.attempts.map((a) => a.outcome.kind)).toEqual(answers);
    expect(producer.attempts.map((a) => a.messages.map((m) => m.value))).toEqual([['a'], ['b'], ['c']]);
  });

  it('keeps batches per topic', async () => {
    const producer = new RecordingProducer();
    await producer.publish(TOPICS.metrics, [message('m1'), message('m2')]);
    await producer.publish(TOPICS.deadLetter, [message('d1')]);
    await producer.publish(TOPICS.metrics, [message('m3')]);
    expect(producer.batches(TOPICS.metrics).map((b) => b.map((m) => m.value))).toEqual([['m1', 'm2'], ['m3']]);
    expect(producer.messages(TOPICS.deadLetter).map((m) => m.value)).toEqual(['d1']);
    expect(producer.messages(TOPICS.logs)).toEqual([]);
    expect(producer.messages().map((m) => m.value)).toEqual(['m1', 'm2', 'd1', 'm3']);
  });

  it('answers with a function when given one', async () => {
    const producer = new RecordingProducer((topic, messages) => (topic === TOPICS.deadLetter ? retryable('down', 1) : messages.length > 1 ? rejected('too many', [...messages]) : delivered));
    expect((await producer.publish(TOPICS.deadLetter, [message('a')])).kind).toBe('retryable');
    expect((await producer.publish(TOPICS.metrics, [message('b'), message('c')])).kind).toBe('rejected');
    expect((await producer.publish(TOPICS.metrics, [message('d')])).kind).toBe('delivered');
    expect(producer.messages().map((m) => m.value)).toEqual(['d']);
  });

  it('keeps a copy of each batch, not the caller array', async () => {
    const producer = new RecordingProducer();
    const batch = [message('a')];
    await producer.publish(TOPICS.metrics, batch);
    batch.push(message('b'));
    expect(producer.messages()).toEqual([message('a')]);
  });

  it('counts closes', async () => {
    const producer = new RecordingProducer();
    await producer.close();
    await producer.close();
    expect(producer.closeCalls).toBe(2);
  });
});
