/**
 * Turns Kansoku's Kafka config into a kafkajs client. The agent's producer and
 * the server's consumer both start here, so TLS, SASL and logging are set up
 * the same way on both sides of the bus.
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { Kafka, logLevel } from 'kafkajs';
import './kafkajsCrc32c.js';
import './kafkajsIdleFix.js';
import './kafkajsEncoderAlloc.js';
import type { KafkaConfig, LogEntry, SASLOptions } from 'kafkajs';

export interface KafkaTlsConfig {
  /** Paths to PEM files, read once at start-up. */
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly rejectUnauthorized?: boolean;
}

export interface KafkaClientConfig {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly ssl?: boolean | KafkaTlsConfig;
  readonly sasl?: {
    readonly mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512';
    readonly username: string;
    readonly password: string;
  };
  readonly connectionTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
}

/** The slice of pino that the client logs through. */
export interface KafkaLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** How kafkajs itself retries a request before the caller sees an error. */
export interface KafkaRetryConfig {
  readonly retries: number;
  readonly initialRetryTimeMs: number;
  readonly maxRetryTimeMs: number;
}

/**
 * Without a logger the client is silent; Kansoku reports bus trouble through
 * outcomes instead. `retry` overrides kafkajs's own (5 retries, up to 30 s),
 * which tests shorten so that a failure surfaces within a second.
 */
export function createKafka(config: KafkaClientConfig, logger?: KafkaLogger, retry?: KafkaRetryConfig): Kafka {
  const kafkaConfig: KafkaConfig = {
    brokers: [...config.brokers],
    clientId: config.clientId,
    logLevel: logger ? logLevel.INFO : logLevel.NOTHING,
  };
  if (logger) kafkaConfig.logCreator = logCreatorFor(logger);
  if (config.ssl !== undefined) kafkaConfig.ssl = typeof config.ssl === 'boolean' ? config.ssl : tlsOptions(config.ssl);
  if (config.sasl) kafkaConfig.sasl = saslOptions(config.sasl);
  if (config.connectionTimeoutMs !== undefined) kafkaConfig.connectionTimeout = config.connectionTimeoutMs;
  if (config.requestTimeoutMs !== undefined) kafkaConfig.requestTimeout = config.requestTimeoutMs;
  if (retry) kafkaConfig.retry = { retries: retry.retries, initialRetryTime: retry.initialRetryTimeMs, maxRetryTime: retry.maxRetryTimeMs };
  return new Kafka(kafkaConfig);
}

/** kafkajs types SASL as one object per mechanism, so the union is spelled out. */
function saslOptions({ mechanism, username, password }: NonNullable<KafkaClientConfig['sasl']>): SASLOptions {
  switch (mechanism) {
    case 'plain':
      return { mechanism, username, password };
    case 'scram-sha-256':
      return { mechanism, username, password };
    case 'scram-sha-512':
      return { mechanism, username, password };
  }
}

/** Reads the PEM files now, so that a wrong path fails start-up rather than the first connection. */
function tlsOptions(tls: KafkaTlsConfig): ConnectionOptions {
  const options: ConnectionOptions = {};
  if (tls.ca !== undefined) options.ca = [readPem('ca', tls.ca)];
  if (tls.cert !== undefined) options.cert = readPem('cert', tls.cert);
  if (tls.key !== undefined) options.key = readPem('key', tls.key);
  if (tls.rejectUnauthorized !== undefined) options.rejectUnauthorized = tls.rejectUnauthorized;
  return options;
}

function readPem(field: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`kafka.ssl.${field}: cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
}

function logCreatorFor(logger: KafkaLogger): () => (entry: LogEntry) => void {
  return () =>
    ({ namespace, level, log }) => {
      // kafkajs puts its own timestamp and message in `log`; pino adds its own time.
      const { message, timestamp: _timestamp, ...fields } = log;
      const obj = { kafka: { namespace, ...fields } };
      const msg = `kafka: ${message}`;
      switch (level) {
        case logLevel.ERROR:
          logger.error(obj, msg);
          break;
        case logLevel.WARN:
          logger.warn(obj, msg);
          break;
        case logLevel.INFO:
          logger.info(obj, msg);
          break;
        default:
          logger.debug(obj, msg);
      }
    };
}
