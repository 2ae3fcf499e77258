import type { MetricDefinition } from '../../core/query.js';
import type { AlarmState } from '../alarmState.js';
import type { NotificationMethodRecord, Severity } from '../store/alarmStore.js';
import { singleHostname, type Notification } from './notification.js';
import type { SafeHttpClient } from './safeHttp.js';
import type { SendOutcome, Sender } from './sender.js';

/**
 * PAGERDUTY methods: PagerDuty Events API v2. The method's address is the integration's
 * routing key; the endpoint is config. One PagerDuty alert per Kansoku alarm (`dedup_key`
 * is the alarm id): ALARM triggers it, OK resolves it, UNDETERMINED triggers it too (the
 * data that would show the alarm is fine stopped coming, which someone should look at),
 * and a periodic repeat re-triggers the same alert, which PagerDuty folds into it.
 */
export interface PagerdutyEvent {
  readonly routing_key: string;
  readonly event_action: 'trigger' | 'resolve';
  readonly dedup_key: string;
  readonly payload: {
    readonly summary: string;
    readonly source: string;
    readonly severity: PagerdutySeverity;
    /** ISO 8601. */
    readonly timestamp: string;
    readonly component: string;
    readonly group: string;
    readonly class: string;
    readonly custom_details: {
      readonly alarm_id: string;
      readonly alarm_definition_id: string;
      readonly alarm_description: string;
      readonly state: AlarmState;
      readonly old_state: AlarmState;
      readonly message: string;
      readonly tenant_id: string;
      readonly metrics: readonly MetricDefinition[];
    };
  };
}

export type PagerdutySeverity = 'info' | 'warning' | 'error' | 'critical';

export const PAGERDUTY_SEVERITIES: Readonly<Record<Severity, PagerdutySeverity>> = { LOW: 'info', MEDIUM: 'warning', HIGH: 'error', CRITICAL: 'critical' };

// PagerDuty refuses a summary over 1024 characters.
const MAX_SUMMARY_CHARS = 1024;

export function pagerdutyEvent(notification: Notification, routingKey: string): PagerdutyEvent {
  const hostname = singleHostname(notification.metrics);
  const summary = `${notification.state} ${notification.severity} "${notification.alarmName}"${hostname ? ` on ${hostname}` : ''}: ${notification.message}`;
  return {
    routing_key: routingKey,
    event_action: notification.state === 'OK' ? 'resolve' : 'trigger',
    dedup_key: notification.alarmId,
    payload: {
      summary: summary.length <= MAX_SUMMARY_CHARS ? summary : `${summary.slice(0, MAX_SUMMARY_CHARS - 1)}…`,
      // Required by PagerDuty: the affected host when the alarm names one, else where the alarm came from.
      source: hostname ?? `kansoku/${notification.tenantId}`,
      severity: PAGERDUTY_SEVERITIES[notification.severity],
      timestamp: new Date(notification.timestampMs).toISOString(),
      component: notification.metrics[0]?.name ?? notification.alarmName,
      group: notification.tenantId,
      class: notification.alarmName,
      custom_details: {
        alarm_id: notification.alarmId,
        alarm_definition_id: notification.alarmDefinitionId,
        alarm_description: notification.alarmDescription,
        state: notification.state,
        old_state: notification.oldState,
        message: notification.message,
        tenant_id: notification.tenantId,
        metrics: notification.metrics,
      },
    },
  };
}

export class PagerdutySender implements Sender {
  /** `eventsUrl`: notification.pagerduty_url. */
  constructor(
    private readonly http: SafeHttpClient,
    private readonly eventsUrl: string,
  ) {}

  async send(notification: Notification, method: NotificationMethodRecord, signal: AbortSignal): Promise<SendOutcome> {
    const body = JSON.stringify(pagerdutyEvent(notification, method.address));
    return this.http.postForOutcome(this.eventsUrl, body, { 'content-type': 'application/json' }, signal);
  }
}
