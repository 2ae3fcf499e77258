import { TOPICS } from '../core/envelope.js';
import { fail, ok, type Checked } from '../core/outcome.js';
import type { BusMessage } from '../core/pipeline.js';
import type { MetricDefinition } from '../core/query.js';
import type { EvaluatedTransition } from './evaluation/alarmEvaluator.js';
import { isAlarmState, type AlarmState } from './alarmState.js';

/**
 * Transitions on the bus in Monasca's own `alarm-transitioned` event (monasca-common's
 * AlarmStateTransitionedEvent), so that monasca-persister can write alarm history
 * from Kansoku's topic unchanged.
 */

/** Monasca's topic name for alarm state transitions. */
export const TRANSITIONS_TOPIC = TOPICS.alarmTransitions;

export interface AlarmTransitionedEvent {
  readonly 'alarm-transitioned': {
    readonly tenantId: string;
    readonly alarmId: string;
    readonly alarmDefinitionId: string;
    readonly metrics: readonly MetricDefinition[];
    readonly alarmName: string;
    readonly alarmDescription: string;
    readonly oldState: AlarmState;
    readonly newState: AlarmState;
    readonly actionsEnabled: boolean;
    readonly stateChangeReason: string;
    readonly severity: string;
    readonly link: string | null;
    readonly lifecycleState: string | null;
    readonly subAlarms: readonly {
      readonly subAlarmExpression: {
        readonly function: string;
        readonly metricDefinition: MetricDefinition;
        readonly operator: string;
        readonly threshold: number;
        readonly period: number;
        readonly periods: number;
      };
      readonly subAlarmState: AlarmState;
      readonly currentValues: readonly number[];
    }[];
    /** Milliseconds since the epoch, as monasca-thresh writes it. */
    readonly timestamp: number;
  };
}

/**
 * A recorded transition on the bus in Monasca's own `alarm-transitioned` event
 * (monasca-common's AlarmStateTransitionedEvent), so monasca-persister or any Monasca
 * consumer can read Kansoku's topic unchanged. Keyed by tenant: one tenant's transitions
 * stay in order.
 */
export function transitionEvent(transition: EvaluatedTransition): AlarmTransitionedEvent {
  const { record, definition, alarm } = transition;
  return {
    'alarm-transitioned': {
      tenantId: record.tenantId,
      alarmId: record.alarmId,
      alarmDefinitionId: record.definitionId,
      metrics: record.metrics,
      alarmName: definition.name,
      alarmDescription: definition.description,
      oldState: record.oldState,
      newState: record.newState,
      actionsEnabled: definition.actionsEnabled,
      stateChangeReason: record.reason,
      severity: definition.severity,
      link: alarm.link,
      lifecycleState: alarm.lifecycleState,
      subAlarms: alarm.subAlarms.map((sub) => ({
        subAlarmExpression: {
          function: sub.sub.function,
          metricDefinition: { name: sub.sub.metricName, dimensions: sub.sub.dimensions },
          operator: sub.sub.operator,
          threshold: sub.sub.threshold,
          period: sub.sub.periodSeconds,
          periods: sub.sub.periods,
        },
        subAlarmState: sub.state,
        currentValues: sub.currentValues,
      })),
      timestamp: record.timestampMs,
    },
  };
}

export function transitionMessage(transition: EvaluatedTransition): BusMessage {
  return { key: transition.record.tenantId, value: JSON.stringify(transitionEvent(transition)) };
}

/** Reads an event back, untrusted: checks what a reader relies on (ids, states, timestamp). */
export function decodeTransitionEvent(bytes: Buffer | string): Checked<AlarmTransitionedEvent> {
  let json: unknown;
  try {
    json = JSON.parse(typeof bytes === 'string' ? bytes : bytes.toString('utf8'));
  } catch (error) {
    return fail(`not JSON: ${(error as Error).message}`);
  }
  const event = typeof json === 'object' && json !== null ? (json as Record<string, unknown>)['alarm-transitioned'] : undefined;
  if (typeof event !== 'object' || event === null) return fail('missing "alarm-transitioned" object');
  const e = event as Record<string, unknown>;
  for (const key of ['tenantId', 'alarmId', 'alarmDefinitionId', 'alarmName', 'stateChangeReason'] as const) {
    if (typeof e[key] !== 'string') return fail(`alarm-transitioned.${key} must be a string`);
  }
  if (!isAlarmState(e['oldState']) || !isAlarmState(e['newState'])) return fail('alarm-transitioned.oldState and newState must be OK, ALARM or UNDETERMINED');
  if (typeof e['timestamp'] !== 'number' || !Number.isFinite(e['timestamp'])) return fail('alarm-transitioned.timestamp must be a number of milliseconds');
  if (!Array.isArray(e['metrics'])) return fail('alarm-transitioned.metrics must be an array');
  return ok(json as AlarmTransitionedEvent);
}
