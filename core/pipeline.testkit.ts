import type { Topic } from './envelope.js';
import type { DeliveryOutcome } from './outcome.js';
import type { AssignmentListener, BatchVerdict, BusConsumer, BusMessage, BusProducer, ConsumedBatch, Health, Sink } from './pipeline.js';

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

/** One `publish` call to a RecordingProducer and what it answered. */
export interface PublishAttempt {
  readonly topic: Topic;
  readonly messages: readonly BusMessage[];
  readonly outcome: DeliveryOutcome<BusMessage>;
}

/** How a RecordingProducer answers when given a function rather than a script. */
export type PublishAnswer = (topic: Topic, messages: readonly BusMessage[]) => DeliveryOutcome<BusMessage>;

/**
 * A bus producer that answers from a script of outcomes, then `delivered`, and records
 * every call. `batches(topic)` and `messages(topic)` are what it answered `delivered` to,
 * in order; `attempts` has every call, retried and rejected ones too.
 */
export class RecordingProducer implements BusProducer {
  readonly attempts: PublishAttempt[] = [];
  closeCalls = 0;
  private readonly script: DeliveryOutcome<BusMessage>[] = [];
  private readonly decide: PublishAnswer | undefined;

  constructor(script: readonly DeliveryOutcome<BusMessage>[] | PublishAnswer = []) {
    if (typeof script === 'function') this.decide = script;
    else this.script.push(...script);
  }

  publish(topic: Topic, messages: readonly BusMessage[]): Promise<DeliveryOutcome<BusMessage>> {
    const outcome = this.decide ? this.decide(topic, messages) : (this.script.shift() ?? { kind: 'delivered' });
    this.attempts.push({ topic, messages: [...messages], outcome });
    return Promise.resolve(outcome);
  }

  /** The batches answered `delivered`, on `topic` (every topic when left out), in order. */
  batches(topic?: Topic): BusMessage[][] {
    return this.attempts.filter((a) => a.outcome.kind === 'delivered' && (topic === undefined || a.topic === topic)).map((a) => [...a.messages]);
  }

  /** The messages answered `delivered`, on `topic` (every topic when left out), in order. */
  messages(topic?: Topic): BusMessage[] {
    return this.batches(topic).flat();
  }

  close(): Promise<void> {
    this.closeCalls++;
    return Promise.resolve();
  }
}

/**
 * A consumer the test drives: it hands exactly the batches and assignments the test gives
 * to whatever `run` registered, and returns the handler's verdict. For the cases a real
 * bus makes hard to stage on cue: a batch read twice, a rebalance, a lagging partition.
 */
export class ScriptedConsumer implements BusConsumer {
  private handle: ((batch: ConsumedBatch) => Promise<BatchVerdict>) | undefined;
  private onAssignment: AssignmentListener | undefined;
  stopped = false;

  run(_topics: readonly Topic[], handle: (batch: ConsumedBatch) => Promise<BatchVerdict>, onAssignment?: AssignmentListener): Promise<void> {
    this.handle = handle;
    this.onAssignment = onAssignment;
    return Promise.resolve();
  }

  assign(topic: string, partitions: readonly number[]): void {
    this.onAssignment?.(new Map([[topic, partitions]]));
  }

  deliver(batch: ConsumedBatch): Promise<BatchVerdict> {
    if (!this.handle) throw new Error('ScriptedConsumer.deliver before run');
    return this.handle(batch);
  }

  health(): Health {
    return { healthy: true };
  }

  stop(): Promise<void> {
    this.stopped = true;
    return Promise.resolve();
  }
}

/**
 * Options for `vi.waitFor` in tests of asynchronous stages: its default gives up after
 * one second, which a loaded 2-core CI machine can spend before a timer even fires.
 */
export const PATIENT = { timeout: 10_000, interval: 10 } as const;
