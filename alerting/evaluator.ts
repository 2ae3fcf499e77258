import type { Counters } from '../core/counters.js';
import type { Metric } from '../core/envelope.js';
import type { MetricDefinition } from '../core/query.js';
import { seriesKey } from '../core/seriesKey.js';
import type { AlarmState, AlarmTransition } from './alarmState.js';
import type { AlarmDefinition, EvaluationSettings } from './config.js';
import { breaches, expressionOf, reduce } from './expression.js';
import { stableId } from './ids.js';

/**
 * Streaming threshold evaluation, pure: measurements go in with `ingest`, time comes in
 * only as `evaluate(nowMs)`'s argument. An alarm is one definition × one set of
 * match_by values; it is created UNDETERMINED by its first matching measurement (as in
 * Monasca, creation is not a transition) and moves only when an evaluation decides so.
 * `nowMs` must not go backwards: points older than the last period are discarded.
 */
export type EvaluatorLimits = Pick<EvaluationSettings, 'max_points_per_window' | 'max_alarms' | 'max_metrics_per_alarm'>;

export const EVALUATOR_COUNTERS = {
  pointsDropped: 'kansoku_alerting_window_points_dropped_total',
  alarmsNotCreated: 'kansoku_alerting_alarms_not_created_total',
  metricsNotListed: 'kansoku_alerting_alarm_metrics_not_listed_total',
} as const;

/** What an alarm looks like from outside, for tests and, later, the alarms API. */
export interface AlarmSnapshot {
  readonly alarmId: string;
  readonly definitionId: string;
  readonly definitionName: string;
  readonly tenantId: string;
  readonly matchBy: Readonly<Record<string, string>>;
  readonly state: AlarmState;
}

interface Point {
  readonly timestampMs: number;
  readonly value: number;
}

interface Alarm {
  readonly id: string;
  readonly definition: AlarmDefinition;
  readonly matchBy: Readonly<Record<string, string>>;
  state: AlarmState;
  /** Oldest first; bounded by max_points_per_window. */
  points: Point[];
  lastSeenMs: number;
  readonly metrics: Map<string, MetricDefinition>;
}

export class Evaluator {
  /** Definitions by tenant and metric name: a measurement is only ever compared with its own tenant's. */
  private readonly byTenantMetric = new Map<string, AlarmDefinition[]>();
  private readonly alarms = new Map<string, Alarm>();

  constructor(
    definitions: readonly AlarmDefinition[],
    private readonly limits: EvaluatorLimits,
    private readonly counters: Counters,
  ) {
    for (const definition of definitions) {
      const key = tenantMetricKey(definition.tenant_id, definition.metric);
      const list = this.byTenantMetric.get(key) ?? [];
      list.push(definition);
      this.byTenantMetric.set(key, list);
    }
    counters.describe(EVALUATOR_COUNTERS.pointsDropped, 'Measurements dropped from a full alarm window, oldest first.');
    counters.describe(EVALUATOR_COUNTERS.alarmsNotCreated, 'Measurements that would have created an alarm past evaluation.max_alarms.');
    counters.describe(EVALUATOR_COUNTERS.metricsNotListed, 'Metrics that fed an alarm but were not listed on it past evaluation.max_metrics_per_alarm.');
  }

  /** Feeds one measurement of `tenantId` to every alarm it matches; returns how many it fed. */
  ingest(tenantId: string, metric: Metric): number {
    const definitions = this.byTenantMetric.get(tenantMetricKey(tenantId, metric.name));
    if (!definitions) return 0;
    let fed = 0;
    for (const definition of definitions) {
      if (!matchesExactly(metric.dimensions, definition.dimensions)) continue;
      const matchBy = matchByValues(metric.dimensions, definition.match_by);
      // Monasca leaves a metric that lacks a match_by dimension out of the definition's alarms.
      if (!matchBy) continue;
      const alarm = this.alarmFor(definition, matchBy);
      if (!alarm) continue;
      this.addPoint(alarm, { timestampMs: metric.timestamp, value: metric.value });
      this.listMetric(alarm, metric);
      fed++;
    }
    return fed;
  }

  /** Decides every alarm's state at `nowMs`; returns the alarms that changed, in creation order. */
  evaluate(nowMs: number): AlarmTransition[] {
    const transitions: AlarmTransition[] = [];
    for (const alarm of this.alarms.values()) {
      const { definition } = alarm;
      const periodMs = definition.period_seconds * 1000;
      const from = nowMs - periodMs;
      const firstKept = alarm.points.findIndex((p) => p.timestampMs > from);
      alarm.points = firstKept === -1 ? [] : firstKept === 0 ? alarm.points : alarm.points.slice(firstKept);
      // Points stamped after `nowMs` (clock skew, or a replay ahead of the clock) wait for their period.
      const values = alarm.points.filter((p) => p.timestampMs <= nowMs).map((p) => p.value);

      let state: AlarmState;
      let value: number | null = null;
      let reason: string;
      if (values.length > 0) {
        value = reduce(definition.function, values);
        state = breaches(definition.operator, value, definition.threshold) ? 'ALARM' : 'OK';
        reason =
          state === 'ALARM'
            ? `Thresholds were exceeded for the sub-alarms: ${expressionOf(definition)} with the values: [${value}]`
            : `The alarm threshold(s) have not been exceeded for the sub-alarms: ${expressionOf(definition)} with the values: [${value}]`;
      } else if (nowMs - alarm.lastSeenMs >= definition.undetermined_after_periods * periodMs) {
        state = 'UNDETERMINED';
        reason = `No data was present for the sub-alarms: ${expressionOf(definition)}`;
      } else {
        // A quiet period shorter than undetermined_after_periods keeps the last decision.
        continue;
      }
      if (state === alarm.state) continue;
      transitions.push({
        alarmId: alarm.id,
        alarmDefinition: definition,
        tenantId: definition.tenant_id,
        matchBy: alarm.matchBy,
        oldState: alarm.state,
        newState: state,
        reason,
        timestampMs: nowMs,
        metrics: [...alarm.metrics.values()],
        value,
      });
      alarm.state = state;
    }
    return transitions;
  }

  snapshot(): AlarmSnapshot[] {
    return [...this.alarms.values()].map((a) => ({
      alarmId: a.id,
      definitionId: a.definition.id,
      definitionName: a.definition.name,
      tenantId: a.definition.tenant_id,
      matchBy: a.matchBy,
      state: a.state,
    }));
  }

  private alarmFor(definition: AlarmDefinition, matchBy: Readonly<Record<string, string>>): Alarm | undefined {
    const key = `${definition.id}\u0000${JSON.stringify(definition.match_by.map((k) => matchBy[k]))}`;
    const existing = this.alarms.get(key);
    if (existing) return existing;
    if (this.alarms.size >= this.limits.max_alarms) {
      this.counters.add(EVALUATOR_COUNTERS.alarmsNotCreated);
      return undefined;
    }
    const alarm: Alarm = {
      id: stableId('alarm', key),
      definition,
      matchBy,
      state: 'UNDETERMINED',
      points: [],
      lastSeenMs: Number.NEGATIVE_INFINITY,
      metrics: new Map(),
    };
    this.alarms.set(key, alarm);
    return alarm;
  }

  private addPoint(alarm: Alarm, point: Point): void {
    // Usually the newest point: walk back from the end to keep the window ordered.
    let at = alarm.points.length;
    while (at > 0 && (alarm.points[at - 1]?.timestampMs ?? 0) > point.timestampMs) at--;
    alarm.points.splice(at, 0, point);
    if (point.timestampMs > alarm.lastSeenMs) alarm.lastSeenMs = point.timestampMs;
    const excess = alarm.points.length - this.limits.max_points_per_window;
    if (excess > 0) {
      alarm.points.splice(0, excess);
      this.counters.add(EVALUATOR_COUNTERS.pointsDropped, {}, excess);
    }
  }

  private listMetric(alarm: Alarm, metric: Metric): void {
    const key = seriesKey(metric.name, metric.dimensions);
    if (alarm.metrics.has(key)) return;
    if (alarm.metrics.size >= this.limits.max_metrics_per_alarm) {
      this.counters.add(EVALUATOR_COUNTERS.metricsNotListed);
      return;
    }
    alarm.metrics.set(key, { name: metric.name, dimensions: metric.dimensions });
  }
}

function tenantMetricKey(tenantId: string, metricName: string): string {
  return `${tenantId}\u0000${metricName}`;
}

function matchesExactly(dimensions: Readonly<Record<string, string>>, wanted: Readonly<Record<string, string>>): boolean {
  for (const [key, value] of Object.entries(wanted)) if (dimensions[key] !== value) return false;
  return true;
}

function matchByValues(dimensions: Readonly<Record<string, string>>, keys: readonly string[]): Record<string, string> | undefined {
  const values: Record<string, string> = {};
  for (const key of keys) {
    const value = dimensions[key];
    if (value === undefined) return undefined;
    values[key] = value;
  }
  return values;
}
