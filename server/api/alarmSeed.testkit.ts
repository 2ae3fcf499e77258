import { randomUUID } from 'node:crypto';
import type { AlarmState } from '../../alerting/alarmState.js';
import type { AlarmRecord, AlarmStore, AlarmTransitionRecord } from '../../alerting/store/alarmStore.js';
import type { MetricDefinition } from '../../core/query.js';

export interface SeededAlarm {
  readonly tenantId: string;
  readonly definitionId: string;
  readonly metrics: readonly MetricDefinition[];
  readonly state: AlarmState;
  readonly atMs: number;
  readonly extra?: Partial<AlarmRecord>;
}

/**
 * An alarm as the engine writes one: the record and, unless it is still UNDETERMINED, its
 * first transition, in one checkpoint. One sub-alarm, `avg(<first metric>) > 10.0`.
 */
export async function seedAlarm(store: AlarmStore, { tenantId, definitionId, metrics, state, atMs, extra = {} }: SeededAlarm): Promise<AlarmRecord> {
  const id = randomUUID();
  const expression = `avg(${metrics[0]?.name ?? 'm'}) > 10.0`;
  const alarm: AlarmRecord = {
    id,
    tenantId,
    definitionId,
    matchBy: { hostname: metrics[0]?.dimensions['hostname'] ?? '' },
    metrics,
    state,
    lifecycleState: null,
    link: null,
    partition: 0,
    subAlarms: [{ index: 0, expression, state, window: '', currentValues: [12.5] }],
    stateUpdatedAtMs: atMs,
    createdAtMs: atMs,
    updatedAtMs: atMs,
    ...extra,
  };
  const transition: AlarmTransitionRecord = {
    id: randomUUID(),
    tenantId,
    alarmId: id,
    definitionId,
    oldState: 'UNDETERMINED',
    newState: state,
    reason: `Thresholds were exceeded for the sub-alarms: ${expression} with the values: [12.5]`,
    reasonData: '{}',
    subAlarms: [{ expression, state, currentValues: [12.5] }],
    metrics,
    timestampMs: atMs,
  };
  const result = await store.checkpoint({ offsets: new Map(), alarms: [alarm], transitions: state === 'UNDETERMINED' ? [] : [transition], deliveries: [] });
  if (result.skippedTransitions.length > 0) throw new Error(`seeding alarm ${id}: the store skipped its transition`);
  return alarm;
}
