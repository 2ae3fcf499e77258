import { describe, expect, it } from 'vitest';
import { delivered, rejected, retryable, type DeliveryOutcome } from '../../core/outcome.js';
import type { Health, Sink } from '../../core/pipeline.js';
import { RecordingSink } from '../../core/pipeline.testkit.js';
import { CoalescingSink } from './coalescingSink.js';

/** A sink whose deliveries wait until released, so that the test decides what overlaps. */
class GatedSink implements Sink<number> {
  readonly name = 'gated';
  readonly deliveries: number[][] = [];
  private releases: (() => void)[] = [];
  constructor(private readonly answer: (items: readonly number[]) => DeliveryOutcome<number> = () => delivered) {}
  deliver(items: readonly number[]): Promise<DeliveryOutcome<number>> {
    this.deliveries.push([...items]);
    return new Promise((resolve) => this.releases.push(() => resolve(this.answer(items))));
  }
  release(): void {
    for (const release of this.releases.splice(0)) release();
  }
  health(): Promise<Health> {
    return Promise.resolve({ healthy: true });
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const until = async (condition: () => boolean): Promise<void> => {
  for (let i = 0; i < 1000 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 1));
  expect(condition()).toBe(true);
};

describe('CoalescingSink', () => {
  it('delivers batches handed over together as one, and each caller hears delivered', async () => {
    const inner = new RecordingSink<number>();
    const sink = new CoalescingSink(inner, 100);
    const outcomes = await Promise.all([sink.deliver([1, 2]), sink.deliver([3]), sink.deliver([4, 5])]);
    expect(outcomes).toEqual([delivered, delivered, delivered]);
    expect(inner.batches).toEqual([[1, 2, 3, 4, 5]]);
  });

  it('joins the batches that arrive while a delivery is under way into the next one, up to maxItems', async () => {
    const inner = new GatedSink();
    const sink = new CoalescingSink(inner, 4);
    const first = sink.deliver([1]);
    await until(() => inner.deliveries.length === 1);
    const later = [sink.deliver([2, 3]), sink.deliver([4]), sink.deliver([5, 6])];
    inner.release();
    await first;
    await until(() => inner.deliveries.length === 2);
    inner.release();
    await until(() => inner.deliveries.length === 3);
    inner.release();
    expect(await Promise.all(later)).toEqual([delivered, delivered, delivered]);
    expect(inner.deliveries).toEqual([[1], [2, 3, 4], [5, 6]]);
  });

  it('gives every caller the retryable outcome of a delivery it was part of', async () => {
    const inner = new RecordingSink<number>([retryable('influxd is busy', 250)]);
    const sink = new CoalescingSink(inner, 100);
    expect(await Promise.all([sink.deliver([1]), sink.deliver([2])])).toEqual([retryable('influxd is busy', 250), retryable('influxd is busy', 250)]);
  });

  it('gives each caller only its own rejected items, and delivered when none of its items were refused', async () => {
    const inner = new RecordingSink<number>((items) => rejected('field type conflict', items.filter((i) => i % 2 === 0), items.length - 2));
    const sink = new CoalescingSink(inner, 100);
    const [a, b, c] = await Promise.all([sink.deliver([1, 2, 3]), sink.deliver([5, 7]), sink.deliver([4, 9])]);
    expect(a).toEqual(rejected('field type conflict', [2], 2));
    expect(b).toEqual(delivered);
    expect(c).toEqual(rejected('field type conflict', [4], 1));
  });

  it("passes a sink's throw (a bug) on to every caller of that delivery, and goes on with the next", async () => {
    let calls = 0;
    const inner: Sink<number> = { name: 'buggy', deliver: () => (calls++ === 0 ? Promise.reject(new Error('bug')) : Promise.resolve(delivered)), health: () => Promise.resolve({ healthy: true }), close: () => Promise.resolve() };
    const sink = new CoalescingSink(inner, 100);
    const results = await Promise.allSettled([sink.deliver([1]), sink.deliver([2])]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(await sink.deliver([3])).toEqual(delivered);
  });
});
