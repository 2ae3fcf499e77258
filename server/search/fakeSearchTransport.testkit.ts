/**
 * A stand-in for Elasticsearch / OpenSearch in unit tests: records every request and
 * answers through a function the test gives, bulk requests with one status per document.
 */
import { Value } from '@sinclair/typebox/value';
import { LogSearchSectionSchema, type LogSearchSection } from './config.js';
import type { SearchRequest, SearchResponse, SearchTransport } from './transport.js';

export interface RecordedRequest extends SearchRequest {
  /** The `_id`s of a bulk request, in order. */
  readonly ids: readonly string[];
  /** The documents of a bulk request, parsed. */
  readonly docs: readonly Record<string, unknown>[];
}

export type Answer = (request: RecordedRequest, index: number) => SearchResponse | Promise<SearchResponse>;

export class FakeSearchTransport implements SearchTransport {
  readonly requests: RecordedRequest[] = [];
  closed = false;

  constructor(private readonly answer: Answer) {}

  async request(request: SearchRequest): Promise<SearchResponse> {
    const ids: string[] = [];
    const docs: Record<string, unknown>[] = [];
    if (request.ndjson !== undefined) {
      const lines = request.ndjson.split('\n').filter((l) => l.length > 0);
      for (let i = 0; i < lines.length; i += 2) {
        const action = JSON.parse(lines[i] as string) as { create: { _id: string } };
        ids.push(action.create._id);
        docs.push(JSON.parse(lines[i + 1] as string) as Record<string, unknown>);
      }
    }
    const recorded = { ...request, ids, docs };
    this.requests.push(recorded);
    return this.answer(recorded, this.requests.length - 1);
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  bulkRequests(): RecordedRequest[] {
    return this.requests.filter((r) => r.ndjson !== undefined);
  }
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): SearchResponse {
  return { status, body, headers };
}

/** A `_bulk` answer with these statuses, one per document; non-2xx items get an error of `type`. */
export function bulkAnswer(statuses: readonly number[], errorType: (status: number) => string = defaultErrorType): SearchResponse {
  const items = statuses.map((status) => ({
    create: status < 300 ? { status } : { status, error: { type: errorType(status), reason: `reason ${status}` } },
  }));
  return json(200, { errors: statuses.some((s) => s >= 300), items });
}

function defaultErrorType(status: number): string {
  if (status === 409) return 'version_conflict_engine_exception';
  if (status === 429) return 'es_rejected_execution_exception';
  if (status === 400) return 'document_parsing_exception';
  return 'unavailable_shards_exception';
}

/** The section with its defaults, and what a test changes. */
export function testConfig(overrides: Partial<LogSearchSection> = {}): LogSearchSection {
  return { ...(Value.Default(LogSearchSectionSchema, {}) as LogSearchSection), ...overrides };
}
