/**
 * How Kansoku reaches Elasticsearch or OpenSearch for logs: the section the server plugs
 * in as `server.logs.elasticsearch` and `server.logs.opensearch` (one schema, the two
 * engines speak the same API for everything Kansoku asks of them).
 */
import { Type, type Static } from '@sinclair/typebox';
import { section } from '../../core/config.js';

export const LogSearchSectionSchema = section(
  {
    urls: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, default: ['http://127.0.0.1:9200'], description: 'nodes of the cluster; requests go round them' }),
    username: Type.Optional(Type.String()),
    password: Type.Optional(Type.String()),
    api_key: Type.Optional(Type.String({ description: 'Elasticsearch API key (base64 id:key); sent as `Authorization: ApiKey`' })),
    data_stream: Type.String({
      // Lower case, no characters an index name may not hold, and the tenant exactly once.
      pattern: '^[a-z0-9][a-z0-9._-]*\\{tenant\\}[a-z0-9._-]*$',
      default: 'logs-kansoku-{tenant}',
      description: 'the data stream of a tenant; `{tenant}` is replaced by the tenant id made safe for an index name',
    }),
    retention_days: Type.Integer({ minimum: 0, default: 7, description: 'backing indices are deleted this long after rollover; 0 keeps them' }),
    rollover_max_age: Type.String({ pattern: '^[0-9]+(d|h|m)$', default: '1d' }),
    rollover_max_primary_shard_size: Type.String({ pattern: '^[0-9]+(gb|mb)$', default: '50gb' }),
    template_name: Type.String({ pattern: '^[a-z0-9][a-z0-9._-]*$', default: 'kansoku-logs', description: 'the index template, and the ILM (Elasticsearch) or ISM (OpenSearch) policy of the same name' }),
    template_priority: Type.Integer({ minimum: 101, default: 200, description: "above Elasticsearch's built-in logs-*-* template (100)" }),
    number_of_shards: Type.Integer({ minimum: 1, default: 1 }),
    number_of_replicas: Type.Integer({ minimum: 0, default: 1 }),
    bulk_max_docs: Type.Integer({ minimum: 1, default: 5_000 }),
    bulk_max_bytes: Type.Integer({ minimum: 1024, default: 10 * 1024 * 1024 }),
    timeout_ms: Type.Integer({ minimum: 1, default: 30_000, description: 'per request; also the budget for retrying the items of one bulk request' }),
    max_item_retries: Type.Integer({ minimum: 0, default: 3, description: 'retries of the 429/5xx items of one bulk request before the whole batch is handed back' }),
    retry_delay_ms: Type.Integer({ minimum: 1, default: 1_000, description: 'the delay a retryable outcome asks for when the cluster does not say' }),
  },
  'Elasticsearch / OpenSearch: logs as data streams, one per tenant',
);

export type LogSearchSection = Static<typeof LogSearchSectionSchema>;

/** The two sections have the same keys; two names so that each reads as what it configures. */
export const ElasticsearchLogsSectionSchema = LogSearchSectionSchema;
export const OpensearchLogsSectionSchema = LogSearchSectionSchema;

export const LOG_SEARCH_DEFAULTS = {
  /** An operator fixes credentials; until then ask again now and then, nothing is lost. */
  authRetryDelayMs: 60_000,
  /** A Retry-After beyond this is treated as this, so one bad header cannot park the pipeline. */
  maxRetryAfterMs: 300_000,
  /** Backoff between retries of the 429/5xx items of one bulk request. */
  itemBackoff: { initialDelayMs: 200, maxDelayMs: 5_000 },
  /** Elasticsearch's and OpenSearch's index.max_result_window. */
  maxResultWindow: 10_000,
} as const;
