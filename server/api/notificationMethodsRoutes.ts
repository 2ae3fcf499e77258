import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { NOTIFICATION_TYPES, type AlarmStore, type NewNotificationMethod, type NotificationMethodRecord } from '../../alerting/store/alarmStore.js';
import { validateNotificationAddress } from '../../alerting/notify/safeHttp.js';
import { alarmPrincipal, apiBase, deleteRoute, IdParams, LinksSchema, orNotFound, replaceAndPatchRoutes, pageOf, parsePage, parseSortBy, requireAlarmStore, unprocessableSchemaErrors } from './alarmApi.js';
import { CreatedMethodSchema, listSchema, MethodSchema, methodElement } from './alarmShapes.js';
import type { ApiDeps } from './apiDeps.js';
import { ApiError, unprocessable } from './errors.js';

/** Monasca's sort_by fields for notification methods. */
const METHOD_SORT_FIELDS = ['id', 'name', 'type', 'address', 'created_at', 'updated_at'] as const;
/** Monasca's notification.periods default: never repeat, or every minute. */
export const DEFAULT_NOTIFICATION_PERIODS_SECONDS: readonly number[] = [0, 60];
/** The webhook HMAC key's length: 256 bits, as the signature's SHA-256 wants. */
const SECRET_BYTES = 32;
/** How many of a tenant's methods a duplicate-name check reads; far more than any tenant keeps. */
const MAX_METHODS_SCANNED = 10_000;

const Str = Type.Optional(Type.String({ maxLength: 4096 }));
const ListQuery = Type.Object({ sort_by: Str, offset: Str, limit: Str });

// As monasca-api's schema has them: name 250, type 100, address 512 (the spec text's 100 predates that).
const Fields = {
  name: Type.String({ minLength: 1, maxLength: 250 }),
  type: Type.String({ minLength: 1, maxLength: 100 }),
  address: Type.String({ minLength: 1, maxLength: 512 }),
  period: Type.Integer({ minimum: 0 }),
};
const CreateBody = Type.Object({ name: Fields.name, type: Fields.type, address: Fields.address, period: Type.Optional(Fields.period) });
const ReplaceBody = Type.Object(Fields);
const PatchBody = Type.Partial(Type.Object(Fields));
type Body = Static<typeof PatchBody>;

const TypesResponse = Type.Object({ links: LinksSchema, elements: Type.Array(Type.Object({ type: Type.String() })) });

export function notificationMethodsRoutes(deps: ApiDeps) {
  const types = deps.notificationTypes ?? NOTIFICATION_TYPES;
  const periods = deps.notificationPeriodsSeconds ?? DEFAULT_NOTIFICATION_PERIODS_SECONDS;

  return async function plugin(app: FastifyInstance): Promise<void> {
    unprocessableSchemaErrors(app);

    const checkNameFree = async (store: AlarmStore, tenantId: string, name: string, exceptId?: string): Promise<void> => {
      const all = await store.listNotificationMethods({ tenantId, offset: 0, limit: MAX_METHODS_SCANNED });
      if (all.some((m) => m.name === name && m.id !== exceptId)) throw new ApiError(409, 'Conflict', `A notification method named ${JSON.stringify(name.slice(0, 250))} already exists.`);
    };

    /** The record a create, replace or patch makes; type case-insensitive (tempest sends `email`), stored upper-case. */
    const checked = async (store: AlarmStore, tenantId: string, body: Body, existing: NotificationMethodRecord | undefined): Promise<NewNotificationMethod> => {
      const type = (body.type ?? existing?.type ?? '').toUpperCase();
      if (!types.includes(type)) throw unprocessable(`type ${JSON.stringify((body.type ?? '').slice(0, 100))} is not one of ${types.join(', ')}`);
      const address = body.address ?? existing?.address ?? '';
      // The senders' own rules (no DNS here; the send checks what a name resolves to then).
      const verdict = validateNotificationAddress(type, address, { allowPrivateAddresses: deps.allowPrivateNotificationAddresses ?? false });
      if (!verdict.ok) throw unprocessable(`address: ${verdict.error}`);
      const periodSeconds = body.period ?? existing?.periodSeconds ?? 0;
      if (!periods.includes(periodSeconds)) throw unprocessable(`period must be one of ${periods.join(', ')} seconds`);
      // Monasca repeats only webhooks: a repeated email or page is noise the recipient cannot stop.
      if (periodSeconds !== 0 && type !== 'WEBHOOK') throw unprocessable('a period other than 0 can only be set on a WEBHOOK method');
      const name = body.name ?? existing?.name ?? '';
      if (name !== existing?.name) await checkNameFree(store, tenantId, name, existing?.id);
      // A webhook signs with its own secret, made here when the method becomes a webhook.
      const secret = type === 'WEBHOOK' ? (existing?.secret ?? randomBytes(SECRET_BYTES).toString('hex')) : null;
      return { ...(existing !== undefined ? { id: existing.id } : {}), tenantId, name, type, address: verdict.value, periodSeconds, secret };
    };

    /** The secret once, in the answer that made it: never in a GET. */
    const withNewSecret = (base: string, method: NotificationMethodRecord, before: NotificationMethodRecord | undefined) =>
      method.secret !== null && method.secret !== before?.secret ? { ...methodElement(base, method), secret: method.secret } : methodElement(base, method);

    app.post<{ Body: Static<typeof CreateBody> }>(
      '/notification-methods',
      { schema: { body: CreateBody, response: { 201: CreatedMethodSchema } } },
      async (request, reply) => {
        const { tenantId } = alarmPrincipal(request, 'change');
        const store = requireAlarmStore(deps);
        const created = await store.createNotificationMethod(await checked(store, tenantId, request.body, undefined), deps.now());
        return reply.code(201).send(withNewSecret(apiBase(request), created, undefined));
      },
    );

    app.get<{ Querystring: Static<typeof ListQuery> }>(
      '/notification-methods',
      { schema: { querystring: ListQuery, response: { 200: listSchema(MethodSchema) } } },
      async (request) => {
        const { tenantId } = alarmPrincipal(request, 'read');
        const page = parsePage(request.query, deps.maxQueryLimit);
        const sortBy = parseSortBy(request.query.sort_by, METHOD_SORT_FIELDS);
        const rows = await requireAlarmStore(deps).listNotificationMethods({ tenantId, ...(sortBy !== undefined ? { sortBy } : {}), offset: page.offset, limit: page.limit + 1 });
        const base = apiBase(request);
        return pageOf(request, page, rows, (m) => methodElement(base, m));
      },
    );

    app.get('/notification-methods/types', { schema: { response: { 200: TypesResponse } } }, async (request) => {
      alarmPrincipal(request, 'read');
      return { links: [{ rel: 'self', href: `${apiBase(request)}/notification-methods/types` }], elements: types.map((type) => ({ type })) };
    });

    const existingOr404 = async (store: AlarmStore, tenantId: string, id: string): Promise<NotificationMethodRecord> =>
      orNotFound(await store.getNotificationMethod(tenantId, id), 'notification method', id);

    app.get<{ Params: IdParams }>(
      '/notification-methods/:id',
      { schema: { params: IdParams, response: { 200: MethodSchema } } },
      async (request) => {
        const { tenantId } = alarmPrincipal(request, 'read');
        return methodElement(apiBase(request), await existingOr404(requireAlarmStore(deps), tenantId, request.params.id));
      },
    );

    replaceAndPatchRoutes<Body>(app, '/notification-methods', { put: ReplaceBody, patch: PatchBody }, CreatedMethodSchema, async (request) => {
      const { tenantId } = alarmPrincipal(request, 'change');
      const store = requireAlarmStore(deps);
      const existing = await existingOr404(store, tenantId, request.params.id);
      const updated = await store.updateNotificationMethod(tenantId, existing.id, await checked(store, tenantId, request.body, existing), deps.now());
      return withNewSecret(apiBase(request), orNotFound(updated, 'notification method', existing.id), existing);
    });

    deleteRoute(app, deps, '/notification-methods', 'notification method', (store, tenantId, id) => store.deleteNotificationMethod(tenantId, id));
  };
}
