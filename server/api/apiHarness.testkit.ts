import pino from 'pino';
import { vi } from 'vitest';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { AlarmStore } from '../../alerting/store/alarmStore.js';
import { openSqliteAlarmStore } from '../../alerting/store/sqliteAlarmStore.js';
import { Counters } from '../../core/counters.js';
import { logCodec, metricCodec } from '../../core/codec.js';
import { TOPICS } from '../../core/envelope.js';
import { DEFAULT_WIRE } from '../../bus/wire.js';
import { MemoryBus } from '../../bus/memory/memoryBus.js';
import type { BusConsumer } from '../../core/pipeline.js';
import { PATIENT } from '../../core/pipeline.testkit.js';
import { ingestHandler } from '../ingest/ingestHandler.js';
import { openDatabase } from '../sqlite/database.js';
import { SqliteSink } from '../sqlite/sqliteSink.js';
import { SqliteLogSink } from '../sqlite/sqliteLogSink.js';
import { SqliteLogStore } from '../sqlite/sqliteLogStore.js';
import { SqliteStore } from '../sqlite/sqliteStore.js';
import { StaticTokenAuthenticator } from './auth.js';
import type { LogTailOptions } from './logsTail.js';
import { buildApiServer } from './server.js';

/**
 * The tenant API over the in-process bus, the ingest handler and an in-memory embedded
 * store: the whole server path, driven through fastify's `inject`.
 */
export interface ApiHarness {
  readonly app: FastifyInstance;
  readonly bus: MemoryBus;
  readonly counters: Counters;
  /** The in-memory SQLite alarm store behind the alarm routes: tests seed alarms through its checkpoint, as the engine does. */
  readonly alarmStore: AlarmStore;
  post(token: string, body: unknown, query?: string): Promise<LightMyRequestResponse>;
  get(token: string, url: string): Promise<LightMyRequestResponse>;
  /** Any method on any URL, with a JSON body when one is given (a string is sent as it is). */
  send(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', token: string, url: string, body?: unknown): Promise<LightMyRequestResponse>;
  /** Polls `read` until `done` holds (the bus and sink are asynchronous) or PATIENT's deadline passes; returns the last answer. */
  eventually<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T>;
  close(): Promise<void>;
}

export async function startApiHarness(
  tokens: string,
  options: { logTail?: Partial<LogTailOptions>; notificationPeriodsSeconds?: readonly number[]; alarmStore?: 'none' } = {},
): Promise<ApiHarness> {
  const counters = new Counters();
  const bus = new MemoryBus({ capacity: 10_000, maxBatch: 500 });
  const db = openDatabase(':memory:');
  const consumer: BusConsumer = bus.consumer('server');
  await consumer.run([TOPICS.metrics], ingestHandler({ codec: metricCodec, sink: new SqliteSink(db), deadLetter: bus.producer(), counters }));
  const logConsumer: BusConsumer = bus.consumer('server-logs');
  await logConsumer.run([TOPICS.logs], ingestHandler({ codec: logCodec, sink: new SqliteLogSink(db), deadLetter: bus.producer(), counters }));
  const alarmStore = await openSqliteAlarmStore(':memory:');
  const app = await buildApiServer(
    {
      authenticator: StaticTokenAuthenticator.parse(tokens),
      producer: bus.producer(),
      wire: DEFAULT_WIRE,
      store: new SqliteStore(db),
      logStore: new SqliteLogStore(db),
      ...(options.logTail ? { logTail: options.logTail } : {}),
      ...(options.alarmStore === 'none' ? {} : { alarmStore }),
      ...(options.notificationPeriodsSeconds ? { notificationPeriodsSeconds: options.notificationPeriodsSeconds } : {}),
      counters,
      region: 'test',
      maxQueryLimit: 10_000,
      now: () => Date.now(),
      health: () => Promise.resolve({ store: { healthy: true } }),
    },
    { host: '127.0.0.1', port: 0, bodyLimitBytes: 1 << 20, requestTimeoutMs: 10_000 },
    pino({ level: 'silent' }),
  );
  return {
    app,
    bus,
    counters,
    alarmStore,
    post: (token, body, query = '') =>
      app.inject({ method: 'POST', url: `/v2.0/metrics${query}`, headers: { 'x-auth-token': token, 'content-type': 'application/json' }, payload: JSON.stringify(body) }),
    get: (token, url) => app.inject({ method: 'GET', url, headers: { 'x-auth-token': token } }),
    send: (method, token, url, body) =>
      app.inject({
        method,
        url,
        headers: { 'x-auth-token': token, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { payload: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
      }),
    async eventually(read, done) {
      // Polled the way every unit test waits, vi.waitFor with PATIENT's deadline. At the
      // deadline the last answer is returned all the same: the caller's expect then shows it.
      let last = await read();
      if (done(last)) return last;
      await vi
        .waitFor(async () => {
          last = await read();
          if (!done(last)) throw new Error('not yet');
        }, PATIENT)
        .catch(() => undefined);
      return last;
    },
    async close() {
      await app.close();
      await consumer.stop();
      await logConsumer.stop();
      await alarmStore.close();
    },
  };
}
