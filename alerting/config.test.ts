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
  it('fills every default from the schema, and spells the single-threshold form as an expression', () => {
    const rules = load({ alarm_definitions: [minimal] });
    expect(rules.definitions).toEqual([
      {
        id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/) as unknown,
        name: 'high-cpu',
        description: '',
        tenant_id: 'acme',
        expression: 'avg(cpu.percent, 60) > 90.0',
        severity: 'LOW',
        match_by: [],
        webhooks: [],
      },
    ]);
    expect(rules.evaluation).toEqual({ interval_ms: 1000, delay_ms: 10_000, definitions_poll_ms: 2000, catch_up_timeout_ms: 30_000, checkpoint_interval_ms: 5000, max_alarms: 1_000_000, max_metrics_per_alarm: 100, max_pending_transitions: 10_000 });
    expect(rules.store).toEqual({ kind: 'sqlite', sqlite_path: './data/alarms.db', postgres_url: '' });
    expect(rules.notification.periods_seconds).toEqual([0, 60]);
    expect(rules.notification.http.allow_private_addresses).toBe(false);
  });

  it('still starts from a v0 file: its webhook section, max_points_per_window and undetermined_after_periods are read and ignored', () => {
    const rules = load({ alarm_definitions: [{ ...minimal, undetermined_after_periods: 3 }], webhook: { timeout_ms: 5000, max_attempts: 5 }, evaluation: { interval_ms: 10_000, max_points_per_window: 10_000 } });
    expect(rules.definitions[0]?.expression).toBe('avg(cpu.percent, 60) > 90.0');
    expect(rules.evaluation.interval_ms).toBe(10_000);
  });

  it('takes a Monasca expression as it is', () => {
    const expression = 'avg(cpu{service=web}) > 80 times 3 or max(mem, deterministic, 120) >= 99';
    expect(load({ alarm_definitions: [{ name: 'x', tenant_id: 'acme', expression }] }).definitions[0]?.expression).toBe(expression);
  });

  it('quotes names and values that the grammar would not read back', () => {
    const [definition] = load({ alarm_definitions: [{ ...minimal, metric: 'disk used', dimensions: { mount: '/var lib', host: 'a' }, function: 'max', period_seconds: 2 }] }).definitions;
    expect(definition?.expression).toBe('max("disk used"{host="a", mount="/var lib"}, 2) > 90.0');
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
    const symbol = { GT: '>', GTE: '>=', LT: '<', LTE: '<=' }[operator];
    expect(load({ alarm_definitions: [{ ...minimal, operator: spelling }] }).definitions[0]?.expression).toBe(`avg(cpu.percent, 60) ${symbol} 90.0`);
  });

  it.each([
    { name: 'not a mapping', raw: [minimal], message: 'alerting rules must be a mapping' },
    { name: 'an unknown top-level key', raw: { alarm_definition: [] }, message: 'alerting rules key "alarm_definition": Unexpected property' },
    { name: 'an unknown definition key', raw: { alarm_definitions: [{ ...minimal, treshold: 1 }] }, message: 'alerting rules key "alarm_definitions.0.treshold": Unexpected property' },
    { name: 'an unknown notification key', raw: { notification: { timeout: 1 } }, message: 'alerting rules key "notification.timeout": Unexpected property' },
    { name: 'a missing threshold', raw: { alarm_definitions: [{ ...minimal, threshold: undefined }] }, message: 'alerting rules key "alarm_definitions.0": needs an expression, or metric, operator and threshold' },
    { name: 'both forms at once', raw: { alarm_definitions: [{ ...minimal, expression: 'avg(x) > 1' }] }, message: 'give either expression or metric/operator/threshold' },
    { name: 'an expression that does not parse', raw: { alarm_definitions: [{ name: 'x', tenant_id: 'acme', expression: 'avg(x) >> 1' }] }, message: 'alerting rules key "alarm_definitions.0": expression:' },
    { name: 'an unknown store kind', raw: { store: { kind: 'mysql' } }, message: 'alerting rules key "store.kind"' },
    { name: 'an unknown function', raw: { alarm_definitions: [{ ...minimal, function: 'median' }] }, message: 'alerting rules key "alarm_definitions.0.function"' },
    { name: 'an unknown operator', raw: { alarm_definitions: [{ ...minimal, operator: '==' }] }, message: 'alerting rules key "alarm_definitions.0.operator": must be one of GT, GTE, LT, LTE, >, >=, <, <= (got "==")' },
    { name: 'a lower-case severity', raw: { alarm_definitions: [{ ...minimal, severity: 'low' }] }, message: 'alerting rules key "alarm_definitions.0.severity"' },
    { name: 'a zero period', raw: { alarm_definitions: [{ ...minimal, period_seconds: 0 }] }, message: 'alerting rules key "alarm_definitions.0.period_seconds"' },
    { name: 'a fractional period', raw: { alarm_definitions: [{ ...minimal, period_seconds: 1.5 }] }, message: 'alerting rules key "alarm_definitions.0.period_seconds"' },
    { name: 'a webhook that is not http(s)', raw: { alarm_definitions: [{ ...minimal, webhooks: ['ftp://host/x'] }] }, message: 'alerting rules key "alarm_definitions.0.webhooks.0"' },
    { name: 'a webhook that does not parse', raw: { alarm_definitions: [{ ...minimal, webhooks: ['http://'] }] }, message: 'alerting rules key "alarm_definitions.0": webhooks: "http://" is not a URL' },
    { name: 'a metric name Monasca forbids', raw: { alarm_definitions: [{ ...minimal, metric: 'cpu{x}' }] }, message: 'alerting rules key "alarm_definitions.0": metric:' },
    { name: 'a dimension Monasca forbids', raw: { alarm_definitions: [{ ...minimal, dimensions: { 'a=b': 'c' } }] }, message: 'alerting rules key "alarm_definitions.0": dimensions:' },
    { name: 'a zero max_attempts', raw: { notification: { retry: { max_attempts: 0 } } }, message: 'alerting rules key "notification.retry.max_attempts"' },
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
    expect(Object.isFrozen(rules.notification)).toBe(true);
    expect(raw.alarm_definitions[0]).not.toHaveProperty('period_seconds');
  });
});
