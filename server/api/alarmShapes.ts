import { Type } from '@sinclair/typebox';
import type { MetricDefinition } from '../../core/query.js';
import { subExpressions, type ExpressionNode, type SubExpression } from '../../alerting/expression/alarmExpression.js';
import { parseAlarmExpression, parseAlarmSubExpression } from '../../alerting/expression/parseAlarmExpression.js';
import type { AlarmDefinitionRecord, AlarmTransitionRecord, AlarmView, NotificationMethodRecord, SubAlarmHistory } from '../../alerting/store/alarmStore.js';
import { isoTime, LinksSchema, selfLinks } from './alarmApi.js';

/**
 * Store records as Monasca's JSON, and the response schemas that say (and, through fastify's
 * serializer, enforce) exactly which keys each answer has: a notification method's secret,
 * for one, is in no schema but the create response's.
 */

/** One type list rather than anyOf, so that the serializer writes a null as null. */
const NullableString = Type.Unsafe<string | null>({ type: ['string', 'null'] });
const Dimensions = Type.Record(Type.String(), Type.String());
/** expression_data: one sub-expression's fields, or {operator, operands} for a compound one. */
const ExpressionData = Type.Unknown();

export const DefinitionSchema = Type.Object({
  id: Type.String(),
  links: LinksSchema,
  name: Type.String(),
  description: Type.String(),
  expression: Type.String(),
  deterministic: Type.Boolean(),
  expression_data: ExpressionData,
  match_by: Type.Array(Type.String()),
  severity: Type.String(),
  actions_enabled: Type.Boolean(),
  alarm_actions: Type.Array(Type.String()),
  ok_actions: Type.Array(Type.String()),
  undetermined_actions: Type.Array(Type.String()),
});

const MetricSchema = Type.Object({ name: Type.String(), dimensions: Dimensions });

const AlarmCommon = {
  id: Type.String(),
  links: LinksSchema,
  metrics: Type.Array(MetricSchema),
  state: Type.String(),
  lifecycle_state: NullableString,
  link: NullableString,
  state_updated_timestamp: Type.String(),
  updated_timestamp: Type.String(),
  created_timestamp: Type.String(),
};

export const AlarmSchema = Type.Object({
  ...AlarmCommon,
  alarm_definition: Type.Object({ id: Type.String(), name: Type.String(), severity: Type.String(), links: LinksSchema }),
});

/** What PUT and PATCH answer, as the spec shows them: the definition by id only. */
export const UpdatedAlarmSchema = Type.Object({ ...AlarmCommon, alarm_definition_id: Type.String() });

export const HistorySchema = Type.Object({
  id: Type.String(),
  alarm_id: Type.String(),
  metrics: Type.Array(Type.Object({ id: Type.Null(), name: Type.String(), dimensions: Dimensions })),
  old_state: Type.String(),
  new_state: Type.String(),
  reason: Type.String(),
  reason_data: Type.String(),
  timestamp: Type.String(),
  sub_alarms: Type.Array(
    Type.Object({
      sub_alarm_expression: Type.Unknown(),
      sub_alarm_state: Type.String(),
      current_values: Type.Array(Type.Number()),
    }),
  ),
});

const MethodFields = {
  id: Type.String(),
  links: LinksSchema,
  name: Type.String(),
  type: Type.String(),
  address: Type.String(),
  period: Type.Integer(),
};
export const MethodSchema = Type.Object(MethodFields);
/** Only the create response carries a webhook's secret: it is shown once, then never again. */
export const CreatedMethodSchema = Type.Object({ ...MethodFields, secret: Type.Optional(Type.String()) });

export const listSchema = <T extends ReturnType<typeof Type.Object>>(element: T) => Type.Object({ links: LinksSchema, elements: Type.Array(element) });

/** One sub-expression as Monasca's JSON (expression_data, sub_alarm_expression). */
function subExpressionData(sub: SubExpression, withDeterministic: boolean) {
  return {
    function: sub.function,
    metric_name: sub.metricName,
    dimensions: { ...sub.dimensions },
    operator: sub.operator,
    threshold: sub.threshold,
    period: sub.periodSeconds,
    periods: sub.periods,
    ...(withDeterministic ? { deterministic: sub.deterministic } : {}),
  };
}

/**
 * The spec shows expression_data for a one-sub-expression definition only; a compound one is
 * shown as its tree, `{operator: 'AND'|'OR', operands: [...]}`, as monasca-common's
 * BooleanExpression serialises.
 */
function expressionData(node: ExpressionNode): unknown {
  if (node.kind === 'sub') return subExpressionData(node.sub, false);
  return { operator: node.kind.toUpperCase(), operands: node.operands.map(expressionData) };
}

export function definitionElement(base: string, d: AlarmDefinitionRecord) {
  // Stored expressions passed the API rules; read back with the grammar's so that no stored row can fail a read.
  const parsed = parseAlarmExpression(d.expression, { rules: 'grammar' });
  const subs = parsed.ok ? subExpressions(parsed.value) : [];
  return {
    id: d.id,
    links: selfLinks(`${base}/alarm-definitions/${d.id}`),
    name: d.name,
    description: d.description,
    expression: d.expression,
    deterministic: subs.length > 0 && subs.every((s) => s.deterministic),
    expression_data: parsed.ok ? expressionData(parsed.value) : null,
    match_by: [...d.matchBy],
    severity: d.severity,
    actions_enabled: d.actionsEnabled,
    alarm_actions: [...d.alarmActions],
    ok_actions: [...d.okActions],
    undetermined_actions: [...d.undeterminedActions],
  };
}

function metricElement(m: MetricDefinition) {
  return { name: m.name, dimensions: { ...m.dimensions } };
}

function alarmCommon(base: string, a: AlarmView) {
  const self = `${base}/alarms/${a.id}`;
  return {
    id: a.id,
    links: [
      { rel: 'self', href: self },
      { rel: 'state-history', href: `${self}/state-history` },
    ],
    metrics: a.metrics.map(metricElement),
    state: a.state,
    lifecycle_state: a.lifecycleState,
    link: a.link,
    state_updated_timestamp: isoTime(a.stateUpdatedAtMs),
    updated_timestamp: isoTime(a.updatedAtMs),
    created_timestamp: isoTime(a.createdAtMs),
  };
}

export function alarmElement(base: string, a: AlarmView) {
  return {
    ...alarmCommon(base, a),
    alarm_definition: { id: a.definitionId, name: a.definitionName, severity: a.severity, links: selfLinks(`${base}/alarm-definitions/${a.definitionId}`) },
  };
}

export function updatedAlarmElement(base: string, a: AlarmView) {
  return { ...alarmCommon(base, a), alarm_definition_id: a.definitionId };
}

function subAlarmElement(sub: SubAlarmHistory) {
  const parsed = parseAlarmSubExpression(sub.expression, { rules: 'grammar' });
  return {
    // The text itself when it cannot be read back: history is kept as written, whatever the parser later says.
    sub_alarm_expression: parsed.ok ? subExpressionData(parsed.value, true) : sub.expression,
    sub_alarm_state: sub.state,
    current_values: [...sub.currentValues],
  };
}

export function historyElement(t: AlarmTransitionRecord) {
  return {
    id: t.id,
    alarm_id: t.alarmId,
    metrics: t.metrics.map((m) => ({ id: null, ...metricElement(m) })),
    old_state: t.oldState,
    new_state: t.newState,
    reason: t.reason,
    reason_data: t.reasonData,
    timestamp: isoTime(t.timestampMs),
    sub_alarms: t.subAlarms.map(subAlarmElement),
  };
}

export function methodElement(base: string, m: NotificationMethodRecord) {
  return {
    id: m.id,
    links: selfLinks(`${base}/notification-methods/${m.id}`),
    name: m.name,
    type: m.type,
    address: m.address,
    period: m.periodSeconds,
  };
}
