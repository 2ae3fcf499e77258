import type { AlarmStore } from '../../alerting/store/alarmStore.js';
import type { Counters } from '../../core/counters.js';
import type { BusProducer, Health } from '../../core/pipeline.js';
import type { LogStore, MetricStore } from '../../core/query.js';
import type { WireFormat } from '../../bus/wire.js';
import type { Authenticator } from './auth.js';
import type { LogTailOptions } from './logsTail.js';

/** What the tenant API and its route plugins are built from. */
export interface ApiDeps {
  readonly authenticator: Authenticator;
  readonly producer: BusProducer;
  /** How posted metrics and logs are framed on the bus: as the agent frames them. */
  readonly wire: WireFormat;
  readonly store: MetricStore;
  /** What the log search and tail read; without one they answer 501. */
  readonly logStore: LogStore | undefined;
  /** What the alarm-definition, alarm and notification-method routes keep; without one they answer 501. */
  readonly alarmStore?: AlarmStore;
  /** Notification method types offered and accepted; NOTIFICATION_TYPES unless configured. */
  readonly notificationTypes?: readonly string[];
  /** Re-notification periods a method may have, in seconds; [0, 60] unless configured. */
  readonly notificationPeriodsSeconds?: readonly number[];
  /** Whether webhook and Slack URLs may point at private, loopback or link-local addresses (tests and closed networks). */
  readonly allowPrivateNotificationAddresses?: boolean;
  /** The log tail's timings and bounds, when not LOG_TAIL_DEFAULTS (tests poll faster). */
  readonly logTail?: Partial<LogTailOptions>;
  readonly counters: Counters;
  readonly region: string;
  readonly maxQueryLimit: number;
  readonly now: () => number;
  /** What /healthcheck reports on: the bus and the store behind the API. */
  readonly health: () => Promise<Record<string, Health>>;
}
