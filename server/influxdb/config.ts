/**
 * How Kansoku reaches InfluxDB. The schema, its defaults and validation live in
 * cmd/configSchema.ts; this is the shape the sinks and the store are built from.
 */
export interface InfluxdbConfig {
  /** 1: InfluxDB 1.x `/write`; 2: the v2 `/api/v2/write` of InfluxDB 2.x and 3.x. */
  readonly version: 1 | 2;
  readonly url: string;
  /** v1: the database every tenant's metrics go into (Monasca's persister uses one, `monasca`). */
  readonly database: string;
  /** v1: the retention policy to write into; the database's default when absent. */
  readonly retentionPolicy?: string;
  /** v1: basic authentication. */
  readonly username?: string;
  readonly password?: string;
  /** v2: the organisation (InfluxDB 3 ignores it). */
  readonly org?: string;
  /** v2: the bucket (InfluxDB 3: the database); `database` when absent. */
  readonly bucket?: string;
  /** v2: API token; also sent to the v1-compatible `/query` of 2.x and 3.x. */
  readonly token?: string;
  readonly timeoutMs: number;
  /** Points per write request at most; a delivered batch is split into requests this size. */
  readonly batchSize?: number;
  /** The delay a retryable outcome asks for when the server does not say (Retry-After). */
  readonly retryDelayMs?: number;
}

export const INFLUXDB_DEFAULTS = {
  database: 'monasca',
  // InfluxData's guidance: 5,000 points per write request is where throughput levels off.
  batchSize: 5_000,
  retryDelayMs: 1_000,
  // After creating a missing database the write can go again at once; a short pause only spares a busy loop.
  databaseCreatedRetryDelayMs: 100,
  // A Retry-After beyond this is treated as this, so that one bad header cannot park the pipeline for hours.
  maxRetryAfterMs: 300_000,
} as const;

/** The bucket of a v2 write and the database a `/query` is about, whichever API version. */
export function targetDatabase(config: InfluxdbConfig): string {
  return config.version === 2 ? (config.bucket ?? config.database) : config.database;
}
