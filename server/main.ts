import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { logCodec, metricCodec } from '../core/codec.js';
import type { Counters } from '../core/counters.js';
import { TOPICS, type LogEnvelope, type MetricEnvelope } from '../core/envelope.js';
import type { Bus, BusConsumer, Health, Sink } from '../core/pipeline.js';
import type { LogStore, MetricStore } from '../core/query.js';
import { shutdownInOrder, type StepOutcome } from '../core/shutdown.js';
import type { WireFormat } from '../bus/wire.js';
import type { ServerSection } from './config.js';
import type { Authenticator } from './api/auth.js';
import type { AlarmStore } from '../alerting/store/alarmStore.js';
import { buildApiServer, listen } from './api/server.js';
import { CoalescingSink } from './ingest/coalescingSink.js';
import { ingestHandler } from './ingest/ingestHandler.js';
import { InfluxdbV1Sink } from './influxdb/influxdbV1Sink.js';
import { InfluxdbV1Store } from './influxdb/influxdbV1Store.js';
import { InfluxdbV2Sink } from './influxdb/influxdbV2Sink.js';
import { INFLUXDB_DEFAULTS, type InfluxdbConfig } from './influxdb/config.js';
import { ElasticsearchLogStore } from './search/elasticsearchLogStore.js';
import { ElasticsearchSink } from './search/elasticsearchSink.js';
import type { LogSearchSink } from './search/logSearchSink.js';
import { OpensearchLogStore } from './search/opensearchLogStore.js';
import { OpensearchSink } from './search/opensearchSink.js';
import { openDatabase, type SqliteDatabase } from './sqlite/database.js';
import { SqliteLogSink } from './sqlite/sqliteLogSink.js';
import { SqliteLogStore } from './sqlite/sqliteLogStore.js';
import { SetupFirstSink } from './ingest/setupFirstSink.js';
import { SqliteSink } from './sqlite/sqliteSink.js';
import { SqliteStore } from './sqlite/sqliteStore.js';

export interface ServerDeps {
  /** The server's own section of the configuration, frozen. */
  readonly config: Readonly<ServerSection>;
  /** Stamped on metrics posted through the API. */
  readonly region: string;
  readonly bus: Bus;
  /** How the bus frames records: the API publishes posted metrics the same way. */
  readonly wire: WireFormat;
  readonly counters: Counters;
  readonly logger: Logger;
  readonly authenticator: Authenticator;
  readonly now: () => number;
  /** The alert engine's store, for the alarm-definition, alarm and notification-method routes; they answer 501 without it. */
  readonly alarms?: { readonly store: AlarmStore; readonly notificationPeriodsSeconds: readonly number[]; readonly allowPrivateNotificationAddresses: boolean };
}

export interface RunningServer {
  /** Where the tenant API listens, when it is enabled. */
  readonly apiUrl: string | undefined;
  /** Runs once: every step within `deadlineMs` (epoch ms), none skipped because another failed. */
  stop(deadlineMs: number): Promise<StepOutcome[]>;
}

function influxdbConfig(config: Readonly<ServerSection>): InfluxdbConfig {
  const c = config.influxdb;
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

/** The embedded database, opened once when the metrics or the logs use it, closed once. */
function sharedDatabase(path: string): { readonly get: () => SqliteDatabase; readonly close: () => void } {
  let db: SqliteDatabase | undefined;
  return {
    get: () => (db ??= openDatabase(path)),
    close: () => db?.close(),
  };
}

/** The configured metric sink and the store the API reads from: always the same service. */
function buildStorage(config: Readonly<ServerSection>, sqlite: () => SqliteDatabase): { sink: Sink<MetricEnvelope>; store: MetricStore } {
  if (config.store === 'sqlite') {
    const db = sqlite();
    return { sink: new SqliteSink(db), store: new SqliteStore(db) };
  }
  const influx = influxdbConfig(config);
  // InfluxDB 2.x and 3.x answer InfluxQL on their v1-compatible /query, so one store reads all versions.
  return { sink: influx.version === 1 ? new InfluxdbV1Sink(influx) : new InfluxdbV2Sink(influx), store: new InfluxdbV1Store(influx) };
}

/**
 * The configured log sink and the store the API searches: the embedded database (FTS5),
 * Elasticsearch or OpenSearch. A search engine's template and lifecycle policy are
 * installed before its first delivery (see `SetupFirstSink`).
 */
function buildLogStorage(config: Readonly<ServerSection>, sqlite: () => SqliteDatabase, deps: ServerDeps): { sink: Sink<LogEnvelope>; store: LogStore } {
  const logs = config.logs;
  const sinkDeps = { counters: deps.counters, logger: deps.logger.child({ component: 'log_sink' }) };
  const search = (sink: LogSearchSink, store: LogStore): { sink: Sink<LogEnvelope>; store: LogStore } => ({
    sink: new SetupFirstSink(sink, () => sink.setup(), logs[sink.name].retry_delay_ms, sinkDeps.logger),
    store,
  });
  if (logs.store === 'elasticsearch') return search(new ElasticsearchSink(logs.elasticsearch, sinkDeps), new ElasticsearchLogStore(logs.elasticsearch));
  if (logs.store === 'opensearch') return search(new OpensearchSink(logs.opensearch, sinkDeps), new OpensearchLogStore(logs.opensearch));
  const db = sqlite();
  return { sink: new SqliteLogSink(db), store: new SqliteLogStore(db) };
}

/**
 * The server: a consumer group that moves metrics from the bus into the store, committing
 * offsets only after the store has them, and the tenant API in front of the same store.
 * Shutdown runs in reverse, within one deadline (see `stop`).
 */
export async function startServer(deps: ServerDeps): Promise<RunningServer> {
  const { config, bus, counters } = deps;
  const log = deps.logger.child({ component: 'server' });
  const database = sharedDatabase(config.sqlite.path);
  const storage = buildStorage(config, database.get);
  const { store } = storage;
  const logStorage = config.logs.enabled ? buildLogStorage(config, database.get, deps) : undefined;
  // Batches of the partitions consumed at once are joined into writes of up to a full InfluxDB request.
  const sink = new CoalescingSink(storage.sink, INFLUXDB_DEFAULTS.batchSize, (items, batches) => {
    counters.add('kansoku_server_sink_deliveries_total', { sink: storage.sink.name });
    counters.add('kansoku_server_sink_delivered_batches_total', { sink: storage.sink.name }, batches);
    counters.add('kansoku_server_sink_delivered_items_total', { sink: storage.sink.name }, items);
  });
  const producer = bus.producer();
  const consumer = bus.consumer(config.group_id);
  const health = async (): Promise<Record<string, Health>> => ({
    bus: consumer.health(),
    [sink.name]: await sink.health(),
    ...(logConsumer ? { logs_bus: logConsumer.health() } : {}),
    ...(logStorage ? { [`logs_${logStorage.sink.name}`]: await logStorage.sink.health() } : {}),
  });
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
  log.info({ store: config.store, groupId: config.group_id }, 'server consuming metrics');

  // Logs in a consumer group of their own: a slow or absent log store never holds metrics back.
  let logConsumer: BusConsumer | undefined;
  if (logStorage) {
    logConsumer = bus.consumer(config.logs.group_id);
    const logSink = logStorage.sink;
    await logConsumer.run(
      [TOPICS.logs],
      ingestHandler({
        codec: logCodec,
        sink: logSink,
        deadLetter: producer,
        counters,
        onRetry: (reason, delayMs) => log.warn({ sink: logSink.name, reason, delayMs }, 'log sink asked to retry the batch'),
      }),
    );
    log.info({ store: config.logs.store, groupId: config.logs.group_id }, 'server consuming logs');
  }

  let api: FastifyInstance | undefined;
  let apiUrl: string | undefined;
  if (config.api.enabled) {
    const options = {
      host: config.api.host,
      port: config.api.port,
      bodyLimitBytes: config.api.body_limit_bytes,
      requestTimeoutMs: config.api.request_timeout_ms,
    };
    api = await buildApiServer(
      {
        authenticator: deps.authenticator,
        producer,
        wire: deps.wire,
        store,
        // Without logs enabled the log search and tail answer 501.
        logStore: logStorage?.store,
        counters,
        region: deps.region,
        maxQueryLimit: config.api.max_query_limit,
        now: deps.now,
        health,
        ...(deps.alarms ? { alarmStore: deps.alarms.store, notificationPeriodsSeconds: deps.alarms.notificationPeriodsSeconds, allowPrivateNotificationAddresses: deps.alarms.allowPrivateNotificationAddresses } : {}),
      },
      options,
      deps.logger,
    );
    apiUrl = await listen(api, options);
    log.info({ url: apiUrl }, 'tenant API listening');
  }

  let stopped: Promise<StepOutcome[]> | undefined;
  return {
    apiUrl,
    // Reverse of the data flow: stop the API's intake, stop consuming (the batch in hand
    // finishes and commits), close the sink, then the database it shares with the store,
    // then the producer.
    stop: (deadlineMs) =>
      (stopped ??= (async () => {
        const outcomes = await shutdownInOrder(
          [
            { name: 'api', run: async () => { await api?.close(); } },
            { name: 'consumer', run: () => consumer.stop() },
            { name: 'log consumer', run: async () => { await logConsumer?.stop(); } },
            { name: 'sink', run: () => sink.close() },
            { name: 'log sink', run: async () => { await logStorage?.sink.close(); } },
            { name: 'database', run: () => Promise.resolve(database.close()) },
            { name: 'producer', run: () => producer.close() },
          ],
          deadlineMs,
        );
        log.info({ steps: outcomes }, 'server stopped');
        return outcomes;
      })()),
  };
}
