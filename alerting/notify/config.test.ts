import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { notificationDefaults, NotificationSectionSchema, validateNotificationPeriod } from './config.js';

describe('notification config', () => {
  it('has every default in the schema', () => {
    const defaults = notificationDefaults();
    expect(Value.Check(NotificationSectionSchema, defaults)).toBe(true);
    expect(defaults).toMatchObject({
      periods_seconds: [0, 60],
      pagerduty_url: 'https://events.pagerduty.com/v2/enqueue',
      http: { allow_private_addresses: false, max_response_bytes: 65_536 },
      retry: { max_attempts: 10 },
      email: { host: 'localhost', port: 25, secure: false, starttls: 'opportunistic' },
    });
    expect(defaults.email.auth).toBeUndefined();
  });

  it.each([
    ['an unknown top-level key', { pollinterval_ms: 5 }, '/pollinterval_ms'],
    ['an unknown nested key', { http: { allow_private: true } }, '/http/allow_private'],
    ['an unknown auth key', { email: { auth: { user: 'u', password: 'p', token: 't' } } }, '/email/auth/token'],
    ['a bad starttls mode', { email: { starttls: 'sometimes' } }, '/email/starttls'],
    ['a non-http PagerDuty URL', { pagerduty_url: 'ftp://x' }, '/pagerduty_url'],
  ])('rejects %s by its path', (_name, raw, path) => {
    const paths = [...Value.Errors(NotificationSectionSchema, notificationDefaults(raw))].map((e) => e.path);
    expect(paths).toContain(path);
  });

  it.each([
    [0, true],
    [60, true],
    [30, false],
    [-60, false],
    [60.5, false],
  ])('period %s against the default periods: allowed %s', (period, allowed) => {
    const result = validateNotificationPeriod(period, notificationDefaults().periods_seconds);
    expect(result.ok).toBe(allowed);
    if (!result.ok) expect(result.error).toBe(`period ${period} is not allowed; allowed periods in seconds: 0, 60`);
  });
});
