import type { AlarmState } from '../alarmState.js';
import type { NotificationMethodRecord, Severity } from '../store/alarmStore.js';
import { singleHostname, type Notification } from './notification.js';
import type { SafeHttpClient } from './safeHttp.js';
import type { SendOutcome, Sender } from './sender.js';

/**
 * SLACK methods: a Slack incoming-webhook message to the method's address. `text` is the
 * one line that shows in notifications; the attachment carries the detail, coloured by
 * severity while in ALARM (green when OK, grey when UNDETERMINED) so a channel reads at a glance.
 */
export interface SlackMessage {
  readonly text: string;
  readonly attachments: readonly SlackAttachment[];
}

export interface SlackAttachment {
  readonly color: string;
  readonly title: string;
  readonly text: string;
  readonly fields: readonly { readonly title: string; readonly value: string; readonly short: boolean }[];
  readonly footer: string;
  /** Epoch seconds. */
  readonly ts: number;
  readonly fallback: string;
}

export const SEVERITY_COLOURS: Readonly<Record<Severity, string>> = {
  LOW: '#439fe0',
  MEDIUM: '#daa038',
  HIGH: '#e8713c',
  CRITICAL: '#d00000',
};
const STATE_COLOURS: Readonly<Record<Exclude<AlarmState, 'ALARM'>, string>> = { OK: '#2eb886', UNDETERMINED: '#9e9e9e' };

// Slack's own limits: text past them is cut by Slack anyway, or the message refused.
const MAX_TEXT_CHARS = 3000;
const MAX_FIELD_CHARS = 1000;

export function slackMessage(notification: Notification): SlackMessage {
  const hostname = singleHostname(notification.metrics);
  const headline = `${notification.state} ${notification.severity} "${notification.alarmName}"${hostname ? ` on ${hostname}` : ''} (was ${notification.oldState})`;
  const metrics = notification.metrics.map((m) => `${m.name}${formatDimensions(m.dimensions)}`).join('\n');
  const fields = [
    { title: 'State', value: `${notification.oldState} → ${notification.state}`, short: true },
    { title: 'Severity', value: notification.severity, short: true },
    { title: 'Alarm id', value: notification.alarmId, short: true },
    { title: 'Tenant', value: notification.tenantId, short: true },
    ...(metrics ? [{ title: 'Metrics', value: cut(metrics, MAX_FIELD_CHARS), short: false }] : []),
    ...(notification.link ? [{ title: 'Link', value: cut(notification.link, MAX_FIELD_CHARS), short: false }] : []),
  ];
  return {
    text: cut(headline, MAX_TEXT_CHARS),
    attachments: [
      {
        color: notification.state === 'ALARM' ? SEVERITY_COLOURS[notification.severity] : STATE_COLOURS[notification.state],
        title: cut(notification.alarmName, 250),
        text: cut([notification.alarmDescription, notification.message].filter((t) => t !== '').join('\n'), MAX_TEXT_CHARS),
        fields,
        footer: notification.kind === 'repeat' ? 'Kansoku (reminder: still in this state)' : 'Kansoku',
        ts: Math.floor(notification.timestampMs / 1000),
        fallback: cut(headline, MAX_TEXT_CHARS),
      },
    ],
  };
}

export class SlackSender implements Sender {
  constructor(private readonly http: SafeHttpClient) {}

  async send(notification: Notification, method: NotificationMethodRecord, signal: AbortSignal): Promise<SendOutcome> {
    return this.http.postForOutcome(method.address, JSON.stringify(slackMessage(notification)), { 'content-type': 'application/json' }, signal);
  }
}

function formatDimensions(dimensions: Readonly<Record<string, string>>): string {
  const pairs = Object.entries(dimensions).map(([k, v]) => `${k}=${v}`);
  return pairs.length === 0 ? '' : `{${pairs.join(', ')}}`;
}

function cut(text: string, maxChars: number): string {
  return text.length <= maxChars ? text : `${text.slice(0, maxChars - 1)}…`;
}
