import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startApiHarness, type ApiHarness } from './apiHarness.testkit.js';

const TOKENS = 'tok-a:tenant-a:monasca-user,tok-b:tenant-b:monasca-user,tok-ro:tenant-a:monasca-read-only-user';
const DEFINITION_KEYS = [
  'actions_enabled',
  'alarm_actions',
  'description',
  'deterministic',
  'expression',
  'expression_data',
  'id',
  'links',
  'match_by',
  'name',
  'ok_actions',
  'severity',
  'undetermined_actions',
];

interface Definition {
  id: string;
  name: string;
  description: string;
  expression: string;
  deterministic: boolean;
  expression_data: unknown;
  match_by: string[];
  severity: string;
  actions_enabled: boolean;
  alarm_actions: string[];
  ok_actions: string[];
  undetermined_actions: string[];
  links: { rel: string; href: string }[];
}
interface List<T> {
  links: { rel: string; href: string }[];
  elements: T[];
}

describe('alarm-definitions API', () => {
  let h: ApiHarness;
  let methodA: string;
  let methodB: string;

  beforeEach(async () => {
    h = await startApiHarness(TOKENS);
    methodA = (await h.send('POST', 'tok-a', '/v2.0/notification-methods', { name: 'ops', type: 'EMAIL', address: 'ops@example.com' })).json<{ id: string }>().id;
    methodB = (await h.send('POST', 'tok-b', '/v2.0/notification-methods', { name: 'ops', type: 'EMAIL', address: 'ops@example.com' })).json<{ id: string }>().id;
  });
  afterEach(async () => {
    await h.close();
  });

  const create = async (token: string, body: Record<string, unknown>) => {
    const res = await h.send('POST', token, '/v2.0/alarm-definitions', body);
    expect(res.statusCode, res.body).toBe(201);
    return res.json<Definition>();
  };
  const cpu = (name: string, extra: Record<string, unknown> = {}) => ({ name, expression: 'avg(cpu.user_perc{hostname=devstack}) > 10', ...extra });
  const names = (res: { json: <T>() => T }) => res.json<List<Definition>>().elements.map((d) => d.name);

  it('creates a definition in Monasca shape, with the spec defaults', async () => {
    const created = await create('tok-a', {
      name: 'Average CPU percent greater than 10',
      description: 'The average CPU percent is greater than 10',
      expression: '(avg(cpu.user_perc{hostname=devstack}) > 10)',
      match_by: ['hostname'],
      alarm_actions: [methodA],
      ok_actions: [methodA],
      undetermined_actions: [methodA],
    });
    expect(Object.keys(created).sort()).toEqual(DEFINITION_KEYS);
    expect(created).toMatchObject({
      name: 'Average CPU percent greater than 10',
      expression: '(avg(cpu.user_perc{hostname=devstack}) > 10)',
      deterministic: false,
      expression_data: { function: 'AVG', metric_name: 'cpu.user_perc', dimensions: { hostname: 'devstack' }, operator: 'GT', threshold: 10, period: 60, periods: 1 },
      match_by: ['hostname'],
      severity: 'LOW',
      actions_enabled: true,
      alarm_actions: [methodA],
    });
    expect(created.links).toEqual([{ rel: 'self', href: `http://localhost/v2.0/alarm-definitions/${created.id}` }]);
    const bare = await create('tok-a', cpu('bare'));
    expect(bare).toMatchObject({ description: '', match_by: [], alarm_actions: [], ok_actions: [], undetermined_actions: [], severity: 'LOW' });
    expect((await h.get('tok-a', `/v2.0/alarm-definitions/${created.id}`)).json()).toEqual(created);
  });

  it.each([
    ['deterministic', 'count(log.error{component=mysql}, deterministic) >= 1', true],
    ['all sub-expressions deterministic', 'avg(disk{h=a}, deterministic) >= 99 and count(log.error{h=a}, deterministic) >= 1', true],
    ['one sub-expression not deterministic', 'count(log.error{}, deterministic) > 1 or avg(cpu.user_perc{}) > 10', false],
  ])('computes deterministic: %s', async (_name, expression, deterministic) => {
    expect((await create('tok-a', { name: 'd', expression })).deterministic).toBe(deterministic);
  });

  it('shows a compound expression as its tree in expression_data', async () => {
    const created = await create('tok-a', { name: 'c', expression: 'avg(a) > 1 or (max(b{x=y}, 120) < 2 times 3 and min(c) > 0)' });
    expect(created.expression_data).toEqual({
      operator: 'OR',
      operands: [
        { function: 'AVG', metric_name: 'a', dimensions: {}, operator: 'GT', threshold: 1, period: 60, periods: 1 },
        {
          operator: 'AND',
          operands: [
            { function: 'MAX', metric_name: 'b', dimensions: { x: 'y' }, operator: 'LT', threshold: 2, period: 120, periods: 3 },
            { function: 'MIN', metric_name: 'c', dimensions: {}, operator: 'GT', threshold: 0, period: 60, periods: 1 },
          ],
        },
      ],
    });
  });

  it('takes severity in any case and stores it upper-case', async () => {
    expect((await create('tok-a', cpu('s', { severity: 'critical' }))).severity).toBe('CRITICAL');
  });

  it('names the position and token of a bad expression', async () => {
    const res = await h.send('POST', 'tok-a', '/v2.0/alarm-definitions', { name: 'bad', expression: 'avg(cpu.user_perc > 10' });
    expect(res.statusCode).toBe(422);
    const { description } = res.json<{ description: string }>();
    expect(description).toMatch(/offset 18/);
    expect(description).toMatch(/column 19/);
    expect(description).toContain("'>'");
    const period = await h.send('POST', 'tok-a', '/v2.0/alarm-definitions', { name: 'bad', expression: 'avg(cpu, 30) > 1' });
    expect(period.statusCode).toBe(422);
    expect(period.json<{ description: string }>().description).toMatch(/period 30.*column 10/);
  });

  it.each([
    ['no name', { expression: 'avg(a) > 1' }, /name/],
    ['no expression', { name: 'n' }, /expression/],
    ['an empty name', { name: '', expression: 'avg(a) > 1' }, /name/],
    ['a name of 256 characters', cpu('n'.repeat(256)), /name/],
    ['a description of 256 characters', cpu('n', { description: 'd'.repeat(256) }), /description/],
    ['an invalid severity', cpu('n', { severity: 'BAD' }), /severity must be one of LOW, MEDIUM, HIGH, CRITICAL/],
    ['an alarm action id over 50 characters', cpu('n', { alarm_actions: ['a'.repeat(51)] }), /alarm_actions/],
    ['an ok action id over 50 characters', cpu('n', { ok_actions: ['a'.repeat(51)] }), /ok_actions/],
    ['an undetermined action id over 50 characters', cpu('n', { undetermined_actions: ['a'.repeat(51)] }), /undetermined_actions/],
    ['an action that is no notification method', cpu('n', { alarm_actions: ['c60ec47e-5038-4bf1-9f95-4046c6e9a759'] }), /alarm_actions.*not a notification method/],
    ['a match_by with a restricted character', cpu('n', { match_by: ['host{name'] }), /match_by/],
    ['a match_by key twice', cpu('n', { match_by: ['hostname', 'hostname'] }), /twice/],
    ['actions that are not a list', cpu('n', { alarm_actions: 'x' }), /alarm_actions/],
    ['a restricted character in a metric name', cpu('n', { expression: 'avg(cpu;user) > 10' }), /sub-expression 1: metric name "cpu;user" has a restricted character/],
    ['a restricted character in a dimension', cpu('n', { expression: 'avg(a) > 1 or avg(cpu{host;x=a}) > 10' }), /sub-expression 2: dimension name/],
  ])('refuses %s with 422', async (_name, body, message) => {
    const res = await h.send('POST', 'tok-a', '/v2.0/alarm-definitions', body);
    expect(res.statusCode, res.body).toBe(422);
    expect(res.json<{ description: string }>().description).toMatch(message);
    expect(h.counters.total('kansoku_api_errors_total')).toBe(1);
  });

  it('refuses another tenant’s notification method as an action, and bad JSON with 400', async () => {
    const res = await h.send('POST', 'tok-a', '/v2.0/alarm-definitions', cpu('n', { ok_actions: [methodB] }));
    expect(res.statusCode).toBe(422);
    expect(res.json<{ description: string }>().description).toMatch(/ok_actions/);
    expect((await h.send('POST', 'tok-a', '/v2.0/alarm-definitions', '{"name":')).statusCode).toBe(400);
  });

  it('refuses a second definition of the same name in a tenant (409) but not in another', async () => {
    await create('tok-a', cpu('same'));
    const again = await h.send('POST', 'tok-a', '/v2.0/alarm-definitions', cpu('same'));
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ title: 'Conflict' });
    await create('tok-b', cpu('same'));
    const other = await create('tok-a', cpu('other'));
    expect((await h.send('PATCH', 'tok-a', `/v2.0/alarm-definitions/${other.id}`, { name: 'same' })).statusCode).toBe(409);
  });

  it('lists with name, dimensions and severity filters', async () => {
    await create('tok-a', { name: 'cpu-dev', expression: 'avg(cpu{hostname=devstack, service=web}) > 1', severity: 'LOW' });
    await create('tok-a', { name: 'cpu-prod', expression: 'avg(cpu{hostname=prod}) > 1', severity: 'HIGH' });
    await create('tok-a', { name: 'mem', expression: 'avg(mem) > 1', severity: 'CRITICAL' });
    const base = '/v2.0/alarm-definitions';
    expect(names(await h.get('tok-a', `${base}?sort_by=name`))).toEqual(['cpu-dev', 'cpu-prod', 'mem']);
    expect(names(await h.get('tok-a', `${base}?name=cpu-prod`))).toEqual(['cpu-prod']);
    expect(names(await h.get('tok-a', `${base}?dimensions=hostname:devstack`))).toEqual(['cpu-dev']);
    expect(names(await h.get('tok-a', `${base}?dimensions=hostname&sort_by=name`))).toEqual(['cpu-dev', 'cpu-prod']);
    expect(names(await h.get('tok-a', `${base}?dimensions=hostname:devstack|prod,service:web`))).toEqual(['cpu-dev']);
    expect(names(await h.get('tok-a', `${base}?severity=LOW|critical&sort_by=name`))).toEqual(['cpu-dev', 'mem']);
    expect(names(await h.get('tok-a', `${base}?sort_by=severity%20desc`))).toEqual(['mem', 'cpu-prod', 'cpu-dev']);
    expect(names(await h.get('tok-a', `${base}?sort_by=severity,name%20desc`))).toEqual(['cpu-dev', 'cpu-prod', 'mem']);
    expect(names(await h.get('tok-b', base))).toEqual([]);
  });

  it.each([
    ['an invalid severity', 'severity=LOW|BAD', /severity/],
    ['an unknown sort field', 'sort_by=expression', /sort_by/],
    ['bad dimension syntax', 'dimensions=host%7Bx:a', /dimensions/],
    ['a dimension key over 255 characters', `dimensions=${'k'.repeat(256)}:v`, /dimensions/],
    ['a word offset', 'offset=next', /offset/],
  ])('refuses a list with %s (422)', async (_name, query, message) => {
    const res = await h.get('tok-a', `/v2.0/alarm-definitions?${query}`);
    expect(res.statusCode).toBe(422);
    expect(res.json<{ description: string }>().description).toMatch(message);
  });

  it('pages with offset and limit, next links carrying the other parameters', async () => {
    for (let i = 0; i < 5; i++) await create('tok-a', cpu(`d${i}`));
    const first = (await h.get('tok-a', '/v2.0/alarm-definitions?limit=2&sort_by=name')).json<List<Definition>>();
    expect(first.elements.map((d) => d.name)).toEqual(['d0', 'd1']);
    const next = first.links.find((l) => l.rel === 'next');
    expect(next?.href).toBe('http://localhost/v2.0/alarm-definitions?limit=2&sort_by=name&offset=2');
    const last = (await h.get('tok-a', '/v2.0/alarm-definitions?limit=2&sort_by=name&offset=4')).json<List<Definition>>();
    expect(last.elements.map((d) => d.name)).toEqual(['d4']);
    expect(last.links.map((l) => l.rel)).toEqual(['self']);
  });

  describe('changing a definition', () => {
    let def: Definition;
    let url: string;
    const full = (overrides: Record<string, unknown> = {}) => ({
      name: 'CPU percent greater than 15',
      description: 'Release the hounds',
      expression: '(avg(cpu.user_perc{hostname=devstack}) > 15)',
      match_by: ['hostname'],
      severity: 'LOW',
      alarm_actions: [methodA],
      ok_actions: [methodA],
      undetermined_actions: [methodA],
      actions_enabled: true,
      ...overrides,
    });
    beforeEach(async () => {
      def = await create('tok-a', cpu('CPU percent greater than 10', { match_by: ['hostname'], description: 'old' }));
      url = `/v2.0/alarm-definitions/${def.id}`;
    });

    it('replaces every field with PUT', async () => {
      const res = await h.send('PUT', 'tok-a', url, full({ actions_enabled: false, severity: 'HIGH' }));
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({ id: def.id, name: 'CPU percent greater than 15', description: 'Release the hounds', severity: 'HIGH', actions_enabled: false, ok_actions: [methodA] });
      expect(res.json<Definition>().expression_data).toMatchObject({ threshold: 15 });
      expect((await h.get('tok-a', url)).json()).toEqual(res.json());
    });

    it.each([
      ['ok_actions', 'ok_actions'],
      ['actions_enabled', 'actions_enabled'],
      ['match_by', 'match_by'],
      ['description', 'description'],
    ])('refuses a PUT without %s (422)', async (_name, field) => {
      const body: Record<string, unknown> = full();
      delete body[field];
      const res = await h.send('PUT', 'tok-a', url, body);
      expect(res.statusCode).toBe(422);
      expect(res.json<{ description: string }>().description).toContain(field);
    });

    it('patches only the fields given', async () => {
      const res = await h.send('PATCH', 'tok-a', url, { severity: 'MEDIUM', alarm_actions: [methodA] });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ name: def.name, description: 'old', severity: 'MEDIUM', alarm_actions: [methodA], ok_actions: [], match_by: ['hostname'] });
      expect((await h.send('PATCH', 'tok-a', url, { match_by: ['hostname'] })).statusCode).toBe(200);
    });

    it.each([
      ['PUT', 'a different match_by', () => full({ match_by: ['device'] }), /match_by/],
      ['PATCH', 'a different match_by', () => ({ match_by: ['hostname', 'device'] }), /match_by/],
      ['PATCH', 'an empty match_by', () => ({ match_by: [] }), /match_by/],
      ['PATCH', 'another metric', () => ({ expression: 'avg(cpu.system_perc{hostname=devstack}) > 10' }), /metrics of sub-expressions cannot change/],
      ['PATCH', 'other dimensions', () => ({ expression: 'avg(cpu.user_perc{hostname=prod}) > 10' }), /metrics/],
      ['PATCH', 'another sub-expression', () => ({ expression: 'avg(cpu.user_perc{hostname=devstack}) > 10 or avg(x) > 1' }), /number of sub-expressions/],
      ['PATCH', 'invalid actions', () => ({ alarm_actions: ['nope'] }), /alarm_actions/],
      ['PATCH', 'another tenant’s method', () => ({ undetermined_actions: [methodB] }), /undetermined_actions/],
    ])('refuses a %s with %s (422)', async (method, _name, body, message) => {
      const res = await h.send(method as 'PUT' | 'PATCH', 'tok-a', url, body());
      expect(res.statusCode, res.body).toBe(422);
      expect(res.json<{ description: string }>().description).toMatch(message);
    });

    it('lets function, operator, threshold, period and periods change', async () => {
      const res = await h.send('PATCH', 'tok-a', url, { expression: 'max(cpu.user_perc{hostname=devstack}, 120) <= 3 times 2' });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json<Definition>().expression_data).toEqual({ function: 'MAX', metric_name: 'cpu.user_perc', dimensions: { hostname: 'devstack' }, operator: 'LTE', threshold: 3, period: 120, periods: 2 });
    });

    it('deletes the definition with its alarms', async () => {
      expect((await h.send('DELETE', 'tok-a', url)).statusCode).toBe(204);
      expect((await h.get('tok-a', url)).statusCode).toBe(404);
      expect((await h.send('DELETE', 'tok-a', url)).statusCode).toBe(404);
      expect((await h.send('PATCH', 'tok-a', url, { name: 'x' })).statusCode).toBe(404);
      expect((await h.send('PUT', 'tok-a', url, full())).statusCode).toBe(404);
    });

    it('keeps tenants apart: B cannot see, change or delete A’s definition', async () => {
      expect((await h.get('tok-b', url)).statusCode).toBe(404);
      expect((await h.send('PUT', 'tok-b', url, full({ alarm_actions: [], ok_actions: [], undetermined_actions: [] }))).statusCode).toBe(404);
      expect((await h.send('PATCH', 'tok-b', url, { name: 'mine' })).statusCode).toBe(404);
      expect((await h.send('DELETE', 'tok-b', url)).statusCode).toBe(404);
      expect(names(await h.get('tok-b', '/v2.0/alarm-definitions'))).toEqual([]);
      expect((await h.get('tok-a', url)).json()).toMatchObject({ name: def.name });
    });

    it('lets the read-only role read but not change', async () => {
      expect((await h.get('tok-ro', url)).statusCode).toBe(200);
      expect((await h.send('PATCH', 'tok-ro', url, { name: 'x' })).statusCode).toBe(403);
      expect((await h.send('DELETE', 'tok-ro', url)).statusCode).toBe(403);
      expect((await h.send('POST', 'tok-ro', '/v2.0/alarm-definitions', cpu('ro'))).statusCode).toBe(403);
    });
  });
});
