import type { DimensionFilter, MetricDefinition } from '../../core/query.js';
import type { AlarmState } from '../alarmState.js';

/**
 * What the alert engine, the notifier and the alarms API keep durably: alarm definitions,
 * alarms with their sub-alarm windows, state history, notification methods and the
 * notification outbox. SQLite in the single-machine default, PostgreSQL when several
 * engine replicas share it; both pass `alarmStoreContract.testkit.ts`.
 *
 * Every tenant-facing call carries the tenant and never reads or changes another tenant's
 * rows: a wrong tenant looks exactly like a missing id (null / false).
 * Times are epoch milliseconds. Ids are UUID strings chosen by the store unless given.
 */

export const SEVERITIES = ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const LIFECYCLE_STATES_HINT = 'free text, Monasca stores any string (OPEN, ACKNOWLEDGED, RESOLVED…)';

export interface AlarmDefinitionRecord {
  readonly id: string;
  readonly tenantId: string;
  readonly name: string;
  readonly description: string;
  /** The expression as given (validated by alerting/expression before it gets here). */
  readonly expression: string;
  readonly matchBy: readonly string[];
  readonly severity: Severity;
  readonly alarmActions: readonly string[];
  readonly okActions: readonly string[];
  readonly undeterminedActions: readonly string[];
  readonly actionsEnabled: boolean;
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
}

export type NewAlarmDefinition = Omit<AlarmDefinitionRecord, 'id' | 'createdAtMs' | 'updatedAtMs'> & { readonly id?: string };

export interface AlarmDefinitionQuery {
  readonly tenantId: string;
  readonly name?: string;
  /** Definitions whose expression's sub-expressions carry these dimensions (Monasca's `dimensions` filter). */
  readonly dimensions?: DimensionFilter;
  /** Any of these. */
  readonly severities?: readonly Severity[];
  /** e.g. [['name','asc'], ['severity','desc']]; default: id ascending. */
  readonly sortBy?: readonly (readonly [string, 'asc' | 'desc'])[];
  readonly offset: number;
  readonly limit: number;
}

export interface SubAlarmRecord {
  /** Position of the sub-expression in the definition's expression (subExpressions order). */
  readonly index: number;
  /** The sub-expression's canonical text (formatSubExpression). */
  readonly expression: string;
  readonly state: AlarmState;
  /** The window's slots, serialized by the evaluator; opaque to the store. */
  readonly window: string;
  /** The last values the evaluator decided on, for Monasca's sub_alarms[].current_values. */
  readonly currentValues: readonly number[];
}

export interface AlarmRecord {
  /** Stable: derived from tenant, definition id and match_by values (ids.stableId). */
  readonly id: string;
  readonly tenantId: string;
  readonly definitionId: string;
  /** The match_by dimensions' values that single this alarm out. */
  readonly matchBy: Readonly<Record<string, string>>;
  /** Every metric (name and full dimensions) that fed it; bounded by the engine. */
  readonly metrics: readonly MetricDefinition[];
  readonly state: AlarmState;
  readonly lifecycleState: string | null;
  readonly link: string | null;
  /** The Kafka partition of the metrics topic whose owner evaluates this alarm. */
  readonly partition: number;
  readonly subAlarms: readonly SubAlarmRecord[];
  readonly stateUpdatedAtMs: number;
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
}

export interface AlarmQuery {
  readonly tenantId: string;
  readonly definitionId?: string;
  readonly metricName?: string;
  readonly metricDimensions?: DimensionFilter;
  /** Any of these. */
  readonly states?: readonly AlarmState[];
  readonly severities?: readonly Severity[];
  readonly lifecycleState?: string;
  readonly link?: string;
  readonly stateUpdatedStartMs?: number;
  /** Fields: alarm_id, alarm_definition_id, alarm_definition_name, state, severity, lifecycle_state, link, state_updated_timestamp, updated_timestamp, created_timestamp. */
  readonly sortBy?: readonly (readonly [string, 'asc' | 'desc'])[];
  readonly offset: number;
  readonly limit: number;
}

/** An alarm as the API shows it: with its definition's name and severity joined in. */
export interface AlarmView extends AlarmRecord {
  readonly definitionName: string;
  readonly severity: Severity;
}

export const ALARM_COUNT_GROUPS = ['alarm_definition_id', 'name', 'state', 'severity', 'link', 'lifecycle_state', 'metric_name', 'dimension_name', 'dimension_value'] as const;
export type AlarmCountGroup = (typeof ALARM_COUNT_GROUPS)[number];

export interface AlarmCountRow {
  readonly count: number;
  /** One value per group_by field, in the order asked; null where the alarm has none. */
  readonly values: readonly (string | null)[];
}

export interface AlarmPatch {
  readonly state?: AlarmState;
  readonly lifecycleState?: string | null;
  readonly link?: string | null;
}

export interface SubAlarmHistory {
  readonly expression: string;
  readonly state: AlarmState;
  readonly currentValues: readonly number[];
}

/** One state transition: written by the engine (or an API state change), read as alarm history. */
export interface AlarmTransitionRecord {
  readonly id: string;
  readonly tenantId: string;
  readonly alarmId: string;
  readonly definitionId: string;
  readonly oldState: AlarmState;
  readonly newState: AlarmState;
  readonly reason: string;
  readonly reasonData: string;
  readonly subAlarms: readonly SubAlarmHistory[];
  readonly metrics: readonly MetricDefinition[];
  readonly timestampMs: number;
}

export interface HistoryQuery {
  readonly tenantId: string;
  readonly alarmIds?: readonly string[];
  /** Alarms whose metrics match. */
  readonly dimensions?: DimensionFilter;
  readonly startMs?: number;
  readonly endMs?: number;
  readonly offset: number;
  readonly limit: number;
}

export const NOTIFICATION_TYPES = ['EMAIL', 'WEBHOOK', 'PAGERDUTY', 'SLACK'] as const;
export type NotificationType = (typeof NOTIFICATION_TYPES)[number];

export interface NotificationMethodRecord {
  readonly id: string;
  readonly tenantId: string;
  readonly name: string;
  /** One of the types the notifier registers (NOTIFICATION_TYPES now; actions later). */
  readonly type: string;
  readonly address: string;
  /** Re-notification period in seconds: 0 (never) or 60 (configurable set). */
  readonly periodSeconds: number;
  /** HMAC secret for WEBHOOK signatures; generated by the API, never shown after creation. */
  readonly secret: string | null;
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
}

export type NewNotificationMethod = Omit<NotificationMethodRecord, 'id' | 'createdAtMs' | 'updatedAtMs'> & { readonly id?: string };

/** A notification to send: made in the same transaction as its transition. */
export interface DeliveryRecord {
  readonly id: string;
  readonly tenantId: string;
  readonly transitionId: string;
  readonly alarmId: string;
  readonly methodId: string;
  /** 'transition' for a state change; 'repeat' for a periodic re-notification. */
  readonly kind: 'transition' | 'repeat';
  readonly dueAtMs: number;
  /** Sends that failed retryably (retryDelivery). */
  readonly attempts: number;
  /**
   * Times the delivery was leased (claimDeliveries counts each claim, this one included). More
   * claims than attempts + 1 means a holder never recorded an outcome (killed, lease run out):
   * its send may have reached the receiver.
   */
  readonly claims: number;
  readonly lastError: string | null;
}

/** A delivery as written: a new one starts unclaimed (claims 0 when left out). */
export type NewDelivery = Omit<DeliveryRecord, 'claims'> & { readonly claims?: number };

/**
 * The part of an alarm the engine rewrites at every checkpoint. The sub-alarms come
 * encoded (`encodeSubAlarms`): made into the column's text as each alarm is taken, they
 * are one short-lived string per alarm rather than a tree of objects held until written.
 */
export interface AlarmWindowsRecord {
  readonly id: string;
  readonly subAlarmsJson: string;
  readonly updatedAtMs: number;
}

/** Sub-alarms as the store keeps them (JSON), for AlarmWindowsRecord. */
export function encodeSubAlarms(subAlarms: readonly SubAlarmRecord[]): string {
  return JSON.stringify(subAlarms);
}

/** What one engine evaluation or ingest step makes durable, all in one transaction. */
export interface EngineCheckpoint {
  /** Metric-topic offsets (next offset to read) per partition, stored with the windows they produced. */
  readonly offsets: ReadonlyMap<number, string>;
  /** Alarms created, or changed in more than their windows (a metric listed); upserted whole. */
  readonly alarms: readonly AlarmRecord[];
  /**
   * Alarms the store has, of which only the sub-alarms (windows, sub-states, current values)
   * and updated_at changed: the engine's steady write, one narrow update each. An alarm
   * deleted meanwhile stays deleted.
   */
  readonly windows?: readonly AlarmWindowsRecord[];
  /**
   * Transitions to record. Each is applied only if the alarm's stored state still equals
   * `oldState` (compare-and-set); one that does not apply is skipped and reported back, so
   * a stale replica cannot make a false transition.
   */
  readonly transitions: readonly AlarmTransitionRecord[];
  /**
   * Notifications for the transitions that apply (by transitionId); those of skipped ones are
   * dropped. An applied transition also removes its alarm's pending 'repeat' deliveries: the
   * new state's own deliveries start a fresh chain.
   */
  readonly deliveries: readonly NewDelivery[];
}

export interface CheckpointResult {
  /** Transition ids that were skipped by the compare-and-set. */
  readonly skippedTransitions: readonly string[];
}

export interface PartitionState {
  /** The next offset to read, or null if this partition was never checkpointed. */
  readonly offset: string | null;
  readonly alarms: readonly AlarmRecord[];
}

export interface AlarmStore {
  // Definitions (the API; the engine reads them all).
  createDefinition(definition: NewAlarmDefinition, nowMs: number): Promise<AlarmDefinitionRecord>;
  getDefinition(tenantId: string, id: string): Promise<AlarmDefinitionRecord | null>;
  listDefinitions(query: AlarmDefinitionQuery): Promise<readonly AlarmDefinitionRecord[]>;
  /** Replaces every field but id, tenant and createdAt; null when there is no such definition. */
  updateDefinition(tenantId: string, id: string, definition: NewAlarmDefinition, nowMs: number): Promise<AlarmDefinitionRecord | null>;
  /** Deletes the definition with its alarms, their windows and pending deliveries; history stays. */
  deleteDefinition(tenantId: string, id: string): Promise<boolean>;
  /** Every tenant's definitions, for the engine. */
  allDefinitions(): Promise<readonly AlarmDefinitionRecord[]>;
  /** Goes up on every definition create, update or delete; the engine reloads when it moves. */
  definitionsRevision(): Promise<number>;

  // Alarms (the API).
  getAlarm(tenantId: string, id: string): Promise<AlarmView | null>;
  listAlarms(query: AlarmQuery): Promise<readonly AlarmView[]>;
  countAlarms(query: Omit<AlarmQuery, 'sortBy' | 'offset' | 'limit'>, groupBy: readonly AlarmCountGroup[]): Promise<readonly AlarmCountRow[]>;
  /**
   * Changes state, lifecycle_state or link. A state change is a transition (recorded in
   * history, with `transition` as given) and is compare-and-set like the engine's.
   */
  patchAlarm(tenantId: string, id: string, patch: AlarmPatch, nowMs: number, transition?: AlarmTransitionRecord): Promise<AlarmView | null>;
  deleteAlarm(tenantId: string, id: string): Promise<boolean>;
  listHistory(query: HistoryQuery): Promise<readonly AlarmTransitionRecord[]>;

  // The engine.
  loadPartition(partition: number): Promise<PartitionState>;
  checkpoint(checkpoint: EngineCheckpoint): Promise<CheckpointResult>;

  // Notification methods (the API; the notifier reads them by id).
  createNotificationMethod(method: NewNotificationMethod, nowMs: number): Promise<NotificationMethodRecord>;
  getNotificationMethod(tenantId: string, id: string): Promise<NotificationMethodRecord | null>;
  listNotificationMethods(query: { tenantId: string; sortBy?: readonly (readonly [string, 'asc' | 'desc'])[]; offset: number; limit: number }): Promise<readonly NotificationMethodRecord[]>;
  updateNotificationMethod(tenantId: string, id: string, method: NewNotificationMethod, nowMs: number): Promise<NotificationMethodRecord | null>;
  deleteNotificationMethod(tenantId: string, id: string): Promise<boolean>;

  // The notifier's outbox: leased so several notifiers never send one delivery at once.
  /** Deliveries due at `nowMs` and not leased, leased to `owner` until nowMs + leaseMs, claims + 1. */
  claimDeliveries(nowMs: number, leaseMs: number, owner: string, limit: number): Promise<readonly DeliveryRecord[]>;
  /*
   * The outcomes below act only while the delivery is still leased to `owner` (an expired
   * lease nobody took over still counts); false when another claimer holds it now, or it is
   * gone (a newer transition dropped a pending repeat, say), and nothing was changed.
   */
  /** Sent: removed. A 'repeat' for the next period is added in the same transaction when given. */
  completeDelivery(id: string, owner: string, next?: NewDelivery): Promise<boolean>;
  /** Failed: due again at `dueAtMs`, attempts + 1, lease released. */
  retryDelivery(id: string, owner: string, dueAtMs: number, error: string): Promise<boolean>;
  /** Given up (attempts exhausted or permanently rejected): removed, with the reason logged by the caller. */
  abandonDelivery(id: string, owner: string): Promise<boolean>;
  getTransition(tenantId: string, id: string): Promise<AlarmTransitionRecord | null>;

  close(): Promise<void>;
}
