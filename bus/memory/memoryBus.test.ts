import { describe, expect, it, vi } from 'vitest';
import { MemoryBus } from './memoryBus.js';
import { TOPICS } from '../../core/envelope.js';
import type { BatchVerdict, ConsumedBatch } from '../../core/pipeline.js';
import { PATIENT } from '../../core/pipeline.testkit.js';

const msgs = (n: number, from = 0) => Array.from({ length: n }, (_, i) => ({ key: 'k', value: `m${from + i}` }));

async function until(check: () => boolean): Promise<void> {
  await vi.waitFor(() => expect(check()).toBe(true), PATIENT);
}

describe('MemoryBus', () => {
  it('delivers to every group, in order, and commits per group', async () => {
    const bus = new MemoryBus({ capacity: 100, maxBatch: 3 });
    const seen: Record<string, string[]> = { a: [], b: [] };
    const consumers = ['a', 'b'].map((g) => bus.consumer(g));
    for (const [i, c] of consumers.entries()) {
      const group = i === 0 ? 'a' : 'b';
      await c.run([TOPICS.metrics], (batch) => {
        seen[group]?.push(...batch.messages.map((m) => m.value.toString()));
        return Promise.resolve({ kind: 'commit' });
      });
    }
    expect(await bus.producer().publish(TOPICS.metrics, msgs(7))).toEqual({ kind: 'delivered' });
    await until(() => seen['a']?.length === 7 && seen['b']?.length === 7);
    expect(seen['a']).toEqual(msgs(7).map((m) => m.value));
    await until(() => bus.backlog(TOPICS.metrics) === 0);
    await Promise.all(consumers.map((c) => c.stop()));
  });

  it('keeps what was published, byte for byte, though the producer reuses its buffers afterwards', async () => {
    const bus = new MemoryBus({ capacity: 100, maxBatch: 10 });
    const got: Buffer[] = [];
    const consumer = bus.consumer('g');
    await consumer.run([TOPICS.metrics], (batch) => {
      for (const m of batch.messages) got.push(Buffer.from(m.value));
      return Promise.resolve({ kind: 'commit' });
    });
    const reused = Buffer.from('first buffer');
    const published = [
      { key: 'a', value: reused },
      { key: 'b', value: 'texte accentué, 観測' },
      { key: 'c', value: '' },
      { key: 'd', value: Buffer.from([0, 255, 10]) },
    ];
    expect(await bus.producer().publish(TOPICS.metrics, published)).toEqual({ kind: 'delivered' });
    reused.fill(0x78);
    await until(() => got.length === 4);
    expect(got.map((b) => b.toString('hex'))).toEqual([Buffer.from('first buffer'), Buffer.from('texte accentué, 観測'), Buffer.alloc(0), Buffer.from([0, 255, 10])].map((b) => b.toString('hex')));
    await consumer.stop();
  });

  it("carries each message's key and headers, as Kafka does", async () => {
    const bus = new MemoryBus({ capacity: 100, maxBatch: 10 });
    const got: { key: string | null; headers: unknown }[] = [];
    const consumer = bus.consumer('g');
    await consumer.run([TOPICS.metrics], (batch) => {
      for (const m of batch.messages) got.push({ key: m.key, headers: m.headers });
      return Promise.resolve({ kind: 'commit' });
    });
    await bus.producer().publish(TOPICS.metrics, [{ key: 't/n1', value: '[]', headers: { 'kansoku-wire': 'batch-v1' } }, { key: 't/n2', value: '{}' }]);
    await until(() => got.length === 2);
    expect(got).toEqual([{ key: 't/n1', headers: { 'kansoku-wire': 'batch-v1' } }, { key: 't/n2', headers: undefined }]);
    await consumer.stop();
  });

  it('redelivers a batch the handler asked to retry, losing nothing', async () => {
    const bus = new MemoryBus({ capacity: 100, maxBatch: 10 });
    const deliveries: string[][] = [];
    let first = true;
    const consumer = bus.consumer('g');
    await consumer.run([TOPICS.metrics], (batch: ConsumedBatch): Promise<BatchVerdict> => {
      deliveries.push(batch.messages.map((m) => m.value.toString()));
      if (first) {
        first = false;
        return Promise.resolve({ kind: 'retry', delayMs: 1 });
      }
      return Promise.resolve({ kind: 'commit' });
    });
    await bus.producer().publish(TOPICS.metrics, msgs(3));
    await until(() => bus.backlog(TOPICS.metrics) === 0);
    expect(deliveries).toEqual([['m0', 'm1', 'm2'], ['m0', 'm1', 'm2']]);
    await consumer.stop();
  });

  it('answers retryable when a read topic is full (block policy)', async () => {
    const bus = new MemoryBus({ capacity: 5, maxBatch: 10 });
    const consumer = bus.consumer('slow');
    await consumer.run([TOPICS.metrics], () => Promise.resolve({ kind: 'retry', delayMs: 10_000 }));
    expect((await bus.producer().publish(TOPICS.metrics, msgs(5))).kind).toBe('delivered');
    const full = await bus.producer().publish(TOPICS.metrics, msgs(1, 5));
    expect(full.kind).toBe('retryable');
    await consumer.stop();
  });

  it('lets a fast group read past a slow one, and blocks once the slow one is capacity behind', async () => {
    const bus = new MemoryBus({ capacity: 10, maxBatch: 2 });
    const slow = bus.consumer('slow');
    await slow.run([TOPICS.metrics], () => Promise.resolve({ kind: 'retry', delayMs: 10_000 }));
    const seen: string[] = [];
    const fast = bus.consumer('fast');
    await fast.run([TOPICS.metrics], (batch) => {
      seen.push(...batch.messages.map((m) => m.value.toString()));
      return Promise.resolve({ kind: 'commit' });
    });
    const producer = bus.producer();
    expect((await producer.publish(TOPICS.metrics, msgs(3))).kind).toBe('delivered');
    await until(() => seen.length === 3);
    expect((await producer.publish(TOPICS.metrics, msgs(4, 3))).kind).toBe('delivered');
    await until(() => seen.length === 7);
    expect(seen).toEqual(msgs(7).map((m) => m.value));
    expect(bus.backlog(TOPICS.metrics)).toBe(7);
    expect((await producer.publish(TOPICS.metrics, msgs(4, 7))).kind).toBe('retryable');
    expect((await producer.publish(TOPICS.metrics, msgs(3, 7))).kind).toBe('delivered');
    expect(bus.droppedCount(TOPICS.metrics)).toBe(0);
    await Promise.all([slow.stop(), fast.stop()]);
  });

  it('moves a lagging group of a drop-oldest topic past what it lost', async () => {
    const reported: number[] = [];
    const bus = new MemoryBus({ capacity: 4, maxBatch: 10, dropOldestTopics: [TOPICS.logs], onDrop: (_topic, count) => reported.push(count) });
    let held = true;
    const seen: string[][] = [];
    const consumer = bus.consumer('lagging');
    await consumer.run([TOPICS.logs], (batch) => {
      seen.push(batch.messages.map((m) => m.value.toString()));
      return Promise.resolve(held ? { kind: 'retry', delayMs: 20 } : { kind: 'commit' });
    });
    const producer = bus.producer();
    await producer.publish(TOPICS.logs, msgs(3));
    await until(() => seen.length > 0);
    await producer.publish(TOPICS.logs, msgs(3, 3));
    await producer.publish(TOPICS.logs, msgs(1, 6));
    expect(reported).toEqual([2, 1]);
    expect(bus.backlog(TOPICS.logs)).toBe(4);
    held = false;
    await until(() => bus.backlog(TOPICS.logs) === 0);
    expect(seen.at(-1)).toEqual(['m3', 'm4', 'm5', 'm6']);
    await consumer.stop();
  });

  it('drops the oldest of a drop-oldest topic and counts them', async () => {
    const reported: [string, number][] = [];
    const bus = new MemoryBus({ capacity: 4, maxBatch: 10, dropOldestTopics: [TOPICS.logs], onDrop: (topic, count) => reported.push([topic, count]) });
    expect((await bus.producer().publish(TOPICS.logs, msgs(10))).kind).toBe('delivered');
    expect(bus.droppedCount(TOPICS.logs)).toBe(6);
    expect(reported).toEqual([[TOPICS.logs, 6]]);
    const seen: string[] = [];
    const consumer = bus.consumer('late');
    await consumer.run([TOPICS.logs], (batch) => {
      seen.push(...batch.messages.map((m) => m.value.toString()));
      return Promise.resolve({ kind: 'commit' });
    });
    await until(() => seen.length === 4);
    expect(seen).toEqual(['m6', 'm7', 'm8', 'm9']);
    await consumer.stop();
  });

  it('retries a batch whose handler threw, and reports the error', async () => {
    const errors: unknown[] = [];
    const bus = new MemoryBus({ capacity: 10, maxBatch: 10, onHandlerError: (e) => errors.push(e) });
    let calls = 0;
    const consumer = bus.consumer('g');
    await consumer.run([TOPICS.metrics], () => {
      calls++;
      if (calls === 1) throw new Error('bug');
      return Promise.resolve({ kind: 'commit' });
    });
    await bus.producer().publish(TOPICS.metrics, msgs(1));
    await until(() => calls === 2);
    await consumer.stop();
    expect(errors).toHaveLength(1);
    expect(bus.backlog(TOPICS.metrics)).toBe(0);
  });
});
