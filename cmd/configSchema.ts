import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { AlarmDefinitionSchema, EvaluationSettingsSchema, WebhookSettingsSchema } from '../alerting/config.js';

/**
 * Every setting of every component, with its one default. Keys are snake_case as in
 * Prometheus's and Monasca's files; unknown keys are rejected at start-up.
 */
const strict = <T extends Parameters<typeof Type.Object>[0]>(properties: T, description: string) =>
  Type.Object(properties, { additionalProperties: false, default: {}, description });

const TenantMapping = strict(
  {
    map: Type.Record(Type.String(), Type.String(), { default: {}, description: 'namespace → tenant id (a Keystone project id, say)' }),
    unmapped: Type.Union([Type.Literal('namespace'), Type.Literal('drop'), Type.Object({ tenant: Type.String({ minLength: 1 }) }, { additionalProperties: false })], {
      default: 'namespace',
      description: 'what a namespace missing from the map belongs to: itself, nobody (dropped), or a fixed tenant',
    }),
  },
  'which tenant a namespace belongs to',
);

const Kafka = strict(
  {
    brokers: Type.Array(Type.String({ minLength: 1 }), { default: ['127.0.0.1:9092'] }),
    client_id: Type.String({ default: 'kansoku' }),
    ssl: Type.Union([Type.Boolean(), strictInline({ ca_file: Type.Optional(Type.String()), cert_file: Type.Optional(Type.String()), key_file: Type.Optional(Type.String()), reject_unauthorized: Type.Boolean({ default: true }) })], { default: false }),
    sasl: Type.Optional(strictInline({ mechanism: Type.Union([Type.Literal('plain'), Type.Literal('scram-sha-256'), Type.Literal('scram-sha-512')]), username: Type.String(), password: Type.String() })),
    connection_timeout_ms: Type.Integer({ minimum: 1, default: 3000 }),
    request_timeout_ms: Type.Integer({ minimum: 1, default: 30000 }),
    session_timeout_ms: Type.Integer({ minimum: 1, default: 30000 }),
    heartbeat_interval_ms: Type.Integer({ minimum: 1, default: 3000 }),
    max_wait_time_ms: Type.Integer({ minimum: 1, default: 500 }),
  },
  'a Kafka cluster (kafkajs)',
);

function strictInline<T extends Parameters<typeof Type.Object>[0]>(properties: T) {
  return Type.Object(properties, { additionalProperties: false });
}

const Bus = strict(
  {
    kind: Type.Union([Type.Literal('memory'), Type.Literal('kafka')], { default: 'memory', description: 'memory: in-process (one process only); kafka: a Kafka cluster' }),
    kafka: Kafka,
    memory: strict({ capacity: Type.Integer({ minimum: 1, default: 100_000 }), max_batch: Type.Integer({ minimum: 1, default: 1000 }) }, 'the in-process bus'),
  },
  'the message bus between agent, server and alerting',
);

/** The self-metrics endpoint of a daemon that has no tenant API of its own. */
const telemetry = (port: number) =>
  strict(
    {
      enabled: Type.Boolean({ default: true }),
      host: Type.String({ default: '127.0.0.1' }),
      port: Type.Integer({ minimum: 0, maximum: 65535, default: port }),
    },
    '/metrics (Prometheus text) and /healthz',
  );

const Agent = strict(
  {
    telemetry: telemetry(8071),
    hostname: Type.Optional(Type.String({ minLength: 1, description: 'the node name; defaults to the machine host name' })),
    interval_seconds: Type.Number({ exclusiveMinimum: 0, default: 30 }),
    kubelet: strict(
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
    cgroup: strict(
      {
        enabled: Type.Boolean({ default: false }),
        root: Type.String({ default: '/sys/fs/cgroup' }),
        tenant: Type.String({ minLength: 1, default: 'local' }),
      },
      'the local cgroup hierarchy (v2, hybrid or v1), each cgroup a container',
    ),
  },
  'the node agent',
);

const Influxdb = strict(
  {
    version: Type.Union([Type.Literal(1), Type.Literal(2)], { default: 1 }),
    url: Type.String({ default: 'http://127.0.0.1:8086' }),
    database: Type.String({ minLength: 1, default: 'monasca' }),
    retention_policy: Type.Optional(Type.String()),
    username: Type.Optional(Type.String()),
    password: Type.Optional(Type.String()),
    org: Type.Optional(Type.String()),
    bucket: Type.Optional(Type.String()),
    token: Type.Optional(Type.String()),
    timeout_ms: Type.Integer({ minimum: 1, default: 10_000 }),
  },
  'InfluxDB 1.x (v1 API) or 2.x/3.x (v2 API)',
);

const Server = strict(
  {
    group_id: Type.String({ minLength: 1, default: 'kansoku-server' }),
    store: Type.Union([Type.Literal('sqlite'), Type.Literal('influxdb')], { default: 'sqlite', description: 'where metrics are written and read back from' }),
    sqlite: strict({ path: Type.String({ default: './data/kansoku.db' }) }, 'the embedded store'),
    influxdb: Influxdb,
    api: strict(
      {
        enabled: Type.Boolean({ default: true }),
        host: Type.String({ default: '127.0.0.1' }),
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 8070 }),
        body_limit_bytes: Type.Integer({ minimum: 1024, default: 5 * 1024 * 1024 }),
        request_timeout_ms: Type.Integer({ minimum: 1, default: 30_000 }),
        max_query_limit: Type.Integer({ minimum: 1, default: 10_000 }),
      },
      'the tenant API (Monasca v2.0)',
    ),
  },
  'the server: bus → stores, and the tenant API',
);

const Alerting = strict(
  {
    group_id: Type.String({ minLength: 1, default: 'kansoku-alerting' }),
    telemetry: telemetry(8072),
    alarm_definitions: Type.Array(AlarmDefinitionSchema, { default: [] }),
    webhook: WebhookSettingsSchema,
    evaluation: EvaluationSettingsSchema,
  },
  'the alert engine',
);

export const ConfigSchema = Type.Object(
  {
    region: Type.String({ minLength: 1, default: 'local', description: "the region stamped on every record (Monasca's meta.region)" }),
    log_level: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)), { default: 'info' }),
    tenants: TenantMapping,
    bus: Bus,
    agent: Agent,
    server: Server,
    alerting: Alerting,
    auth: strict({ tokens: Type.String({ default: '', description: 'TOKEN:TENANT_ID:ROLE[+ROLE...], comma-separated' }) }, 'static API tokens'),
  },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema>;
export type AnySchema = TSchema;
