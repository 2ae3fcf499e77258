/**
 * The log sink both engines share: records into per-tenant data streams through `_bulk`
 * `create`s whose `_id` is the record's own (`logRecordId`), so that a redelivered batch
 * is stored once. Encoding is in logDocument.ts and bulkRequests.ts, the retry logic in
 * bulkWriter.ts, the answers' meaning in bulkOutcome.ts, start-up in templates.ts.
 */
import { sleep as abortableSleep, type BackoffPolicy } from '../../core/backoff.js';
import type { Counters } from '../../core/counters.js';
import type { LogEnvelope } from '../../core/envelope.js';
import { delivered, retryable, type DeliveryOutcome } from '../../core/outcome.js';
import type { Health, Sink } from '../../core/pipeline.js';
import { encodeBatch } from './bulkRequests.js';
import { DUPLICATES_COUNTER, ITEM_RETRIES_COUNTER, writeBatch, type BulkWriterOptions } from './bulkWriter.js';
import { LOG_SEARCH_DEFAULTS, type LogSearchSection } from './config.js';
import { dataStreamName } from './dataStream.js';
import { ensureTemplates, type SetupLogger, type SetupResult } from './templates.js';
import { describeError, ENGINE_NAMES, errorText, type SearchEngineKind, type SearchTransport } from './transport.js';

export interface LogSearchSinkDeps {
  /** Where `kansoku_server_log_duplicates_total{sink}` and `kansoku_server_log_item_retries_total{sink}` are counted. */
  readonly counters: Counters;
  /** Start-up only: what was created, what is missing. */
  readonly logger?: SetupLogger;
  /** Replaces the client (tests). */
  readonly transport?: SearchTransport;
  /** Backoff between retries of a request's 429/5xx items. */
  readonly itemBackoff?: BackoffPolicy;
  readonly now?: () => number;
  readonly random?: () => number;
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

const silent: SetupLogger = { info: () => undefined, warn: () => undefined };

/** Tenant → data stream, bounded: a tenant's name is worked out once, not per record. */
const MAX_CACHED_STREAMS = 10_000;

export class LogSearchSink implements Sink<LogEnvelope> {
  readonly name: SearchEngineKind;
  private readonly closing = new AbortController();
  private readonly writer: BulkWriterOptions;
  private readonly logger: SetupLogger;
  private readonly streams = new Map<string, string>();
  private closed = false;

  constructor(
    private readonly config: LogSearchSection,
    private readonly engine: SearchEngineKind,
    private readonly transport: SearchTransport,
    deps: LogSearchSinkDeps,
  ) {
    this.name = engine;
    this.logger = deps.logger ?? silent;
    deps.counters.describe(DUPLICATES_COUNTER, 'Log records the store already had (409 on create): redeliveries, stored once');
    deps.counters.describe(ITEM_RETRIES_COUNTER, 'Log documents sent again alone after a 429/5xx item answer');
    this.writer = {
      transport,
      engine: ENGINE_NAMES[engine],
      sinkName: engine,
      counters: deps.counters,
      bulkMaxDocs: config.bulk_max_docs,
      bulkMaxBytes: config.bulk_max_bytes,
      timeoutMs: config.timeout_ms,
      maxItemRetries: config.max_item_retries,
      retryDelayMs: config.retry_delay_ms,
      itemBackoff: deps.itemBackoff ?? LOG_SEARCH_DEFAULTS.itemBackoff,
      now: deps.now ?? Date.now,
      random: deps.random ?? Math.random,
      sleep: deps.sleep ?? abortableSleep,
      closed: this.closing.signal,
    };
  }

  /** Installs the lifecycle policy and the index template when missing. Call once before the first delivery. */
  setup(): Promise<SetupResult> {
    return ensureTemplates(this.transport, this.config, this.engine, this.logger);
  }

  deliver(batch: readonly LogEnvelope[]): Promise<DeliveryOutcome<LogEnvelope>> {
    if (this.closing.signal.aborted) return Promise.resolve(retryable(`the ${this.writer.engine} sink is closed`, this.config.retry_delay_ms));
    if (batch.length === 0) return Promise.resolve(delivered);
    return writeBatch(
      encodeBatch(batch, (tenantId) => this.streamOf(tenantId)),
      this.writer,
    );
  }

  private streamOf(tenantId: string): string {
    let name = this.streams.get(tenantId);
    if (name === undefined) {
      if (this.streams.size >= MAX_CACHED_STREAMS) this.streams.clear();
      name = dataStreamName(this.config.data_stream, tenantId);
      this.streams.set(tenantId, name);
    }
    return name;
  }

  async health(): Promise<Health> {
    const engine = this.writer.engine;
    try {
      const response = await this.transport.request({ method: 'GET', path: '/_cluster/health' }, { timeoutMs: this.config.timeout_ms });
      if (response.status !== 200) return { healthy: false, reason: `${engine} /_cluster/health answered ${response.status}: ${errorText(response.body)}` };
      const status = (response.body as { status?: unknown } | null)?.status;
      return status === 'green' || status === 'yellow' ? { healthy: true } : { healthy: false, reason: `${engine} cluster health is ${String(status)}` };
    } catch (error) {
      return { healthy: false, reason: `${engine} is unreachable: ${describeError(error)}` };
    }
  }

  /** Stops retrying, aborts requests in flight (their deliveries come back retryable) and closes the client; once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closing.abort();
    await this.transport.close();
  }
}
