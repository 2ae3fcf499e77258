import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiHarness, type ApiHarness } from './apiHarness.testkit.js';

/**
 * Whatever a client sends to the alarm routes, the answer is a 2xx or a 4xx with Monasca's
 * error body, never a 5xx: random query parameters (the routes' own names, any values) and
 * random JSON bodies on every route.
 */
const ROUTES: readonly (readonly ['GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', string])[] = [
  ['GET', '/v2.0/alarm-definitions'],
  ['POST', '/v2.0/alarm-definitions'],
  ['GET', '/v2.0/alarm-definitions/ID'],
  ['PUT', '/v2.0/alarm-definitions/ID'],
  ['PATCH', '/v2.0/alarm-definitions/ID'],
  ['DELETE', '/v2.0/alarm-definitions/ID'],
  ['GET', '/v2.0/alarms'],
  ['GET', '/v2.0/alarms/count'],
  ['GET', '/v2.0/alarms/state-history'],
  ['GET', '/v2.0/alarms/ID'],
  ['GET', '/v2.0/alarms/ID/state-history'],
  ['PUT', '/v2.0/alarms/ID'],
  ['PATCH', '/v2.0/alarms/ID'],
  ['DELETE', '/v2.0/alarms/ID'],
  ['GET', '/v2.0/notification-methods'],
  ['POST', '/v2.0/notification-methods'],
  ['GET', '/v2.0/notification-methods/types'],
  ['GET', '/v2.0/notification-methods/ID'],
  ['PUT', '/v2.0/notification-methods/ID'],
  ['PATCH', '/v2.0/notification-methods/ID'],
  ['DELETE', '/v2.0/notification-methods/ID'],
];

const PARAMETERS = [
  'name',
  'dimensions',
  'severity',
  'sort_by',
  'offset',
  'limit',
  'alarm_definition_id',
  'metric_name',
  'metric_dimensions',
  'state',
  'lifecycle_state',
  'link',
  'state_updated_start_time',
  'group_by',
  'start_time',
  'end_time',
];

/** Values near what the parsers read: separators, pipes, sort words, numbers, instants. */
const value = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom('', ',', ':', '|', 'a:b|c,d', 'name desc', 'severity asc,id', 'LOW|HIGH', 'OK|ALARM', '-1', '0', '1e309', '99999999999999999999', '2026-01-01T00:00:00Z', 'state,name'),
);
const body = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.record(
    {
      name: fc.oneof(fc.string({ maxLength: 300 }), fc.jsonValue({ maxDepth: 1 })),
      expression: fc.oneof(fc.constantFrom('avg(cpu) > 1', 'avg(cpu{a=b}, 120) > 1 times 2 and max(x) < 3', '((((', 'avg(x) > 1e400'), fc.string({ maxLength: 80 })),
      match_by: fc.oneof(fc.array(fc.string({ maxLength: 20 }), { maxLength: 3 }), fc.jsonValue({ maxDepth: 1 })),
      severity: fc.oneof(fc.constantFrom('LOW', 'critical', 'BAD'), fc.jsonValue({ maxDepth: 1 })),
      alarm_actions: fc.oneof(fc.array(fc.string({ maxLength: 60 }), { maxLength: 3 }), fc.jsonValue({ maxDepth: 1 })),
      type: fc.oneof(fc.constantFrom('EMAIL', 'webhook', 'PAGERDUTY', 'SLACK', 'X'), fc.jsonValue({ maxDepth: 1 })),
      address: fc.oneof(fc.constantFrom('a@example.org', 'https://example.com/x', 'http://[::1]/', 'ftp://x', 'http://'), fc.string({ maxLength: 60 })),
      period: fc.oneof(fc.integer(), fc.double(), fc.string({ maxLength: 5 })),
      state: fc.oneof(fc.constantFrom('OK', 'alarm', 'nope'), fc.jsonValue({ maxDepth: 1 })),
      lifecycle_state: fc.oneof(fc.string({ maxLength: 60 }), fc.constant(null), fc.jsonValue({ maxDepth: 1 })),
      link: fc.oneof(fc.string({ maxLength: 60 }), fc.constant(null)),
      actions_enabled: fc.jsonValue({ maxDepth: 1 }),
    },
    { requiredKeys: [] },
  ),
);

describe('hostile input to the alarm API', () => {
  let h: ApiHarness;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    h = await startApiHarness('tok:tenant-x:monasca-user');
    ids['notification-methods'] = (await h.send('POST', 'tok', '/v2.0/notification-methods', { name: 'm', type: 'EMAIL', address: 'a@example.org' })).json<{ id: string }>().id;
    ids['alarm-definitions'] = (await h.send('POST', 'tok', '/v2.0/alarm-definitions', { name: 'd', expression: 'avg(cpu{a=b}, 120) > 1 times 2 and max(x) < 3' })).json<{ id: string }>().id;
  });
  afterAll(async () => {
    await h.close();
  });

  it('never answers with a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ROUTES),
        fc.dictionary(fc.constantFrom(...PARAMETERS), value, { maxKeys: 4 }),
        body,
        fc.boolean(),
        async ([method, path], query, payload, knownId) => {
          const resource = path.split('/')[2] ?? '';
          const url = `${path.replace('ID', knownId ? (ids[resource] ?? 'x') : 'x')}?${new URLSearchParams(query).toString()}`;
          const res = await h.send(method, 'tok', url, method === 'GET' || method === 'DELETE' ? undefined : payload);
          expect(res.statusCode, `${method} ${url} ${JSON.stringify(payload)}: ${res.body}`).toBeLessThan(500);
          if (res.statusCode >= 400) expect(res.json()).toMatchObject({ title: expect.any(String) as string, description: expect.any(String) as string });
        },
      ),
      { numRuns: 400 },
    );
  }, 120_000);
});
