import { rejected, type DeliveryOutcome } from '../../core/outcome.js';
import type { Health, Sink } from '../../core/pipeline.js';

/**
 * Joins the batches of partitions consumed at once into one delivery, so that the store
 * gets few large writes instead of many small ones. A Kafka fetch often holds one small
 * batch per partition (librdkafka's mock cluster answers every fetch so; a real broker
 * does when a consumer keeps up); written as they come, they made InfluxDB requests of
 * ~500 points, where InfluxDB is at its best near 5,000.
 *
 * A delivery starts at once when none is under way (after one turn of the event loop, so
 * that batches of the same fetch join it); batches that arrive while one is under way wait
 * and go together in the next, up to `maxItems`. Each caller gets the outcome of its own
 * items: delivered, the same retryable, or rejected with only its own rejected items.
 * What waits here is bounded by the callers, each of which awaits its delivery: at most
 * one batch per partition consumed at once.
 */
export class CoalescingSink<T> implements Sink<T> {
  readonly name: string;
  private waiting: { readonly items: readonly T[]; readonly settle: (outcome: DeliveryOutcome<T>) => void; readonly fail: (error: unknown) => void }[] = [];
  private running: Promise<void> | undefined;

  /** `onDelivery` is told the size of each joint delivery and how many batches it joined (self-metrics). */
  constructor(
    private readonly sink: Sink<T>,
    private readonly maxItems: number,
    private readonly onDelivery?: (items: number, batches: number) => void,
  ) {
    this.name = sink.name;
  }

  deliver(items: readonly T[]): Promise<DeliveryOutcome<T>> {
    return new Promise((settle, fail) => {
      this.waiting.push({ items, settle, fail });
      this.running ??= this.run().finally(() => {
        this.running = undefined;
      });
    });
  }

  health(): Promise<Health> {
    return this.sink.health();
  }

  async close(): Promise<void> {
    await this.running;
    await this.sink.close();
  }

  private async run(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (this.waiting.length > 0) {
      const group = this.takeGroup();
      const all: T[] = [];
      for (const { items } of group) for (const item of items) all.push(item);
      this.onDelivery?.(all.length, group.length);
      let outcome: DeliveryOutcome<T>;
      try {
        outcome = await this.sink.deliver(all);
      } catch (error) {
        // A sink throws only on a bug: every caller hears of it, as it would without this wrapper.
        for (const { fail } of group) fail(error);
        continue;
      }
      for (const member of group) member.settle(shareOf(outcome, member.items));
    }
  }

  /** The oldest waiting batches, as many as fit in `maxItems` (at least one). */
  private takeGroup(): typeof this.waiting {
    let count = 0;
    let taken = 0;
    while (taken < this.waiting.length) {
      const size = this.waiting[taken]?.items.length ?? 0;
      if (taken > 0 && count + size > this.maxItems) break;
      count += size;
      taken++;
    }
    return this.waiting.splice(0, taken);
  }
}

/** One caller's part of a joint outcome. */
function shareOf<T>(outcome: DeliveryOutcome<T>, items: readonly T[]): DeliveryOutcome<T> {
  if (outcome.kind !== 'rejected') return outcome;
  const refused = new Set(outcome.items);
  const mine = items.filter((item) => refused.has(item));
  return mine.length === 0 ? { kind: 'delivered' } : rejected(outcome.reason, mine, items.length - mine.length);
}
