import type { BusMessage } from '../../core/pipeline.js';
import type { EvaluatedTransition } from '../evaluation/alarmEvaluator.js';
import type { AlarmTransitionedEvent } from '../transitionEvent.js';

/**
 * A recorded transition on the bus in Monasca's own `alarm-transitioned` event
 * (monasca-common's AlarmStateTransitionedEvent), so monasca-persister or any Monasca
 * consumer can read Kansoku's topic unchanged. Keyed by tenant: one tenant's transitions
 * stay in order.
 */
export function transitionRecordEvent(transition: EvaluatedTransition): AlarmTransitionedEvent {
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

export function transitionRecordMessage(transition: EvaluatedTransition): BusMessage {
  return { key: transition.record.tenantId, value: JSON.stringify(transitionRecordEvent(transition)) };
}

