import { matchesDimensions, type DimensionFilter, type MetricDefinition } from '../../core/query.js';
import type { AlarmState } from '../alarmState.js';
import { subExpressions } from '../expression/alarmExpression.js';
import { parseAlarmExpression } from '../expression/parseAlarmExpression.js';
import {
  SEVERITIES,
  type AlarmCountGroup,
  type AlarmCountRow,
  type AlarmDefinitionQuery,
  type AlarmDefinitionRecord,
  type AlarmQuery,
  type AlarmView,
  type NotificationMethodRecord,
  type Severity,
} from './alarmStore.js';

/**
 * What both alarm stores do in memory after a tenant-scoped select: the filters SQL cannot
 * express portably over JSON columns (metrics, expression dimensions), Monasca's sort orders
 * and its count grouping, then the page. One implementation, so SQLite and PostgreSQL answer
 * a query with the same page.
 */

export type SortSpec = readonly (readonly [string, 'asc' | 'desc'])[] | undefined;
type SortValue = string | number | null;
type SortKeys<T> = Readonly<Record<string, (item: T) => SortValue>>;

/** Monasca sorts severity and state by meaning, not alphabetically. */
const SEVERITY_RANK: Readonly<Record<Severity, number>> = Object.fromEntries(SEVERITIES.map((s, i) => [s, i])) as Record<Severity, number>;
const STATE_RANK: Readonly<Record<AlarmState, number>> = { OK: 0, UNDETERMINED: 1, ALARM: 2 };

/**
 * Strings in code-unit order, in memory rather than by ORDER BY: PostgreSQL sorts text by
 * the database's collation, which SQLite does not share, and the two must page alike.
 */
export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareValues(a: SortValue, b: SortValue): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return compareIds(String(a), String(b));
}

/**
 * Sorts by the given fields, then by id so that paging is stable. An unknown field is a
 * programmer error (the API validates sort_by against the same names first).
 */
function sortBy<T extends { readonly id: string }>(items: readonly T[], spec: SortSpec, keys: SortKeys<T>, what: string): T[] {
  const order = (spec ?? []).map(([field, direction]) => {
    const key = keys[field];
    if (key === undefined) throw new Error(`alarm store: cannot sort ${what} by '${field}'; fields: ${Object.keys(keys).join(', ')}`);
    return { key, sign: direction === 'desc' ? -1 : 1 };
  });
  return [...items].sort((a, b) => {
    for (const { key, sign } of order) {
      const compared = compareValues(key(a), key(b));
      if (compared !== 0) return sign * compared;
    }
    return compareValues(a.id, b.id);
  });
}

export function page<T>(items: readonly T[], offset: number, limit: number): T[] {
  return items.slice(offset, offset + limit);
}

const DEFINITION_SORT_KEYS: SortKeys<AlarmDefinitionRecord> = {
  id: (d) => d.id,
  name: (d) => d.name,
  severity: (d) => SEVERITY_RANK[d.severity],
  created_at: (d) => d.createdAtMs,
  updated_at: (d) => d.updatedAtMs,
};

const ALARM_SORT_KEYS: SortKeys<AlarmView> = {
  alarm_id: (a) => a.id,
  alarm_definition_id: (a) => a.definitionId,
  alarm_definition_name: (a) => a.definitionName,
  state: (a) => STATE_RANK[a.state],
  severity: (a) => SEVERITY_RANK[a.severity],
  lifecycle_state: (a) => a.lifecycleState,
  link: (a) => a.link,
  state_updated_timestamp: (a) => a.stateUpdatedAtMs,
  updated_timestamp: (a) => a.updatedAtMs,
  created_timestamp: (a) => a.createdAtMs,
};

const METHOD_SORT_KEYS: SortKeys<NotificationMethodRecord> = {
  id: (m) => m.id,
  name: (m) => m.name,
  type: (m) => m.type,
  address: (m) => m.address,
  period: (m) => m.periodSeconds,
  created_at: (m) => m.createdAtMs,
  updated_at: (m) => m.updatedAtMs,
};

/** Throws on an unknown field before any I/O, so a bad sort_by never costs a select. */
export function checkSortFields(kind: 'definitions' | 'alarms' | 'notification methods', spec: SortSpec): void {
  const keys = kind === 'definitions' ? DEFINITION_SORT_KEYS : kind === 'alarms' ? ALARM_SORT_KEYS : METHOD_SORT_KEYS;
  sortBy([], spec, keys as SortKeys<{ id: string }>, kind);
}

/**
 * Does some sub-expression carry each filtered dimension? Monasca tests each dimension on
 * its own, so two keys may be satisfied by two different sub-expressions.
 */
function expressionHasDimensions(expression: string, filter: DimensionFilter): boolean {
  const parsed = parseAlarmExpression(expression);
  if (!parsed.ok) return false;
  const subs = subExpressions(parsed.value);
  return Object.entries(filter).every(([key, values]) =>
    subs.some((sub) => {
      const actual = sub.dimensions[key];
      return actual !== undefined && (values === null || values.includes(actual));
    }),
  );
}

export function selectDefinitions(definitions: readonly AlarmDefinitionRecord[], query: AlarmDefinitionQuery): AlarmDefinitionRecord[] {
  const matching = definitions.filter(
    (d) =>
      (query.name === undefined || d.name === query.name) &&
      (query.severities === undefined || query.severities.includes(d.severity)) &&
      (query.dimensions === undefined || expressionHasDimensions(d.expression, query.dimensions)),
  );
  return page(sortBy(matching, query.sortBy, DEFINITION_SORT_KEYS, 'definitions'), query.offset, query.limit);
}

/** Some one metric of the alarm has the name and the dimensions asked for. */
function hasMetric(metrics: readonly MetricDefinition[], name: string | undefined, dimensions: DimensionFilter | undefined): boolean {
  return metrics.some((m) => (name === undefined || m.name === name) && (dimensions === undefined || matchesDimensions(m.dimensions, dimensions)));
}

/** The part of an AlarmQuery the stores apply in memory; the rest is in their WHERE clause. */
export function matchesAlarmQuery(alarm: AlarmView, query: Omit<AlarmQuery, 'sortBy' | 'offset' | 'limit'>): boolean {
  if (query.severities !== undefined && !query.severities.includes(alarm.severity)) return false;
  if (query.metricName === undefined && query.metricDimensions === undefined) return true;
  return hasMetric(alarm.metrics, query.metricName, query.metricDimensions);
}

export function selectAlarms(alarms: readonly AlarmView[], query: AlarmQuery): AlarmView[] {
  const matching = alarms.filter((a) => matchesAlarmQuery(a, query));
  return page(sortBy(matching, query.sortBy, ALARM_SORT_KEYS, 'alarms'), query.offset, query.limit);
}

export function selectMethods(methods: readonly NotificationMethodRecord[], query: { sortBy?: SortSpec; offset: number; limit: number }): NotificationMethodRecord[] {
  return page(sortBy(methods, query.sortBy, METHOD_SORT_KEYS, 'notification methods'), query.offset, query.limit);
}

/** Alarms whose metrics (or a transition's) pass a dimension filter: some one metric matches. */
export function anyMetricMatches(metrics: readonly MetricDefinition[], filter: DimensionFilter | undefined): boolean {
  return filter === undefined || hasMetric(metrics, undefined, filter);
}

type GroupValue = string | null;
const METRIC_GROUPS: ReadonlySet<AlarmCountGroup> = new Set(['metric_name', 'dimension_name', 'dimension_value']);

/** The alarm-level value of a group field (the metric-level ones are expanded separately). */
function alarmGroupValue(alarm: AlarmView, group: AlarmCountGroup): GroupValue {
  switch (group) {
    case 'alarm_definition_id':
      return alarm.definitionId;
    case 'name':
      return alarm.definitionName;
    case 'state':
      return alarm.state;
    case 'severity':
      return alarm.severity;
    case 'link':
      return alarm.link;
    case 'lifecycle_state':
      return alarm.lifecycleState;
    default:
      return null;
  }
}

/**
 * The distinct combinations an alarm counts under. Metric-level fields expand as Monasca's
 * join over alarm → metric → dimension does: one combination per metric and dimension (a
 * metric without dimensions gives nulls), and the alarm counts once per distinct combination.
 */
function combinationsOf(alarm: AlarmView, groupBy: readonly AlarmCountGroup[]): GroupValue[][] {
  if (!groupBy.some((g) => METRIC_GROUPS.has(g))) return [groupBy.map((g) => alarmGroupValue(alarm, g))];
  const metrics: readonly (MetricDefinition | null)[] = alarm.metrics.length > 0 ? alarm.metrics : [null];
  const combinations: GroupValue[][] = [];
  for (const metric of metrics) {
    const entries: [GroupValue, GroupValue][] = metric !== null && Object.keys(metric.dimensions).length > 0 ? Object.entries(metric.dimensions) : [[null, null]];
    for (const [dimensionName, dimensionValue] of entries) {
      combinations.push(
        groupBy.map((g) => {
          if (g === 'metric_name') return metric?.name ?? null;
          if (g === 'dimension_name') return dimensionName;
          if (g === 'dimension_value') return dimensionValue;
          return alarmGroupValue(alarm, g);
        }),
      );
    }
  }
  return combinations;
}

/** Monasca's alarm count: the total without group_by, else one row per combination, sorted by its values. */
export function countAlarmGroups(alarms: readonly AlarmView[], groupBy: readonly AlarmCountGroup[]): AlarmCountRow[] {
  if (groupBy.length === 0) return [{ count: alarms.length, values: [] }];
  const counts = new Map<string, { values: GroupValue[]; count: number }>();
  for (const alarm of alarms) {
    const seen = new Set<string>();
    for (const values of combinationsOf(alarm, groupBy)) {
      const key = JSON.stringify(values);
      if (seen.has(key)) continue;
      seen.add(key);
      const row = counts.get(key) ?? { values, count: 0 };
      row.count++;
      counts.set(key, row);
    }
  }
  return [...counts.values()]
    .sort((a, b) => {
      for (let i = 0; i < groupBy.length; i++) {
        const compared = compareValues(a.values[i] ?? null, b.values[i] ?? null);
        if (compared !== 0) return compared;
      }
      return 0;
    })
    .map(({ count, values }) => ({ count, values }));
}
