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
