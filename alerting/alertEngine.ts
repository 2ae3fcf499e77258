import type { Logger } from 'pino';
import { BoundedQueue } from '../core/boundedQueue.js';
import { metricCodec } from '../core/codec.js';
import { unframe } from '../bus/wire.js';
import type { Counters } from '../core/counters.js';
import { TOPICS } from '../core/envelope.js';
import type { BatchVerdict, BusConsumer, BusMessage, BusProducer, ConsumedBatch } from '../core/pipeline.js';
import type { AlarmTransition } from './alarmState.js';
import { defaultEvaluationSettings, type AlarmDefinition } from './config.js';
import { Evaluator, type AlarmSnapshot, type EvaluatorLimits } from './evaluator.js';
import { TRANSITIONS_TOPIC, transitionMessage } from './transitionEvent.js';

/**
 * The alert stage: metrics from the bus feed the evaluator; every evaluation interval
 * the transitions go to the transitions topic and to the notifier. Metric offsets are
 * committed once a batch is in the evaluator's windows (alarm state is in memory in v0;
 * the full engine keeps it in SQLite). Transitions the bus cannot take yet wait in a
 * bounded outbox and go with the next evaluation.
 */

/** What the engine needs of a notifier: take a transition without waiting; drain at shutdown. */
export interface TransitionNotifier {
  notify(transition: AlarmTransition): void;
  drain(): Promise<void>;
}

export interface AlertEngineDeps {
  readonly consumer: BusConsumer;
  readonly producer: BusProducer;
  readonly definitions: readonly AlarmDefinition[];
  readonly notifier: TransitionNotifier;
  readonly counters: Counters;
  /** The evaluation clock: alarms are decided at `now()`, against measurement timestamps. */
  readonly now: () => number;
  readonly evaluationIntervalMs: number;
  /** Window, alarm and metric-list bounds; the schema's defaults when absent. */
  readonly limits?: EvaluatorLimits;
  /** Transitions waiting for the bus; drop-oldest when full. */
  readonly maxPendingTransitions?: number;
  readonly logger?: Logger;
}

export const ENGINE_COUNTERS = {
  measurements: 'kansoku_alerting_measurements_total',
  decodeErrors: 'kansoku_alerting_decode_errors_total',
  transitions: 'kansoku_alerting_transitions_total',
  /** Labelled reason=outbox_full|rejected|shutdown. */
  transitionsLost: 'kansoku_alerting_transitions_not_published_total',
  publishRetries: 'kansoku_alerting_transition_publish_retries_total',
  evaluationErrors: 'kansoku_alerting_evaluation_errors_total',
} as const;

const DEFAULT_MAX_PENDING_TRANSITIONS = 10_000;

export class AlertEngine {
  private readonly evaluator: Evaluator;
  private readonly outbox: BoundedQueue<BusMessage>;
  private timer: NodeJS.Timeout | undefined;
  private evaluating: Promise<void> | undefined;
  private started = false;
  private stopping = false;
  private stopped: Promise<void> | undefined;

  constructor(private readonly deps: AlertEngineDeps) {
    this.evaluator = new Evaluator(deps.definitions, deps.limits ?? defaultEvaluationSettings(), deps.counters);
    const { counters } = deps;
    // Full policy: drop-oldest, counted as outbox_full; the newest transitions say most about the alarms now.
    this.outbox = new BoundedQueue({
      capacity: deps.maxPendingTransitions ?? DEFAULT_MAX_PENDING_TRANSITIONS,
      whenFull: 'drop-oldest',
      onDrop: (count) => counters.add(ENGINE_COUNTERS.transitionsLost, { reason: 'outbox_full' }, count),
    });
    counters.describe(ENGINE_COUNTERS.measurements, 'Measurements read from the metrics topic.');
    counters.describe(ENGINE_COUNTERS.decodeErrors, 'Messages on the metrics topic that did not decode; skipped (the server dead-letters them).');
    counters.describe(ENGINE_COUNTERS.transitions, 'Alarm state transitions, by new state.');
    counters.describe(ENGINE_COUNTERS.transitionsLost, 'Transitions never published to the transitions topic.');
    counters.describe(ENGINE_COUNTERS.publishRetries, 'Times the bus asked to retry publishing transitions; they waited for the next evaluation.');
    counters.describe(ENGINE_COUNTERS.evaluationErrors, 'Evaluations that failed with a bug; the next interval runs again.');
  }

  async start(): Promise<void> {
    if (this.started) throw new Error('AlertEngine.start called twice');
    this.started = true;
    await this.deps.consumer.run([TOPICS.metrics], this.handle);
    this.schedule();
    this.deps.logger?.info({ definitions: this.deps.definitions.length, evaluationIntervalMs: this.deps.evaluationIntervalMs }, 'alert engine started');
  }

  /** Runs once, in reverse order of intake: stop reading, stop evaluating, publish what waits, drain the notifier. */
  stop(): Promise<void> {
    this.stopped ??= this.runStop();
    return this.stopped;
  }

  /** The evaluator's alarms, for tests and, later, the alarms API. */
  alarms(): AlarmSnapshot[] {
    return this.evaluator.snapshot();
  }

  private async runStop(): Promise<void> {
    this.stopping = true;
    await this.deps.consumer.stop();
    clearTimeout(this.timer);
    await this.evaluating;
    await this.publishOutbox();
    // Removed rather than cleared: the outbox's onDrop counts outbox_full, and these are lost to shutdown.
    const unpublished = this.outbox.length;
    this.outbox.remove(unpublished);
    if (unpublished > 0) this.deps.counters.add(ENGINE_COUNTERS.transitionsLost, { reason: 'shutdown' }, unpublished);
    await this.deps.notifier.drain();
    this.deps.logger?.info({ transitions: this.deps.counters.total(ENGINE_COUNTERS.transitions) }, 'alert engine stopped');
  }

  private readonly handle = (batch: ConsumedBatch): Promise<BatchVerdict> => {
    let measurements = 0;
    for (const message of batch.messages) {
      // Batched and Monasca messages alike, per message.
      const decoded = unframe(message.value, message.headers, metricCodec);
      if (!decoded.ok) {
        this.deps.counters.add(ENGINE_COUNTERS.decodeErrors);
        continue;
      }
      if (decoded.invalid.length > 0) this.deps.counters.add(ENGINE_COUNTERS.decodeErrors, {}, decoded.invalid.length);
      for (const envelope of decoded.records) {
        measurements++;
        this.evaluator.ingest(envelope.meta.tenantId, envelope.metric);
      }
    }
    this.deps.counters.add(ENGINE_COUNTERS.measurements, {}, measurements);
    return Promise.resolve({ kind: 'commit' });
  };

  /** A chain of timeouts rather than an interval: an evaluation never overlaps the one before. */
  private schedule(): void {
    if (this.stopping) return;
    this.timer = setTimeout(() => {
      this.evaluating = this.evaluate().finally(() => this.schedule());
    }, this.deps.evaluationIntervalMs);
    this.timer.unref();
  }

  private async evaluate(): Promise<void> {
    try {
      const transitions = this.evaluator.evaluate(this.deps.now());
      for (const transition of transitions) {
        this.deps.counters.add(ENGINE_COUNTERS.transitions, { state: transition.newState });
        this.deps.notifier.notify(transition);
        this.outbox.push(transitionMessage(transition));
      }
      await this.publishOutbox();
    } catch (error) {
      // A bug, not an outcome: count and log it, and keep evaluating rather than crash the process.
      this.deps.counters.add(ENGINE_COUNTERS.evaluationErrors);
      this.deps.logger?.error({ err: error }, 'alarm evaluation failed');
    }
  }

  private async publishOutbox(): Promise<void> {
    if (this.outbox.length === 0) return;
    // Peeked, not taken: they leave the outbox only once the bus has answered for them.
    const messages = this.outbox.peek(this.outbox.length);
    const outcome = await this.deps.producer.publish(TRANSITIONS_TOPIC, messages);
    // Retryable: everything stays for the next evaluation, which is the backoff.
    if (outcome.kind === 'retryable') {
      this.deps.counters.add(ENGINE_COUNTERS.publishRetries);
      return;
    }
    this.outbox.remove(messages.length);
    if (outcome.kind === 'rejected') this.deps.counters.add(ENGINE_COUNTERS.transitionsLost, { reason: 'rejected' }, outcome.items.length);
  }
}
