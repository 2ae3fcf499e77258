import type { DeliveryOutcome } from './outcome.js';
import type { Health, Sink } from './pipeline.js';

/** A sink that keeps what it was given; answers from a script of outcomes, then `delivered`. */
export class RecordingSink<T> implements Sink<T> {
  readonly name = 'recording';
  readonly batches: T[][] = [];
  private readonly script: DeliveryOutcome<T>[];

  constructor(script: DeliveryOutcome<T>[] | ((batch: readonly T[]) => DeliveryOutcome<T>) = []) {
    this.script = Array.isArray(script) ? [...script] : [];
    if (!Array.isArray(script)) this.decide = script;
  }

  private decide: ((batch: readonly T[]) => DeliveryOutcome<T>) | undefined;

  get items(): T[] {
    return this.batches.flat();
  }

  deliver(batch: readonly T[]): Promise<DeliveryOutcome<T>> {
    const outcome = this.decide ? this.decide(batch) : (this.script.shift() ?? { kind: 'delivered' });
    if (outcome.kind === 'delivered') this.batches.push([...batch]);
    return Promise.resolve(outcome);
  }

  health(): Promise<Health> {
    return Promise.resolve({ healthy: true });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * Options for `vi.waitFor` in tests of asynchronous stages: its default gives up after
 * one second, which a loaded 2-core CI machine can spend before a timer even fires.
 */
export const PATIENT = { timeout: 10_000, interval: 10 } as const;
