import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { deepFreeze, section, telemetrySection } from '../core/config.js';
import { fail, ok, type Checked } from '../core/outcome.js';
import { checkDimensions, checkMetricName } from '../core/validation.js';
import { stableId } from './ids.js';

/**
 * Alarm definitions v0 and the alert stage's settings: one schema, every default here,
 * unknown keys rejected by name. A definition is one Monasca sub-expression,
 * `function(metric{dimensions}, period_seconds) operator threshold`, with Monasca's
 * match_by; the full grammar (compound expressions, `times`, deterministic) replaces
 * this shape later.
 */

const literals = <T extends string>(values: readonly T[], options: { default?: NoInfer<T>; description: string }) =>
  Type.Union(
    values.map((v) => Type.Literal(v)),
    options,
  );

export const OPERATORS = ['GT', 'GTE', 'LT', 'LTE'] as const;
export type Operator = (typeof OPERATORS)[number];

/** Monasca accepts both spellings in an expression; the symbols are normalised at load. */
const OPERATOR_SPELLINGS = [...OPERATORS, '>', '>=', '<', '<='] as const;
const NORMALISED_OPERATOR: Readonly<Record<(typeof OPERATOR_SPELLINGS)[number], Operator>> = { GT: 'GT', GTE: 'GTE', LT: 'LT', LTE: 'LTE', '>': 'GT', '>=': 'GTE', '<': 'LT', '<=': 'LTE' };

export const FUNCTIONS = ['last', 'avg', 'min', 'max', 'sum', 'count'] as const;
export type AlarmFunction = (typeof FUNCTIONS)[number];

export const SEVERITIES = ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const AlarmDefinitionSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 255 }),
    description: Type.String({ default: '', maxLength: 255 }),
    tenant_id: Type.String({ minLength: 1, description: 'the only tenant whose measurements this definition sees' }),
    metric: Type.String({ minLength: 1, maxLength: 255, description: 'a Monasca metric name' }),
    dimensions: Type.Record(Type.String(), Type.String(), { default: {}, description: 'must match exactly; other dimensions are free' }),
    function: literals(FUNCTIONS, { default: 'avg', description: 'what the period is reduced to' }),
    period_seconds: Type.Integer({ minimum: 1, default: 60 }),
    operator: literals(OPERATOR_SPELLINGS, { description: 'GT, GTE, LT, LTE or >, >=, <, <=' }),
    threshold: Type.Number(),
    severity: literals(SEVERITIES, { default: 'LOW', description: "Monasca's alarm severity" }),
    match_by: Type.Array(Type.String({ minLength: 1 }), { default: [], description: 'one alarm per distinct value of these dimensions' }),
    undetermined_after_periods: Type.Integer({ minimum: 1, default: 3, description: 'periods without data before the alarm is UNDETERMINED' }),
    webhooks: Type.Array(Type.String({ pattern: '^https?://' }), { default: [], description: 'URLs every transition of this definition is POSTed to' }),
  },
  { additionalProperties: false },
);

export const WebhookSettingsSchema = section(
  {
    timeout_ms: Type.Integer({ minimum: 1, default: 5000, description: 'per request; also the budget for draining at shutdown' }),
    max_attempts: Type.Integer({ minimum: 1, default: 5 }),
    max_pending: Type.Integer({ minimum: 1, default: 1000, description: 'notifications queued or waiting to retry; drop-oldest when full' }),
    concurrency: Type.Integer({ minimum: 1, default: 4, description: 'requests in flight at once' }),
    initial_delay_ms: Type.Integer({ minimum: 1, default: 1000, description: 'first retry delay before jitter; doubles per attempt' }),
    max_delay_ms: Type.Integer({ minimum: 1, default: 60_000, description: 'cap on a retry delay, Retry-After included' }),
  },
  'webhook notifications',
);

export const EvaluationSettingsSchema = section(
  {
    interval_ms: Type.Integer({ minimum: 1, default: 10_000, description: 'how often every alarm is evaluated' }),
    max_points_per_window: Type.Integer({ minimum: 1, default: 10_000, description: 'per alarm; drop-oldest when full' }),
    max_alarms: Type.Integer({ minimum: 1, default: 100_000, description: 'match_by can fan out; alarms past this are not created' }),
    max_metrics_per_alarm: Type.Integer({ minimum: 1, default: 100, description: 'metric definitions listed on an alarm' }),
  },
  'alarm evaluation',
);

export const AlertingRulesSchema = Type.Object(
  {
    alarm_definitions: Type.Array(AlarmDefinitionSchema, { default: [] }),
    webhook: WebhookSettingsSchema,
    evaluation: EvaluationSettingsSchema,
  },
  { additionalProperties: false },
);

/** The `alerting` section of the configuration file: the rules plus where the daemon runs. */
export const AlertingSectionSchema = section(
  {
    group_id: Type.String({ minLength: 1, default: 'kansoku-alerting' }),
    telemetry: telemetrySection(8072),
    alarm_definitions: Type.Array(AlarmDefinitionSchema, { default: [] }),
    webhook: WebhookSettingsSchema,
    evaluation: EvaluationSettingsSchema,
  },
  'the alert engine',
);
export type AlertingSection = Static<typeof AlertingSectionSchema>;

export type AlarmDefinitionConfig = Static<typeof AlarmDefinitionSchema>;
export type WebhookSettings = Static<typeof WebhookSettingsSchema>;
export type EvaluationSettings = Static<typeof EvaluationSettingsSchema>;
export type AlertingRulesConfig = Static<typeof AlertingRulesSchema>;

/** A definition as the evaluator uses it: validated, operator normalised, with its id. */
export interface AlarmDefinition {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly tenant_id: string;
  readonly metric: string;
  readonly dimensions: Readonly<Record<string, string>>;
  readonly function: AlarmFunction;
  readonly period_seconds: number;
  readonly operator: Operator;
  readonly threshold: number;
  readonly severity: Severity;
  readonly match_by: readonly string[];
  readonly undetermined_after_periods: number;
  readonly webhooks: readonly string[];
}

export interface AlertingRules {
  readonly definitions: readonly AlarmDefinition[];
  readonly webhook: Readonly<WebhookSettings>;
  readonly evaluation: Readonly<EvaluationSettings>;
}

/** The schema's defaults alone, for callers that were given no evaluation settings. */
export function defaultEvaluationSettings(): Readonly<EvaluationSettings> {
  return Object.freeze(Value.Default(EvaluationSettingsSchema, {}) as EvaluationSettings);
}

/**
 * Validates untrusted rules (a YAML or JSON document) once at start-up: defaults applied,
 * unknown keys and bad values named by their path, the result frozen.
 */
export function loadAlertingRules(raw: unknown): Checked<AlertingRules> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return fail('alerting rules must be a mapping');
  const withDefaults = Value.Default(AlertingRulesSchema, structuredClone(raw)) as AlertingRulesConfig;
  const errors = describeErrors(withDefaults);
  if (errors.length > 0) return fail(errors.join('; '));
  const definitions: AlarmDefinition[] = [];
  const seen = new Set<string>();
  for (const [index, config] of withDefaults.alarm_definitions.entries()) {
    const checked = checkDefinition(config);
    if (!checked.ok) return fail(`alerting rules key "alarm_definitions.${index}": ${checked.error}`);
    const key = `${config.tenant_id}\u0000${config.name}`;
    if (seen.has(key)) return fail(`alerting rules key "alarm_definitions.${index}": tenant ${config.tenant_id} already has a definition named ${JSON.stringify(config.name)}`);
    seen.add(key);
    definitions.push(checked.value);
  }
  return ok(deepFreeze({ definitions, webhook: withDefaults.webhook, evaluation: withDefaults.evaluation }));
}

/** The first error at each of the first few keys, each named by its path; a choice lists its options. */
function describeErrors(value: unknown): string[] {
  const byPath = new Map<string, string>();
  for (const error of Value.Errors(AlertingRulesSchema, value)) {
    const key = error.path.slice(1).split('/').join('.');
    if (byPath.has(key)) continue;
    const options = (error.schema.anyOf as { const?: unknown }[] | undefined)?.map((s) => s.const);
    const message = options?.every((o) => typeof o === 'string') ? `must be one of ${options.join(', ')}` : error.message;
    byPath.set(key, `alerting rules key "${key}": ${message} (got ${JSON.stringify(error.value)})`);
    if (byPath.size === 5) break;
  }
  return [...byPath.values()];
}

function checkDefinition(config: AlarmDefinitionConfig): Checked<AlarmDefinition> {
  const name = checkMetricName(config.metric);
  if (!name.ok) return fail(`metric: ${name.error}`);
  const dimensions = checkDimensions(config.dimensions);
  if (!dimensions.ok) return fail(`dimensions: ${dimensions.error}`);
  for (const url of config.webhooks) {
    if (!URL.canParse(url)) return fail(`webhooks: ${JSON.stringify(url)} is not a URL`);
  }
  return ok({
    ...config,
    id: stableId('alarm-definition', config.tenant_id, config.name),
    metric: name.value,
    dimensions: dimensions.value,
    operator: NORMALISED_OPERATOR[config.operator],
  });
}
