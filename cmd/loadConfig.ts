import { readFileSync } from 'node:fs';
import { Kind, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';
import { deepFreeze } from '../core/config.js';
import { ConfigSchema, type Config } from './configSchema.js';

/**
 * Configuration = schema defaults, then the YAML file, then `KANSOKU_*` variables;
 * validated once at start-up and frozen. Variables name a path with `__` between keys
 * (`KANSOKU_SERVER__API__PORT=8071`); a few common ones have short names.
 */
export const ENV_ALIASES: Readonly<Record<string, string>> = {
  KANSOKU_AUTH_TOKENS: 'auth.tokens',
  KANSOKU_KAFKA_BROKERS: 'bus.kafka.brokers',
  KANSOKU_INFLUXDB_URL: 'server.influxdb.url',
  KANSOKU_REGION: 'region',
  KANSOKU_LOG_LEVEL: 'log_level',
};

export class ConfigError extends Error {}

export function loadConfig(options: { file?: string; env: NodeJS.ProcessEnv; overrides?: Record<string, unknown> }): Readonly<Config> {
  let raw: unknown = {};
  if (options.file) {
    let text: string;
    try {
      text = readFileSync(options.file, 'utf8');
    } catch (error) {
      throw new ConfigError(`cannot read config file ${options.file}: ${(error as Error).message}`);
    }
    try {
      raw = parseYaml(text) ?? {};
    } catch (error) {
      throw new ConfigError(`config file ${options.file} is not valid YAML: ${(error as Error).message}`);
    }
    if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`config file ${options.file} must hold a mapping at the top`);
  }
  const merged = raw as Record<string, unknown>;
  for (const [name, value] of Object.entries(options.env)) {
    if (!name.startsWith('KANSOKU_') || value === undefined) continue;
    const path = ENV_ALIASES[name] ?? name.slice('KANSOKU_'.length).toLowerCase().split('__').join('.');
    setPath(merged, path.split('.'), coerce(schemaAt(path.split('.')), value, name));
  }
  for (const [path, value] of Object.entries(options.overrides ?? {})) setPath(merged, path.split('.'), value);
  return validate(merged);
}

export function validate(raw: Record<string, unknown>): Readonly<Config> {
  const unknown = unknownKeys(ConfigSchema, raw, []);
  if (unknown.length > 0) throw new ConfigError(unknown.join('\n'));
  const withDefaults = Value.Default(ConfigSchema, structuredClone(raw)) as Config;
  const errors = [...Value.Errors(ConfigSchema, withDefaults)];
  if (errors.length > 0) {
    const first = errors[0];
    const key = first ? first.path.slice(1).split('/').join('.') : '';
    throw new ConfigError(`configuration key "${key}": ${first?.message ?? 'invalid'} (got ${JSON.stringify(first?.value)})`);
  }
  return deepFreeze(withDefaults);
}

/** Unknown keys, each named by its full path with the keys that are known there. */
function unknownKeys(schema: TSchema, value: unknown, path: string[]): string[] {
  if (schema[Kind] === 'Union') {
    const objects = (schema.anyOf as TSchema[]).filter((s) => s[Kind] === 'Object');
    return typeof value === 'object' && value !== null && objects[0] ? unknownKeys(objects[0], value, path) : [];
  }
  if (schema[Kind] !== 'Object' || typeof value !== 'object' || value === null || Array.isArray(value)) return [];
  const properties = schema.properties as Record<string, TSchema>;
  const out: string[] = [];
  for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
    const sub = properties[key];
    if (!sub) out.push(`unknown configuration key "${[...path, key].join('.')}" (known here: ${Object.keys(properties).join(', ')})`);
    else out.push(...unknownKeys(sub, child, [...path, key]));
  }
  return out;
}

function schemaAt(path: readonly string[]): TSchema | undefined {
  let schema: TSchema | undefined = ConfigSchema;
  for (const key of path) schema = (schema?.properties as Record<string, TSchema> | undefined)?.[key];
  return schema;
}

function coerce(schema: TSchema | undefined, text: string, name: string): unknown {
  if (!schema) throw new ConfigError(`environment variable ${name} names no configuration key`);
  switch (schema[Kind]) {
    case 'Array':
      return text.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
    case 'Integer':
    case 'Number':
      return text.trim() === '' ? text : Number(text);
    case 'Boolean':
      return text === 'true' ? true : text === 'false' ? false : text;
    case 'Union': {
      // Literal numbers (influxdb.version) and plain strings are the only unions set from the environment.
      const asNumber = Number(text);
      return (schema.anyOf as TSchema[]).some((s) => s.const === asNumber) ? asNumber : text;
    }
    default:
      return text;
  }
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  const last = path[path.length - 1];
  if (last !== undefined) node[last] = value;
}
