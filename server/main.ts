import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { metricCodec } from '../core/codec.js';
import type { Counters } from '../core/counters.js';
import { TOPICS, type MetricEnvelope } from '../core/envelope.js';
import type { Bus, Health, Sink } from '../core/pipeline.js';
import type { MetricStore } from '../core/query.js';
import type { Config } from '../cmd/configSchema.js';
import type { Authenticator } from './api/auth.js';
import { buildApiServer, listen } from './api/server.js';
import { ingestHandler } from './ingest/ingestHandler.js';
import { InfluxdbV1Sink } from './influxdb/influxdbV1Sink.js';
import { InfluxdbV1Store } from './influxdb/influxdbV1Store.js';
import { InfluxdbV2Sink } from './influxdb/influxdbV2Sink.js';
import type { InfluxdbConfig } from './influxdb/config.js';
import { openDatabase } from './sqlite/database.js';
import { SqliteSink } from './sqlite/sqliteSink.js';
import { SqliteStore } from './sqlite/sqliteStore.js';

export interface ServerDeps {
  readonly config: Readonly<Config>;
  readonly bus: Bus;
  readonly counters: Counters;
  readonly logger: Logger;
  readonly authenticator: Authenticator;
  readonly now: () => number;
}

export interface RunningServer {
  /** Where the tenant API listens, when it is enabled. */
  readonly apiUrl: string | undefined;
  stop(): Promise<void>;
}

function influxdbConfig(config: Readonly<Config>): InfluxdbConfig {
  const c = config.server.influxdb;
  return {
    version: c.version,
    url: c.url,
    database: c.database,
    timeoutMs: c.timeout_ms,
    ...(c.retention_policy !== undefined ? { retentionPolicy: c.retention_policy } : {}),
    ...(c.username !== undefined ? { username: c.username } : {}),
    ...(c.password !== undefined ? { password: c.password } : {}),
    ...(c.org !== undefined ? { org: c.org } : {}),
    ...(c.bucket !== undefined ? { bucket: c.bucket } : {}),
    ...(c.token !== undefined ? { token: c.token } : {}),
  };
}

/** The configured metric sink and the store the API reads from: always the same service. */
function buildStorage(config: Readonly<Config>): { sink: Sink<MetricEnvelope>; store: MetricStore } {
  if (config.server.store === 'sqlite') {
    const db = openDatabase(config.server.sqlite.path);
    return { sink: new SqliteSink(db), store: new SqliteStore(db) };
  }
  const influx = influxdbConfig(config);
  // InfluxDB 2.x and 3.x answer InfluxQL on their v1-compatible /query, so one store reads all versions.
  return { sink: influx.version === 1 ? new InfluxdbV1Sink(influx) : new InfluxdbV2Sink(influx), store: new InfluxdbV1Store(influx) };
}

/**
 * The server: a consumer group that moves metrics from the bus into the store, committing
 * offsets only after the store has them, and the tenant API in front of the same store.
 * Shutdown runs in reverse: stop the API's intake, stop consuming (the batch in hand
 * finishes and commits), then close the sink and the producer.
 */
export async function startServer(deps: ServerDeps): Promise<RunningServer> {
  const { config, bus, counters } = deps;
  const log = deps.logger.child({ component: 'server' });
  const { sink, store } = buildStorage(config);
  const producer = bus.producer();
  const consumer = bus.consumer(config.server.group_id);
  await consumer.run(
    [TOPICS.metrics],
    ingestHandler({
      codec: metricCodec,
      sink,
      deadLetter: producer,
      counters,
      onRetry: (reason, delayMs) => log.warn({ sink: sink.name, reason, delayMs }, 'sink asked to retry the batch'),
    }),
  );
  log.info({ store: config.server.store, groupId: config.server.group_id }, 'server consuming metrics');

  let api: FastifyInstance | undefined;
  let apiUrl: string | undefined;
  if (config.server.api.enabled) {
    const options = {
      host: config.server.api.host,
      port: config.server.api.port,
      bodyLimitBytes: config.server.api.body_limit_bytes,
      requestTimeoutMs: config.server.api.request_timeout_ms,
    };
    api = await buildApiServer(
      {
        authenticator: deps.authenticator,
        producer,
        store,
        counters,
        region: config.region,
        maxQueryLimit: config.server.api.max_query_limit,
        now: deps.now,
        health: async (): Promise<Record<string, Health>> => ({ [sink.name]: await sink.health() }),
      },
      options,
      deps.logger,
    );
    apiUrl = await listen(api, options);
    log.info({ url: apiUrl }, 'tenant API listening');
  }

  let stopped: Promise<void> | undefined;
  return {
    apiUrl,
    stop: () =>
      (stopped ??= (async () => {
        await api?.close();
        await consumer.stop();
        await sink.close();
        await producer.close();
        log.info('server stopped');
      })()),
  };
}
