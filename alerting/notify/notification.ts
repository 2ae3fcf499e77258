import type { MetricDefinition } from '../../core/query.js';
import type { AlarmState } from '../alarmState.js';
import type { AlarmDefinitionRecord, AlarmTransitionRecord, AlarmView, DeliveryRecord, NotificationMethodRecord, Severity } from '../store/alarmStore.js';

/**
 * What every sender formats: one alarm transition (or its periodic repeat) addressed to
 * one notification method, with the definition's name, description and severity joined
 * in. Built once per attempt from the durable records, so a sender never reads the store.
 */
export interface Notification {
  readonly deliveryId: string;
  /** 'repeat' when this is Monasca's periodic re-notification of a state that still holds. */
  readonly kind: DeliveryRecord['kind'];
  readonly tenantId: string;
  readonly alarmId: string;
  readonly alarmDefinitionId: string;
  readonly alarmName: string;
  readonly alarmDescription: string;
  readonly severity: Severity;
  readonly state: AlarmState;
  readonly oldState: AlarmState;
  /** The transition's reason, in Monasca's wording. */
  readonly message: string;
  /** When the transition happened (a repeat keeps its transition's time, as Monasca does). */
  readonly timestampMs: number;
  readonly metrics: readonly MetricDefinition[];
  readonly lifecycleState: string | null;
  readonly link: string | null;
  readonly methodId: string;
  readonly methodName: string;
  readonly methodType: string;
  readonly address: string;
}

export interface NotificationParts {
  readonly delivery: DeliveryRecord;
  readonly transition: AlarmTransitionRecord;
  readonly alarm: AlarmView;
  readonly definition: AlarmDefinitionRecord;
  readonly method: NotificationMethodRecord;
}

export function buildNotification({ delivery, transition, alarm, definition, method }: NotificationParts): Notification {
  return {
    deliveryId: delivery.id,
    kind: delivery.kind,
    tenantId: transition.tenantId,
    alarmId: transition.alarmId,
    alarmDefinitionId: definition.id,
    alarmName: definition.name,
    alarmDescription: definition.description,
    severity: definition.severity,
    state: transition.newState,
    oldState: transition.oldState,
    message: transition.reason,
    timestampMs: transition.timestampMs,
    // The transition's metrics are what fed that decision; the alarm's are the fallback for an API-made transition that names none.
    metrics: transition.metrics.length > 0 ? transition.metrics : alarm.metrics,
    lifecycleState: alarm.lifecycleState,
    link: alarm.link,
    methodId: method.id,
    methodName: method.name,
    methodType: method.type,
    address: method.address,
  };
}

/** The one hostname the metrics share, as Monasca's email subject names it; null when none or several. */
export function singleHostname(metrics: readonly MetricDefinition[]): string | null {
  const hostnames = new Set<string>();
  for (const metric of metrics) {
    const hostname = metric.dimensions.hostname;
    if (hostname !== undefined) hostnames.add(hostname);
  }
  return hostnames.size === 1 ? ([...hostnames][0] ?? null) : null;
}
