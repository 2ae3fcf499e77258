/**
 * What the sink installs at start-up, when missing: the lifecycle policy (ILM on
 * Elasticsearch, ISM on OpenSearch) and the composable index template that makes every
 * `logs-kansoku-*` name a data stream with Kansoku's mapping. Existing ones are left as
 * they are (an operator may have tuned them); what was created is logged.
 *
 * The message's analyzer splits words exactly as `logTerms` does (anything not a letter
 * or a digit separates words, lower case), so that a query word is an indexed token;
 * Elasticsearch's standard tokenizer would keep `Foo.bar` as one token.
 */
import type { LogSearchSection } from './config.js';
import { dataStreamWildcard } from './dataStream.js';
import { ENGINE_NAMES, errorText, type SearchEngineKind, type SearchTransport } from './transport.js';

/** Lucene refuses a term over 32,766 bytes (the whole document with it); a word is cut well before. */
const MAX_WORD_CHARS = 1_000;
const KEYWORD = { type: 'keyword', ignore_above: 1_024 } as const;

export function indexTemplate(config: LogSearchSection, engine: SearchEngineKind): Record<string, unknown> {
  return {
    index_patterns: [dataStreamWildcard(config.data_stream)],
    data_stream: {},
    priority: config.template_priority,
    _meta: { managed_by: 'kansoku', version: 1 },
    template: {
      settings: {
        index: {
          number_of_shards: config.number_of_shards,
          number_of_replicas: config.number_of_replicas,
          // OpenSearch's ISM finds its indices through the policy's ism_template instead.
          ...(engine === 'elasticsearch' ? { lifecycle: { name: config.template_name } } : {}),
          analysis: {
            tokenizer: { kansoku_words: { type: 'pattern', pattern: '[^\\p{L}\\p{N}]+' } },
            filter: { kansoku_word_length: { type: 'truncate', length: MAX_WORD_CHARS } },
            analyzer: { kansoku_words: { type: 'custom', tokenizer: 'kansoku_words', filter: ['lowercase', 'kansoku_word_length'] } },
          },
        },
      },
      mappings: {
        // Only the fields below are indexed, whatever a document holds: no mapping explosion.
        dynamic: false,
        properties: {
          '@timestamp': { type: 'date' },
          message: { type: 'text', analyzer: 'kansoku_words', norms: false },
          log: { properties: { level: KEYWORD } },
          kubernetes: { properties: { namespace: KEYWORD, pod: { properties: { name: KEYWORD } }, container: { properties: { name: KEYWORD } } } },
          container: { properties: { id: KEYWORD } },
          host: { properties: { hostname: KEYWORD } },
          stream: KEYWORD,
          tenant: { properties: { id: KEYWORD } },
          // The dimensions as written, kept in _source only; kansoku.dimensions is what filters.
          labels: { type: 'object', enabled: false },
          kansoku: {
            properties: {
              id: KEYWORD,
              region: KEYWORD,
              dimensions: KEYWORD,
              dimension_keys: KEYWORD,
              truncated: { type: 'boolean' },
              split: { type: 'boolean' },
              parse_error: KEYWORD,
            },
          },
        },
      },
    },
  };
}

export function ilmPolicy(config: LogSearchSection): Record<string, unknown> {
  const phases: Record<string, unknown> = {
    hot: { actions: { rollover: { max_age: config.rollover_max_age, max_primary_shard_size: config.rollover_max_primary_shard_size } } },
  };
  if (config.retention_days > 0) phases['delete'] = { min_age: `${config.retention_days}d`, actions: { delete: {} } };
  return { policy: { _meta: { managed_by: 'kansoku' }, phases } };
}

export function ismPolicy(config: LogSearchSection): Record<string, unknown> {
  const pattern = dataStreamWildcard(config.data_stream);
  const hot = {
    name: 'hot',
    actions: [{ rollover: { min_index_age: config.rollover_max_age, min_size: config.rollover_max_primary_shard_size } }],
    transitions: config.retention_days > 0 ? [{ state_name: 'delete', conditions: { min_rollover_age: `${config.retention_days}d` } }] : [],
  };
  const states: unknown[] = [hot];
  if (config.retention_days > 0) states.push({ name: 'delete', actions: [{ delete: {} }], transitions: [] });
  return {
    policy: {
      description: 'Kansoku logs: rollover, then delete after the retention',
      default_state: 'hot',
      states,
      // Backing indices of a data stream are `.ds-<name>-00000n`; either name may be what ISM matches.
      ism_template: [{ index_patterns: [pattern, `.ds-${pattern}`], priority: config.template_priority }],
    },
  };
}

export interface SetupLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export type SetupResult = { readonly ok: true; readonly created: readonly string[]; readonly existing: readonly string[] } | { readonly ok: false; readonly reason: string };

interface Installable {
  readonly what: string;
  readonly path: string;
  readonly body: Record<string, unknown>;
  /** A lifecycle plugin that is not there is skipped (OpenSearch without ISM), not a failure. */
  readonly optional: boolean;
}

export async function ensureTemplates(transport: SearchTransport, config: LogSearchSection, engine: SearchEngineKind, log: SetupLogger): Promise<SetupResult> {
  const engineName = ENGINE_NAMES[engine];
  const name = config.template_name;
  const steps: Installable[] = [
    engine === 'elasticsearch'
      ? { what: `ILM policy ${name}`, path: `/_ilm/policy/${name}`, body: ilmPolicy(config), optional: false }
      : { what: `ISM policy ${name}`, path: `/_plugins/_ism/policies/${name}`, body: ismPolicy(config), optional: true },
    { what: `index template ${name}`, path: `/_index_template/${name}`, body: indexTemplate(config, engine), optional: false },
  ];
  const created: string[] = [];
  const existing: string[] = [];
  const options = { timeoutMs: config.timeout_ms };
  for (const step of steps) {
    try {
      const found = await transport.request({ method: 'GET', path: step.path }, options);
      if (found.status === 200) {
        existing.push(step.what);
        continue;
      }
      const missing = found.status === 404 && !/no handler found/i.test(errorText(found.body));
      if (!missing) {
        if (step.optional) {
          log.warn({ engine: engineName, status: found.status, error: errorText(found.body) }, `${engineName} does not answer for the ${step.what}; going on without it`);
          continue;
        }
        return { ok: false, reason: `${engineName} answered ${found.status} when asked for the ${step.what}: ${errorText(found.body)}` };
      }
      const put = await transport.request({ method: 'PUT', path: step.path, body: step.body }, options);
      if (put.status === 200 || put.status === 201) {
        created.push(step.what);
        log.info({ engine: engineName, path: step.path }, `Created the ${step.what}`);
      } else if (put.status === 409) {
        existing.push(step.what); // another server created it at the same moment
      } else if (step.optional) {
        log.warn({ engine: engineName, status: put.status, error: errorText(put.body) }, `${engineName} did not take the ${step.what}; going on without it`);
      } else {
        return { ok: false, reason: `${engineName} refused the ${step.what} (${put.status}): ${errorText(put.body)}` };
      }
    } catch (error) {
      return { ok: false, reason: `${engineName} is unreachable while installing the ${step.what}: ${error instanceof Error ? error.message : String(error)}` };
    }
  }
  return { ok: true, created, existing };
}
