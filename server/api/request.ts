import type { FastifyRequest } from 'fastify';
import { may, type Permission, type Principal } from './auth.js';
import { forbidden, unauthorized } from './errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the tenant API's onRequest hook from the X-Auth-Token, for every route that is not open. */
    principal?: Principal;
  }
}

/** The principal of an authenticated request, checked for a permission. */
export function authorize(request: FastifyRequest, permission: Permission): Principal {
  const principal = request.principal;
  if (!principal) throw unauthorized('The request is not authenticated.');
  if (!may(principal, permission)) throw forbidden(`The token's roles do not allow ${permission === 'write' ? 'writing metrics' : permission === 'read' ? 'reading metrics' : 'acting for another tenant'}.`);
  return principal;
}

/** The absolute URL of this request, for Monasca's `links`. */
export function selfUrl(request: FastifyRequest): string {
  const forwardedProto = request.headers['x-forwarded-proto'];
  const proto = typeof forwardedProto === 'string' ? forwardedProto.split(',')[0]?.trim() ?? request.protocol : request.protocol;
  return `${proto}://${request.host}${request.url}`;
}
