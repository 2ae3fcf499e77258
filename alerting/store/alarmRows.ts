import type { MetricDefinition } from '../../core/query.js';
import type { AlarmState } from '../alarmState.js';
import { encodeSubAlarms } from './alarmStore.js';
import type {
  AlarmDefinitionRecord,
  AlarmRecord,
  AlarmTransitionRecord,
  AlarmView,
  DeliveryRecord,
  NewDelivery,
  NotificationMethodRecord,
  Severity,
  SubAlarmHistory,
  SubAlarmRecord,
} from './alarmStore.js';

/**
 * Rows of the alarm store's tables and their records, for both dialects. Numbers are read
 * through `Number()`: pg returns BIGINT (and COUNT) as strings, SQLite as numbers; epoch
 * milliseconds fit a double exactly.
 */
export type SqlValue = string | number | null;
export type Row = Readonly<Record<string, unknown>>;

function text(row: Row, column: string): string {
  const value = row[column];
  if (typeof value !== 'string') throw new Error(`alarm store: column ${column} is not text`);
  return value;
}

function nullableText(row: Row, column: string): string | null {
  const value = row[column];
  return value === null || value === undefined ? null : text(row, column);
}

export function numberOf(row: Row, column: string): number {
  const value = Number(row[column]);
  if (!Number.isFinite(value)) throw new Error(`alarm store: column ${column} is not a number`);
  return value;
}

function json<T>(row: Row, column: string): T {
  return JSON.parse(text(row, column)) as T;
}

export const DEFINITION_COLUMNS =
  'id, tenant_id, name, description, expression, match_by, severity, alarm_actions, ok_actions, undetermined_actions, actions_enabled, created_at_ms, updated_at_ms';

export function definitionFromRow(row: Row): AlarmDefinitionRecord {
  return {
    id: text(row, 'id'),
    tenantId: text(row, 'tenant_id'),
    name: text(row, 'name'),
    description: text(row, 'description'),
    expression: text(row, 'expression'),
    matchBy: json<string[]>(row, 'match_by'),
    severity: text(row, 'severity') as Severity,
    alarmActions: json<string[]>(row, 'alarm_actions'),
    okActions: json<string[]>(row, 'ok_actions'),
    undeterminedActions: json<string[]>(row, 'undetermined_actions'),
    actionsEnabled: numberOf(row, 'actions_enabled') !== 0,
    createdAtMs: numberOf(row, 'created_at_ms'),
    updatedAtMs: numberOf(row, 'updated_at_ms'),
  };
}

/** In DEFINITION_COLUMNS order. */
export function definitionParams(definition: AlarmDefinitionRecord): SqlValue[] {
  return [
    definition.id,
    definition.tenantId,
    definition.name,
    definition.description,
    definition.expression,
    JSON.stringify(definition.matchBy),
    definition.severity,
    JSON.stringify(definition.alarmActions),
    JSON.stringify(definition.okActions),
    JSON.stringify(definition.undeterminedActions),
    definition.actionsEnabled ? 1 : 0,
    definition.createdAtMs,
    definition.updatedAtMs,
  ];
}

export const ALARM_COLUMNS =
  'id, tenant_id, definition_id, match_by, metrics, state, lifecycle_state, link, partition_id, sub_alarms, state_updated_at_ms, created_at_ms, updated_at_ms';

/** The view's extra columns, selected with the alarm's (`a.`) from `alarms a JOIN alarm_definitions d`. */
export const ALARM_VIEW_COLUMNS = `${ALARM_COLUMNS.split(', ')
  .map((column) => `a.${column}`)
  .join(', ')}, d.name AS definition_name, d.severity AS definition_severity`;

export function alarmFromRow(row: Row): AlarmRecord {
  return {
    id: text(row, 'id'),
    tenantId: text(row, 'tenant_id'),
    definitionId: text(row, 'definition_id'),
    matchBy: json<Record<string, string>>(row, 'match_by'),
    metrics: json<MetricDefinition[]>(row, 'metrics'),
    state: text(row, 'state') as AlarmState,
    lifecycleState: nullableText(row, 'lifecycle_state'),
    link: nullableText(row, 'link'),
    partition: numberOf(row, 'partition_id'),
    subAlarms: json<SubAlarmRecord[]>(row, 'sub_alarms'),
    stateUpdatedAtMs: numberOf(row, 'state_updated_at_ms'),
    createdAtMs: numberOf(row, 'created_at_ms'),
    updatedAtMs: numberOf(row, 'updated_at_ms'),
  };
}

export function alarmViewFromRow(row: Row): AlarmView {
  return { ...alarmFromRow(row), definitionName: text(row, 'definition_name'), severity: text(row, 'definition_severity') as Severity };
}

/** In ALARM_COLUMNS order. */
export function alarmParams(alarm: AlarmRecord): SqlValue[] {
  return [
    alarm.id,
    alarm.tenantId,
    alarm.definitionId,
    JSON.stringify(alarm.matchBy),
    JSON.stringify(alarm.metrics),
    alarm.state,
    alarm.lifecycleState,
    alarm.link,
    alarm.partition,
    encodeSubAlarms(alarm.subAlarms),
    alarm.stateUpdatedAtMs,
    alarm.createdAtMs,
    alarm.updatedAtMs,
  ];
}

export const TRANSITION_COLUMNS = 'id, tenant_id, alarm_id, definition_id, old_state, new_state, reason, reason_data, sub_alarms, metrics, timestamp_ms';

export function transitionFromRow(row: Row): AlarmTransitionRecord {
  return {
    id: text(row, 'id'),
    tenantId: text(row, 'tenant_id'),
    alarmId: text(row, 'alarm_id'),
    definitionId: text(row, 'definition_id'),
    oldState: text(row, 'old_state') as AlarmState,
    newState: text(row, 'new_state') as AlarmState,
    reason: text(row, 'reason'),
    reasonData: text(row, 'reason_data'),
    subAlarms: json<SubAlarmHistory[]>(row, 'sub_alarms'),
    metrics: json<MetricDefinition[]>(row, 'metrics'),
    timestampMs: numberOf(row, 'timestamp_ms'),
  };
}

/** In TRANSITION_COLUMNS order. */
export function transitionParams(transition: AlarmTransitionRecord): SqlValue[] {
  return [
    transition.id,
    transition.tenantId,
    transition.alarmId,
    transition.definitionId,
    transition.oldState,
    transition.newState,
    transition.reason,
    transition.reasonData,
    JSON.stringify(transition.subAlarms),
    JSON.stringify(transition.metrics),
    transition.timestampMs,
  ];
}

export const METHOD_COLUMNS = 'id, tenant_id, name, type, address, period_seconds, secret, created_at_ms, updated_at_ms';

export function methodFromRow(row: Row): NotificationMethodRecord {
  return {
    id: text(row, 'id'),
    tenantId: text(row, 'tenant_id'),
    name: text(row, 'name'),
    type: text(row, 'type'),
    address: text(row, 'address'),
    periodSeconds: numberOf(row, 'period_seconds'),
    secret: nullableText(row, 'secret'),
    createdAtMs: numberOf(row, 'created_at_ms'),
    updatedAtMs: numberOf(row, 'updated_at_ms'),
  };
}

/** In METHOD_COLUMNS order. */
export function methodParams(method: NotificationMethodRecord): SqlValue[] {
  return [method.id, method.tenantId, method.name, method.type, method.address, method.periodSeconds, method.secret, method.createdAtMs, method.updatedAtMs];
}

export const DELIVERY_COLUMNS = 'id, tenant_id, transition_id, alarm_id, method_id, kind, due_at_ms, attempts, claims, last_error';

export function deliveryFromRow(row: Row): DeliveryRecord {
  return {
    id: text(row, 'id'),
    tenantId: text(row, 'tenant_id'),
    transitionId: text(row, 'transition_id'),
    alarmId: text(row, 'alarm_id'),
    methodId: text(row, 'method_id'),
    kind: text(row, 'kind') as DeliveryRecord['kind'],
    dueAtMs: numberOf(row, 'due_at_ms'),
    attempts: numberOf(row, 'attempts'),
    claims: numberOf(row, 'claims'),
    lastError: nullableText(row, 'last_error'),
  };
}

/** In DELIVERY_COLUMNS order. */
export function deliveryParams(delivery: NewDelivery): SqlValue[] {
  return [
    delivery.id,
    delivery.tenantId,
    delivery.transitionId,
    delivery.alarmId,
    delivery.methodId,
    delivery.kind,
    delivery.dueAtMs,
    delivery.attempts,
    delivery.claims ?? 0,
    delivery.lastError,
  ];
}

/** `?, ?, …` for an INSERT of these columns or an IN list of this many values. */
export function placeholders(count: number): string {
  return Array.from({ length: count }, () => '?').join(', ');
}


export function columnCount(columns: string): number {
  return columns.split(', ').length;
}
