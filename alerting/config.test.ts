import { describe, expect, it } from 'vitest';
import { loadAlertingRules } from './config.js';

const minimal = { name: 'high-cpu', tenant_id: 'acme', metric: 'cpu.percent', operator: 'GT', threshold: 90 };

function load(raw: unknown) {
  const loaded = loadAlertingRules(raw);
  if (!loaded.ok) throw new Error(loaded.error);
  return loaded.value;
}

function error(raw: unknown): string {
  const loaded = loadAlertingRules(raw);
  if (loaded.ok) throw new Error('expected the rules to be refused');
  return loaded.error;
}

describe('loadAlertingRules', () => {
  it('fills every default from the schema', () => {
    const rules = load({ alarm_definitions: [minimal] });
    expect(rules.definitions).toEqual([
      {
        ...minimal,
        id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/) as unknown,
        description: '',
        dimensions: {},
        function: 'avg',
        period_seconds: 60,
        severity: 'LOW',
        match_by: [],
        undetermined_after_periods: 3,
        webhooks: [],
      },
    ]);
    expect(rules.webhook).toEqual({ timeout_ms: 5000, max_attempts: 5, max_pending: 1000, concurrency: 4, initial_delay_ms: 1000, max_delay_ms: 60_000 });
    expect(rules.evaluation).toEqual({ interval_ms: 10_000, max_points_per_window: 10_000, max_alarms: 100_000, max_metrics_per_alarm: 100 });
  });

  it('accepts no definitions at all', () => {
    expect(load({}).definitions).toEqual([]);
  });

  it.each([
    { spelling: 'GT', operator: 'GT' },
    { spelling: '>', operator: 'GT' },
    { spelling: 'GTE', operator: 'GTE' },
    { spelling: '>=', operator: 'GTE' },
    { spelling: 'LT', operator: 'LT' },
    { spelling: '<', operator: 'LT' },
    { spelling: 'LTE', operator: 'LTE' },
    { spelling: '<=', operator: 'LTE' },
  ])('reads operator $spelling as $operator', ({ spelling, operator }) => {
    expect(load({ alarm_definitions: [{ ...minimal, operator: spelling }] }).definitions[0]?.operator).toBe(operator);
  });

  it.each([
    { name: 'not a mapping', raw: [minimal], message: 'alerting rules must be a mapping' },
    { name: 'an unknown top-level key', raw: { alarm_definition: [] }, message: 'alerting rules key "alarm_definition": Unexpected property' },
    { name: 'an unknown definition key', raw: { alarm_definitions: [{ ...minimal, treshold: 1 }] }, message: 'alerting rules key "alarm_definitions.0.treshold": Unexpected property' },
    { name: 'an unknown webhook key', raw: { webhook: { timeout: 1 } }, message: 'alerting rules key "webhook.timeout": Unexpected property' },
    { name: 'a missing threshold', raw: { alarm_definitions: [{ ...minimal, threshold: undefined }] }, message: 'alerting rules key "alarm_definitions.0.threshold"' },
    { name: 'an unknown function', raw: { alarm_definitions: [{ ...minimal, function: 'median' }] }, message: 'alerting rules key "alarm_definitions.0.function"' },
    { name: 'an unknown operator', raw: { alarm_definitions: [{ ...minimal, operator: '==' }] }, message: 'alerting rules key "alarm_definitions.0.operator": must be one of GT, GTE, LT, LTE, >, >=, <, <= (got "==")' },
    { name: 'a lower-case severity', raw: { alarm_definitions: [{ ...minimal, severity: 'low' }] }, message: 'alerting rules key "alarm_definitions.0.severity"' },
    { name: 'a zero period', raw: { alarm_definitions: [{ ...minimal, period_seconds: 0 }] }, message: 'alerting rules key "alarm_definitions.0.period_seconds"' },
    { name: 'a fractional period', raw: { alarm_definitions: [{ ...minimal, period_seconds: 1.5 }] }, message: 'alerting rules key "alarm_definitions.0.period_seconds"' },
    { name: 'a webhook that is not http(s)', raw: { alarm_definitions: [{ ...minimal, webhooks: ['ftp://host/x'] }] }, message: 'alerting rules key "alarm_definitions.0.webhooks.0"' },
    { name: 'a webhook that does not parse', raw: { alarm_definitions: [{ ...minimal, webhooks: ['http://'] }] }, message: 'alerting rules key "alarm_definitions.0": webhooks: "http://" is not a URL' },
    { name: 'a metric name Monasca forbids', raw: { alarm_definitions: [{ ...minimal, metric: 'cpu{x}' }] }, message: 'alerting rules key "alarm_definitions.0": metric:' },
    { name: 'a dimension Monasca forbids', raw: { alarm_definitions: [{ ...minimal, dimensions: { 'a=b': 'c' } }] }, message: 'alerting rules key "alarm_definitions.0": dimensions:' },
    { name: 'a zero max_attempts', raw: { webhook: { max_attempts: 0 } }, message: 'alerting rules key "webhook.max_attempts"' },
    { name: 'two definitions of one name in one tenant', raw: { alarm_definitions: [minimal, { ...minimal, threshold: 1 }] }, message: 'alerting rules key "alarm_definitions.1": tenant acme already has a definition named "high-cpu"' },
  ])('refuses $name, naming the key', ({ raw, message }) => {
    expect(error(raw)).toContain(message);
  });

  it('lets two tenants use the same definition name, with different ids', () => {
    const [a, b] = load({ alarm_definitions: [minimal, { ...minimal, tenant_id: 'globex' }] }).definitions;
    expect(a?.id).not.toBe(b?.id);
    expect(load({ alarm_definitions: [minimal] }).definitions[0]?.id).toBe(a?.id);
  });

  it('freezes what it returns, and leaves its input alone', () => {
    const raw = { alarm_definitions: [{ ...minimal, match_by: ['hostname'] }] };
    const rules = load(raw);
    expect(Object.isFrozen(rules.definitions[0]?.match_by)).toBe(true);
    expect(Object.isFrozen(rules.webhook)).toBe(true);
    expect(raw.alarm_definitions[0]).not.toHaveProperty('period_seconds');
  });
});
