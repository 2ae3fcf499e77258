import type { MetricDefinition } from '../core/query.js';
import type { AlarmDefinition } from './config.js';

/** Monasca's alarm states, closed: nothing else is ever stored, published or sent. */
export const ALARM_STATES = ['OK', 'ALARM', 'UNDETERMINED'] as const;
export type AlarmState = (typeof ALARM_STATES)[number];

export function isAlarmState(value: unknown): value is AlarmState {
  return typeof value === 'string' && (ALARM_STATES as readonly string[]).includes(value);
}

/**
 * One alarm changing state: what the transitions topic carries (in Monasca's
 * `alarm-transitioned` shape) and what notifications are made from.
 */
export interface AlarmTransition {
  readonly alarmId: string;
  readonly alarmDefinition: AlarmDefinition;
  readonly tenantId: string;
  /** The match_by dimensions' values that single this alarm out of its definition's alarms. */
  readonly matchBy: Readonly<Record<string, string>>;
  readonly oldState: AlarmState;
  readonly newState: AlarmState;
  /** A sentence in Monasca's wording: which threshold, which values. */
  readonly reason: string;
  /** The evaluation instant that decided the transition. */
  readonly timestampMs: number;
  /** The metrics (name and full dimensions) that fed this alarm. */
  readonly metrics: readonly MetricDefinition[];
  /** The function's value over the last period; null when there was no data. */
  readonly value: number | null;
}
