/**
 * What the tenant API asks of a metric store. The embedded SQLite store and InfluxDB
 * answer the same questions; every question carries the tenant, and a store never
 * returns rows of another tenant.
 */

/**
 * Monasca's dimension filter: `key:value` (one value), `key:v1|v2` (any of them),
 * or a bare `key` (the dimension must exist, any value): null.
 */
export type DimensionFilter = Readonly<Record<string, readonly string[] | null>>;

export interface MetricListQuery {
  readonly tenantId: string;
  readonly name?: string;
  readonly dimensions: DimensionFilter;
  /** Only metrics with a measurement at or after this instant, when given. */
  readonly startMs?: number;
  readonly endMs?: number;
  readonly limit: number;
}

export interface MeasurementQuery {
  readonly tenantId: string;
  readonly name: string;
  readonly dimensions: DimensionFilter;
  readonly startMs: number;
  readonly endMs?: number;
  /** Points per series at most, oldest first. */
  readonly limit: number;
  /** Only points strictly after this instant (Monasca's paging offset), when given. */
  readonly afterMs?: number;
}

export interface MetricDefinition {
  readonly name: string;
  readonly dimensions: Readonly<Record<string, string>>;
}

export interface Point {
  readonly timestampMs: number;
  readonly value: number;
  readonly valueMeta: Readonly<Record<string, string>> | null;
}

/** All points of one metric (name + exact dimension set) in the window, oldest first. */
export interface Series extends MetricDefinition {
  readonly points: readonly Point[];
}

export interface MetricStore {
  listMetrics(query: MetricListQuery): Promise<readonly MetricDefinition[]>;
  listMeasurements(query: MeasurementQuery): Promise<readonly Series[]>;
}

/** Does a metric's dimension set pass a filter? Shared by stores that filter in memory. */
export function matchesDimensions(dimensions: Readonly<Record<string, string>>, filter: DimensionFilter): boolean {
  for (const [key, values] of Object.entries(filter)) {
    const actual = dimensions[key];
    if (actual === undefined) return false;
    if (values !== null && !values.includes(actual)) return false;
  }
  return true;
}

/**
 * A tenant's log search (`GET /v2.0/logs`, a Kansoku extension). The embedded store,
 * Elasticsearch and OpenSearch answer it alike, so the same data gives the same page:
 *
 * - `q`: the words of the query (split on anything that is not a letter or a digit,
 *   case-insensitive) must all occur in the message as words; a `"quoted phrase"` must
 *   occur as those words in that order; a word written `-word` must not occur. Nothing
 *   else in `q` is query syntax: `OR`, `*`, `field:value` are words like any other.
 *   Stores index messages with the same word split (Elasticsearch and OpenSearch with a
 *   pattern tokenizer, SQLite with FTS5's unicode61).
 * - `dimensions`: Monasca's filter, exact values.
 * - `levels`: any of these levels, when given.
 * - Newest first; records of the same millisecond by id, descending.
 */
export interface LogQuery {
  readonly tenantId: string;
  readonly q?: string;
  readonly dimensions: DimensionFilter;
  readonly levels?: readonly string[];
  /** Inclusive. */
  readonly startMs?: number;
  /** Exclusive. */
  readonly endMs?: number;
  readonly limit: number;
  /** Records to skip (the paging offset). */
  readonly offset?: number;
}

export interface LogEntry {
  /** `logRecordId` of the record. */
  readonly id: string;
  readonly timestampMs: number;
  readonly message: string;
  readonly dimensions: Readonly<Record<string, string>>;
  readonly level?: string;
  readonly truncated?: boolean;
  readonly split?: boolean;
  readonly parseError?: string;
}

export interface LogStore {
  searchLogs(query: LogQuery): Promise<readonly LogEntry[]>;
}

/** The words and phrases of a log query `q`, as every store reads them (see `LogQuery`). */
export interface LogTerms {
  readonly words: readonly string[];
  readonly phrases: readonly (readonly string[])[];
  /** Words that must not occur. */
  readonly excluded: readonly string[];
}

const WORD = /[\p{L}\p{N}]+/gu;
/** Bounds on what one query may ask, so that a hostile `q` costs the store little. */
const MAX_WORDS = 32;
const MAX_PHRASES = 8;

function wordsOf(text: string): string[] {
  return (text.toLowerCase().match(WORD) ?? []).slice(0, MAX_WORDS);
}

export function logTerms(q: string | undefined): LogTerms {
  if (q === undefined) return { words: [], phrases: [], excluded: [] };
  const phrases: string[][] = [];
  const excluded: string[] = [];
  const rest = q
    .replace(/"([^"]*)"/g, (_match, phrase: string) => {
      const words = wordsOf(phrase);
      if (words.length > 1) phrases.push(words);
      return words.length === 1 ? ` ${words[0]} ` : ' ';
    })
    .replace(/(^|\s)-([\p{L}\p{N}]+)/gu, (_match, space: string, word: string) => {
      excluded.push(word.toLowerCase());
      return space;
    });
  return { words: wordsOf(rest), phrases: phrases.slice(0, MAX_PHRASES), excluded: excluded.slice(0, MAX_WORDS) };
}
