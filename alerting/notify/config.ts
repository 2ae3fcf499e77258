import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { section } from '../../core/config.js';
import { fail, ok, type Checked } from '../../core/outcome.js';

/**
 * The `notification` section: how the notifier polls the outbox, retries, and reaches
 * SMTP, webhooks, Slack and PagerDuty. Every default is here; unknown keys are rejected
 * by `section`. `cmd/` validates the section once at start-up and hands each part to
 * the component that uses it.
 */

export const SmtpSettingsSchema = section(
  {
    host: Type.String({ minLength: 1, default: 'localhost' }),
    port: Type.Integer({ minimum: 1, maximum: 65535, default: 25 }),
    from: Type.String({ minLength: 3, default: 'kansoku@localhost', description: 'the From address of every notification email' }),
    secure: Type.Boolean({ default: false, description: 'TLS from the first byte (SMTPS, usually port 465)' }),
    starttls: Type.Union([Type.Literal('opportunistic'), Type.Literal('required'), Type.Literal('never')], {
      default: 'opportunistic',
      description: 'STARTTLS when the server offers it, always (fail otherwise), or never; ignored when secure',
    }),
    tls_reject_unauthorized: Type.Boolean({ default: true, description: 'verify the server certificate' }),
    auth: Type.Optional(
      Type.Object(
        {
          user: Type.String({ minLength: 1 }),
          password: Type.String(),
        },
        { additionalProperties: false, description: 'SMTP AUTH; leave out for an unauthenticated relay' },
      ),
    ),
    connection_timeout_ms: Type.Integer({ minimum: 1, default: 10_000 }),
    greeting_timeout_ms: Type.Integer({ minimum: 1, default: 10_000 }),
    socket_timeout_ms: Type.Integer({ minimum: 1, default: 30_000, description: 'idle time allowed on the connection' }),
  },
  'SMTP for EMAIL notification methods',
);

export const HttpSettingsSchema = section(
  {
    timeout_ms: Type.Integer({ minimum: 1, default: 10_000, description: 'one request, DNS to last byte' }),
    max_request_bytes: Type.Integer({ minimum: 1, default: 256 * 1024, description: 'a larger body is rejected, not sent' }),
    max_response_bytes: Type.Integer({ minimum: 0, default: 64 * 1024, description: 'read and discarded; the rest is cut off' }),
    allow_private_addresses: Type.Boolean({
      default: false,
      description: 'let WEBHOOK/SLACK/PagerDuty URLs reach loopback, private, link-local and other internal addresses (SSRF guard off)',
    }),
  },
  'HTTP for WEBHOOK, SLACK and PAGERDUTY notification methods',
);

export const RetrySettingsSchema = section(
  {
    initial_delay_ms: Type.Integer({ minimum: 1, default: 5_000, description: 'first retry delay before jitter; doubles per attempt' }),
    max_delay_ms: Type.Integer({ minimum: 1, default: 300_000, description: 'cap on one delay, Retry-After included' }),
    max_attempts: Type.Integer({ minimum: 1, default: 10, description: 'sends of one delivery before it is abandoned' }),
  },
  'retries of a failed notification',
);

export const NotificationSectionSchema = section(
  {
    poll_interval_ms: Type.Integer({ minimum: 1, default: 1_000, description: 'how often the outbox is polled when it was last found empty' }),
    lease_ms: Type.Integer({ minimum: 1_000, default: 60_000, description: 'a claimed delivery is re-sent by any notifier once this passes unfinished; sends are cut off before it' }),
    concurrency: Type.Integer({ minimum: 1, default: 8, description: 'sends in flight at once; also how many deliveries one poll claims' }),
    shutdown_timeout_ms: Type.Integer({ minimum: 0, default: 5_000, description: 'at stop, how long sends in flight may finish before they are aborted' }),
    periods_seconds: Type.Array(Type.Integer({ minimum: 0 }), {
      default: [0, 60],
      minItems: 1,
      uniqueItems: true,
      description: "the re-notification periods a method may have (Monasca's periodic notifications); 0 is never",
    }),
    retry: RetrySettingsSchema,
    http: HttpSettingsSchema,
    pagerduty_url: Type.String({ pattern: '^https?://', default: 'https://events.pagerduty.com/v2/enqueue', description: 'PagerDuty Events API v2 endpoint' }),
    email: SmtpSettingsSchema,
  },
  'alarm notifications',
);

export type NotificationSection = Static<typeof NotificationSectionSchema>;
export type SmtpSettings = Static<typeof SmtpSettingsSchema>;
export type HttpSettings = Static<typeof HttpSettingsSchema>;
export type RetrySettings = Static<typeof RetrySettingsSchema>;

/** The schema's defaults with `overrides` applied, for tests and callers given no section. */
export function notificationDefaults(overrides: Record<string, unknown> = {}): NotificationSection {
  return Value.Default(NotificationSectionSchema, structuredClone(overrides)) as NotificationSection;
}

/** For the API on create and update: a method's period must be one of periods_seconds. */
export function validateNotificationPeriod(periodSeconds: number, allowedSeconds: readonly number[]): Checked<number> {
  if (Number.isInteger(periodSeconds) && allowedSeconds.includes(periodSeconds)) return ok(periodSeconds);
  return fail(`period ${periodSeconds} is not allowed; allowed periods in seconds: ${allowedSeconds.join(', ')}`);
}
