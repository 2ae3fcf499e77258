import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { metricCodec } from '../../core/codec.js';
import type { Counters } from '../../core/counters.js';
import { TOPICS } from '../../core/envelope.js';
import type { BatchVerdict, BusConsumer, BusMessage, BusProducer, ConsumedBatch } from '../../core/pipeline.js';
import { BoundedQueue } from '../../core/boundedQueue.js';
import { unframe } from '../../bus/wire.js';
import { AlarmEvaluator, type EvaluatedTransition } from '../evaluation/alarmEvaluator.js';
import type { AlarmRecord, AlarmStore, AlarmWindowsRecord, NewDelivery } from '../store/alarmStore.js';
import { transitionMessage } from '../transitionEvent.js';

/**
 * The alert engine: metrics from the bus into the evaluator, decisions every tick, and
 * every change made durable in the store before anything is acknowledged.
 *
 * - A batch of the metrics topic is ingested, then the alarms it changed (windows included)
 *   are written with the partition's next offset in one store transaction, and only then
 *   is the Kafka offset committed. A replica that takes the partition over restores the
 *   alarms from the store and skips messages below the stored offset, so no measurement is
 *   counted twice or lost: window state is rebuilt from the store, not from the topic,
 *   because a window can span two weeks of data that the topic may no longer hold.
 * - Every tick the evaluator decides the alarms whose views closed. Transitions, the alarms
 *   and the notifications they call for are written in one transaction; each transition is
 *   a compare-and-set on the stored state, so a replica with a stale view (a rebalance in
 *   flight, a state set through the API) cannot make a false one. Then the transitions go
 *   to the alarm-state-transitions topic in Monasca's event shape.
 * - Replicas split the work by partition: alarms belong to the partition that created
 *   them. A partition just assigned is restored from the store, and its alarms are not
 *   decided until the consumer has caught up with it (or `catchUpTimeoutMs` passed), so the
 *   backlog of a dead replica cannot look like missing data.
 * - Definitions are re-read whenever the store's revision moves (polled), so a created,
 *   changed or deleted definition takes effect on every replica within seconds.
 */

export interface AlarmEngineOptions {
  /** Evaluations run at least this often… */
  readonly tickMs: number;
  /**
   * …and, when set, also at the instant each view closes, so a transition waits for no
   * tick; periodic checkpoints then also keep out of the way of a close. Off for tests that
   * drive the clock by hand.
   */
  readonly evaluateAtClose?: boolean;
  readonly delayMs: number;
  readonly definitionsPollMs: number;
  readonly catchUpTimeoutMs: number;
  /** Windows and offsets are written this often (0: after every batch); transitions at once. */
  readonly checkpointIntervalMs: number;
  readonly maxAlarms: number;
  readonly maxMetricsPerAlarm: number;
  /** Transitions waiting for the bus; drop-oldest when full (they are in the store already). */
  readonly maxPendingTransitions: number;
}

export interface AlarmEngineDeps {
  readonly consumer: BusConsumer;
  readonly producer: BusProducer;
  readonly store: AlarmStore;
  readonly counters: Counters;
  readonly now: () => number;
  readonly options: AlarmEngineOptions;
  readonly logger?: Logger;
}

export const ENGINE_COUNTERS = {
  measurements: 'kansoku_alerting_measurements_total',
  redelivered: 'kansoku_alerting_measurements_redelivered_total',
  decodeErrors: 'kansoku_alerting_decode_errors_total',
  transitions: 'kansoku_alerting_transitions_total',
  transitionsSkipped: 'kansoku_alerting_transitions_skipped_total',
  transitionsNotPublished: 'kansoku_alerting_transitions_not_published_total',
  checkpointErrors: 'kansoku_alerting_checkpoint_errors_total',
  seeks: 'kansoku_alerting_seeks_total',
  evaluationErrors: 'kansoku_alerting_evaluation_errors_total',
  definitionReloads: 'kansoku_alerting_definition_reloads_total',
} as const;

/** How far from a view's close a periodic checkpoint keeps. */
const CLOSE_MARGIN_MS = 100;

interface PartitionStatus {
  /** The next offset this replica reads: the store's at load, then past each batch. Null: the store has none yet. */
  position: bigint | null;
  /** Whether the store holds an offset for the partition. */
  stored: boolean;
  /** Alarms are decided only once the consumer caught up (or the deadline passed). */
  live: boolean;
  readonly assignedAtMs: number;
}

export class AlarmEngine {
  readonly evaluator: AlarmEvaluator;
  private readonly partitions = new Map<number, PartitionStatus>();
  /** Next offsets read past what the store holds, per partition; written by the next checkpoint. */
  private readonly unstoredOffsets = new Map<number, string>();
  private checkpointTimer: NodeJS.Timeout | undefined;
  /** How long the last periodic checkpoint took (wall ms), to keep the next one clear of a view closing. */
  private lastCheckpointMs = 0;
  private assigned: ReadonlySet<number> | undefined;
  private readonly outbox: BoundedQueue<BusMessage>;
  /** One store write at a time: ingest checkpoints and evaluations must not interleave. */
  private chain: Promise<unknown> = Promise.resolve();
  private tickTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private revision = -1;
  private stopping = false;
  private stopped: Promise<void> | undefined;

  constructor(private readonly deps: AlarmEngineDeps) {
    const { counters, options } = deps;
    this.evaluator = new AlarmEvaluator({ delayMs: options.delayMs, maxAlarms: options.maxAlarms, maxMetricsPerAlarm: options.maxMetricsPerAlarm }, counters);
    this.outbox = new BoundedQueue({
      capacity: options.maxPendingTransitions,
      whenFull: 'drop-oldest',
      onDrop: (count) => counters.add(ENGINE_COUNTERS.transitionsNotPublished, { reason: 'outbox_full' }, count),
    });
    counters.describe(ENGINE_COUNTERS.measurements, 'Measurements read from the metrics topic.');
    counters.describe(ENGINE_COUNTERS.redelivered, 'Measurements read again after a restart or rebalance that the store already held; skipped.');
    counters.describe(ENGINE_COUNTERS.decodeErrors, 'Messages on the metrics topic that did not decode; skipped (the server dead-letters them).');
    counters.describe(ENGINE_COUNTERS.transitions, 'Alarm state transitions recorded, by new state.');
    counters.describe(ENGINE_COUNTERS.transitionsSkipped, 'Transitions not recorded because the stored state had moved (another replica or the API).');
    counters.describe(ENGINE_COUNTERS.transitionsNotPublished, 'Recorded transitions never published to the transitions topic.');
    counters.describe(ENGINE_COUNTERS.seeks, 'Batches handed over past the stored offset (after a takeover); the partition was read again from it.');
    counters.describe(ENGINE_COUNTERS.checkpointErrors, 'Store writes that failed; the batch or evaluation is retried.');
    counters.describe(ENGINE_COUNTERS.evaluationErrors, 'Evaluations that failed with a bug; the next tick runs again.');
    counters.describe(ENGINE_COUNTERS.definitionReloads, 'Times the definitions were re-read after the store revision moved.');
  }

  async start(): Promise<void> {
    await this.reloadDefinitions();
    await this.deps.consumer.run([TOPICS.metrics], this.handle, (assignment) => {
      const partitions = assignment.get(TOPICS.metrics) ?? [];
      void this.serially(() => this.assign(partitions));
    });
    this.scheduleTick();
    this.schedulePoll();
    this.scheduleCheckpoint();
    this.deps.logger?.info({ definitions: this.evaluator.definitionCount, tickMs: this.deps.options.tickMs }, 'alert engine started');
  }

  /** Runs once: stop reading, let the last write finish, publish what waits. */
  stop(): Promise<void> {
    this.stopped ??= this.runStop();
    return this.stopped;
  }

  /** Evaluates now, out of the timer's turn (tests and benchmarks drive the clock). */
  evaluateNow(): Promise<EvaluatedTransition[]> {
    return this.serially(() => this.evaluate());
  }

  /** Re-reads the definitions now if the revision moved. */
  refreshDefinitions(): Promise<void> {
    return this.serially(() => this.reloadDefinitions());
  }

  private async runStop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.tickTimer);
    clearTimeout(this.pollTimer);
    clearTimeout(this.checkpointTimer);
    await this.deps.consumer.stop();
    await this.chain.catch(() => undefined);
    // What was read since the last checkpoint, so a successor need not read it again.
    await this.serially(() => this.checkpoint([], this.deps.now())).catch(() => undefined);
    await this.publishOutbox();
    const left = this.outbox.length;
    this.outbox.remove(left);
    if (left > 0) this.deps.counters.add(ENGINE_COUNTERS.transitionsNotPublished, { reason: 'shutdown' }, left);
    this.deps.logger?.info({ alarms: this.evaluator.alarmCount }, 'alert engine stopped');
  }

  private serially<T>(work: () => Promise<T>): Promise<T> {
    const next = this.chain.then(work, work);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async assign(partitions: readonly number[]): Promise<void> {
    const keep = new Set(partitions);
    this.assigned = keep;
    this.evaluator.dropPartitions((p) => keep.has(p));
    // What was read of a revoked partition since its last checkpoint is dropped, not written: its
    // new owner may already have written newer state, and it reads the rest again from the store's offset.
    for (const p of [...this.partitions.keys()]) if (!keep.has(p)) this.partitions.delete(p);
    for (const p of [...this.unstoredOffsets.keys()]) if (!keep.has(p)) this.unstoredOffsets.delete(p);
    for (const p of partitions) await this.load(p);
    this.deps.logger?.info({ partitions }, 'alert engine assigned partitions');
  }

  private async load(partition: number): Promise<PartitionStatus> {
    const known = this.partitions.get(partition);
    if (known) return known;
    const state = await this.deps.store.loadPartition(partition);
    const nowMs = this.deps.now();
    this.evaluator.restore(state.alarms, nowMs);
    const status: PartitionStatus = { position: state.offset === null ? null : BigInt(state.offset), stored: state.offset !== null, live: false, assignedAtMs: nowMs };
    this.partitions.set(partition, status);
    return status;
  }

  private readonly handle = (batch: ConsumedBatch): Promise<BatchVerdict> =>
    this.serially(async () => {
      if (this.assigned && !this.assigned.has(batch.partition)) {
        // A batch fetched before a rebalance took the partition away: its new owner reads it again.
        return { kind: 'retry', delayMs: 1000 } as const;
      }
      const status = await this.load(batch.partition);
      const first = batch.messages[0];
      if (first !== undefined && status.position !== null && BigInt(first.offset) > status.position) {
        // Kafka's committed offset ran ahead of the store's (checkpoints are periodic): read from the store's.
        this.deps.counters.add(ENGINE_COUNTERS.seeks);
        return { kind: 'seek', offset: status.position.toString() } as const;
      }
      const nowMs = this.deps.now();
      let measurements = 0;
      let redelivered = 0;
      let lastOffset: string | undefined;
      for (const message of batch.messages) {
        lastOffset = message.offset;
        if (status.position !== null && BigInt(message.offset) < status.position) {
          redelivered++;
          continue;
        }
        const decoded = unframe(message.value, message.headers, metricCodec);
        if (!decoded.ok) {
          this.deps.counters.add(ENGINE_COUNTERS.decodeErrors);
          continue;
        }
        if (decoded.invalid.length > 0) this.deps.counters.add(ENGINE_COUNTERS.decodeErrors, {}, decoded.invalid.length);
        for (const envelope of decoded.records) {
          measurements++;
          this.evaluator.ingest(envelope.meta.tenantId, envelope.metric, batch.partition, nowMs);
        }
      }
      this.deps.counters.add(ENGINE_COUNTERS.measurements, {}, measurements);
      if (redelivered > 0) this.deps.counters.add(ENGINE_COUNTERS.redelivered, {}, redelivered);
      if (batch.lag === 0 || nowMs - status.assignedAtMs >= this.deps.options.catchUpTimeoutMs) status.live = true;
      if (lastOffset === undefined) return { kind: 'commit' } as const;
      status.position = BigInt(lastOffset) + 1n;
      this.unstoredOffsets.set(batch.partition, status.position.toString());
      const pending = this.evaluator.takePending();
      // At once: when checkpoints are per batch, for a partition the store has no offset of
      // yet (there is nothing to seek back to), and for transitions a backlog made.
      if (this.deps.options.checkpointIntervalMs > 0 && status.stored && pending.length === 0) return { kind: 'commit' } as const;
      const recorded = await this.checkpoint(pending, nowMs);
      // The windows hold the batch but the store does not: the retry starts again from the store.
      return recorded ? ({ kind: 'commit' } as const) : ({ kind: 'retry', delayMs: 1000 } as const);
    });

  private forget(partition: number): void {
    this.partitions.delete(partition);
    this.evaluator.dropPartitions((p) => p !== partition);
  }

  private async evaluate(): Promise<EvaluatedTransition[]> {
    const nowMs = this.deps.now();
    for (const [p, status] of this.partitions) {
      if (!status.live && nowMs - status.assignedAtMs >= this.deps.options.catchUpTimeoutMs) {
        status.live = true;
        this.deps.logger?.info({ partition: p }, 'partition live by deadline (no batch said the consumer caught up)');
      }
    }
    const transitions = this.evaluator.evaluate(nowMs, (partition) => this.partitions.get(partition)?.live === true);
    if (transitions.length === 0) return [];
    // Only the transitions and the rows they need: windows and offsets go with the next checkpoint.
    return (await this.record({ offsets: new Map(), alarms: this.evaluator.unstoredRows(transitions) }, transitions, nowMs)) ?? [];
  }

  /** Everything not yet in the store: offsets read, changed alarms with their windows, and `transitions`. */
  private async checkpoint(transitions: readonly EvaluatedTransition[], nowMs: number): Promise<EvaluatedTransition[] | null> {
    const offsets = new Map(this.unstoredOffsets);
    const recorded = await this.record({ offsets, ...this.evaluator.takeChanged() }, transitions, nowMs);
    if (recorded === null) return null;
    for (const [partition, offset] of offsets) {
      if (this.unstoredOffsets.get(partition) === offset) this.unstoredOffsets.delete(partition);
      const status = this.partitions.get(partition);
      if (status) status.stored = true;
    }
    return recorded;
  }

  /**
   * One store transaction for offsets, alarms, transitions and their notifications; then
   * the transitions that applied go to the bus. Null when the store failed: the evaluator
   * is ahead of the store, so the partitions are reloaded from it (and their batches
   * sought back to the stored offsets).
   */
  private async record(
    rows: { offsets: ReadonlyMap<number, string>; alarms: readonly AlarmRecord[]; windows?: readonly AlarmWindowsRecord[] },
    transitions: readonly EvaluatedTransition[],
    nowMs: number,
  ): Promise<EvaluatedTransition[] | null> {
    const { offsets, alarms, windows = [] } = rows;
    if (offsets.size === 0 && transitions.length === 0 && alarms.length === 0 && windows.length === 0) return [];
    const deliveries = transitions.flatMap((t) => deliveriesFor(t, nowMs));
    let skipped: ReadonlySet<string>;
    try {
      const result = await this.deps.store.checkpoint({ offsets, alarms, windows, transitions: transitions.map((t) => t.record), deliveries });
      skipped = new Set(result.skippedTransitions);
    } catch (error) {
      this.deps.counters.add(ENGINE_COUNTERS.checkpointErrors);
      this.deps.logger?.error({ err: error }, 'alarm state could not be stored; reloading the partitions from the store');
      this.unstoredOffsets.clear();
      for (const p of [...this.partitions.keys()]) this.forget(p);
      if (this.assigned) for (const p of this.assigned) await this.load(p).catch(() => undefined);
      return null;
    }
    const recorded: EvaluatedTransition[] = [];
    for (const transition of transitions) {
      if (skipped.has(transition.record.id)) {
        this.deps.counters.add(ENGINE_COUNTERS.transitionsSkipped);
        await this.resync(transition);
        continue;
      }
      recorded.push(transition);
      this.deps.counters.add(ENGINE_COUNTERS.transitions, { state: transition.record.newState });
      this.outbox.push(transitionMessage(transition));
    }
    await this.publishOutbox();
    return recorded;
  }

  /** The store's state won over ours (the API or another replica set it): take it. */
  private async resync(transition: EvaluatedTransition): Promise<void> {
    const stored = await this.deps.store.getAlarm(transition.record.tenantId, transition.record.alarmId);
    if (stored) this.evaluator.applyState(stored.id, stored.state, stored.stateUpdatedAtMs);
  }

  private async publishOutbox(): Promise<void> {
    if (this.outbox.length === 0) return;
    const messages = this.outbox.peek(this.outbox.length);
    const outcome = await this.deps.producer.publish(TOPICS.alarmTransitions, messages);
    if (outcome.kind === 'retryable') return; // they wait for the next tick
    this.outbox.remove(messages.length);
    if (outcome.kind === 'rejected') this.deps.counters.add(ENGINE_COUNTERS.transitionsNotPublished, { reason: 'rejected' }, outcome.items.length);
  }

  private async reloadDefinitions(): Promise<void> {
    const revision = await this.deps.store.definitionsRevision();
    if (revision === this.revision) return;
    const definitions = await this.deps.store.allDefinitions();
    this.evaluator.setDefinitions(definitions, this.deps.now());
    this.revision = revision;
    this.deps.counters.add(ENGINE_COUNTERS.definitionReloads);
  }

  private scheduleCheckpoint(afterMs = this.deps.options.checkpointIntervalMs, deferred = false): void {
    if (this.stopping || this.deps.options.checkpointIntervalMs === 0) return;
    this.checkpointTimer = setTimeout(() => {
      // A checkpoint blocks the store (and, on SQLite, the thread) for a while: one that would
      // still run when a view closes waits until just after the close's evaluation (once: a
      // checkpoint longer than the period still runs).
      const nowMs = this.deps.now();
      const untilCloseMs = this.deps.options.evaluateAtClose === true ? this.evaluator.nextCloseAfter(nowMs) - nowMs : Number.POSITIVE_INFINITY;
      if (!deferred && untilCloseMs < this.lastCheckpointMs * 1.5 + CLOSE_MARGIN_MS) {
        this.scheduleCheckpoint(untilCloseMs + CLOSE_MARGIN_MS, true);
        return;
      }
      const startedMs = performance.now();
      this.serially(() => this.checkpoint([], this.deps.now()))
        .catch((error: unknown) => this.deps.logger?.error({ err: error }, 'alarm checkpoint failed'))
        .finally(() => {
          this.lastCheckpointMs = performance.now() - startedMs;
          this.scheduleCheckpoint();
        });
    }, afterMs);
    this.checkpointTimer.unref();
  }

  /** Writes what is not yet in the store now, out of the timer's turn (tests). */
  checkpointNow(): Promise<void> {
    return this.serially(async () => {
      await this.checkpoint([], this.deps.now());
    });
  }

  private scheduleTick(): void {
    if (this.stopping) return;
    const { tickMs, evaluateAtClose } = this.deps.options;
    const nowMs = this.deps.now();
    const afterMs = evaluateAtClose === true ? Math.max(0, Math.min(tickMs, this.evaluator.nextCloseAfter(nowMs) - nowMs)) : tickMs;
    this.tickTimer = setTimeout(() => {
      this.serially(() => this.evaluate())
        .catch((error: unknown) => {
          this.deps.counters.add(ENGINE_COUNTERS.evaluationErrors);
          this.deps.logger?.error({ err: error }, 'alarm evaluation failed');
        })
        .finally(() => this.scheduleTick());
    }, afterMs);
    this.tickTimer.unref();
  }

  private schedulePoll(): void {
    if (this.stopping) return;
    this.pollTimer = setTimeout(() => {
      this.serially(() => this.reloadDefinitions())
        .catch((error: unknown) => this.deps.logger?.warn({ err: error }, 'alarm definitions could not be re-read; trying again'))
        .finally(() => this.schedulePoll());
    }, this.deps.options.definitionsPollMs);
    this.pollTimer.unref();
  }
}

/** One delivery per action of the new state's list, when the definition's actions are enabled. */
function deliveriesFor(transition: EvaluatedTransition, nowMs: number): NewDelivery[] {
  const { definition, record } = transition;
  if (!definition.actionsEnabled) return [];
  const actions = record.newState === 'ALARM' ? definition.alarmActions : record.newState === 'OK' ? definition.okActions : definition.undeterminedActions;
  return actions.map((methodId) => ({
    id: randomUUID(),
    tenantId: record.tenantId,
    transitionId: record.id,
    alarmId: record.alarmId,
    methodId,
    kind: 'transition' as const,
    dueAtMs: nowMs,
    attempts: 0,
    claims: 0,
    lastError: null,
  }));
}
