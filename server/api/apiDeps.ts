import type { Counters } from '../../core/counters.js';
import type { BusProducer, Health } from '../../core/pipeline.js';
import type { MetricStore } from '../../core/query.js';
import type { WireFormat } from '../../bus/wire.js';
import type { Authenticator } from './auth.js';

/** What the tenant API and its route plugins are built from. */
export interface ApiDeps {
  readonly authenticator: Authenticator;
  readonly producer: BusProducer;
  /** How posted metrics are framed on the bus: as the agent frames them. */
  readonly wire: WireFormat;
  readonly store: MetricStore;
  readonly counters: Counters;
  readonly region: string;
  readonly maxQueryLimit: number;
  readonly now: () => number;
  /** What /healthcheck reports on: the bus and the store behind the API. */
  readonly health: () => Promise<Record<string, Health>>;
}
