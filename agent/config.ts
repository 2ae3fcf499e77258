import { Type, type Static } from '@sinclair/typebox';
import { section, strictObject, telemetrySection } from '../core/config.js';

/** The `tenants` section: which tenant a namespace's records belong to (the agent maps them). */
export const TenantsSectionSchema = section(
  {
    map: Type.Record(Type.String(), Type.String(), { default: {}, description: 'namespace → tenant id (a Keystone project id, say)' }),
    unmapped: Type.Union([Type.Literal('namespace'), Type.Literal('drop'), strictObject({ tenant: Type.String({ minLength: 1 }) })], {
      default: 'namespace',
      description: 'what a namespace missing from the map belongs to: itself, nobody (dropped), or a fixed tenant',
    }),
  },
  'which tenant a namespace belongs to',
);

/** The `agent` section. Every default of the node agent is here. */
export const AgentSectionSchema = section(
  {
    telemetry: telemetrySection(8071),
    hostname: Type.Optional(Type.String({ minLength: 1, description: 'the node name; defaults to the machine host name' })),
    interval_seconds: Type.Number({ exclusiveMinimum: 0, default: 30 }),
    kubelet: section(
      {
        enabled: Type.Boolean({ default: false }),
        url: Type.String({ default: 'https://127.0.0.1:10250/metrics/cadvisor' }),
        bearer_token_file: Type.Optional(Type.String()),
        ca_file: Type.Optional(Type.String()),
        insecure_skip_tls_verify: Type.Boolean({ default: false }),
        timeout_ms: Type.Integer({ minimum: 1, default: 10_000 }),
      },
      "the kubelet's /metrics/cadvisor",
    ),
    cgroup: section(
      {
        enabled: Type.Boolean({ default: false }),
        root: Type.String({ default: '/sys/fs/cgroup' }),
        tenant: Type.String({ minLength: 1, default: 'local' }),
      },
      'the local cgroup hierarchy (v2, hybrid or v1), each cgroup a container',
    ),
    publisher: section(
      {
        max_queued: Type.Integer({ minimum: 1, default: 100_000, description: 'envelopes held while the bus is away; the oldest go first when full, counted' }),
        batch_size: Type.Integer({ minimum: 1, default: 5_000, description: 'envelopes handed to the bus per publish call' }),
        shutdown_flush_ms: Type.Integer({ minimum: 0, default: 5_000, description: 'how long a stopping agent keeps trying to publish what it holds' }),
      },
      'what the agent holds until the bus took it',
    ),
  },
  'the node agent',
);

export type TenantsSection = Static<typeof TenantsSectionSchema>;
export type AgentSection = Static<typeof AgentSectionSchema>;
