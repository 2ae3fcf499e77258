import type { NotificationType } from '../store/alarmStore.js';
import type { NotificationSection } from './config.js';
import { EmailSender } from './emailSender.js';
import { PagerdutySender } from './pagerdutySender.js';
import { SafeHttpClient, type SafeHttpOptions } from './safeHttp.js';
import type { Sender } from './sender.js';
import { SlackSender } from './slackSender.js';
import { WebhookSender } from './webhookSender.js';

/**
 * The senders of the four notification types, made from the `notification` section, for
 * `cmd/` to hand to the Notifier. The map is the registry: an action type (EVICT…) is
 * added with `set` before the notifier starts. `close` ends the SMTP transport.
 */
export interface NotificationSenders {
  readonly senders: Map<string, Sender>;
  close(): void;
}

export function createNotificationSenders(section: Readonly<NotificationSection>, options: { readonly resolve?: SafeHttpOptions['resolve'] } = {}): NotificationSenders {
  const http = new SafeHttpClient({
    timeoutMs: section.http.timeout_ms,
    maxRequestBytes: section.http.max_request_bytes,
    maxResponseBytes: section.http.max_response_bytes,
    allowPrivateAddresses: section.http.allow_private_addresses,
    resolve: options.resolve,
  });
  const email = new EmailSender(section.email);
  const byType: Record<NotificationType, Sender> = {
    EMAIL: email,
    WEBHOOK: new WebhookSender(http),
    SLACK: new SlackSender(http),
    PAGERDUTY: new PagerdutySender(http, section.pagerduty_url),
  };
  return { senders: new Map(Object.entries(byType)), close: () => email.close() };
}
