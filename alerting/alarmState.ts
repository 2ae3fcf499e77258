/** Monasca's alarm states, closed: nothing else is ever stored, published or sent. */
export const ALARM_STATES = ['OK', 'ALARM', 'UNDETERMINED'] as const;
export type AlarmState = (typeof ALARM_STATES)[number];

export function isAlarmState(value: unknown): value is AlarmState {
  return typeof value === 'string' && (ALARM_STATES as readonly string[]).includes(value);
}
