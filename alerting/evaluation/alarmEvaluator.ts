import { randomUUID } from 'node:crypto';
import type { Counters } from '../../core/counters.js';
import type { Metric } from '../../core/envelope.js';
import type { MetricDefinition } from '../../core/query.js';
import { seriesKey } from '../../core/seriesKey.js';
import type { AlarmState } from '../alarmState.js';
import { stableId } from '../ids.js';
import { encodeSubAlarms, type AlarmDefinitionRecord, type AlarmRecord, type AlarmTransitionRecord, type AlarmWindowsRecord, type SubAlarmRecord } from '../store/alarmStore.js';
import { combineStates, compileDefinition, type CompiledDefinition } from './compiledDefinition.js';
import { SubAlarm } from './subAlarm.js';

/**
 * Streaming evaluation of Monasca alarm definitions, pure: measurements come in with
 * `ingest`, time only as `evaluate(nowMs)`'s argument, durable state goes out through
 * `takeChanged` and comes back through `restore`.
 *
 * An alarm is one definition × one set of match_by values. The first matching measurement
 * creates it (UNDETERMINED, or OK when every sub-expression is deterministic); creation is
 * not a transition, as in Monasca. A measurement that lacks a match_by dimension feeds no
 * alarm of that definition. An alarm is owned by the partition of the metrics topic that
 * created it, so replicas that split the partitions split the alarms.
 */

export interface EvaluatorOptions {
  /** How long after a slot ends its data is still waited for before the view is decided. */
  readonly delayMs: number;
  /** Alarms past this are not created (match_by can fan out); counted. */
  readonly maxAlarms: number;
  /** Metrics listed on one alarm (Monasca's alarm.metrics); counted past it. */
  readonly maxMetricsPerAlarm: number;
}

export const EVALUATOR_COUNTERS = {
  tooOld: 'kansoku_alerting_measurements_too_old_total',
  tooNew: 'kansoku_alerting_measurements_too_new_total',
  alarmsNotCreated: 'kansoku_alerting_alarms_not_created_total',
  metricsNotListed: 'kansoku_alerting_alarm_metrics_not_listed_total',
  badDefinitions: 'kansoku_alerting_definitions_not_loaded_total',
} as const;

interface Target {
  readonly definition: CompiledDefinition;
  readonly subIndex: number;
  readonly dimensions: readonly (readonly [string, string])[];
}

export interface LiveAlarm {
  readonly id: string;
  readonly tenantId: string;
  definition: CompiledDefinition;
  readonly matchBy: Readonly<Record<string, string>>;
  readonly metrics: Map<string, MetricDefinition>;
  subAlarms: SubAlarm[];
  state: AlarmState;
  readonly partition: number;
  lifecycleState: string | null;
  link: string | null;
  stateUpdatedAtMs: number;
  readonly createdAtMs: number;
  updatedAtMs: number;
  /** Whether the store has a row for it (written by a checkpoint). */
  stored: boolean;
  /** Monasca creates an alarm only once every sub-expression has seen a metric; until then it fills its windows quietly. */
  complete: boolean;
  /** Its state was set from outside (the API, another replica): the next evaluation checks it against the data. */
  recheck: boolean;
  /** The metric listed last: a series feeds its alarm again and again, and this spares building its key each time. */
  lastListed?: MetricDefinition;
  /** A metric was listed since the store last had the whole row: the next checkpoint writes it whole, not only its windows. */
  listedSinceStored?: boolean;
  /** No longer among the evaluator's alarms (its definition or partition went, or the store's copy replaced it). */
  forgotten?: boolean;
}

/** A transition with what the notifier and the transitions topic need besides the record. */
export interface EvaluatedTransition {
  readonly record: AlarmTransitionRecord;
  readonly alarm: LiveAlarm;
  readonly definition: AlarmDefinitionRecord;
}

export class AlarmEvaluator {
  /** tenant → metric name → the sub-expressions that read it. */
  private readonly targets = new Map<string, Map<string, Target[]>>();
  private definitions = new Map<string, CompiledDefinition>();
  /** The distinct periods of the definitions' sub-expressions, in ms. */
  private periodsMs = new Set<number>();
  private readonly alarms = new Map<string, LiveAlarm>();
  /**
   * definition id → match key → alarm: the per-measurement way to an alarm, without hashing
   * a new id string. The match key is the value itself for a single match_by key. An entry
   * left behind by a forgotten alarm is never used: the alarm carries its `forgotten` mark.
   */
  private readonly byMatch = new Map<string, Map<string, LiveAlarm>>();
  /** Alarms to write at the next checkpoint: a set, so a checkpoint costs what changed, not every alarm. */
  private readonly changed = new Set<LiveAlarm>();
  /** Transitions decided while ingesting (catching up on a backlog), handed out by the next `evaluate`. */
  private pending: EvaluatedTransition[] = [];

  constructor(
    private readonly options: EvaluatorOptions,
    private readonly counters: Counters,
  ) {
    counters.describe(EVALUATOR_COUNTERS.tooOld, 'Measurements older than their alarm window; ignored.');
    counters.describe(EVALUATOR_COUNTERS.tooNew, 'Measurements stamped beyond the window (a clock ahead); ignored.');
    counters.describe(EVALUATOR_COUNTERS.alarmsNotCreated, 'Measurements that would have created an alarm past max_alarms.');
    counters.describe(EVALUATOR_COUNTERS.metricsNotListed, 'Metrics that fed an alarm but were not listed on it past max_metrics_per_alarm.');
    counters.describe(EVALUATOR_COUNTERS.badDefinitions, 'Stored definitions whose expression did not parse; skipped.');
  }

  get definitionCount(): number {
    return this.definitions.size;
  }

  get alarmCount(): number {
    return this.alarms.size;
  }

  /**
   * The first instant after `nowMs` at which some view closes (a slot end plus the delay;
   * slots are aligned to the epoch, so every definition of one period closes together).
   * Infinity without definitions.
   */
  nextCloseAfter(nowMs: number): number {
    let next = Number.POSITIVE_INFINITY;
    for (const periodMs of this.periodsMs) next = Math.min(next, (Math.floor((nowMs - this.options.delayMs) / periodMs) + 1) * periodMs + this.options.delayMs);
    return next;
  }

  /**
   * Replaces the definitions. Alarms of a deleted definition are forgotten; alarms of a
   * changed one keep every sub-alarm whose sub-expression is unchanged in metric,
   * function, period and times (Monasca lets a definition change its threshold and
   * operator in place), and start the others afresh. Returns the ids of forgotten alarms.
   */
  setDefinitions(records: readonly AlarmDefinitionRecord[], nowMs: number): string[] {
    const next = new Map<string, CompiledDefinition>();
    for (const record of records) {
      const previous = this.definitions.get(record.id);
      if (previous && previous.record.updatedAtMs === record.updatedAtMs && previous.record.expression === record.expression) {
        next.set(record.id, previous.record === record ? previous : { ...previous, record });
        continue;
      }
      const compiled = compileDefinition(record);
      if (!compiled.ok) {
        this.counters.add(EVALUATOR_COUNTERS.badDefinitions);
        continue;
      }
      next.set(record.id, compiled.value);
    }
    this.definitions = next;
    this.periodsMs = new Set([...next.values()].flatMap((d) => d.subs.map((sub) => sub.periodSeconds * 1000)));
    this.targets.clear();
    for (const definition of next.values()) {
      const byMetric = this.targets.get(definition.record.tenantId) ?? new Map<string, Target[]>();
      this.targets.set(definition.record.tenantId, byMetric);
      definition.subs.forEach((sub, subIndex) => {
        const list = byMetric.get(sub.metricName) ?? [];
        list.push({ definition, subIndex, dimensions: Object.entries(sub.dimensions) });
        byMetric.set(sub.metricName, list);
      });
    }
    for (const id of this.byMatch.keys()) if (!next.has(id)) this.byMatch.delete(id);
    const forgotten: string[] = [];
    for (const alarm of this.alarms.values()) {
      const definition = next.get(alarm.definition.record.id);
      if (!definition) {
        this.forget(alarm);
        forgotten.push(alarm.id);
        continue;
      }
      if (definition !== alarm.definition) this.rebind(alarm, definition, nowMs);
    }
    return forgotten;
  }

  /** Alarms from the store, for a partition this replica now owns. Alarms of unknown definitions are skipped. */
  restore(records: readonly AlarmRecord[], nowMs: number): void {
    for (const record of records) {
      const definition = this.definitions.get(record.definitionId);
      if (!definition) continue;
      const subAlarms = definition.subs.map((sub, index) => {
        const stored = record.subAlarms.find((s) => s.index === index);
        return stored ? SubAlarm.restore(sub, stored.state, stored.window, nowMs, this.options.delayMs) : SubAlarm.create(sub, nowMs, this.options.delayMs);
      });
      const replaced = this.alarms.get(record.id);
      if (replaced) replaced.forgotten = true;
      this.alarms.set(record.id, {
        id: record.id,
        tenantId: record.tenantId,
        definition,
        matchBy: record.matchBy,
        metrics: new Map(record.metrics.map((m) => [seriesKey(m.name, m.dimensions), m])),
        subAlarms,
        state: record.state,
        partition: record.partition,
        lifecycleState: record.lifecycleState,
        link: record.link,
        stateUpdatedAtMs: record.stateUpdatedAtMs,
        createdAtMs: record.createdAtMs,
        updatedAtMs: record.updatedAtMs,
        stored: true,
        complete: true,
        recheck: false,
      });
    }
  }

  /** Forgets the alarms of partitions this replica no longer owns (their new owner restores them). */
  dropPartitions(keep: (partition: number) => boolean): void {
    for (const alarm of this.alarms.values()) if (!keep(alarm.partition)) this.forget(alarm);
    for (const index of this.byMatch.values()) for (const [key, alarm] of index) if (alarm.forgotten === true) index.delete(key);
  }

  private forget(alarm: LiveAlarm): void {
    this.alarms.delete(alarm.id);
    alarm.forgotten = true;
  }

  /** Feeds one measurement to every sub-alarm it matches; returns how many it fed. */
  ingest(tenantId: string, metric: Metric, partition: number, nowMs: number): number {
    const targets = this.targets.get(tenantId)?.get(metric.name);
    if (targets === undefined) return 0;
    let fed = 0;
    for (const target of targets) {
      if (!hasDimensions(metric.dimensions, target.dimensions)) continue;
      // A backlog's first measurement creates its alarm back then, so the window holds it and what follows.
      const alarm = this.alarmFor(target.definition, tenantId, metric.dimensions, partition, Math.min(nowMs, metric.timestamp));
      if (alarm === undefined) continue;
      const sub = alarm.subAlarms[target.subIndex];
      if (sub === undefined) continue;
      let result = sub.add(metric.timestamp, metric.value);
      if (result === 'too_new') {
        // Data past the window while the clock has not moved it: a backlog read after a restart
        // or a rebalance. Decide the views it closes (never past `nowMs`), then take it.
        this.catchUp(alarm, Math.min(nowMs, (Math.floor(metric.timestamp / sub.periodMs) - 1) * sub.periodMs + this.options.delayMs));
        result = sub.add(metric.timestamp, metric.value);
      }
      if (result === 'too_old') this.counters.add(EVALUATOR_COUNTERS.tooOld);
      else if (result === 'too_new') this.counters.add(EVALUATOR_COUNTERS.tooNew);
      else {
        fed++;
        this.changed.add(alarm);
        this.listMetric(alarm, metric);
        if (!alarm.complete) alarm.complete = alarm.subAlarms.every((s) => Number.isFinite(s.lastDataMs));
      }
    }
    return fed;
  }

  /**
   * Decides every alarm at `nowMs` (only those of partitions `live` says yes to); returns
   * the transitions, which the alarms already reflect, with those that measurements made
   * while catching up (see `ingest`) first.
   */
  evaluate(nowMs: number, live: (partition: number) => boolean = ALWAYS): EvaluatedTransition[] {
    const transitions = this.pending;
    this.pending = [];
    for (const alarm of this.alarms.values()) {
      if (!alarm.complete || !live(alarm.partition)) continue;
      this.advance(alarm, nowMs, transitions);
      let early = false;
      for (const sub of alarm.subAlarms) if (sub.checkEarly()) early = true;
      if (early || alarm.recheck) this.settle(alarm, nowMs, transitions);
    }
    return transitions;
  }

  /**
   * Decides every view of `alarm` that closed by `nowMs`, oldest first, each at its own
   * closing instant, so no transition in between is skipped.
   */
  private advance(alarm: LiveAlarm, nowMs: number, out: EvaluatedTransition[]): void {
    const { delayMs } = this.options;
    for (const sub of alarm.subAlarms) sub.skipTo(nowMs, delayMs, sub.sub.periods + sub.window.futureSlots);
    for (;;) {
      let next = Number.POSITIVE_INFINITY;
      for (const sub of alarm.subAlarms) next = Math.min(next, sub.nextDecisionMs(delayMs));
      if (next > nowMs) break;
      let moved = false;
      for (const sub of alarm.subAlarms) if (sub.nextDecisionMs(delayMs) === next && sub.decideNext(delayMs)) moved = true;
      if (moved || alarm.recheck) this.settle(alarm, next, out);
    }
  }

  /** The alarm's state from its sub-alarms at `atMs`; a transition if it changed. */
  private settle(alarm: LiveAlarm, atMs: number, out: EvaluatedTransition[]): void {
    alarm.recheck = false;
    this.changed.add(alarm);
    const state = combineStates(
      alarm.definition.tree,
      alarm.subAlarms.map((s) => s.state),
    );
    if (state !== alarm.state) out.push(this.transition(alarm, state, atMs));
  }

  /** Transitions decided while ingesting a backlog, to be recorded with that batch. */
  takePending(): EvaluatedTransition[] {
    const pending = this.pending;
    this.pending = [];
    return pending;
  }

  /**
   * Alarms created or changed since the last call, as store records; clears the marks. An
   * alarm the store has whose metrics did not change comes as its windows alone.
   */
  takeChanged(): { alarms: AlarmRecord[]; windows: AlarmWindowsRecord[] } {
    const alarms: AlarmRecord[] = [];
    const windows: AlarmWindowsRecord[] = [];
    for (const alarm of this.changed) {
      // Not an alarm yet, or forgotten since (its partition went to another replica).
      if (!alarm.complete || alarm.forgotten === true) continue;
      this.changed.delete(alarm);
      if (alarm.stored && alarm.listedSinceStored !== true) {
        windows.push({ id: alarm.id, subAlarmsJson: encodeSubAlarms(subAlarmRecords(alarm, false)), updatedAtMs: alarm.updatedAtMs });
        continue;
      }
      alarm.stored = true;
      alarm.listedSinceStored = false;
      alarms.push(toRecord(alarm, false));
    }
    for (const alarm of this.changed) if (alarm.forgotten === true) this.changed.delete(alarm);
    return { alarms, windows };
  }

  /**
   * Rows for the alarms of `transitions` that the store has never seen, so their
   * transitions can be recorded before the next checkpoint. Their windows are written
   * empty: every measurement in them came after the partition's stored offset (the last
   * checkpoint did not have the alarm), so a replica restoring the row reads them again.
   */
  unstoredRows(transitions: readonly EvaluatedTransition[]): AlarmRecord[] {
    const rows = new Map<string, AlarmRecord>();
    for (const { alarm } of transitions) if (!alarm.stored && !rows.has(alarm.id)) rows.set(alarm.id, toRecord(alarm, true));
    return [...rows.values()];
  }

  get changedCount(): number {
    return this.changed.size;
  }

  /**
   * Takes a state set outside the engine (the API, or a replica that got there first).
   * The next evaluation compares it with what the sub-alarms say, so the data wins again
   * at once if it disagrees, as in monasca-thresh after an alarm update.
   */
  applyState(alarmId: string, state: AlarmState, stateUpdatedAtMs: number): void {
    const alarm = this.alarms.get(alarmId);
    if (!alarm) return;
    alarm.state = state;
    alarm.stateUpdatedAtMs = stateUpdatedAtMs;
    alarm.recheck = true;
  }

  get(alarmId: string): LiveAlarm | undefined {
    return this.alarms.get(alarmId);
  }

  all(): IterableIterator<LiveAlarm> {
    return this.alarms.values();
  }

  private transition(alarm: LiveAlarm, state: AlarmState, nowMs: number): EvaluatedTransition {
    const oldState = alarm.state;
    alarm.state = state;
    alarm.stateUpdatedAtMs = nowMs;
    alarm.updatedAtMs = nowMs;
    this.changed.add(alarm);
    const record: AlarmTransitionRecord = {
      id: randomUUID(),
      tenantId: alarm.tenantId,
      alarmId: alarm.id,
      definitionId: alarm.definition.record.id,
      oldState,
      newState: state,
      reason: stateChangeReason(alarm, state),
      reasonData: '{}',
      subAlarms: alarm.subAlarms.map((s) => ({ expression: s.expression, state: s.state, currentValues: [...s.currentValues] })),
      metrics: [...alarm.metrics.values()],
      timestampMs: nowMs,
    };
    return { record, alarm, definition: alarm.definition.record };
  }

  private catchUp(alarm: LiveAlarm, untilMs: number): void {
    if (alarm.complete) {
      this.advance(alarm, untilMs, this.pending);
      return;
    }
    // Not an alarm yet (some sub-expression has no metric): nothing to decide, only to slide.
    for (const sub of alarm.subAlarms) {
      sub.skipTo(untilMs, this.options.delayMs, 0);
      sub.window.slideTo(sub.decidedEndSlot - sub.sub.periods);
    }
  }

  private alarmFor(definition: CompiledDefinition, tenantId: string, dimensions: Readonly<Record<string, string>>, partition: number, nowMs: number): LiveAlarm | undefined {
    const { matchBy: keys, id: definitionId } = definition.record;
    // The spec: a metric must have at least one of the match_by dimensions; the alarm is singled out by those it has.
    let matchKey: string;
    if (keys.length === 1) {
      const value = dimensions[keys[0] as string];
      if (value === undefined) return undefined;
      matchKey = value;
    } else {
      matchKey = idKeyOf(keys, dimensions);
      if (matchKey === '' && keys.length > 0) return undefined;
    }
    let index = this.byMatch.get(definitionId);
    const known = index?.get(matchKey);
    if (known !== undefined && known.forgotten !== true) return known;
    if (index === undefined) {
      index = new Map();
      this.byMatch.set(definitionId, index);
    }
    const id = stableId('alarm', tenantId, definitionId, keys.length === 1 ? idKeyOf(keys, dimensions) : matchKey);
    const existing = this.alarms.get(id);
    if (existing) {
      index.set(matchKey, existing);
      return existing;
    }
    if (this.alarms.size >= this.options.maxAlarms) {
      this.counters.add(EVALUATOR_COUNTERS.alarmsNotCreated);
      return undefined;
    }
    // Built only for a new alarm: finding an existing one is the per-measurement path.
    let matchBy: Record<string, string> = EMPTY;
    if (keys.length > 0) {
      matchBy = {};
      for (const key of keys) {
        const value = dimensions[key];
        if (value !== undefined) matchBy[key] = value;
      }
    }
    const subAlarms = definition.subs.map((sub) => SubAlarm.create(sub, nowMs, this.options.delayMs));
    const alarm: LiveAlarm = {
      id,
      tenantId,
      definition,
      matchBy,
      metrics: new Map(),
      subAlarms,
      state: subAlarms.every((s) => s.sub.deterministic) ? 'OK' : 'UNDETERMINED',
      partition,
      lifecycleState: null,
      link: null,
      stateUpdatedAtMs: nowMs,
      createdAtMs: nowMs,
      updatedAtMs: nowMs,
      stored: false,
      complete: false,
      recheck: false,
    };
    this.alarms.set(id, alarm);
    index.set(matchKey, alarm);
    return alarm;
  }

  private rebind(alarm: LiveAlarm, definition: CompiledDefinition, nowMs: number): void {
    const previous = alarm.subAlarms;
    alarm.subAlarms = definition.subs.map((sub) => {
      const kept = previous.find((p) => sameStream(p, sub));
      if (!kept) return SubAlarm.create(sub, nowMs, this.options.delayMs);
      // Same data, new threshold or operator: the window carries over and is decided afresh.
      const moved = new SubAlarm(sub, kept.state, kept.window, kept.lastDataMs, kept.decidedEndSlot - 1);
      moved.currentValues = kept.currentValues;
      return moved;
    });
    alarm.definition = definition;
    this.changed.add(alarm);
  }

  private listMetric(alarm: LiveAlarm, metric: Metric): void {
    const last = alarm.lastListed;
    if (last !== undefined && last.name === metric.name && sameDimensions(last.dimensions, metric.dimensions)) return;
    const key = seriesKey(metric.name, metric.dimensions);
    let listed = alarm.metrics.get(key);
    if (listed === undefined) {
      if (alarm.metrics.size >= this.options.maxMetricsPerAlarm) {
        this.counters.add(EVALUATOR_COUNTERS.metricsNotListed);
        return;
      }
      listed = { name: metric.name, dimensions: metric.dimensions };
      alarm.metrics.set(key, listed);
      alarm.listedSinceStored = true;
    }
    alarm.lastListed = listed;
  }
}

const ALWAYS = (): boolean => true;
const EMPTY: Record<string, string> = Object.freeze({});

/** The match_by values a metric has, in the form alarm ids are made of ('' when it has none of them). */
function idKeyOf(keys: readonly string[], dimensions: Readonly<Record<string, string>>): string {
  let idKey = '';
  for (const key of keys) {
    const value = dimensions[key];
    if (value !== undefined) idKey += `${key}\u0001${value}\u0000`;
  }
  return idKey;
}

/** Whether two dimension sets are equal, without building their keys. */
function sameDimensions(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  if (a === b) return true;
  let count = 0;
  for (const key in b) {
    if (a[key] !== b[key]) return false;
    count++;
  }
  for (const _ in a) count--;
  return count === 0;
}

function hasDimensions(dimensions: Readonly<Record<string, string>>, wanted: readonly (readonly [string, string])[]): boolean {
  for (const [key, value] of wanted) if (dimensions[key] !== value) return false;
  return true;
}

function sameStream(sub: SubAlarm, next: SubAlarm['sub']): boolean {
  const a = sub.sub;
  return (
    a.metricName === next.metricName &&
    a.function === next.function &&
    a.periodSeconds === next.periodSeconds &&
    a.periods === next.periods &&
    JSON.stringify(a.dimensions) === JSON.stringify(next.dimensions)
  );
}

function stateChangeReason(alarm: LiveAlarm, state: AlarmState): string {
  const subs = alarm.subAlarms;
  const describe = (list: readonly SubAlarm[]) => list.map((s) => `${s.expression} with the values: [${s.currentValues.join(', ')}]`).join(', ');
  if (state === 'ALARM') return `Thresholds were exceeded for the sub-alarms: ${describe(subs.filter((s) => s.state === 'ALARM'))}`;
  if (state === 'OK') return `The alarm threshold(s) have not been exceeded for the sub-alarms: ${describe(subs.filter((s) => s.state === 'OK'))}`;
  return `No data was present for the sub-alarms: ${subs
    .filter((s) => s.state === 'UNDETERMINED')
    .map((s) => s.expression)
    .join(', ')}`;
}

function toRecord(alarm: LiveAlarm, emptyWindows: boolean): AlarmRecord {
  return {
    id: alarm.id,
    tenantId: alarm.tenantId,
    definitionId: alarm.definition.record.id,
    matchBy: alarm.matchBy,
    metrics: [...alarm.metrics.values()],
    state: alarm.state,
    lifecycleState: alarm.lifecycleState,
    link: alarm.link,
    partition: alarm.partition,
    subAlarms: subAlarmRecords(alarm, emptyWindows),
    stateUpdatedAtMs: alarm.stateUpdatedAtMs,
    createdAtMs: alarm.createdAtMs,
    updatedAtMs: alarm.updatedAtMs,
  };
}

function subAlarmRecords(alarm: LiveAlarm, emptyWindows: boolean): SubAlarmRecord[] {
  return alarm.subAlarms.map((s, index) => ({ index, expression: s.expression, state: s.state, window: s.serialize(emptyWindows), currentValues: s.currentValues }));
}
