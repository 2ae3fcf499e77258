/**
 * The InfluxDB 2.x / 3.x sink: Monasca's schema through `POST /api/v2/write`, sent with
 * @influxdata/influxdb-client's transport. Not its WriteApi: that one buffers across
 * calls and retries on its own, while a sink must answer for exactly the batch it was
 * given and leave retrying to the pipeline. Answers are classified by writeOutcome.ts,
 * the same as the v1 sink's.
 */
import { HttpError, InfluxDB } from '@influxdata/influxdb-client';
import type { MetricEnvelope } from '../../core/envelope.js';
import { delivered, type DeliveryOutcome } from '../../core/outcome.js';
import type { Health, Sink } from '../../core/pipeline.js';
import { INFLUXDB_DEFAULTS, targetDatabase, type InfluxdbConfig } from './config.js';
import type { InfluxdbSinkDeps } from './influxdbV1Sink.js';
import { deliverBatch, describeError, outcomeOfWrite, unreachable, type SentBatch, type WriteResponse } from './writeOutcome.js';

/** The client's error as the response it stands for; its headers are a plain object. */
function responseOf(error: HttpError): WriteResponse {
  const headers = error.headers ?? {};
  return {
    status: error.statusCode,
    body: error.body ?? '',
    headers: {
      get(name: string): string | undefined {
        const value = headers[name.toLowerCase()];
        return Array.isArray(value) ? value.join(', ') : value;
      },
    },
  };
}

export class InfluxdbV2Sink implements Sink<MetricEnvelope> {
  readonly name = 'influxdb';
  private readonly closing = new AbortController();
  private readonly client: InfluxDB;
  private readonly writePath: string;
  private readonly retryDelayMs: number;
  private readonly now: () => number;

  constructor(
    private readonly config: InfluxdbConfig,
    deps: InfluxdbSinkDeps = {},
  ) {
    this.client = new InfluxDB({ url: config.url, timeout: config.timeoutMs, ...(config.token !== undefined ? { token: config.token } : {}) });
    const params = new URLSearchParams({ bucket: targetDatabase(config), precision: 'ms' });
    // InfluxDB 3 has no organisations; 2.x needs one, and says so with a 400/404 if it is missing.
    if (config.org !== undefined) params.set('org', config.org);
    this.writePath = `/api/v2/write?${params.toString()}`;
    this.retryDelayMs = config.retryDelayMs ?? INFLUXDB_DEFAULTS.retryDelayMs;
    this.now = deps.now ?? Date.now;
  }

  deliver(batch: readonly MetricEnvelope[]): Promise<DeliveryOutcome<MetricEnvelope>> {
    return deliverBatch(batch, this.config, this.closing.signal, (request) => this.write(request));
  }

  private async write(request: SentBatch): Promise<DeliveryOutcome<MetricEnvelope>> {
    const options = { method: 'POST', headers: { 'content-type': 'text/plain; charset=utf-8' }, signal: this.closing.signal };
    try {
      await this.client.transport.request(this.writePath, request.lines.join('\n'), options);
      return delivered;
    } catch (error) {
      // The transport rejects with HttpError for any status >= 300, and with socket errors, timeouts and aborts otherwise.
      if (error instanceof HttpError) return outcomeOfWrite(responseOf(error), request, { nowMs: this.now(), retryDelayMs: this.retryDelayMs });
      return unreachable(error, this.retryDelayMs);
    }
  }

  async health(): Promise<Health> {
    try {
      // 2.x and 3.x both answer /ping (204); a 4xx/5xx comes back as HttpError.
      await this.client.transport.request('/ping', '', { method: 'GET', signal: this.closing.signal });
      return { healthy: true };
    } catch (error) {
      return { healthy: false, reason: error instanceof HttpError ? `InfluxDB /ping answered ${error.statusCode}` : `InfluxDB is unreachable: ${describeError(error)}` };
    }
  }

  /** Aborts requests in flight; their deliveries come back retryable. */
  close(): Promise<void> {
    this.closing.abort();
    return Promise.resolve();
  }
}
