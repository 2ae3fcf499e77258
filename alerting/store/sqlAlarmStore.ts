import { randomUUID } from 'node:crypto';
import {
  ALARM_COUNT_GROUPS,
  type AlarmCountGroup,
  type AlarmCountRow,
  type AlarmDefinitionQuery,
  type AlarmDefinitionRecord,
  type AlarmPatch,
  type AlarmQuery,
  type AlarmStore,
  type AlarmTransitionRecord,
  type AlarmView,
  type AlarmWindowsRecord,
  type CheckpointResult,
  type DeliveryRecord,
  type EngineCheckpoint,
  type HistoryQuery,
  type NewAlarmDefinition,
  type NewDelivery,
  type NewNotificationMethod,
  type NotificationMethodRecord,
  type PartitionState,
} from './alarmStore.js';
import { anyMetricMatches, checkSortFields, compareIds, countAlarmGroups, matchesAlarmQuery, page, selectAlarms, selectDefinitions, selectMethods, type SortSpec } from './alarmFilters.js';
import {
  ALARM_COLUMNS,
  ALARM_VIEW_COLUMNS,
  DEFINITION_COLUMNS,
  DELIVERY_COLUMNS,
  METHOD_COLUMNS,
  TRANSITION_COLUMNS,
  alarmFromRow,
  alarmParams,
  alarmViewFromRow,
  columnCount,
  definitionFromRow,
  definitionParams,
  deliveryFromRow,
  deliveryParams,
  methodFromRow,
  methodParams,
  numberOf,
  placeholders,
  transitionFromRow,
  transitionParams,
  type Row,
  type SqlValue,
} from './alarmRows.js';

/**
 * The alarm store's logic, once, over the little a dialect must provide: run a statement,
 * read rows, and a transaction. SqliteAlarmStore and PostgresAlarmStore are this class with
 * their connection; the SQL is the subset both dialects read alike (`ON CONFLICT … DO
 * UPDATE`, `RETURNING`), written with `?` placeholders.
 */
export interface SqlSession {
  all(sql: string, params?: readonly SqlValue[]): Promise<readonly Row[]>;
  /** The number of rows changed. */
  run(sql: string, params?: readonly SqlValue[]): Promise<number>;
  /**
   * One statement once per item, with the parameters `params` gives for it, in order; the
   * rows changed in all. SQLite runs them in one synchronous loop, each item's parameters
   * made just before its statement, so a checkpoint's many large values die young instead
   * of all being held (and copied by the collector) until the last is written.
   */
  runEach<T>(sql: string, items: readonly T[], params: (item: T) => readonly SqlValue[]): Promise<number>;
}

export interface SqlConnection extends SqlSession {
  /**
   * Runs `work` in one transaction on one session; commits if it resolves, rolls back if it
   * rejects. 'snapshot': reads only, all from one snapshot of the database.
   */
  transaction<T>(work: (tx: SqlSession) => Promise<T>, mode?: 'write' | 'snapshot'): Promise<T>;
  close(): Promise<void>;
}

export interface SqlDialect {
  /**
   * Appended to the select of due deliveries that a claim leases: PostgreSQL's `FOR UPDATE
   * SKIP LOCKED` keeps concurrent claimers off each other's rows; SQLite writes one at a time.
   */
  readonly claimLockClause: string;
  /**
   * Whether a checkpoint writes its alarm rows in id order, so that two writers whose
   * checkpoints overlap take row locks in one order and wait rather than deadlock
   * (PostgreSQL). SQLite holds one write lock for the whole transaction, so the order is
   * free, and the rows go in the order the engine changed them, which costs no sort and
   * is closer to their order on disk.
   */
  readonly ordersWritesById: boolean;
  /**
   * How many alarms' windows one statement of a checkpoint sets. Above 1, `UPDATE … FROM
   * (VALUES …)` sets that many rows at once: on SQLite it halves a row's cost (about 7 µs a
   * row alone, 3.4 in statements of 200, for 100,000 rows), which a checkpoint of every alarm
   * pays every interval. PostgreSQL keeps 1: a joined update takes its row locks in the
   * plan's order, not in id order (see ordersWritesById), and its VALUES would need casts.
   */
  readonly windowsPerStatement: number;
}

/** BEGIN, work, COMMIT; ROLLBACK when work fails (a failed rollback must not hide why). */
export async function inTransaction<T>(session: SqlSession, work: (tx: SqlSession) => Promise<T>, begin = 'BEGIN'): Promise<T> {
  await session.run(begin);
  try {
    const result = await work(session);
    await session.run('COMMIT');
    return result;
  } catch (error) {
    await session.run('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

function definitionRecord(definition: NewAlarmDefinition, id: string, createdAtMs: number, updatedAtMs: number): AlarmDefinitionRecord {
  return {
    id,
    tenantId: definition.tenantId,
    name: definition.name,
    description: definition.description,
    expression: definition.expression,
    matchBy: [...definition.matchBy],
    severity: definition.severity,
    alarmActions: [...definition.alarmActions],
    okActions: [...definition.okActions],
    undeterminedActions: [...definition.undeterminedActions],
    actionsEnabled: definition.actionsEnabled,
    createdAtMs,
    updatedAtMs,
  };
}

function methodRecord(method: NewNotificationMethod, id: string, createdAtMs: number, updatedAtMs: number): NotificationMethodRecord {
  return {
    id,
    tenantId: method.tenantId,
    name: method.name,
    type: method.type,
    address: method.address,
    periodSeconds: method.periodSeconds,
    secret: method.secret,
    createdAtMs,
    updatedAtMs,
  };
}

function checkGroups(groupBy: readonly AlarmCountGroup[]): void {
  for (const group of groupBy) {
    if (!(ALARM_COUNT_GROUPS as readonly string[]).includes(group)) throw new Error(`alarm store: cannot group alarms by '${String(group)}'; fields: ${ALARM_COUNT_GROUPS.join(', ')}`);
  }
}

type AlarmFilter = Omit<AlarmQuery, 'sortBy' | 'offset' | 'limit'>;

/** The first row mapped, or null when there is none. */
async function firstOf<T>(session: SqlSession, sql: string, params: readonly SqlValue[], map: (row: Row) => T): Promise<T | null> {
  const [row] = await session.all(sql, params);
  return row === undefined ? null : map(row);
}

type Condition = readonly [sql: string, value: SqlValue | readonly SqlValue[] | undefined];

/** `AND` of the conditions whose value is given; a list fills the condition's `(?)` (an empty list matches nothing). */
function whereOf(conditions: readonly Condition[]): { sql: string; params: SqlValue[] } {
  const sql: string[] = [];
  const params: SqlValue[] = [];
  for (const [condition, value] of conditions) {
    if (value === undefined) continue;
    if (typeof value === 'object' && value !== null) {
      sql.push(value.length > 0 ? condition.replace('(?)', `(${placeholders(value.length)})`) : '1 = 0');
      params.push(...value);
    } else {
      sql.push(condition);
      params.push(value);
    }
  }
  return { sql: sql.join(' AND '), params };
}

/** The indexed part of an alarm query; metrics and severity are matched in memory. */
function alarmWhere(query: AlarmFilter): { sql: string; params: SqlValue[] } {
  return whereOf([
    ['a.tenant_id = ?', query.tenantId],
    ['a.definition_id = ?', query.definitionId],
    ['a.state IN (?)', query.states],
    ['a.lifecycle_state = ?', query.lifecycleState],
    ['a.link = ?', query.link],
    ['a.state_updated_at_ms >= ?', query.stateUpdatedStartMs],
  ]);
}

const INSERT_DEFINITION = `INSERT INTO alarm_definitions (${DEFINITION_COLUMNS}) VALUES (${placeholders(columnCount(DEFINITION_COLUMNS))})`;
/**
 * The engine's write of an alarm: whole when new; when stored, only what the engine owns
 * (metrics, sub-alarms and their windows). State changes only by a transition's
 * compare-and-set, and lifecycle_state and link only through the API, so a checkpoint
 * from the engine's memory never undoes either (nor touches the indexed columns).
 */
const UPSERT_ALARM = `INSERT INTO alarms (${ALARM_COLUMNS}) VALUES (${placeholders(columnCount(ALARM_COLUMNS))}) ON CONFLICT (id) DO UPDATE SET metrics = excluded.metrics, sub_alarms = excluded.sub_alarms, updated_at_ms = excluded.updated_at_ms`;
const UPDATE_WINDOWS = 'UPDATE alarms SET sub_alarms = ?, updated_at_ms = ? WHERE id = ?';
/** UPDATE_WINDOWS for `rows` rows in one statement, parameters (id, sub_alarms, updated_at_ms) per row. */
const updateWindowsOf = (rows: number): string =>
  `WITH v (id, sub_alarms, updated_at_ms) AS (VALUES ${Array.from({ length: rows }, () => '(?, ?, ?)').join(', ')}) ` +
  'UPDATE alarms SET sub_alarms = v.sub_alarms, updated_at_ms = v.updated_at_ms FROM v WHERE alarms.id = v.id';
const INSERT_TRANSITION = `INSERT INTO alarm_history (${TRANSITION_COLUMNS}) VALUES (${placeholders(columnCount(TRANSITION_COLUMNS))}) ON CONFLICT (id) DO NOTHING`;
const INSERT_METHOD = `INSERT INTO notification_methods (${METHOD_COLUMNS}) VALUES (${placeholders(columnCount(METHOD_COLUMNS))})`;
const INSERT_DELIVERY = `INSERT INTO deliveries (${DELIVERY_COLUMNS}) VALUES (${placeholders(columnCount(DELIVERY_COLUMNS))}) ON CONFLICT (id) DO NOTHING`;
const SELECT_VIEW = `SELECT ${ALARM_VIEW_COLUMNS} FROM alarms a JOIN alarm_definitions d ON d.id = a.definition_id AND d.tenant_id = a.tenant_id`;
const KEPT_ON_REPLACE: ReadonlySet<string> = new Set(['id', 'tenant_id', 'created_at_ms']);
const BUMP_REVISION = 'UPDATE definitions_revision SET revision = revision + 1 WHERE id = 1';

export class SqlAlarmStore implements AlarmStore {
  private readonly claimSql: string;
  private closing: Promise<void> | undefined;

  private readonly ordersWritesById: boolean;
  private readonly windowsPerStatement: number;
  private readonly updateWindowsSql: string;

  constructor(
    private readonly db: SqlConnection,
    dialect: SqlDialect,
  ) {
    this.ordersWritesById = dialect.ordersWritesById;
    this.windowsPerStatement = Math.max(1, Math.floor(dialect.windowsPerStatement));
    this.updateWindowsSql = this.windowsPerStatement > 1 ? updateWindowsOf(this.windowsPerStatement) : UPDATE_WINDOWS;
    this.claimSql =
      'UPDATE deliveries SET leased_by = ?, lease_until_ms = ?, claims = claims + 1 WHERE id IN (' +
      `SELECT id FROM deliveries WHERE due_at_ms <= ? AND (lease_until_ms IS NULL OR lease_until_ms <= ?) ORDER BY due_at_ms, id LIMIT ? ${dialect.claimLockClause}` +
      `) RETURNING ${DELIVERY_COLUMNS}`;
  }

  // Definitions.

  async createDefinition(definition: NewAlarmDefinition, nowMs: number): Promise<AlarmDefinitionRecord> {
    const record = definitionRecord(definition, definition.id ?? randomUUID(), nowMs, nowMs);
    await this.db.transaction(async (tx) => {
      await tx.run(INSERT_DEFINITION, definitionParams(record));
      await tx.run(BUMP_REVISION);
    });
    return record;
  }

  async getDefinition(tenantId: string, id: string): Promise<AlarmDefinitionRecord | null> {
    return this.definitionIn(this.db, tenantId, id);
  }

  private async definitionIn(session: SqlSession, tenantId: string, id: string): Promise<AlarmDefinitionRecord | null> {
    return firstOf(session, `SELECT ${DEFINITION_COLUMNS} FROM alarm_definitions WHERE tenant_id = ? AND id = ?`, [tenantId, id], definitionFromRow);
  }

  async listDefinitions(query: AlarmDefinitionQuery): Promise<readonly AlarmDefinitionRecord[]> {
    checkSortFields('definitions', query.sortBy);
    const byName = query.name !== undefined;
    const rows = await this.db.all(`SELECT ${DEFINITION_COLUMNS} FROM alarm_definitions WHERE tenant_id = ?${byName ? ' AND name = ?' : ''}`, byName ? [query.tenantId, query.name ?? ''] : [query.tenantId]);
    return selectDefinitions(rows.map(definitionFromRow), query);
  }

  async updateDefinition(tenantId: string, id: string, definition: NewAlarmDefinition, nowMs: number): Promise<AlarmDefinitionRecord | null> {
    return this.replace(
      { table: 'alarm_definitions', columns: DEFINITION_COLUMNS, params: definitionParams, read: (tx) => this.definitionIn(tx, tenantId, id) },
      tenantId,
      id,
      (createdAtMs) => definitionRecord({ ...definition, tenantId }, id, createdAtMs, nowMs),
      (tx) => tx.run(BUMP_REVISION),
    );
  }

  async deleteDefinition(tenantId: string, id: string): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      if ((await tx.run('DELETE FROM alarm_definitions WHERE tenant_id = ? AND id = ?', [tenantId, id])) === 0) return false;
      await tx.run('DELETE FROM deliveries WHERE tenant_id = ? AND alarm_id IN (SELECT id FROM alarms WHERE tenant_id = ? AND definition_id = ?)', [tenantId, tenantId, id]);
      await tx.run('DELETE FROM alarms WHERE tenant_id = ? AND definition_id = ?', [tenantId, id]);
      await tx.run(BUMP_REVISION);
      return true;
    });
  }

  async allDefinitions(): Promise<readonly AlarmDefinitionRecord[]> {
    const rows = await this.db.all(`SELECT ${DEFINITION_COLUMNS} FROM alarm_definitions`);
    return rows.map(definitionFromRow).sort((a, b) => compareIds(a.id, b.id));
  }

  async definitionsRevision(): Promise<number> {
    const rows = await this.db.all('SELECT revision FROM definitions_revision WHERE id = 1');
    return rows[0] === undefined ? 0 : numberOf(rows[0], 'revision');
  }

  // Alarms.

  async getAlarm(tenantId: string, id: string): Promise<AlarmView | null> {
    return this.alarmViewIn(this.db, tenantId, id);
  }

  private async alarmViewIn(session: SqlSession, tenantId: string, id: string): Promise<AlarmView | null> {
    return firstOf(session, `${SELECT_VIEW} WHERE a.tenant_id = ? AND a.id = ?`, [tenantId, id], alarmViewFromRow);
  }

  private async alarmViews(query: AlarmFilter): Promise<AlarmView[]> {
    const where = alarmWhere(query);
    const rows = await this.db.all(`${SELECT_VIEW} WHERE ${where.sql}`, where.params);
    return rows.map(alarmViewFromRow);
  }

  async listAlarms(query: AlarmQuery): Promise<readonly AlarmView[]> {
    checkSortFields('alarms', query.sortBy);
    return selectAlarms(await this.alarmViews(query), query);
  }

  async countAlarms(query: AlarmFilter, groupBy: readonly AlarmCountGroup[]): Promise<readonly AlarmCountRow[]> {
    checkGroups(groupBy);
    const alarms = (await this.alarmViews(query)).filter((a) => matchesAlarmQuery(a, query));
    return countAlarmGroups(alarms, groupBy);
  }

  /**
   * A state change is compare-and-set against `transition.oldState` (or the state read here
   * when no transition is given); when another writer moved the alarm first, the state and
   * the transition are left out and the rest of the patch still applies.
   */
  async patchAlarm(tenantId: string, id: string, patch: AlarmPatch, nowMs: number, transition?: AlarmTransitionRecord): Promise<AlarmView | null> {
    return this.db.transaction(async (tx) => {
      const current = await this.alarmViewIn(tx, tenantId, id);
      if (current === null) return null;
      if (patch.state !== undefined && patch.state !== current.state) {
        const expected = transition?.oldState ?? current.state;
        const changed = await tx.run('UPDATE alarms SET state = ?, state_updated_at_ms = ?, updated_at_ms = ? WHERE tenant_id = ? AND id = ? AND state = ?', [
          patch.state,
          nowMs,
          nowMs,
          tenantId,
          id,
          expected,
        ]);
        if (changed > 0 && transition !== undefined) await tx.run(INSERT_TRANSITION, transitionParams(transition));
      }
      if (patch.lifecycleState !== undefined) await tx.run('UPDATE alarms SET lifecycle_state = ?, updated_at_ms = ? WHERE tenant_id = ? AND id = ?', [patch.lifecycleState, nowMs, tenantId, id]);
      if (patch.link !== undefined) await tx.run('UPDATE alarms SET link = ?, updated_at_ms = ? WHERE tenant_id = ? AND id = ?', [patch.link, nowMs, tenantId, id]);
      return this.alarmViewIn(tx, tenantId, id);
    });
  }

  async deleteAlarm(tenantId: string, id: string): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      if ((await tx.run('DELETE FROM alarms WHERE tenant_id = ? AND id = ?', [tenantId, id])) === 0) return false;
      await tx.run('DELETE FROM deliveries WHERE tenant_id = ? AND alarm_id = ?', [tenantId, id]);
      return true;
    });
  }

  async listHistory(query: HistoryQuery): Promise<readonly AlarmTransitionRecord[]> {
    const where = whereOf([
      ['tenant_id = ?', query.tenantId],
      ['alarm_id IN (?)', query.alarmIds],
      ['timestamp_ms >= ?', query.startMs],
      ['timestamp_ms <= ?', query.endMs],
    ]);
    const rows = await this.db.all(`SELECT ${TRANSITION_COLUMNS} FROM alarm_history WHERE ${where.sql}`, where.params);
    const matching = rows
      .map(transitionFromRow)
      .filter((t) => anyMetricMatches(t.metrics, query.dimensions))
      .sort((a, b) => a.timestampMs - b.timestampMs || compareIds(a.id, b.id));
    return page(matching, query.offset, query.limit);
  }

  async getTransition(tenantId: string, id: string): Promise<AlarmTransitionRecord | null> {
    return firstOf(this.db, `SELECT ${TRANSITION_COLUMNS} FROM alarm_history WHERE tenant_id = ? AND id = ?`, [tenantId, id], transitionFromRow);
  }

  // The engine.

  /** One snapshot: windows read with an offset from another checkpoint would replay or skip metrics. */
  async loadPartition(partition: number): Promise<PartitionState> {
    return this.db.transaction(async (tx) => {
      const offsets = await tx.all('SELECT next_offset FROM engine_offsets WHERE partition_id = ?', [partition]);
      const alarms = await tx.all(`SELECT ${ALARM_COLUMNS} FROM alarms WHERE partition_id = ?`, [partition]);
      const offset = offsets[0]?.next_offset;
      return { offset: typeof offset === 'string' ? offset : null, alarms: alarms.map(alarmFromRow).sort((a, b) => compareIds(a.id, b.id)) };
    }, 'snapshot');
  }

  /**
   * Transitions first, each compare-and-set on the stored state; then the alarms, except
   * those with a skipped transition (their stored row is newer than this writer's view, so
   * overwriting it would undo the other writer's transition); then the deliveries of the
   * transitions that applied; then the offsets. An alarm not stored yet has no state to
   * contradict: its transitions apply when the checkpoint creates it. An applied transition
   * drops its alarm's pending repeats (of the state it left, or of an earlier stay in the new
   * one): the new state's deliveries start their own chain, so reminders never double up.
   *
   * Transitions are applied in alarm id order (a stable sort keeps one alarm's transitions
   * in their order), and on PostgreSQL the alarm rows too, so two writers whose checkpoints
   * overlap wait for each other rather than deadlock (see SqlDialect.ordersWritesById).
   */
  async checkpoint(checkpoint: EngineCheckpoint): Promise<CheckpointResult> {
    return this.db.transaction(async (tx) => {
      const created = new Set(checkpoint.alarms.map((a) => a.id));
      const skipped = new Set<string>();
      const staleAlarms = new Set<string>();
      for (const transition of [...checkpoint.transitions].sort((a, b) => compareIds(a.alarmId, b.alarmId))) {
        if (!(await this.applyTransition(tx, transition, created))) {
          skipped.add(transition.id);
          staleAlarms.add(transition.alarmId);
          continue;
        }
        await tx.run(INSERT_TRANSITION, transitionParams(transition));
        await tx.run('DELETE FROM deliveries WHERE tenant_id = ? AND alarm_id = ? AND kind = ?', [transition.tenantId, transition.alarmId, 'repeat']);
      }
      const fresh = <T extends { readonly id: string }>(rows: readonly T[]): T[] => {
        const kept = rows.filter((row) => !staleAlarms.has(row.id));
        return this.ordersWritesById ? kept.sort((a, b) => compareIds(a.id, b.id)) : kept;
      };
      await tx.runEach(UPSERT_ALARM, fresh(checkpoint.alarms), alarmParams);
      await this.updateWindows(tx, fresh(checkpoint.windows ?? []));
      for (const delivery of checkpoint.deliveries) {
        if (!skipped.has(delivery.transitionId)) await tx.run(INSERT_DELIVERY, deliveryParams(delivery));
      }
      for (const [partition, offset] of checkpoint.offsets) {
        await tx.run('INSERT INTO engine_offsets (partition_id, next_offset) VALUES (?, ?) ON CONFLICT (partition_id) DO UPDATE SET next_offset = excluded.next_offset', [partition, offset]);
      }
      return { skippedTransitions: checkpoint.transitions.filter((t) => skipped.has(t.id)).map((t) => t.id) };
    });
  }

  /** Sets the windows of alarms the store has, `windowsPerStatement` rows a statement and the rest one by one. */
  private async updateWindows(tx: SqlSession, windows: readonly AlarmWindowsRecord[]): Promise<void> {
    const per = this.windowsPerStatement;
    const whole = per > 1 ? windows.length - (windows.length % per) : 0;
    if (whole > 0) {
      const starts = Array.from({ length: whole / per }, (_, i) => i * per);
      await tx.runEach(this.updateWindowsSql, starts, (start) => {
        const params: SqlValue[] = [];
        for (let i = start; i < start + per; i++) {
          const w = windows[i] as AlarmWindowsRecord;
          params.push(w.id, w.subAlarmsJson, w.updatedAtMs);
        }
        return params;
      });
    }
    await tx.runEach(UPDATE_WINDOWS, whole > 0 ? windows.slice(whole) : windows, (w) => [w.subAlarmsJson, w.updatedAtMs, w.id]);
  }

  private async applyTransition(tx: SqlSession, transition: AlarmTransitionRecord, created: ReadonlySet<string>): Promise<boolean> {
    const changed = await tx.run('UPDATE alarms SET state = ?, state_updated_at_ms = ? WHERE tenant_id = ? AND id = ? AND state = ?', [
      transition.newState,
      transition.timestampMs,
      transition.tenantId,
      transition.alarmId,
      transition.oldState,
    ]);
    if (changed > 0) return true;
    if (!created.has(transition.alarmId)) return false;
    const stored = await tx.all('SELECT 1 AS present FROM alarms WHERE id = ?', [transition.alarmId]);
    return stored.length === 0;
  }

  // Notification methods.

  async createNotificationMethod(method: NewNotificationMethod, nowMs: number): Promise<NotificationMethodRecord> {
    const record = methodRecord(method, method.id ?? randomUUID(), nowMs, nowMs);
    await this.db.run(INSERT_METHOD, methodParams(record));
    return record;
  }

  async getNotificationMethod(tenantId: string, id: string): Promise<NotificationMethodRecord | null> {
    return this.methodIn(this.db, tenantId, id);
  }

  private async methodIn(session: SqlSession, tenantId: string, id: string): Promise<NotificationMethodRecord | null> {
    return firstOf(session, `SELECT ${METHOD_COLUMNS} FROM notification_methods WHERE tenant_id = ? AND id = ?`, [tenantId, id], methodFromRow);
  }

  async listNotificationMethods(query: { tenantId: string; sortBy?: SortSpec; offset: number; limit: number }): Promise<readonly NotificationMethodRecord[]> {
    checkSortFields('notification methods', query.sortBy);
    const rows = await this.db.all(`SELECT ${METHOD_COLUMNS} FROM notification_methods WHERE tenant_id = ?`, [query.tenantId]);
    return selectMethods(rows.map(methodFromRow), query);
  }

  async updateNotificationMethod(tenantId: string, id: string, method: NewNotificationMethod, nowMs: number): Promise<NotificationMethodRecord | null> {
    return this.replace(
      { table: 'notification_methods', columns: METHOD_COLUMNS, params: methodParams, read: (tx) => this.methodIn(tx, tenantId, id) },
      tenantId,
      id,
      (createdAtMs) => methodRecord({ ...method, tenantId }, id, createdAtMs, nowMs),
    );
  }

  /** Rewrites a tenant's row but for id, tenant and creation time, in one transaction; null when the tenant has no such row. */
  private async replace<T extends { readonly createdAtMs: number }>(
    target: { table: string; columns: string; params: (record: T) => SqlValue[]; read: (tx: SqlSession) => Promise<T | null> },
    tenantId: string,
    id: string,
    make: (createdAtMs: number) => T,
    afterwards?: (tx: SqlSession) => Promise<unknown>,
  ): Promise<T | null> {
    return this.db.transaction(async (tx) => {
      const existing = await target.read(tx);
      if (existing === null) return null;
      const record = make(existing.createdAtMs);
      const values = target.params(record);
      const changed = target.columns.split(', ').flatMap((column, i) => (KEPT_ON_REPLACE.has(column) ? [] : [{ column, value: values[i] ?? null }]));
      await tx.run(`UPDATE ${target.table} SET ${changed.map((c) => `${c.column} = ?`).join(', ')} WHERE tenant_id = ? AND id = ?`, [...changed.map((c) => c.value), tenantId, id]);
      await afterwards?.(tx);
      return record;
    });
  }

  /** Its pending deliveries go with it: there is nowhere left to send them. */
  /**
   * Deletes a method with its pending deliveries, and takes it out of the tenant's
   * definitions' action lists, as Monasca's schema does (its alarm_action rows go with the
   * method, ON DELETE CASCADE); engines reload the definitions on the revision.
   */
  async deleteNotificationMethod(tenantId: string, id: string): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      if ((await tx.run('DELETE FROM notification_methods WHERE tenant_id = ? AND id = ?', [tenantId, id])) === 0) return false;
      await tx.run('DELETE FROM deliveries WHERE tenant_id = ? AND method_id = ?', [tenantId, id]);
      // LIKE only narrows the rows (a wildcard in an id can only add some); the lists are filtered exactly.
      const like = `%${JSON.stringify(id)}%`;
      const rows = await tx.all(`SELECT ${DEFINITION_COLUMNS} FROM alarm_definitions WHERE tenant_id = ? AND (alarm_actions LIKE ? OR ok_actions LIKE ? OR undetermined_actions LIKE ?)`, [
        tenantId,
        like,
        like,
        like,
      ]);
      let changed = 0;
      for (const definition of rows.map(definitionFromRow)) {
        const lists = [definition.alarmActions, definition.okActions, definition.undeterminedActions];
        const kept = lists.map((list) => list.filter((action) => action !== id));
        if (kept.every((list, i) => list.length === lists[i]?.length)) continue;
        await tx.run('UPDATE alarm_definitions SET alarm_actions = ?, ok_actions = ?, undetermined_actions = ? WHERE tenant_id = ? AND id = ?', [
          ...kept.map((list) => JSON.stringify(list)),
          tenantId,
          definition.id,
        ]);
        changed++;
      }
      if (changed > 0) await tx.run(BUMP_REVISION);
      return true;
    });
  }

  // The outbox.

  async claimDeliveries(nowMs: number, leaseMs: number, owner: string, limit: number): Promise<readonly DeliveryRecord[]> {
    if (limit <= 0) return [];
    const rows = await this.db.all(this.claimSql, [owner, nowMs + leaseMs, nowMs, nowMs, limit]);
    // RETURNING does not promise the subquery's order.
    return rows.map(deliveryFromRow).sort((a, b) => a.dueAtMs - b.dueAtMs || compareIds(a.id, b.id));
  }

  /** The next repeat goes in only with the completion: a holder that lost the lease must not start a second chain. */
  async completeDelivery(id: string, owner: string, next?: NewDelivery): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      if ((await tx.run('DELETE FROM deliveries WHERE id = ? AND leased_by = ?', [id, owner])) === 0) return false;
      if (next !== undefined) await tx.run(INSERT_DELIVERY, deliveryParams(next));
      return true;
    });
  }

  async retryDelivery(id: string, owner: string, dueAtMs: number, error: string): Promise<boolean> {
    const changed = await this.db.run('UPDATE deliveries SET due_at_ms = ?, attempts = attempts + 1, last_error = ?, leased_by = NULL, lease_until_ms = NULL WHERE id = ? AND leased_by = ?', [
      dueAtMs,
      error,
      id,
      owner,
    ]);
    return changed > 0;
  }

  async abandonDelivery(id: string, owner: string): Promise<boolean> {
    return (await this.db.run('DELETE FROM deliveries WHERE id = ? AND leased_by = ?', [id, owner])) > 0;
  }

  /** Once: a second call waits for the first. */
  close(): Promise<void> {
    this.closing ??= this.db.close();
    return this.closing;
  }
}
