/**
 * The log store both engines share: a tenant's search over its data stream. The index
 * narrows the search to the tenant's own data stream (cheap: one stream, not every
 * tenant's), while the `tenant.id` filter is what keeps tenants apart, since two tenant
 * ids may sanitise to one data stream name. A tenant with no data stream gets `[]`.
 */
import type { LogEntry, LogQuery, LogStore } from '../../core/query.js';
import type { LogSearchSection } from './config.js';
import { dataStreamName } from './dataStream.js';
import { hitsOf, logEntryOf, searchBody } from './logQuery.js';
import { describeError, ENGINE_NAMES, errorText, type SearchEngineKind, type SearchTransport } from './transport.js';

/** The engine did not answer the search; the API answers 5xx, without these details. */
export class LogSearchUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LogSearchUnavailableError';
  }
}

export class LogSearchStore implements LogStore {
  constructor(
    private readonly config: LogSearchSection,
    private readonly engine: SearchEngineKind,
    private readonly transport: SearchTransport,
  ) {}

  async searchLogs(query: LogQuery): Promise<readonly LogEntry[]> {
    const body = searchBody(query); // throws LogSearchWindowError before anything is sent
    if (query.limit <= 0) return [];
    const index = encodeURIComponent(dataStreamName(this.config.data_stream, query.tenantId));
    const request = { method: 'POST', path: `/${index}/_search`, querystring: { ignore_unavailable: 'true', allow_no_indices: 'true' }, body } as const;
    let response;
    try {
      response = await this.transport.request(request, { timeoutMs: this.config.timeout_ms });
    } catch (error) {
      throw new LogSearchUnavailableError(`${ENGINE_NAMES[this.engine]} is unreachable: ${describeError(error)}`);
    }
    if (response.status !== 200) throw new LogSearchUnavailableError(`${ENGINE_NAMES[this.engine]} answered the search with ${response.status}: ${errorText(response.body)}`);
    return hitsOf(response.body).map(logEntryOf);
  }

  close(): Promise<void> {
    return this.transport.close();
  }
}
