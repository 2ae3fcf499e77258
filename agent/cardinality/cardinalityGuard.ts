/**
 * The cardinality guard: caps how many distinct series each tenant, and the node as a
 * whole, may send, so that one tenant's label explosion (a request id in a dimension, a
 * crash-looping Job making a pod name a minute) cannot flood the bus and the stores.
 *
 * A series already admitted always passes; a new one passes while its tenant is under
 * `maxSeriesPerTenant` and the node under `maxSeriesTotal`, and is otherwise dropped and
 * counted (`kansoku_agent_series_dropped_total{tenant,reason}`). The global cap is first
 * come, first served: the per-tenant cap is what keeps tenants fair.
 *
 * Forgetting is by generations rather than per-series timestamps, so that it costs
 * nothing per envelope: series live in a tenant's `current` or `previous` generation;
 * every `windowMs` the previous one is discarded whole and the current one becomes the
 * previous. A series seen again moves to the current generation. So a series is never
 * forgotten while it is seen at least once per `windowMs`, and is forgotten after between
 * `windowMs` and `2 × windowMs` unseen; its slot is then free for a new series.
 *
 * Per envelope the work is one hash of name and dimensions (no string built; see
 * `seriesHash.ts`) and one or two `Set` lookups. The dimensions' part of the hash is kept
 * per dimensions object, which the envelopes of a series share scrape after scrape (the
 * kubelet source and the enrichment see to it), so mostly only the name is hashed. Counters and logs are touched once per
 * call per tenant, never per envelope.
 */
import type { Counters } from '../../core/counters.js';
import type { Metric, MetricEnvelope } from '../../core/envelope.js';
import { dimensionsHash, withName, type DimensionsHash } from './seriesHash.js';

export type SeriesDropReason = 'tenant_limit' | 'global_limit';

export interface CardinalityGuardOptions {
  maxSeriesPerTenant: number;
  maxSeriesTotal: number;
  /** Series unseen this long are forgotten (at the latest after twice this). */
  windowMs: number;
  /** A tenant whose series are being dropped gets at most one log line per this period. */
  logEveryMs: number;
  counters: Counters;
  log: (fields: object, message: string) => void;
  now: () => number;
}

const DROPPED_TOTAL = 'kansoku_agent_series_dropped_total';
const SERIES_GAUGE = 'kansoku_agent_series';

interface TenantState {
  readonly tenant: string;
  /** Hashes of the series seen in this generation (see `seriesHash.ts` for why a hash suffices). */
  current: Set<number>;
  /** Those seen in the previous generation and not since. */
  previous: Set<number>;
  /** When this tenant's last drop log line was written. */
  lastLogMs: number | undefined;
  /** Drops since that line, by reason; reported in the next one. */
  droppedSinceLog: Record<SeriesDropReason, number>;
  /** Drops in the running `admit` call, by reason; added to the counter once at its end. */
  droppedInCall: Record<SeriesDropReason, number>;
  /** The first series name dropped since the last log line: which metric is exploding. */
  firstDroppedName: string | undefined;
  /** The `admit` call that last touched this tenant. */
  touchedInCall: number;
}

export class CardinalityGuard {
  private readonly maxSeriesPerTenant: number;
  private readonly maxSeriesTotal: number;
  private readonly windowMs: number;
  private readonly logEveryMs: number;
  private readonly counters: Counters;
  private readonly log: CardinalityGuardOptions['log'];
  private readonly now: () => number;
  private readonly tenants = new Map<string, TenantState>();
  private total = 0;
  private generationStartMs: number | undefined;
  private call = 0;
  private readonly dimensionHashes = new WeakMap<object, DimensionsHash>();

  constructor(options: CardinalityGuardOptions) {
    for (const key of ['maxSeriesPerTenant', 'maxSeriesTotal'] as const) {
      if (!Number.isInteger(options[key]) || options[key] < 0) throw new RangeError(`${key} must be a non-negative integer, got ${options[key]}`);
    }
    for (const key of ['windowMs', 'logEveryMs'] as const) {
      if (!(options[key] > 0)) throw new RangeError(`${key} must be positive, got ${options[key]}`);
    }
    this.maxSeriesPerTenant = options.maxSeriesPerTenant;
    this.maxSeriesTotal = options.maxSeriesTotal;
    this.windowMs = options.windowMs;
    this.logEveryMs = options.logEveryMs;
    this.counters = options.counters;
    this.log = options.log;
    this.now = options.now;
    this.counters.describe(DROPPED_TOTAL, 'Measurements of new series dropped by the cardinality guard, by tenant and by cap reached (tenant_limit, global_limit).');
    this.counters.describe(SERIES_GAUGE, 'Series the cardinality guard counts as active, by tenant.');
  }

  /** The envelopes that may be sent, in their order; the others are dropped and counted. */
  admit(envelopes: readonly MetricEnvelope[]): MetricEnvelope[] {
    const nowMs = this.now();
    this.rotate(nowMs);
    const call = ++this.call;
    const touched: TenantState[] = [];
    const admitted: MetricEnvelope[] = [];
    // Envelopes come in runs of one tenant (a pod's series together): the last tenant's state is reused without a lookup.
    let tenantId: string | undefined;
    let state: TenantState | undefined;
    for (const envelope of envelopes) {
      if (envelope.meta.tenantId !== tenantId || state === undefined) {
        tenantId = envelope.meta.tenantId;
        state = this.tenantState(tenantId);
      }
      if (state.touchedInCall !== call) {
        state.touchedInCall = call;
        touched.push(state);
      }
      const hash = this.hashOf(envelope.metric);
      if (state.current.has(hash)) {
        admitted.push(envelope);
        continue;
      }
      if (state.previous.delete(hash)) {
        state.current.add(hash);
        admitted.push(envelope);
        continue;
      }
      const reason = this.refusal(state);
      if (reason === undefined) {
        state.current.add(hash);
        this.total++;
        admitted.push(envelope);
      } else {
        state.droppedInCall[reason]++;
        state.firstDroppedName ??= envelope.metric.name;
      }
    }
    for (const tenant of touched) this.report(tenant, nowMs);
    return admitted;
  }

  private hashOf(metric: Metric): number {
    let sums = this.dimensionHashes.get(metric.dimensions);
    if (sums === undefined) {
      sums = dimensionsHash(metric.dimensions);
      this.dimensionHashes.set(metric.dimensions, sums);
    }
    return withName(sums, metric.name);
  }

  /** Series counted as active: one tenant's, or all. */
  activeSeries(tenant?: string): number {
    if (tenant === undefined) return this.total;
    const state = this.tenants.get(tenant);
    return state === undefined ? 0 : seriesOf(state);
  }

  private refusal(state: TenantState): SeriesDropReason | undefined {
    if (seriesOf(state) >= this.maxSeriesPerTenant) return 'tenant_limit';
    if (this.total >= this.maxSeriesTotal) return 'global_limit';
    return undefined;
  }

  private tenantState(tenant: string): TenantState {
    let state = this.tenants.get(tenant);
    if (state === undefined) {
      state = {
        tenant,
        current: new Set(),
        previous: new Set(),
        lastLogMs: undefined,
        droppedSinceLog: { tenant_limit: 0, global_limit: 0 },
        droppedInCall: { tenant_limit: 0, global_limit: 0 },
        firstDroppedName: undefined,
        touchedInCall: 0,
      };
      this.tenants.set(tenant, state);
    }
    return state;
  }

  /** Once per `windowMs`: discard the previous generations, and forget tenants with nothing left to remember. */
  private rotate(nowMs: number): void {
    if (this.generationStartMs === undefined) {
      this.generationStartMs = nowMs;
      return;
    }
    const elapsedMs = nowMs - this.generationStartMs;
    // A clock that went back rotates nothing; it catches up when it passes the start again.
    if (elapsedMs < this.windowMs) return;
    this.generationStartMs = nowMs;
    const both = elapsedMs >= 2 * this.windowMs;
    for (const [tenant, state] of this.tenants) {
      this.total -= state.previous.size;
      state.previous = state.current;
      state.current = new Set();
      if (both) {
        this.total -= state.previous.size;
        state.previous = new Set();
      }
      const series = seriesOf(state);
      this.counters.set(SERIES_GAUGE, { tenant }, series);
      // A tenant kept only for its log period is kept until that period is over, so forgetting it cannot make its log louder.
      const logQuiet = state.lastLogMs === undefined || nowMs - state.lastLogMs >= this.logEveryMs;
      if (series === 0 && logQuiet) this.tenants.delete(tenant);
    }
  }

  private report(state: TenantState, nowMs: number): void {
    this.counters.set(SERIES_GAUGE, { tenant: state.tenant }, seriesOf(state));
    const { tenant_limit: tenantLimit, global_limit: globalLimit } = state.droppedInCall;
    if (tenantLimit === 0 && globalLimit === 0) return;
    if (tenantLimit > 0) this.counters.add(DROPPED_TOTAL, { tenant: state.tenant, reason: 'tenant_limit' }, tenantLimit);
    if (globalLimit > 0) this.counters.add(DROPPED_TOTAL, { tenant: state.tenant, reason: 'global_limit' }, globalLimit);
    state.droppedSinceLog.tenant_limit += tenantLimit;
    state.droppedSinceLog.global_limit += globalLimit;
    state.droppedInCall.tenant_limit = 0;
    state.droppedInCall.global_limit = 0;
    if (state.lastLogMs !== undefined && nowMs - state.lastLogMs < this.logEveryMs) return;
    this.log(
      {
        tenant: state.tenant,
        series: seriesOf(state),
        maxSeriesPerTenant: this.maxSeriesPerTenant,
        seriesTotal: this.total,
        maxSeriesTotal: this.maxSeriesTotal,
        dropped: { ...state.droppedSinceLog },
        // The metric name is the tenant's data, so it sits under its own key.
        sample: { name: state.firstDroppedName },
      },
      'New series dropped: the tenant or the node is at its series limit',
    );
    state.lastLogMs = nowMs;
    state.droppedSinceLog.tenant_limit = 0;
    state.droppedSinceLog.global_limit = 0;
    state.firstDroppedName = undefined;
  }
}

function seriesOf(state: TenantState): number {
  return state.current.size + state.previous.size;
}
