import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { ApiDeps } from './apiDeps.js';
import { tenantApi } from './app.js';

export interface ApiServerOptions {
  readonly host: string;
  readonly port: number;
  readonly bodyLimitBytes: number;
  readonly requestTimeoutMs: number;
}

/**
 * The server file owns what a plugin should not: the logger (request ids, tokens
 * redacted), timeouts, body limits, listening and a graceful close.
 */
/**
 * A parameter given twice counts once, with its first value, as Monasca reads it
 * (tempest's duplicate-query-parameter cases); a prototype-polluting key is just a key.
 */
export function firstValues(query: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [key, value] of new URLSearchParams(query)) if (!(key in out)) out[key] = value;
  return out;
}

// Typed as fastify's logger so that the instance keeps fastify's default generics.
function apiLogger(logger: Logger): FastifyBaseLogger {
  return logger.child({ component: 'api' }, { redact: ['req.headers["x-auth-token"]', 'req.headers.authorization'] });
}

export async function buildApiServer(deps: ApiDeps, options: ApiServerOptions, logger: Logger): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: apiLogger(logger),
    // One line per request would drown the log; requests are counted in the self-metrics instead.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimitBytes,
    requestTimeout: options.requestTimeoutMs,
    connectionTimeout: options.requestTimeoutMs,
    return503OnClosing: true,
    trustProxy: false,
    routerOptions: { ignoreTrailingSlash: true, querystringParser: firstValues },
  });
  await app.register(tenantApi(deps));
  return app;
}

export async function listen(app: FastifyInstance, options: ApiServerOptions): Promise<string> {
  return app.listen({ host: options.host, port: options.port });
}
