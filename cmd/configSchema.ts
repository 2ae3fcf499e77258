import { Type, type Static } from '@sinclair/typebox';
import { AgentSectionSchema, TenantsSectionSchema } from '../agent/config.js';
import { AlertingSectionSchema } from '../alerting/config.js';
import { BusSectionSchema } from '../bus/config.js';
import { AuthSectionSchema, ServerSectionSchema } from '../server/config.js';

/**
 * The whole configuration file, composed of the sections each component declares with
 * its own defaults. Keys are snake_case as in Prometheus's and Monasca's files; unknown
 * keys are rejected at start-up.
 */
export const ConfigSchema = Type.Object(
  {
    region: Type.String({ minLength: 1, default: 'local', description: "the region stamped on every record (Monasca's meta.region)" }),
    log_level: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)), { default: 'info' }),
    shutdown_timeout_ms: Type.Integer({ minimum: 1, default: 20_000, description: 'the whole process shutdown, every component included' }),
    tenants: TenantsSectionSchema,
    bus: BusSectionSchema,
    agent: AgentSectionSchema,
    server: ServerSectionSchema,
    alerting: AlertingSectionSchema,
    auth: AuthSectionSchema,
  },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema>;
