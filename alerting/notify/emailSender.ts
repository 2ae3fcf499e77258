import nodemailer, { type Transporter } from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import type { NotificationMethodRecord } from '../store/alarmStore.js';
import type { SmtpSettings } from './config.js';
import { singleHostname, type Notification } from './notification.js';
import { rejectedOutcome, retryableOutcome, sent, type SendOutcome, type Sender } from './sender.js';

/**
 * EMAIL methods: one plain-text message per notification over SMTP, worded after
 * Monasca's email plugin (subject `STATE SEVERITY "name" for Host: h`; body with the
 * reason, the transition, the alarm id and the metrics' dimensions). SMTP says itself
 * what is permanent: a 5xx reply rejects the delivery, a 4xx reply or a broken
 * connection is retried.
 */
export interface EmailMessage {
  readonly subject: string;
  readonly text: string;
}

export function emailMessage(notification: Notification): EmailMessage {
  const hostname = singleHostname(notification.metrics);
  const targetHost = hostname === null ? null : sharedDimension(notification, 'target_host');
  let subject = `${notification.state} ${notification.severity} "${notification.alarmName}"`;
  if (hostname !== null) subject += ` for Host: ${hostname}${targetHost !== null ? ` Target: ${targetHost}` : ''}`;
  if (notification.kind === 'repeat') subject = `Reminder: ${subject}`;

  const where = hostname === null ? 'On multiple hosts' : `On host "${hostname}"${targetHost !== null ? ` for target "${targetHost}"` : ''}`;
  const lines = [
    `${where}: ${notification.message}`,
    '',
    `Alarm "${notification.alarmName}" transitioned from the ${notification.oldState} to the ${notification.state} state at ${utcTime(notification.timestampMs)} UTC`,
    ...(notification.kind === 'repeat' ? [`It is still ${notification.state}; this is a periodic reminder.`] : []),
    `alarm_id: ${notification.alarmId}`,
    `Severity: ${notification.severity}`,
    ...(notification.alarmDescription !== '' ? [`Description: ${notification.alarmDescription}`] : []),
    '',
    `Lifecycle state: ${notification.lifecycleState ?? 'None'}`,
    `Link: ${notification.link ?? 'None'}`,
    '',
    'With dimensions:',
    formatDimensionSets(notification),
  ];
  return { subject: oneLine(subject), text: lines.join('\n') };
}

export class EmailSender implements Sender {
  private readonly transport: Transporter<SMTPTransport.SentMessageInfo>;

  constructor(private readonly settings: Readonly<SmtpSettings>) {
    this.transport = nodemailer.createTransport({
      host: settings.host,
      port: settings.port,
      secure: settings.secure,
      requireTLS: settings.starttls === 'required',
      ignoreTLS: settings.starttls === 'never',
      auth: settings.auth ? { user: settings.auth.user, pass: settings.auth.password } : undefined,
      connectionTimeout: settings.connection_timeout_ms,
      greetingTimeout: settings.greeting_timeout_ms,
      socketTimeout: settings.socket_timeout_ms,
      tls: { rejectUnauthorized: settings.tls_reject_unauthorized },
    });
  }

  async send(notification: Notification, method: NotificationMethodRecord, signal: AbortSignal): Promise<SendOutcome> {
    if (signal.aborted) return retryableOutcome('aborted before sending');
    const { subject, text } = emailMessage(notification);
    const sending = this.transport.sendMail({ from: this.settings.from, to: method.address, subject, text, date: new Date(notification.timestampMs) }).then(
      (info): SendOutcome => (info.rejected.length > 0 ? rejectedOutcome(`SMTP server refused the recipient: ${info.response}`) : sent),
      smtpFailure,
    );
    // SMTP has no cancel: on abort the message may still go out, which at-least-once allows.
    return new Promise<SendOutcome>((resolve) => {
      const onAbort = (): void => resolve(retryableOutcome('aborted while sending (shutdown or lease deadline)'));
      signal.addEventListener('abort', onAbort, { once: true });
      void sending.then((outcome) => {
        signal.removeEventListener('abort', onAbort);
        resolve(outcome);
      });
    });
  }

  /** Closes the transport's connections; sends after this fail. */
  close(): void {
    this.transport.close();
  }
}

/** A 5xx SMTP reply is permanent (RFC 5321 §4.2.1); 4xx, timeouts and connection errors are transient. */
function smtpFailure(error: unknown): SendOutcome {
  const { code, responseCode, message } = error as { code?: string; responseCode?: number; message?: string };
  const description = `SMTP ${code ?? 'error'}${responseCode !== undefined ? ` ${responseCode}` : ''}: ${message ?? String(error)}`;
  // A failed login is the operator's configuration, not this message: retried, so fixing it lets the mail through.
  if (code === 'EAUTH') return retryableOutcome(description);
  if (responseCode !== undefined && responseCode >= 500) return rejectedOutcome(description);
  if (responseCode === undefined && (code === 'EENVELOPE' || code === 'EMESSAGE')) return rejectedOutcome(description);
  return retryableOutcome(description);
}

/** The value of a dimension when the metrics all agree on it, else null. */
function sharedDimension(notification: Notification, key: string): string | null {
  const values = new Set(notification.metrics.map((m) => m.dimensions[key]).filter((v) => v !== undefined));
  return values.size === 1 ? ([...values][0] ?? null) : null;
}

/** Monasca's asctime form: `Tue Nov 14 22:13:20 2023`. */
function utcTime(timestampMs: number): string {
  const date = new Date(timestampMs);
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${days[date.getUTCDay()]} ${months[date.getUTCMonth()]} ${String(date.getUTCDate()).padStart(2, ' ')} ${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} ${date.getUTCFullYear()}`;
}

function formatDimensionSets(notification: Notification): string {
  const sets = notification.metrics.map((metric) => {
    const pairs = Object.entries(metric.dimensions).map(([k, v]) => `    ${k}: ${v}`);
    return `  {\n${[`    __name__: ${metric.name}`, ...pairs].join(',\n')}\n  }`;
  });
  return `[\n${sets.join(',\n')}\n]`;
}

/** A subject is one header line: untrusted names must not add headers. */
function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ');
}
