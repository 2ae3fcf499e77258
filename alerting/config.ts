import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { deepFreeze, section, telemetrySection } from '../core/config.js';
import { fail, ok, type Checked } from '../core/outcome.js';
import { checkDimensions, checkMetricName } from '../core/validation.js';
import { formatMetric, formatThreshold } from './expression/alarmExpression.js';
import { parseAlarmExpression } from './expression/parseAlarmExpression.js';
import { NotificationSectionSchema, type NotificationSection } from './notify/config.js';
import { SEVERITIES, type Severity } from './store/alarmStore.js';
import { stableId } from './ids.js';

/**
 * The alert engine's section: where its store is, how it evaluates, how it notifies, and
 * the alarm definitions written in the file. One schema, every default here, unknown keys
 * rejected by name.
 *
 * A definition in the file is either a Monasca `expression` (the full grammar) or the
 * older single-threshold form, `function(metric{dimensions}, period_seconds) operator
 * threshold`, which is turned into the same expression. At start-up they are written into
 * the store (`seedConfigDefinitions`), where the API sees them like any other; their
 * `webhooks` become WEBHOOK notification methods on all three action lists.
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


export const AlarmDefinitionSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 255 }),
    description: Type.String({ default: '', maxLength: 255 }),
    tenant_id: Type.String({ minLength: 1, description: 'the only tenant whose measurements this definition sees' }),
    expression: Type.Optional(Type.String({ minLength: 1, description: 'a Monasca alarm expression; or give metric, function, period_seconds, operator and threshold' })),
    metric: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'a Monasca metric name (single-threshold form)' })),
    dimensions: Type.Record(Type.String(), Type.String(), { default: {}, description: 'must match exactly; other dimensions are free (single-threshold form)' }),
    function: literals(FUNCTIONS, { default: 'avg', description: 'what the period is reduced to (single-threshold form)' }),
    period_seconds: Type.Integer({ minimum: 1, default: 60, description: 'single-threshold form' }),
    operator: Type.Optional(literals(OPERATOR_SPELLINGS, { description: 'GT, GTE, LT, LTE or >, >=, <, <= (single-threshold form)' })),
    threshold: Type.Optional(Type.Number({ description: 'single-threshold form' })),
    severity: literals(SEVERITIES, { default: 'LOW', description: "Monasca's alarm severity" }),
    match_by: Type.Array(Type.String({ minLength: 1 }), { default: [], description: 'one alarm per distinct value of these dimensions' }),
    webhooks: Type.Array(Type.String({ pattern: '^https?://' }), { default: [], description: 'URLs every transition of this definition is POSTed to (signed WEBHOOK methods)' }),
    undetermined_after_periods: Type.Optional(Type.Integer({ minimum: 1, description: "accepted from v0 files and ignored: Monasca's rule applies, UNDETERMINED after period × times × 2 without data" })),
  },
  { additionalProperties: false },
);

/** v0's `webhook` section, still read so that a file written for it starts; its settings moved to `notification`. */
const LegacyWebhookSchema = Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: "accepted from v0 files and ignored: see notification.http and notification.retry" }));

export const AlarmStoreSettingsSchema = section(
  {
    kind: Type.Union([Type.Literal('sqlite'), Type.Literal('postgres')], { default: 'sqlite', description: 'SQLite for one engine; PostgreSQL when several engine replicas share the store' }),
    sqlite_path: Type.String({ minLength: 1, default: './data/alarms.db' }),
    postgres_url: Type.String({ default: '', description: 'postgres://user:password@host:port/database, when kind is postgres' }),
  },
  'the alarm store (definitions, alarms, history, notification methods, outbox)',
);

export const EvaluationSettingsSchema = section(
  {
    interval_ms: Type.Integer({ minimum: 1, default: 1_000, description: 'the longest time between evaluations (the tick); a view is also decided at the instant it closes (slot end + delay_ms)' }),
    delay_ms: Type.Integer({ minimum: 0, default: 10_000, description: 'how long a closed slot waits for late measurements before it is decided' }),
    definitions_poll_ms: Type.Integer({ minimum: 1, default: 2_000, description: 'how often the store is asked whether definitions changed' }),
    catch_up_timeout_ms: Type.Integer({ minimum: 0, default: 30_000, description: 'a newly assigned partition is decided once the consumer caught up with it, or after this' }),
    checkpoint_interval_ms: Type.Integer({ minimum: 0, default: 5_000, description: 'how often windows and offsets are written to the store (0: after every batch), kept clear of the instants views close; transitions are written at once' }),
    max_alarms: Type.Integer({ minimum: 1, default: 1_000_000, description: 'match_by can fan out; alarms past this are not created' }),
    max_metrics_per_alarm: Type.Integer({ minimum: 1, default: 100, description: 'metric definitions listed on an alarm' }),
    max_pending_transitions: Type.Integer({ minimum: 1, default: 10_000, description: 'recorded transitions waiting for the bus; drop-oldest when full' }),
    max_points_per_window: Type.Optional(Type.Integer({ minimum: 1, description: 'accepted from v0 files and ignored: windows keep one aggregate per slot' })),
  },
  'alarm evaluation',
);

export const AlertingRulesSchema = Type.Object(
  {
    alarm_definitions: Type.Array(AlarmDefinitionSchema, { default: [] }),
    store: AlarmStoreSettingsSchema,
    evaluation: EvaluationSettingsSchema,
    notification: NotificationSectionSchema,
    webhook: LegacyWebhookSchema,
  },
  { additionalProperties: false },
);

/** The `alerting` section of the configuration file: the rules plus where the daemon runs. */
export const AlertingSectionSchema = section(
  {
    group_id: Type.String({ minLength: 1, default: 'kansoku-alerting' }),
    telemetry: telemetrySection(8072),
    alarm_definitions: Type.Array(AlarmDefinitionSchema, { default: [] }),
    store: AlarmStoreSettingsSchema,
    evaluation: EvaluationSettingsSchema,
    notification: NotificationSectionSchema,
    webhook: LegacyWebhookSchema,
  },
  'the alert engine',
);
export type AlertingSection = Static<typeof AlertingSectionSchema>;

export type AlarmDefinitionConfig = Static<typeof AlarmDefinitionSchema>;
export type AlarmStoreSettings = Static<typeof AlarmStoreSettingsSchema>;
export type EvaluationSettings = Static<typeof EvaluationSettingsSchema>;
export type AlertingRulesConfig = Static<typeof AlertingRulesSchema>;

/** A definition from the file, validated, as the store will hold it. */
export interface ConfigAlarmDefinition {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly tenant_id: string;
  readonly expression: string;
  readonly severity: Severity;
  readonly match_by: readonly string[];
  readonly webhooks: readonly string[];
}

export interface AlertingRules {
  readonly definitions: readonly ConfigAlarmDefinition[];
  readonly store: Readonly<AlarmStoreSettings>;
  readonly evaluation: Readonly<EvaluationSettings>;
  readonly notification: Readonly<NotificationSection>;
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
  const definitions: ConfigAlarmDefinition[] = [];
  const seen = new Set<string>();
  for (const [index, config] of withDefaults.alarm_definitions.entries()) {
    const checked = checkDefinition(config);
    if (!checked.ok) return fail(`alerting rules key "alarm_definitions.${index}": ${checked.error}`);
    const key = `${config.tenant_id}\u0000${config.name}`;
    if (seen.has(key)) return fail(`alerting rules key "alarm_definitions.${index}": tenant ${config.tenant_id} already has a definition named ${JSON.stringify(config.name)}`);
    seen.add(key);
    definitions.push(checked.value);
  }
  return ok(deepFreeze({ definitions, store: withDefaults.store, evaluation: withDefaults.evaluation, notification: withDefaults.notification }));
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

function checkDefinition(config: AlarmDefinitionConfig): Checked<ConfigAlarmDefinition> {
  for (const url of config.webhooks) {
    if (!URL.canParse(url)) return fail(`webhooks: ${JSON.stringify(url)} is not a URL`);
  }
  const expression = expressionOf(config);
  if (!expression.ok) return expression;
  // The grammar's rules, not the API's: the single-threshold form allowed periods that are not multiples of 60.
  const parsed = parseAlarmExpression(expression.value, { rules: 'grammar' });
  if (!parsed.ok) return fail(`expression: ${parsed.error}`);
  return ok({
    id: stableId('alarm-definition', config.tenant_id, config.name),
    name: config.name,
    description: config.description,
    tenant_id: config.tenant_id,
    expression: expression.value,
    severity: config.severity,
    match_by: config.match_by,
    webhooks: config.webhooks,
  });
}

/** The expression as written, or the single-threshold form spelled as one. */
function expressionOf(config: AlarmDefinitionConfig): Checked<string> {
  const { expression, metric, operator, threshold } = config;
  if (expression !== undefined) {
    if (metric !== undefined || operator !== undefined || threshold !== undefined) return fail('give either expression or metric/operator/threshold, not both');
    return ok(expression);
  }
  if (metric === undefined || operator === undefined || threshold === undefined) return fail('needs an expression, or metric, operator and threshold');
  const name = checkMetricName(metric);
  if (!name.ok) return fail(`metric: ${name.error}`);
  const dimensions = checkDimensions(config.dimensions);
  if (!dimensions.ok) return fail(`dimensions: ${dimensions.error}`);
  const symbol = { GT: '>', GTE: '>=', LT: '<', LTE: '<=' }[NORMALISED_OPERATOR[operator]];
  const spell = (quote: (text: string) => string) =>
    `${config.function}(${formatMetric(quote(name.value), Object.fromEntries(Object.entries(dimensions.value).map(([k, v]) => [k, quote(v)])))}, ${config.period_seconds}) ${symbol} ${formatThreshold(threshold)}`;
  // Plain where the grammar reads the names back unchanged; quoted where it would not (spaces, braces, keywords).
  const plain = spell((text) => text);
  const parsed = parseAlarmExpression(plain, { rules: 'grammar' });
  const sub = parsed.ok && parsed.value.kind === 'sub' ? parsed.value.sub : undefined;
  const readsBack = sub !== undefined && sub.metricName === name.value && JSON.stringify(Object.entries(sub.dimensions).sort()) === JSON.stringify(Object.entries(dimensions.value).sort());
  return ok(readsBack ? plain : spell((text) => `"${text}"`));
}
