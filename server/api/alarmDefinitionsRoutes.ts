import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { formatMetric, subExpressions, type ExpressionNode } from '../../alerting/expression/alarmExpression.js';
import { MAX_EXPRESSION_LENGTH, parseAlarmExpression } from '../../alerting/expression/parseAlarmExpression.js';
import type { AlarmDefinitionRecord, AlarmStore, NewAlarmDefinition } from '../../alerting/store/alarmStore.js';
import { checkDimensions, checkMetricName } from '../../core/validation.js';
import {
  alarmPrincipal,
  apiBase,
  deleteRoute,
  IdParams,
  orNotFound,
  pageOf,
  replaceAndPatchRoutes,
  parsePage,
  parseSeverities,
  parseSeverity,
  parseSortBy,
  requireAlarmStore,
  unprocessableSchemaErrors,
} from './alarmApi.js';
import { DefinitionSchema, definitionElement, listSchema } from './alarmShapes.js';
import type { ApiDeps } from './apiDeps.js';
import { ApiError, unprocessable } from './errors.js';
import { parseDimensionFilter } from './params.js';

/** Monasca's sort_by fields for definitions (the store sorts by the same names). */
const DEFINITION_SORT_FIELDS = ['id', 'name', 'severity', 'updated_at', 'created_at'] as const;
/** Bounds no real definition reaches, so that one request cannot make the store hold megabytes. */
const MAX_ACTIONS = 64;
const MAX_MATCH_BY = 32;

const Str = Type.Optional(Type.String({ maxLength: 4096 }));
const ListQuery = Type.Object({ name: Type.Optional(Type.String({ maxLength: 255 })), dimensions: Str, severity: Str, sort_by: Str, offset: Str, limit: Str });

// Field by field as the spec states them: name and description string(255), action ids string(50).
const Fields = {
  name: Type.String({ minLength: 1, maxLength: 255 }),
  description: Type.String({ maxLength: 255 }),
  expression: Type.String({ minLength: 1, maxLength: MAX_EXPRESSION_LENGTH }),
  match_by: Type.Array(Type.String({ minLength: 1, maxLength: 255 }), { maxItems: MAX_MATCH_BY }),
  severity: Type.String({ maxLength: 16 }),
  alarm_actions: Type.Array(Type.String({ minLength: 1, maxLength: 50 }), { maxItems: MAX_ACTIONS }),
  ok_actions: Type.Array(Type.String({ minLength: 1, maxLength: 50 }), { maxItems: MAX_ACTIONS }),
  undetermined_actions: Type.Array(Type.String({ minLength: 1, maxLength: 50 }), { maxItems: MAX_ACTIONS }),
  actions_enabled: Type.Boolean(),
};
const CreateBody = Type.Object({
  name: Fields.name,
  expression: Fields.expression,
  description: Type.Optional(Fields.description),
  match_by: Type.Optional(Fields.match_by),
  severity: Type.Optional(Fields.severity),
  alarm_actions: Type.Optional(Fields.alarm_actions),
  ok_actions: Type.Optional(Fields.ok_actions),
  undetermined_actions: Type.Optional(Fields.undetermined_actions),
  actions_enabled: Type.Optional(Fields.actions_enabled),
});
/** PUT replaces the whole definition: every field is required (the spec's Update Alarm Definition). */
const ReplaceBody = Type.Object(Fields);
const PatchBody = Type.Partial(Type.Object(Fields));
type Body = Static<typeof PatchBody>;

/**
 * The expression under the API rules, or a 422 that names where and at which token it went
 * wrong. Its metrics must also be metrics the API would take (monasca-api's AlarmValidation
 * checks each sub-expression's name and dimensions as a posted metric's): a name with a
 * restricted character could never match anything.
 */
function checkExpression(text: string): ExpressionNode {
  const parsed = parseAlarmExpression(text, { rules: 'api' });
  if (!parsed.ok) {
    const { token, line, column } = parsed.position;
    // The parser's message names the offset; the token is added when the message does not quote it.
    throw unprocessable(parsed.error.includes(token) ? parsed.error : `${parsed.error}, at ${token} (line ${line}, column ${column})`);
  }
  subExpressions(parsed.value).forEach((sub, i) => {
    const name = checkMetricName(sub.metricName);
    const dimensions = checkDimensions(sub.dimensions);
    if (!name.ok || !dimensions.ok) throw unprocessable(`expression: sub-expression ${i + 1}: ${!name.ok ? name.error : dimensions.ok ? '' : dimensions.error}`);
  });
  return parsed.value;
}

function checkMatchBy(matchBy: readonly string[]): string[] {
  const seen = new Set<string>();
  for (const key of matchBy) {
    // A match_by entry is a dimension name: checked as one, with a stand-in value.
    const checked = checkDimensions({ [key]: 'x' });
    if (!checked.ok || key.trim() !== key) throw unprocessable(`match_by: ${checked.ok ? `${JSON.stringify(key.slice(0, 64))} has blanks around it` : checked.error}`);
    if (seen.has(key)) throw unprocessable(`match_by names ${JSON.stringify(key.slice(0, 64))} twice`);
    seen.add(key);
  }
  return [...matchBy];
}

/** Every action must name a notification method of this tenant: another tenant's id is as unknown as a made-up one. */
async function checkActions(store: AlarmStore, tenantId: string, field: string, ids: readonly string[]): Promise<string[]> {
  const distinct = [...new Set(ids)];
  for (const id of distinct) {
    if ((await store.getNotificationMethod(tenantId, id)) === null) throw unprocessable(`${field}: ${JSON.stringify(id)} is not a notification method of this tenant`);
  }
  return distinct;
}

/**
 * Monasca's "Changing Alarm Definitions": function, operator, threshold, period, periods and
 * the boolean operators may change; the number of sub-expressions and their metrics may not,
 * since alarms were made from them. Compared position by position, because the engine keeps a
 * sub-alarm's window by its sub-expression's position.
 */
function checkExpressionChange(before: string, after: ExpressionNode): void {
  const old = parseAlarmExpression(before, { rules: 'grammar' });
  if (!old.ok) return;
  const oldSubs = subExpressions(old.value);
  const newSubs = subExpressions(after);
  if (oldSubs.length !== newSubs.length) {
    throw unprocessable(`expression: the number of sub-expressions cannot change (${oldSubs.length} before, ${newSubs.length} now); delete the definition and create a new one`);
  }
  oldSubs.forEach((o, i) => {
    const n = newSubs[i];
    const was = formatMetric(o.metricName, o.dimensions);
    const is = n === undefined ? '' : formatMetric(n.metricName, n.dimensions);
    if (was !== is) throw unprocessable(`expression: the metrics of sub-expressions cannot change (sub-expression ${i + 1} was ${was}, is now ${is}); delete the definition and create a new one`);
  });
}

function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().join('\u0000') === [...b].sort().join('\u0000');
}

/** Names are unique within a tenant (409, as Monasca): checked here, since the store keeps no unique index on them. */
async function checkNameFree(store: AlarmStore, tenantId: string, name: string, exceptId?: string): Promise<void> {
  const same = await store.listDefinitions({ tenantId, name, offset: 0, limit: 2 });
  if (same.some((d) => d.id !== exceptId)) throw new ApiError(409, 'Conflict', `An alarm definition named ${JSON.stringify(name.slice(0, 255))} already exists.`);
}

export function alarmDefinitionsRoutes(deps: ApiDeps) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    unprocessableSchemaErrors(app);

    /** The record a create, replace or patch makes, with every field checked against the tenant's own rows. */
    const checked = async (store: AlarmStore, tenantId: string, body: Body, existing: AlarmDefinitionRecord | undefined): Promise<NewAlarmDefinition> => {
      const expression = body.expression ?? existing?.expression ?? '';
      // A stored expression passed when it was stored: only a new one is checked, and against the old.
      if (body.expression !== undefined) {
        const node = checkExpression(expression);
        if (existing !== undefined) checkExpressionChange(existing.expression, node);
      }
      const matchBy = body.match_by === undefined ? [...(existing?.matchBy ?? [])] : checkMatchBy(body.match_by);
      if (existing !== undefined && !sameKeys(matchBy, existing.matchBy)) {
        throw unprocessable(`match_by cannot change after creation (it is ${JSON.stringify(existing.matchBy)}); delete the definition and create a new one`);
      }
      const name = body.name ?? existing?.name ?? '';
      if (name !== existing?.name) await checkNameFree(store, tenantId, name, existing?.id);
      return {
        ...(existing !== undefined ? { id: existing.id } : {}),
        tenantId,
        name,
        description: body.description ?? existing?.description ?? '',
        expression,
        matchBy: existing?.matchBy ?? matchBy,
        severity: body.severity !== undefined ? parseSeverity(body.severity) : (existing?.severity ?? 'LOW'),
        alarmActions: body.alarm_actions !== undefined ? await checkActions(store, tenantId, 'alarm_actions', body.alarm_actions) : [...(existing?.alarmActions ?? [])],
        okActions: body.ok_actions !== undefined ? await checkActions(store, tenantId, 'ok_actions', body.ok_actions) : [...(existing?.okActions ?? [])],
        undeterminedActions:
          body.undetermined_actions !== undefined ? await checkActions(store, tenantId, 'undetermined_actions', body.undetermined_actions) : [...(existing?.undeterminedActions ?? [])],
        actionsEnabled: body.actions_enabled ?? existing?.actionsEnabled ?? true,
      };
    };

    app.post<{ Body: Static<typeof CreateBody> }>(
      '/alarm-definitions',
      { schema: { body: CreateBody, response: { 201: DefinitionSchema } } },
      async (request, reply) => {
        const { tenantId } = alarmPrincipal(request, 'change');
        const store = requireAlarmStore(deps);
        const record = await store.createDefinition(await checked(store, tenantId, request.body, undefined), deps.now());
        return reply.code(201).send(definitionElement(apiBase(request), record));
      },
    );

    app.get<{ Querystring: Static<typeof ListQuery> }>(
      '/alarm-definitions',
      { schema: { querystring: ListQuery, response: { 200: listSchema(DefinitionSchema) } } },
      async (request) => {
        const { tenantId } = alarmPrincipal(request, 'read');
        const q = request.query;
        const page = parsePage(q, deps.maxQueryLimit);
        const severities = parseSeverities(q.severity);
        const sortBy = parseSortBy(q.sort_by, DEFINITION_SORT_FIELDS);
        const dimensions = q.dimensions === undefined || q.dimensions === '' ? undefined : parseDimensionFilter(q.dimensions);
        const rows = await requireAlarmStore(deps).listDefinitions({
          tenantId,
          ...(q.name !== undefined && q.name !== '' ? { name: q.name } : {}),
          ...(dimensions !== undefined ? { dimensions } : {}),
          ...(severities !== undefined ? { severities } : {}),
          ...(sortBy !== undefined ? { sortBy } : {}),
          offset: page.offset,
          limit: page.limit + 1,
        });
        const base = apiBase(request);
        return pageOf(request, page, rows, (d) => definitionElement(base, d));
      },
    );

    const existingOr404 = async (store: AlarmStore, tenantId: string, id: string): Promise<AlarmDefinitionRecord> => orNotFound(await store.getDefinition(tenantId, id), 'alarm definition', id);

    app.get<{ Params: IdParams }>(
      '/alarm-definitions/:id',
      { schema: { params: IdParams, response: { 200: DefinitionSchema } } },
      async (request) => {
        const { tenantId } = alarmPrincipal(request, 'read');
        const found = await existingOr404(requireAlarmStore(deps), tenantId, request.params.id);
        return definitionElement(apiBase(request), found);
      },
    );

    replaceAndPatchRoutes<Body>(app, '/alarm-definitions', { put: ReplaceBody, patch: PatchBody }, DefinitionSchema, async (request) => {
      const { tenantId } = alarmPrincipal(request, 'change');
      const store = requireAlarmStore(deps);
      const existing = await existingOr404(store, tenantId, request.params.id);
      const next = await checked(store, tenantId, request.body, existing);
      const updated = await store.updateDefinition(tenantId, existing.id, next, deps.now());
      // null: deleted between the read and the write.
      return definitionElement(apiBase(request), orNotFound(updated, 'alarm definition', existing.id));
    });

    deleteRoute(app, deps, '/alarm-definitions', 'alarm definition', (store, tenantId, id) => store.deleteDefinition(tenantId, id));
  };
}
