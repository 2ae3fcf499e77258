import { Type, type Static } from '@sinclair/typebox';
import { section } from '../core/config.js';
import { ElasticsearchLogsSectionSchema, OpensearchLogsSectionSchema } from './search/config.js';

/** InfluxDB 1.x (v1 API) or 2.x/3.x (v2 API); turned into an `InfluxdbConfig` by the server. */
const InfluxdbSectionSchema = section(
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

/** The `server` section. Every default of the server is here. */
export const ServerSectionSchema = section(
  {
    group_id: Type.String({ minLength: 1, default: 'kansoku-server' }),
    store: Type.Union([Type.Literal('sqlite'), Type.Literal('influxdb')], { default: 'sqlite', description: 'where metrics are written and read back from' }),
    sqlite: section({ path: Type.String({ default: './data/kansoku.db' }) }, 'the embedded store'),
    influxdb: InfluxdbSectionSchema,
    logs: section(
      {
        enabled: Type.Boolean({ default: true, description: 'consume the topic logs into the log store' }),
        group_id: Type.String({ minLength: 1, default: 'kansoku-server-logs', description: "the logs' own consumer group: a slow log store never holds metrics back" }),
        store: Type.Union([Type.Literal('sqlite'), Type.Literal('elasticsearch'), Type.Literal('opensearch')], {
          default: 'sqlite',
          description: 'where logs are written and searched: the embedded store (server.sqlite.path, FTS5), Elasticsearch 8 or OpenSearch 2',
        }),
        elasticsearch: ElasticsearchLogsSectionSchema,
        opensearch: OpensearchLogsSectionSchema,
      },
      'logs: bus → log store, and the log search the API serves',
    ),
    api: section(
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

/** The `auth` section: who may call the tenant API. */
export const AuthSectionSchema = section(
  { tokens: Type.String({ default: '', description: 'TOKEN:TENANT_ID:ROLE[+ROLE...], comma-separated' }) },
  'static API tokens',
);

export type ServerSection = Static<typeof ServerSectionSchema>;
export type AuthSection = Static<typeof AuthSectionSchema>;
