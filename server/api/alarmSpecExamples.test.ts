/**
 * The Monasca API spec's own examples for notification methods, alarm definitions and alarms
 * (test/fixtures/monasca/monasca-api-spec.alarm-examples.json): every request example is sent
 * as written (ids swapped for ones that exist) and must succeed, and every response example's
 * keys must be the keys of our answer to that operation, nested objects included.
 */
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { seedAlarm } from './alarmSeed.testkit.js';
import { startApiHarness, type ApiHarness } from './apiHarness.testkit.js';

interface Example {
  readonly section: string;
  readonly kind: 'request' | 'response' | 'other';
  readonly line: number;
  readonly text: string;
  readonly json?: unknown;
  readonly json_error?: string;
}

const examples = JSON.parse(readFileSync(new URL('../../test/fixtures/monasca/monasca-api-spec.alarm-examples.json', import.meta.url), 'utf8')) as Example[];

/** "Alarms > Get Alarm > Response > Response Examples" → "Alarms > Get Alarm". */
const operationOf = (e: Example) => e.section.split(' > ').slice(0, 2).join(' > ');

/** Operations whose spec section shows a response but no request example: the request its heading names. */
const IMPLIED_REQUESTS: Readonly<Record<string, string>> = {
  'Alarm Definitions > Get Alarm Definition': 'GET /v2.0/alarm-definitions/f9935bcc-9641-4cbf-8224-0993a947ea83',
  'Alarms > List Alarms State History': 'GET /v2.0/alarms/state-history',
  'Alarms > Get Alarm': 'GET /v2.0/alarms/f9935bcc-9641-4cbf-8224-0993a947ea83',
};

/**
 * Keys we answer with that an example leaves out. Each is in the spec's field list for that
 * response ("actions_enabled (boolean)"), only its example omits it.
 */
const EXTRA_KEYS: Readonly<Record<string, readonly string[]>> = {
  'Alarm Definitions > Create Alarm Definition': ['actions_enabled'],
  'Alarm Definitions > Update Alarm Definition': ['actions_enabled'],
  'Alarm Definitions > Patch Alarm Definition': ['actions_enabled'],
};

const EXAMPLE_METHOD_IDS = ['35cc6f1c-3a29-49fb-a6fc-d9d97d190508', 'c60ec47e-5038-4bf1-9f95-4046c6e9a759'];
/** The state-history examples speak of this alarm; every other alarm id is the one without history. */
const EXAMPLE_ALARM_WITH_HISTORY = '37d1ddf0-d7e3-4fc0-979b-25ac3779d9e0';

interface Ids {
  readonly method: string;
  readonly definition: string;
  readonly alarm: string;
  readonly alarmWithHistory: string;
}

/** Method, path and body of a request example, with the example's ids replaced by real ones. */
function requestOf(text: string, ids: Ids): { method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'; url: string; body?: unknown } {
  const [first = '', ...rest] = text.split('\n');
  const match = /^(GET|POST|PUT|PATCH|DELETE)\s+(.*?)(?:\s+HTTP\/1\.1)?\s*$/.exec(first.trim());
  if (match === null) throw new Error(`not a request line: ${first}`);
  const target = new URL(match[2] ?? '', 'http://example');
  const path = (target.pathname + target.search).replace(/\/(alarm-definitions|alarms|notification-methods)\/([0-9a-f-]{36})/, (_all, kind: string, id: string) => {
    const real = kind === 'alarm-definitions' ? ids.definition : kind === 'notification-methods' ? ids.method : id === EXAMPLE_ALARM_WITH_HISTORY ? ids.alarmWithHistory : ids.alarm;
    return `/${kind}/${real}`;
  });
  const bodyStart = rest.findIndex((line) => line.trim().startsWith('{'));
  if (bodyStart < 0) return { method: match[1] as 'GET', url: path };
  let body = rest.slice(bodyStart).join('\n');
  for (const id of EXAMPLE_METHOD_IDS) body = body.replaceAll(id, ids.method);
  return { method: match[1] as 'POST', url: path, body: JSON.parse(body) as unknown };
}

/**
 * Every key path of a JSON value, arrays as `[]`. Dimensions are data (their keys are
 * dimension names), and counts are rows, so neither is walked into.
 */
function keyPaths(value: unknown, prefix = '', out = new Set<string>()): Set<string> {
  if (Array.isArray(value)) {
    for (const item of value) keyPaths(item, `${prefix}[]`, out);
  } else if (value !== null && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) {
      const path = prefix === '' ? key : `${prefix}.${key}`;
      out.add(path);
      if (key !== 'dimensions' && key !== 'counts') keyPaths(child, path, out);
    }
  }
  return out;
}

const lastKey = (path: string) => path.split('.').pop()?.replace(/\[\]$/, '') ?? path;

const operations = [...new Set(examples.filter((e) => e.kind !== 'other').map(operationOf))];

describe('Monasca API spec examples for alarms, alarm definitions and notification methods', () => {
  let h: ApiHarness;
  let ids: Ids;

  beforeEach(async () => {
    h = await startApiHarness('2b8882ba2ec44295bf300aecb2caa4f7:tenant-spec:monasca-user');
    const method = (await h.send('POST', '2b8882ba2ec44295bf300aecb2caa4f7', '/v2.0/notification-methods', { name: 'hounds', type: 'EMAIL', address: 'ops@example.com' })).json<{ id: string }>().id;
    const definition = await h.send('POST', '2b8882ba2ec44295bf300aecb2caa4f7', '/v2.0/alarm-definitions', {
      name: 'CPU percent greater than 10',
      description: 'Release the hounds',
      expression: '(avg(cpu.user_perc{hostname=devstack}) > 10)',
      match_by: ['hostname'],
      severity: 'CRITICAL',
      alarm_actions: [method],
      ok_actions: [method],
      undetermined_actions: [method],
    });
    const definitionId = definition.json<{ id: string }>().id;
    const metrics = [{ name: 'cpu.system_perc', dimensions: { hostname: 'devstack' } }];
    const alarm = await seedAlarm(h.alarmStore, { tenantId: 'tenant-spec', definitionId, metrics, state: 'UNDETERMINED', atMs: Date.UTC(2015, 2, 20, 21, 3, 34) });
    const withHistory = await seedAlarm(h.alarmStore, { tenantId: 'tenant-spec', definitionId, metrics, state: 'OK', atMs: Date.UTC(2015, 1, 20, 16, 50, 7) });
    ids = { method, definition: definitionId, alarm: alarm.id, alarmWithHistory: withHistory.id };
  });
  afterEach(async () => {
    await h.close();
  });

  it('has the examples of every alarm, definition and notification-method operation', () => {
    expect(operations).toHaveLength(21);
    expect(examples.filter((e) => e.kind === 'request')).toHaveLength(19);
    expect(examples.filter((e) => e.kind === 'response')).toHaveLength(18);
  });

  it.each(operations)('%s', async (operation) => {
    const requests = examples.filter((e) => operationOf(e) === operation && e.kind === 'request').map((e) => e.text);
    const implied = IMPLIED_REQUESTS[operation];
    if (requests.length === 0 && implied !== undefined) requests.push(implied);
    expect(requests.length, `no request for ${operation}`).toBeGreaterThan(0);
    const response = examples.find((e) => operationOf(e) === operation && e.kind === 'response');

    for (const text of requests) {
      const { method, url, body } = requestOf(text, ids);
      const res = await h.send(method, '2b8882ba2ec44295bf300aecb2caa4f7', url, body);
      expect(res.statusCode, `${method} ${url}: ${res.body}`).toBe(method === 'POST' ? 201 : method === 'DELETE' ? 204 : 200);
      // The spec's two create examples share a name: the first is removed so that the second is not a 409.
      if (method === 'POST' && url === '/v2.0/alarm-definitions') await h.send('DELETE', '2b8882ba2ec44295bf300aecb2caa4f7', `/v2.0/alarm-definitions/${res.json<{ id: string }>().id}`);
      if (response === undefined) continue;

      const ours = keyPaths(res.json());
      const extra = EXTRA_KEYS[operation] ?? [];
      if (response.json !== undefined && response.json !== null) {
        // The example parses: the same key paths, nested objects and array elements included.
        const theirs = keyPaths(response.json);
        expect([...theirs].filter((p) => !ours.has(p)), 'keys of the example we do not answer with').toEqual([]);
        expect([...ours].filter((p) => !theirs.has(p) && !extra.includes(lastKey(p))), 'keys we answer with that the example lacks').toEqual([]);
      } else {
        // The example is not valid JSON as the spec writes it (a missing comma, a bare string): compare key names.
        const withoutDimensions = response.text.replace(/"dimensions"\s*:\s*\{[^}]*\}/g, '"dimensions": {}');
        const theirs = new Set([...withoutDimensions.matchAll(/"([A-Za-z_]+)"\s*:/g)].map((m) => m[1] ?? ''));
        const ourNames = new Set([...ours].map(lastKey));
        expect([...theirs].filter((k) => !ourNames.has(k))).toEqual([]);
        expect([...ourNames].filter((k) => !theirs.has(k) && !extra.includes(k))).toEqual([]);
      }
    }
  });
});
