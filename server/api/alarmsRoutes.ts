import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { ALARM_STATES, isAlarmState, type AlarmState } from '../../alerting/alarmState.js';
import { ALARM_COUNT_GROUPS, type AlarmCountGroup, type AlarmPatch, type AlarmQuery, type AlarmTransitionRecord, type AlarmView } from '../../alerting/store/alarmStore.js';
import { alarmPrincipal, apiBase, deleteRoute, IdParams, LinksSchema, orNotFound, replaceAndPatchRoutes, pageOf, parsePage, parseSeverities, parseSortBy, requireAlarmStore, unprocessableSchemaErrors } from './alarmApi.js';
import { AlarmSchema, alarmElement, historyElement, HistorySchema, listSchema, UpdatedAlarmSchema, updatedAlarmElement } from './alarmShapes.js';
import type { ApiDeps } from './apiDeps.js';
import { ApiError, badRequest, unprocessable } from './errors.js';
import { parseDimensionFilter, parseGroupBy, parseInstant } from './params.js';

/** Monasca's sort_by fields for alarms (the store sorts by the same names). */
const ALARM_SORT_FIELDS = [
  'alarm_id',
  'alarm_definition_id',
  'alarm_definition_name',
  'state',
  'severity',
  'lifecycle_state',
  'link',
  'state_updated_timestamp',
  'updated_timestamp',
  'created_timestamp',
] as const;

/** The reason a state set through the API is recorded with in the alarm's history. */
export const API_STATE_CHANGE_REASON = 'Alarm state updated via API';

const Str = Type.Optional(Type.String({ maxLength: 4096 }));
const FILTER = {
  alarm_definition_id: Type.Optional(Type.String({ maxLength: 255 })),
  metric_name: Type.Optional(Type.String({ maxLength: 255 })),
  metric_dimensions: Str,
  state: Str,
  severity: Str,
  lifecycle_state: Type.Optional(Type.String({ maxLength: 50 })),
  link: Type.Optional(Type.String({ maxLength: 512 })),
  state_updated_start_time: Str,
  offset: Str,
  limit: Str,
};
const ListQuery = Type.Object({ ...FILTER, sort_by: Str });
const CountQuery = Type.Object({ ...FILTER, group_by: Str });
const HistoryListQuery = Type.Object({ dimensions: Str, start_time: Str, end_time: Str, offset: Str, limit: Str });
const PageQuery = Type.Object({ offset: Str, limit: Str });

const LifecycleState = Type.Unsafe<string | null>({ type: ['string', 'null'], maxLength: 50 });
const AlarmLink = Type.Unsafe<string | null>({ type: ['string', 'null'], maxLength: 512 });
/** PUT replaces the three mutable fields: all required, lifecycle_state and link may be null. */
const ReplaceBody = Type.Object({ state: Type.String({ maxLength: 16 }), lifecycle_state: LifecycleState, link: AlarmLink });
const PatchBody = Type.Partial(ReplaceBody);
type Body = Static<typeof PatchBody>;

const CountResponse = Type.Object({ links: LinksSchema, columns: Type.Array(Type.String()), counts: Type.Array(Type.Array(Type.Unknown())) });

function parseState(text: string): AlarmState {
  const upper = text.trim().toUpperCase();
  if (!isAlarmState(upper)) throw unprocessable(`state must be one of ${ALARM_STATES.join(', ')}`);
  return upper;
}

/** `OK` or `OK|ALARM`: any of these states. */
function parseStates(text: string | undefined): readonly AlarmState[] | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  return text.split('|').map(parseState);
}

function parseCountGroups(text: string | undefined): readonly AlarmCountGroup[] {
  return parseGroupBy(text).map((field) => {
    if (!(ALARM_COUNT_GROUPS as readonly string[]).includes(field)) throw unprocessable(`group_by field ${JSON.stringify(field.slice(0, 64))} is not one of ${ALARM_COUNT_GROUPS.join(', ')}`);
    return field as AlarmCountGroup;
  });
}

type Filter = Omit<AlarmQuery, 'sortBy' | 'offset' | 'limit'>;

/** The filters list and count share; empty parameters filter nothing. */
function alarmFilter(tenantId: string, q: Static<typeof CountQuery>): Filter {
  const given = (text: string | undefined): text is string => text !== undefined && text !== '';
  const states = parseStates(q.state);
  const severities = parseSeverities(q.severity);
  const stateUpdatedStartMs = parseInstant('state_updated_start_time', q.state_updated_start_time);
  return {
    tenantId,
    ...(given(q.alarm_definition_id) ? { definitionId: q.alarm_definition_id } : {}),
    ...(given(q.metric_name) ? { metricName: q.metric_name } : {}),
    ...(given(q.metric_dimensions) ? { metricDimensions: parseDimensionFilter(q.metric_dimensions) } : {}),
    ...(states !== undefined ? { states } : {}),
    ...(severities !== undefined ? { severities } : {}),
    ...(given(q.lifecycle_state) ? { lifecycleState: q.lifecycle_state } : {}),
    ...(given(q.link) ? { link: q.link } : {}),
    ...(stateUpdatedStartMs !== undefined ? { stateUpdatedStartMs } : {}),
  };
}

/** A state set through the API is a transition like the engine's: recorded with the sub-alarms as they stand. */
function apiTransition(alarm: AlarmView, newState: AlarmState, nowMs: number): AlarmTransitionRecord {
  return {
    id: randomUUID(),
    tenantId: alarm.tenantId,
    alarmId: alarm.id,
    definitionId: alarm.definitionId,
    oldState: alarm.state,
    newState,
    reason: API_STATE_CHANGE_REASON,
    reasonData: '{}',
    subAlarms: alarm.subAlarms.map((s) => ({ expression: s.expression, state: s.state, currentValues: s.currentValues })),
    metrics: alarm.metrics,
    timestampMs: nowMs,
  };
}

export function alarmsRoutes(deps: ApiDeps) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    unprocessableSchemaErrors(app);

    app.get<{ Querystring: Static<typeof ListQuery> }>('/alarms', { schema: { querystring: ListQuery, response: { 200: listSchema(AlarmSchema) } } }, async (request) => {
      const { tenantId } = alarmPrincipal(request, 'read');
      const q = request.query;
      const page = parsePage(q, deps.maxQueryLimit);
      const sortBy = parseSortBy(q.sort_by, ALARM_SORT_FIELDS);
      const rows = await requireAlarmStore(deps).listAlarms({ ...alarmFilter(tenantId, q), ...(sortBy !== undefined ? { sortBy } : {}), offset: page.offset, limit: page.limit + 1 });
      const base = apiBase(request);
      return pageOf(request, page, rows, (a) => alarmElement(base, a));
    });

    app.get<{ Querystring: Static<typeof CountQuery> }>('/alarms/count', { schema: { querystring: CountQuery, response: { 200: CountResponse } } }, async (request) => {
      const { tenantId } = alarmPrincipal(request, 'read');
      const q = request.query;
      const page = parsePage(q, deps.maxQueryLimit);
      const groupBy = parseCountGroups(q.group_by);
      const rows = await requireAlarmStore(deps).countAlarms(alarmFilter(tenantId, q), groupBy);
      // Without group_by Monasca always answers one row, [[0]] when nothing matches.
      const all = groupBy.length === 0 && rows.length === 0 ? [{ count: 0, values: [] }] : rows;
      const shown = all.slice(page.offset, page.offset + page.limit + 1);
      const { links, elements } = pageOf(request, page, shown, (r) => [r.count, ...r.values]);
      return { links, columns: ['count', ...groupBy], counts: elements };
    });

    const historyPage = async (request: FastifyRequest, q: Static<typeof HistoryListQuery>, alarmId: string | undefined) => {
      const { tenantId } = alarmPrincipal(request, 'read');
      const store = requireAlarmStore(deps);
      const page = parsePage(q, deps.maxQueryLimit);
      const startMs = parseInstant('start_time', q.start_time);
      const endMs = parseInstant('end_time', q.end_time);
      if (startMs !== undefined && endMs !== undefined && endMs <= startMs) throw badRequest('end_time must be later than start_time');
      const dimensions = q.dimensions === undefined || q.dimensions === '' ? undefined : parseDimensionFilter(q.dimensions);
      const rows = await store.listHistory({
        tenantId,
        ...(alarmId !== undefined ? { alarmIds: [alarmId] } : {}),
        ...(dimensions !== undefined ? { dimensions } : {}),
        ...(startMs !== undefined ? { startMs } : {}),
        ...(endMs !== undefined ? { endMs } : {}),
        offset: page.offset,
        limit: page.limit + 1,
      });
      // History outlives a deleted alarm; an id with neither alarm nor history here (another tenant's) is unknown.
      if (alarmId !== undefined && rows.length === 0 && page.offset === 0 && (await store.getAlarm(tenantId, alarmId)) === null) {
        orNotFound(null, 'alarm', alarmId);
      }
      return pageOf(request, page, rows, historyElement);
    };

    app.get<{ Querystring: Static<typeof HistoryListQuery> }>(
      '/alarms/state-history',
      { schema: { querystring: HistoryListQuery, response: { 200: listSchema(HistorySchema) } } },
      (request) => historyPage(request, request.query, undefined),
    );

    app.get<{ Params: IdParams; Querystring: Static<typeof PageQuery> }>(
      '/alarms/:id/state-history',
      { schema: { params: IdParams, querystring: PageQuery, response: { 200: listSchema(HistorySchema) } } },
      (request) => historyPage(request, request.query, request.params.id),
    );

    const existingOr404 = async (tenantId: string, id: string): Promise<AlarmView> => orNotFound(await requireAlarmStore(deps).getAlarm(tenantId, id), 'alarm', id);

    app.get<{ Params: IdParams }>('/alarms/:id', { schema: { params: IdParams, response: { 200: AlarmSchema } } }, async (request) => {
      const { tenantId } = alarmPrincipal(request, 'read');
      return alarmElement(apiBase(request), await existingOr404(tenantId, request.params.id));
    });

    replaceAndPatchRoutes<Body>(app, '/alarms', { put: ReplaceBody, patch: PatchBody }, UpdatedAlarmSchema, async (request) => {
      const { tenantId } = alarmPrincipal(request, 'change');
      const body = request.body;
      const state = body.state !== undefined ? parseState(body.state) : undefined;
      const existing = await existingOr404(tenantId, request.params.id);
      const nowMs = deps.now();
      const transition = state !== undefined && state !== existing.state ? apiTransition(existing, state, nowMs) : undefined;
      const patch: AlarmPatch = {
        ...(transition !== undefined ? { state: transition.newState } : {}),
        ...(body.lifecycle_state !== undefined ? { lifecycleState: body.lifecycle_state } : {}),
        ...(body.link !== undefined ? { link: body.link } : {}),
      };
      const updated = orNotFound(await requireAlarmStore(deps).patchAlarm(tenantId, existing.id, patch, nowMs, transition), 'alarm', existing.id);
      // The engine moved the alarm between our read and our write: the compare-and-set kept its state.
      if (transition !== undefined && updated.state !== transition.newState) {
        throw new ApiError(409, 'Conflict', `The alarm changed state to ${updated.state} while this request was made; read it again and retry.`);
      }
      return updatedAlarmElement(apiBase(request), updated);
    });

    deleteRoute(app, deps, '/alarms', 'alarm', (store, tenantId, id) => store.deleteAlarm(tenantId, id));
  };
}
