/**
 * The InfluxDB 1.x sink: Monasca's schema through `POST /write?db=..&precision=ms`.
 * A missing database is created (CREATE DATABASE is idempotent) and the batch handed
 * back as retryable, so the next attempt lands; every other answer is classified by
 * writeOutcome.ts. HTTP trouble never throws.
 */
import type { MetricEnvelope } from '../../core/envelope.js';
import { retryable, type DeliveryOutcome } from '../../core/outcome.js';
import type { Health, Sink } from '../../core/pipeline.js';
import { INFLUXDB_DEFAULTS, targetDatabase, type InfluxdbConfig } from './config.js';
import { quoteIdentifier } from './influxql.js';
import { InfluxdbV1Http, parseQueryResponse } from './v1Http.js';
import { deliverBatch, describeError, errorText, outcomeOfWrite, unreachable, type SentBatch } from './writeOutcome.js';

export interface InfluxdbSinkDeps {
  /** The clock an HTTP-date Retry-After is measured against. */
  readonly now?: () => number;
}

export class InfluxdbV1Sink implements Sink<MetricEnvelope> {
  readonly name = 'influxdb';
  private readonly closing = new AbortController();
  private readonly http: InfluxdbV1Http;
  private readonly database: string;
  private readonly retryDelayMs: number;
  private readonly now: () => number;
  /** The CREATE DATABASE in flight, shared by concurrent deliveries that all met the 404. */
  private creating: Promise<string | undefined> | undefined;

  constructor(
    private readonly config: InfluxdbConfig,
    deps: InfluxdbSinkDeps = {},
  ) {
    this.http = new InfluxdbV1Http(config, this.closing.signal);
    this.database = targetDatabase(config);
    this.retryDelayMs = config.retryDelayMs ?? INFLUXDB_DEFAULTS.retryDelayMs;
    this.now = deps.now ?? Date.now;
  }

  deliver(batch: readonly MetricEnvelope[]): Promise<DeliveryOutcome<MetricEnvelope>> {
    return deliverBatch(batch, this.config, this.closing.signal, (request) => this.write(request));
  }

  private async write(request: SentBatch): Promise<DeliveryOutcome<MetricEnvelope>> {
    const answer = await this.http.write(this.database, request.lines);
    if (answer.kind === 'unreachable') return unreachable(answer.error, this.retryDelayMs);
    const { response } = answer;
    if (response.status === 404 && /database not found/i.test(errorText(response))) {
      const problem = await this.createDatabase();
      return problem === undefined
        ? retryable(`InfluxDB database ${JSON.stringify(this.database)} did not exist and was created`, INFLUXDB_DEFAULTS.databaseCreatedRetryDelayMs)
        : retryable(`InfluxDB database ${JSON.stringify(this.database)} does not exist and could not be created: ${problem}`, this.retryDelayMs);
    }
    return outcomeOfWrite(response, request, { nowMs: this.now(), retryDelayMs: this.retryDelayMs });
  }

  /** Creates the database; resolves to why not, or undefined when it exists now. */
  private createDatabase(): Promise<string | undefined> {
    this.creating ??= this.http.query(`CREATE DATABASE ${quoteIdentifier(this.database)}`).then((answer) => {
      this.creating = undefined;
      if (answer.kind === 'unreachable') return describeError(answer.error);
      const { status, body } = answer.response;
      // 1.x answers 200 with the statement's error inside the results (a user without admin rights, say).
      const parsed = parseQueryResponse(body);
      const problem = parsed.ok ? parsed.results[0]?.error : parsed.error;
      return status === 200 && problem === undefined ? undefined : `${status}: ${problem ?? errorText(answer.response)}`;
    });
    return this.creating;
  }

  async health(): Promise<Health> {
    const answer = await this.http.ping();
    if (answer.kind === 'unreachable') return { healthy: false, reason: `InfluxDB is unreachable: ${describeError(answer.error)}` };
    const { status } = answer.response;
    return status === 204 || status === 200 ? { healthy: true } : { healthy: false, reason: `InfluxDB /ping answered ${status}` };
  }

  /** Aborts requests in flight; their deliveries come back retryable. */
  close(): Promise<void> {
    this.closing.abort();
    this.http.close();
    return Promise.resolve();
  }
}
