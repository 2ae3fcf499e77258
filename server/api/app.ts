import type { FastifyInstance } from 'fastify';
import { alarmDefinitionsRoutes } from './alarmDefinitionsRoutes.js';
import { alarmsRoutes } from './alarmsRoutes.js';
import type { ApiDeps } from './apiDeps.js';
import { notFound, toResponse, unauthorized } from './errors.js';
import { logsPostRoute, logsReadRoutes } from './logsRoutes.js';
import { metricsRoutes } from './metricsRoutes.js';
import { notificationMethodsRoutes } from './notificationMethodsRoutes.js';
import { versionRoutes } from './versionRoutes.js';

/** Routes a probe or a scraper calls without a Keystone token; nothing here is tenant data. */
const OPEN_ROUTES = new Set(['/healthcheck', '/metrics']);

/** The tenant API as a fastify plugin: the server file owns listening, logging and closing. */
export function tenantApi(deps: ApiDeps) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.decorateRequest('principal', undefined);
    // Monasca's API speaks JSON only: any other body type is a 415, not a string to guess at.
    app.removeContentTypeParser('text/plain');

    app.addHook('onRequest', async (request) => {
      const path = request.url.split('?', 1)[0] ?? '';
      if (OPEN_ROUTES.has(path)) return;
      const token = request.headers['x-auth-token'];
      if (typeof token !== 'string' || token.length === 0) {
        deps.counters.add('kansoku_api_auth_failures_total', { reason: 'missing' });
        throw unauthorized('The request has no X-Auth-Token header.');
      }
      const principal = await deps.authenticator.authenticate(token);
      if (!principal) {
        deps.counters.add('kansoku_api_auth_failures_total', { reason: 'invalid' });
        throw unauthorized('The X-Auth-Token is not valid.');
      }
      request.principal = principal;
    });

    app.addHook('onResponse', async (request, reply) => {
      // The route pattern, not the URL: a hostile query string must not mint new label values.
      deps.counters.add('kansoku_api_requests_total', { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) });
    });

    app.setErrorHandler((error, request, reply) => {
      const { statusCode, headers, body } = toResponse(error);
      if (statusCode >= 500) request.log.error({ err: error }, 'request failed');
      deps.counters.add('kansoku_api_errors_total', { status: String(statusCode) });
      void reply.code(statusCode).headers(headers).send(body);
    });

    app.setNotFoundHandler((request) => {
      throw notFound(`No route for ${request.method} ${request.url.split('?', 1)[0] ?? ''}.`);
    });

    app.get('/healthcheck', async (_request, reply) => {
      const checks = await deps.health();
      const healthy = Object.values(checks).every((h) => h.healthy);
      return reply.code(healthy ? 200 : 503).send({ healthy, checks });
    });

    app.get('/metrics', async (_request, reply) => reply.type('text/plain; version=0.0.4').send(deps.counters.render()));

    await app.register(versionRoutes);
    await app.register(metricsRoutes(deps), { prefix: '/v2.0' });
    await app.register(logsPostRoute(deps), { prefix: '/v2.0' });
    await app.register(logsPostRoute(deps), { prefix: '/v3.0' });
    await app.register(logsReadRoutes(deps), { prefix: '/v2.0' });
    // Without an alarm store these answer 501, as the log routes do without a log store.
    await app.register(alarmDefinitionsRoutes(deps), { prefix: '/v2.0' });
    await app.register(alarmsRoutes(deps), { prefix: '/v2.0' });
    await app.register(notificationMethodsRoutes(deps), { prefix: '/v2.0' });
  };
}
