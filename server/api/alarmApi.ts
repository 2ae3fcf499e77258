import type { FastifyInstance, FastifyRequest, FastifySchemaValidationError } from 'fastify';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { SEVERITIES, type AlarmStore, type Severity } from '../../alerting/store/alarmStore.js';
import type { ApiDeps } from './apiDeps.js';
import { may, type Principal } from './auth.js';
import { ApiError, forbidden, notFound, unauthorized, unprocessable } from './errors.js';
import { parseLimit } from './params.js';
import { selfUrl } from './request.js';

/**
 * What the alarm-definition, alarm and notification-method routes share: the store (or 501),
 * who may read and change, Monasca's `sort_by`, `severity` and paging parameters read strictly,
 * and the links every answer carries.
 */

/** Rows a list may skip: deeper pages cost the store a walk over all of them. */
export const MAX_OFFSET = 1_000_000;

export type Link = { readonly rel: string; readonly href: string };
export type SortBy = readonly (readonly [string, 'asc' | 'desc'])[];

/** The link schema of every answer (TypeBox), for response schemas. */
export const LinkSchema = Type.Object({ rel: Type.String(), href: Type.String() });
export const LinksSchema = Type.Array(LinkSchema);

/** `/:id` of a definition, alarm or notification method. */
export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 255 }) });
export type IdParams = Static<typeof IdParams>;

/** The store behind the alarm routes, or 501 when the server was built without one (as logs without a log store). */
export function requireAlarmStore(deps: ApiDeps): AlarmStore {
  if (deps.alarmStore === undefined) throw new ApiError(501, 'Not Implemented', 'alarms need an alarm store, and this server has none configured.');
  return deps.alarmStore;
}

/**
 * Monasca's default_authorized_roles read and change alarms; its read-only role only reads,
 * and the agent role (which may only post metrics) does neither. A role that may both read
 * and write is exactly admin or monasca-user, so no new permission is needed.
 */
export function alarmPrincipal(request: FastifyRequest, access: 'read' | 'change'): Principal {
  const principal = request.principal;
  if (!principal) throw unauthorized('The request is not authenticated.');
  const allowed = access === 'read' ? may(principal, 'read') : may(principal, 'read') && may(principal, 'write');
  if (!allowed) throw forbidden(`The token's roles do not allow ${access === 'read' ? 'reading' : 'changing'} alarms, alarm definitions or notification methods.`);
  return principal;
}

/**
 * Body and query validation failures are Monasca's 422 (tempest expects UnprocessableEntity
 * for a too long name or a missing field), with what was wrong and where.
 */
export function unprocessableSchemaErrors(app: FastifyInstance): void {
  app.setSchemaErrorFormatter((errors: FastifySchemaValidationError[], dataVar: string) => {
    const text = errors
      .slice(0, 5)
      .map((e) => `${dataVar}${e.instancePath.replaceAll('/', '.')} ${e.message ?? 'is not valid'}`)
      .join('; ');
    return unprocessable(text);
  });
}

/** `https://host:port/v2.0`, as the request reached us: every element's own links start here. */
export function apiBase(request: FastifyRequest): string {
  return `${new URL(selfUrl(request)).origin}/v2.0`;
}

export function selfLinks(href: string): Link[] {
  return [{ rel: 'self', href }];
}

/** A zero-based row offset (Monasca's integer offsets); bounded. */
export function parseOffset(text: string | undefined): number {
  if (text === undefined || text === '') return 0;
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n)) throw unprocessable('offset must be a whole number of rows, 0 or more');
  if (n > MAX_OFFSET) throw unprocessable(`offset may not be more than ${MAX_OFFSET}`);
  return n;
}

export interface Page {
  readonly offset: number;
  readonly limit: number;
}

export function parsePage(query: { offset?: string | undefined; limit?: string | undefined }, maxLimit: number): Page {
  return { offset: parseOffset(query.offset), limit: parseLimit(query.limit, maxLimit) };
}

/**
 * Links and elements of one page, from rows read with `limit + 1`: the extra row only says
 * that there is a next page, whose offset is this one's plus its limit.
 */
export function pageOf<T, E>(request: FastifyRequest, page: Page, rows: readonly T[], element: (row: T) => E): { links: Link[]; elements: E[] } {
  const links = [{ rel: 'self', href: selfUrl(request) }];
  if (rows.length > page.limit) {
    const next = new URL(selfUrl(request));
    next.searchParams.set('offset', String(page.offset + page.limit));
    links.push({ rel: 'next', href: next.toString() });
  }
  return { links, elements: rows.slice(0, page.limit).map(element) };
}

/** `field`, `field asc` or `field desc`, comma-separated, each field one of `allowed`. */
export function parseSortBy(text: string | undefined, allowed: readonly string[]): SortBy | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  const seen = new Set<string>();
  return text.split(',').map((item) => {
    const words = item.trim().split(/\s+/);
    const [field = '', direction = 'asc'] = words;
    if (!allowed.includes(field)) throw unprocessable(`sort_by field ${JSON.stringify(field.slice(0, 64))} is not one of ${allowed.join(', ')}`);
    const dir = direction.toLowerCase();
    if (words.length > 2 || (dir !== 'asc' && dir !== 'desc')) throw unprocessable(`sort_by ${JSON.stringify(item.trim().slice(0, 64))} must be a field, optionally followed by asc or desc`);
    if (seen.has(field)) throw unprocessable(`sort_by names ${field} twice`);
    seen.add(field);
    return [field, dir] as const;
  });
}

export function parseSeverity(text: string, name = 'severity'): Severity {
  const upper = text.trim().toUpperCase();
  if (!(SEVERITIES as readonly string[]).includes(upper)) throw unprocessable(`${name} must be one of ${SEVERITIES.join(', ')}`);
  return upper as Severity;
}

/** `LOW|MEDIUM`: any of these severities. */
export function parseSeverities(text: string | undefined): readonly Severity[] | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  return text.split('|').map((s) => parseSeverity(s));
}

export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

/** A tenant's record, or the 404 that a missing id and another tenant's id alike get. */
export function orNotFound<T>(found: T | null, what: string, id: string): T {
  if (found === null) throw notFound(`No ${what} has the id ${JSON.stringify(id.slice(0, 64))}.`);
  return found;
}

/** `DELETE {url}/:id`: 204, or 404 when this tenant has no such id. */
export function deleteRoute(app: FastifyInstance, deps: ApiDeps, url: string, what: string, remove: (store: AlarmStore, tenantId: string, id: string) => Promise<boolean>): void {
  app.delete<{ Params: IdParams }>(`${url}/:id`, { schema: { params: IdParams } }, async (request, reply) => {
    const { tenantId } = alarmPrincipal(request, 'change');
    if (!(await remove(requireAlarmStore(deps), tenantId, request.params.id))) orNotFound(null, what, request.params.id);
    return reply.code(204).send();
  });
}

/**
 * `PUT {url}/:id` (every field required) and `PATCH {url}/:id` (any of them): one handler,
 * only the body schema differs.
 */
export function replaceAndPatchRoutes<B>(
  app: FastifyInstance,
  url: string,
  bodies: { readonly put: TSchema; readonly patch: TSchema },
  response: TSchema,
  handler: (request: FastifyRequest<{ Params: IdParams; Body: B }>) => Promise<unknown>,
): void {
  for (const [method, body] of [['PUT', bodies.put], ['PATCH', bodies.patch]] as const) {
    app.route<{ Params: IdParams; Body: B }>({ method, url: `${url}/:id`, schema: { params: IdParams, body, response: { 200: response } }, handler });
  }
}
