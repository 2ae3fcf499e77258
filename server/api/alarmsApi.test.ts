import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AlarmState } from '../../alerting/alarmState.js';
import type { AlarmRecord } from '../../alerting/store/alarmStore.js';
import type { MetricDefinition } from '../../core/query.js';
import { seedAlarm } from './alarmSeed.testkit.js';
import { startApiHarness, type ApiHarness } from './apiHarness.testkit.js';

const TOKENS = 'tok-a:tenant-a:monasca-user,tok-b:tenant-b:monasca-user,tok-ro:tenant-a:monasca-read-only-user';
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const ALARM_KEYS = ['alarm_definition', 'created_timestamp', 'id', 'lifecycle_state', 'link', 'links', 'metrics', 'state', 'state_updated_timestamp', 'updated_timestamp'];
const UPDATED_ALARM_KEYS = ['alarm_definition_id', 'created_timestamp', 'id', 'lifecycle_state', 'link', 'links', 'metrics', 'state', 'state_updated_timestamp', 'updated_timestamp'];
const HISTORY_KEYS = ['alarm_id', 'id', 'metrics', 'new_state', 'old_state', 'reason', 'reason_data', 'sub_alarms', 'timestamp'];

interface Alarm {
  id: string;
  links: { rel: string; href: string }[];
  alarm_definition: { id: string; name: string; severity: string };
  metrics: MetricDefinition[];
  state: string;
  lifecycle_state: string | null;
  link: string | null;
  state_updated_timestamp: string;
}
interface History {
  id: string;
  alarm_id: string;
  old_state: string;
  new_state: string;
  reason: string;
  timestamp: string;
  metrics: { id: null; name: string; dimensions: Record<string, string> }[];
  sub_alarms: { sub_alarm_expression: unknown; sub_alarm_state: string; current_values: number[] }[];
}
interface List<T> {
  links: { rel: string; href: string }[];
  elements: T[];
}

describe('alarms API', () => {
  let h: ApiHarness;
  beforeEach(async () => {
    h = await startApiHarness(TOKENS);
  });
  afterEach(async () => {
    await h.close();
  });

  const defineAlarm = async (token: string, name: string, expression: string, severity = 'LOW') => {
    const res = await h.send('POST', token, '/v2.0/alarm-definitions', { name, expression, severity, match_by: ['hostname'] });
    expect(res.statusCode, res.body).toBe(201);
    return res.json<{ id: string; expression: string }>();
  };

  const seed = (tenantId: string, definitionId: string, metrics: readonly MetricDefinition[], state: AlarmState, atMs: number, extra: Partial<AlarmRecord> = {}) =>
    seedAlarm(h.alarmStore, { tenantId, definitionId, metrics, state, atMs, extra });

  const host = (hostname: string, name = 'cpu.user_perc', extra: Record<string, string> = {}): MetricDefinition => ({ name, dimensions: { hostname, ...extra } });
  const ids = (res: { json: <T>() => T }) => res.json<List<Alarm>>().elements.map((a) => a.id);

  describe('with alarms of two definitions and two tenants', () => {
    let cpuDef: { id: string };
    let memDef: { id: string };
    let a1: AlarmRecord;
    let a2: AlarmRecord;
    let a3: AlarmRecord;
    let b1: AlarmRecord;

    beforeEach(async () => {
      cpuDef = await defineAlarm('tok-a', 'high cpu', 'avg(cpu.user_perc) > 10', 'HIGH');
      memDef = await defineAlarm('tok-a', 'low mem', 'avg(mem.free_mb) < 100', 'LOW');
      const bDef = await defineAlarm('tok-b', 'high cpu', 'avg(cpu.user_perc) > 10', 'HIGH');
      a1 = await seed('tenant-a', cpuDef.id, [host('h1', 'cpu.user_perc', { service: 'web' })], 'ALARM', T0);
      a2 = await seed('tenant-a', cpuDef.id, [host('h2', 'cpu.user_perc', { service: 'db' })], 'OK', T0 + 60_000, { lifecycleState: 'OPEN', link: 'http://tickets/2' });
      a3 = await seed('tenant-a', memDef.id, [host('h1', 'mem.free_mb')], 'UNDETERMINED', T0 + 120_000);
      b1 = await seed('tenant-b', bDef.id, [host('h1', 'cpu.user_perc', { service: 'web' })], 'ALARM', T0);
    });

    it('lists the tenant’s alarms in Monasca shape', async () => {
      const res = await h.get('tok-a', '/v2.0/alarms?sort_by=created_timestamp');
      expect(res.statusCode).toBe(200);
      const body = res.json<List<Alarm>>();
      expect(body.elements.map((a) => a.id)).toEqual([a1.id, a2.id, a3.id]);
      const first = body.elements[0] as Alarm;
      expect(Object.keys(first).sort()).toEqual(ALARM_KEYS);
      expect(first).toEqual({
        id: a1.id,
        links: [
          { rel: 'self', href: `http://localhost/v2.0/alarms/${a1.id}` },
          { rel: 'state-history', href: `http://localhost/v2.0/alarms/${a1.id}/state-history` },
        ],
        alarm_definition: { id: cpuDef.id, name: 'high cpu', severity: 'HIGH', links: [{ rel: 'self', href: `http://localhost/v2.0/alarm-definitions/${cpuDef.id}` }] },
        metrics: [{ name: 'cpu.user_perc', dimensions: { hostname: 'h1', service: 'web' } }],
        state: 'ALARM',
        lifecycle_state: null,
        link: null,
        state_updated_timestamp: '2026-01-01T12:00:00.000Z',
        updated_timestamp: '2026-01-01T12:00:00.000Z',
        created_timestamp: '2026-01-01T12:00:00.000Z',
      });
      expect((await h.get('tok-a', `/v2.0/alarms/${a1.id}`)).json()).toEqual(first);
    });

    it.each([
      ['alarm_definition_id', () => `alarm_definition_id=${memDef.id}`, () => [a3.id]],
      ['metric_name', () => 'metric_name=cpu.user_perc', () => [a1.id, a2.id]],
      ['metric_dimensions', () => 'metric_dimensions=hostname:h1', () => [a1.id, a3.id]],
      ['metric_dimensions with several values', () => 'metric_dimensions=service:web|db', () => [a1.id, a2.id]],
      ['metric_dimensions with a bare key', () => 'metric_dimensions=service', () => [a1.id, a2.id]],
      ['metric name and dimensions', () => 'metric_name=mem.free_mb&metric_dimensions=hostname:h1', () => [a3.id]],
      ['state', () => 'state=alarm', () => [a1.id]],
      ['several states', () => 'state=OK|UNDETERMINED', () => [a2.id, a3.id]],
      ['severity', () => 'severity=LOW', () => [a3.id]],
      ['several severities', () => 'severity=LOW|HIGH', () => [a1.id, a2.id, a3.id]],
      ['lifecycle_state', () => 'lifecycle_state=OPEN', () => [a2.id]],
      ['link', () => `link=${encodeURIComponent('http://tickets/2')}`, () => [a2.id]],
      ['state_updated_start_time', () => 'state_updated_start_time=2026-01-01T12:01:00Z', () => [a2.id, a3.id]],
    ])('filters by %s', async (_name, query, expected) => {
      const res = await h.get('tok-a', `/v2.0/alarms?sort_by=created_timestamp&${query()}`);
      expect(res.statusCode, res.body).toBe(200);
      expect(ids(res)).toEqual(expected());
    });

    it('sorts by the spec’s fields, ascending or descending', async () => {
      expect(ids(await h.get('tok-a', '/v2.0/alarms?sort_by=state'))).toEqual([a2.id, a3.id, a1.id]);
      expect(ids(await h.get('tok-a', '/v2.0/alarms?sort_by=state%20desc'))).toEqual([a1.id, a3.id, a2.id]);
      expect(ids(await h.get('tok-a', '/v2.0/alarms?sort_by=severity%20desc,created_timestamp%20desc'))).toEqual([a2.id, a1.id, a3.id]);
      expect(ids(await h.get('tok-a', '/v2.0/alarms?sort_by=alarm_definition_name,state_updated_timestamp'))).toEqual([a1.id, a2.id, a3.id]);
    });

    it('pages with offset and limit', async () => {
      const first = (await h.get('tok-a', '/v2.0/alarms?sort_by=created_timestamp&limit=2')).json<List<Alarm>>();
      expect(first.elements.map((a) => a.id)).toEqual([a1.id, a2.id]);
      const next = first.links.find((l) => l.rel === 'next');
      expect(next?.href).toBe('http://localhost/v2.0/alarms?sort_by=created_timestamp&limit=2&offset=2');
      const second = (await h.get('tok-a', '/v2.0/alarms?sort_by=created_timestamp&limit=2&offset=2')).json<List<Alarm>>();
      expect(second.elements.map((a) => a.id)).toEqual([a3.id]);
      expect(second.links.map((l) => l.rel)).toEqual(['self']);
      expect(ids(await h.get('tok-a', '/v2.0/alarms?limit=100000000'))).toHaveLength(3);
    });

    it.each([
      ['an invalid state', 'state=BROKEN', /state/],
      ['an invalid severity', 'severity=LOW|BAD', /severity/],
      ['an unknown sort field', 'sort_by=metric_name', /sort_by/],
      ['a dimension key over 255 characters', `metric_dimensions=${'k'.repeat(256)}:v`, /dimensions/],
      ['a dimension value over 255 characters', `metric_dimensions=k:${'v'.repeat(256)}`, /dimensions/],
      ['bad dimension syntax', 'metric_dimensions=a=b', /dimensions/],
      ['a bad start time', 'state_updated_start_time=yesterday', /state_updated_start_time/],
      ['a negative offset', 'offset=-3', /offset/],
      ['a lifecycle_state over 50 characters', `lifecycle_state=${'x'.repeat(51)}`, /lifecycle_state/],
    ])('refuses a list with %s (422)', async (_name, query, message) => {
      const res = await h.get('tok-a', `/v2.0/alarms?${query}`);
      expect(res.statusCode).toBe(422);
      expect(res.json<{ description: string }>().description).toMatch(message);
    });

    it('counts in Monasca’s columns and counts shape, with group_by and filters', async () => {
      const total = await h.get('tok-a', '/v2.0/alarms/count');
      expect(total.statusCode).toBe(200);
      expect(total.json()).toEqual({ links: [{ rel: 'self', href: 'http://localhost:80/v2.0/alarms/count' }], columns: ['count'], counts: [[3]] });
      const byState = (await h.get('tok-a', '/v2.0/alarms/count?group_by=state')).json<{ columns: string[]; counts: unknown[][] }>();
      expect(byState.columns).toEqual(['count', 'state']);
      expect(byState.counts).toEqual(expect.arrayContaining([[1, 'ALARM'], [1, 'OK'], [1, 'UNDETERMINED']]));
      expect(byState.counts).toHaveLength(3);
      const grouped = (await h.get('tok-a', '/v2.0/alarms/count?group_by=name,severity&metric_name=cpu.user_perc')).json<{ columns: string[]; counts: unknown[][] }>();
      expect(grouped).toMatchObject({ columns: ['count', 'name', 'severity'], counts: [[2, 'high cpu', 'HIGH']] });
      expect((await h.get('tok-a', '/v2.0/alarms/count?state=OK')).json()).toMatchObject({ counts: [[1]] });
      expect((await h.get('tok-a', '/v2.0/alarms/count?metric_dimensions=hostname:nowhere')).json()).toMatchObject({ counts: [[0]] });
      const paged = (await h.get('tok-a', '/v2.0/alarms/count?group_by=state&limit=2')).json<{ links: { rel: string }[]; counts: unknown[][] }>();
      expect(paged.counts).toHaveLength(2);
      expect(paged.links.map((l) => l.rel)).toEqual(['self', 'next']);
      expect((await h.get('tok-a', '/v2.0/alarms/count?group_by=state&offset=2')).json<{ counts: unknown[][] }>().counts).toHaveLength(1);
    });

    it.each([
      ['a group_by field not allowed', 'group_by=state,metric', /group_by/],
      ['an invalid offset', 'offset=abc', /offset/],
      ['an invalid severity', 'severity=URGENT', /severity/],
    ])('refuses a count with %s (422)', async (_name, query, message) => {
      const res = await h.get('tok-a', `/v2.0/alarms/count?${query}`);
      expect(res.statusCode).toBe(422);
      expect(res.json<{ description: string }>().description).toMatch(message);
    });

    it('changes state with PUT, records the transition in history, and answers in the update shape', async () => {
      const res = await h.send('PUT', 'tok-a', `/v2.0/alarms/${a1.id}`, { state: 'OK', lifecycle_state: 'ACKNOWLEDGED', link: 'http://pagerduty.com/' });
      expect(res.statusCode, res.body).toBe(200);
      expect(Object.keys(res.json<object>()).sort()).toEqual(UPDATED_ALARM_KEYS);
      expect(res.json()).toMatchObject({ id: a1.id, alarm_definition_id: cpuDef.id, state: 'OK', lifecycle_state: 'ACKNOWLEDGED', link: 'http://pagerduty.com/' });
      expect(res.json<Alarm>().state_updated_timestamp).not.toBe('2026-01-01T12:00:00.000Z');
      const history = (await h.get('tok-a', `/v2.0/alarms/${a1.id}/state-history`)).json<List<History>>().elements;
      expect(history.map((e) => [e.old_state, e.new_state, e.reason])).toEqual([
        ['UNDETERMINED', 'ALARM', expect.stringMatching(/^Thresholds were exceeded/) as string],
        ['ALARM', 'OK', 'Alarm state updated via API'],
      ]);
      expect(history[1]?.sub_alarms).toEqual([
        { sub_alarm_expression: { function: 'AVG', metric_name: 'cpu.user_perc', dimensions: {}, operator: 'GT', threshold: 10, period: 60, periods: 1, deterministic: false }, sub_alarm_state: 'ALARM', current_values: [12.5] },
      ]);
      // PUT sets lifecycle_state and link to null when told to.
      const cleared = await h.send('PUT', 'tok-a', `/v2.0/alarms/${a1.id}`, { state: 'OK', lifecycle_state: null, link: null });
      expect(cleared.json()).toMatchObject({ state: 'OK', lifecycle_state: null, link: null });
      expect((await h.get('tok-a', `/v2.0/alarms/${a1.id}/state-history`)).json<List<History>>().elements).toHaveLength(2);
    });

    it('patches only the fields given', async () => {
      const res = await h.send('PATCH', 'tok-a', `/v2.0/alarms/${a2.id}`, { link: 'http://somesite.com/this-alarm-info' });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ state: 'OK', lifecycle_state: 'OPEN', link: 'http://somesite.com/this-alarm-info' });
      const state = await h.send('PATCH', 'tok-a', `/v2.0/alarms/${a2.id}`, { state: 'alarm' });
      expect(state.json()).toMatchObject({ state: 'ALARM', lifecycle_state: 'OPEN' });
      expect((await h.get('tok-a', `/v2.0/alarms/${a2.id}`)).json()).toMatchObject({ state: 'ALARM', link: 'http://somesite.com/this-alarm-info' });
    });

    it.each([
      ['PUT', 'without lifecycle_state', { state: 'OK', link: null }, /lifecycle_state/],
      ['PUT', 'without state', { lifecycle_state: null, link: null }, /state/],
      ['PATCH', 'with an invalid state', { state: 'FINE' }, /state must be one of OK, ALARM, UNDETERMINED/],
      ['PATCH', 'with a lifecycle_state over 50 characters', { lifecycle_state: 'x'.repeat(51) }, /lifecycle_state/],
      ['PATCH', 'with a link over 512 characters', { link: `http://x/${'a'.repeat(510)}` }, /link/],
      ['PATCH', 'with a number for a link', { link: ['x'] }, /link/],
    ])('refuses a %s %s (422)', async (method, _name, body, message) => {
      const res = await h.send(method as 'PUT' | 'PATCH', 'tok-a', `/v2.0/alarms/${a1.id}`, body);
      expect(res.statusCode, res.body).toBe(422);
      expect(res.json<{ description: string }>().description).toMatch(message);
    });

    it('deletes an alarm; its history stays readable', async () => {
      expect((await h.send('DELETE', 'tok-a', `/v2.0/alarms/${a1.id}`)).statusCode).toBe(204);
      expect((await h.get('tok-a', `/v2.0/alarms/${a1.id}`)).statusCode).toBe(404);
      expect((await h.send('DELETE', 'tok-a', `/v2.0/alarms/${a1.id}`)).statusCode).toBe(404);
      expect(ids(await h.get('tok-a', '/v2.0/alarms'))).not.toContain(a1.id);
      expect((await h.get('tok-a', `/v2.0/alarms/${a1.id}/state-history`)).json<List<History>>().elements).toHaveLength(1);
    });

    it('lists state history of all alarms with dimensions, start_time, end_time and paging', async () => {
      const all = (await h.get('tok-a', '/v2.0/alarms/state-history')).json<List<History>>();
      expect(all.elements.map((e) => e.alarm_id)).toEqual([a1.id, a2.id]);
      const first = all.elements[0] as History;
      expect(Object.keys(first).sort()).toEqual(HISTORY_KEYS);
      expect(first).toMatchObject({
        old_state: 'UNDETERMINED',
        new_state: 'ALARM',
        reason_data: '{}',
        timestamp: '2026-01-01T12:00:00.000Z',
        metrics: [{ id: null, name: 'cpu.user_perc', dimensions: { hostname: 'h1', service: 'web' } }],
      });
      const url = (q: string) => `/v2.0/alarms/state-history?${q}`;
      expect((await h.get('tok-a', url('dimensions=service:db'))).json<List<History>>().elements.map((e) => e.alarm_id)).toEqual([a2.id]);
      expect((await h.get('tok-a', url('start_time=2026-01-01T12:00:30Z'))).json<List<History>>().elements.map((e) => e.alarm_id)).toEqual([a2.id]);
      expect((await h.get('tok-a', url('end_time=2026-01-01T12:00:30Z'))).json<List<History>>().elements.map((e) => e.alarm_id)).toEqual([a1.id]);
      const page = (await h.get('tok-a', url('limit=1'))).json<List<History>>();
      expect(page.elements.map((e) => e.alarm_id)).toEqual([a1.id]);
      expect(page.links.find((l) => l.rel === 'next')?.href).toBe('http://localhost/v2.0/alarms/state-history?limit=1&offset=1');
      expect((await h.get('tok-a', url('limit=1&offset=1'))).json<List<History>>().elements.map((e) => e.alarm_id)).toEqual([a2.id]);
      // The CLI asks with a trailing slash.
      expect((await h.get('tok-a', '/v2.0/alarms/state-history/')).statusCode).toBe(200);
    });

    it.each([
      ['a bad start_time', 'start_time=soon', 422],
      ['an end before the start', 'start_time=2026-01-02T00:00:00Z&end_time=2026-01-01T00:00:00Z', 400],
      ['bad dimensions', 'dimensions=%7B', 422],
      ['a word offset', 'offset=1424451007004x', 422],
    ])('refuses a history list with %s', async (_name, query, status) => {
      expect((await h.get('tok-a', `/v2.0/alarms/state-history?${query}`)).statusCode).toBe(status);
    });

    it('keeps tenants apart: B cannot see, count, change or delete A’s alarms or history', async () => {
      expect(ids(await h.get('tok-b', '/v2.0/alarms'))).toEqual([b1.id]);
      expect((await h.get('tok-b', '/v2.0/alarms/count')).json()).toMatchObject({ counts: [[1]] });
      expect((await h.get('tok-b', `/v2.0/alarms/count?alarm_definition_id=${cpuDef.id}`)).json()).toMatchObject({ counts: [[0]] });
      expect(ids(await h.get('tok-b', `/v2.0/alarms?alarm_definition_id=${cpuDef.id}`))).toEqual([]);
      for (const url of [`/v2.0/alarms/${a1.id}`, `/v2.0/alarms/${a1.id}/state-history`]) expect((await h.get('tok-b', url)).statusCode).toBe(404);
      expect((await h.send('PUT', 'tok-b', `/v2.0/alarms/${a1.id}`, { state: 'OK', lifecycle_state: null, link: null })).statusCode).toBe(404);
      expect((await h.send('PATCH', 'tok-b', `/v2.0/alarms/${a1.id}`, { state: 'OK' })).statusCode).toBe(404);
      expect((await h.send('DELETE', 'tok-b', `/v2.0/alarms/${a1.id}`)).statusCode).toBe(404);
      expect((await h.get('tok-b', '/v2.0/alarms/state-history')).json<List<History>>().elements.map((e) => e.alarm_id)).toEqual([b1.id]);
      expect((await h.get('tok-a', `/v2.0/alarms/${a1.id}`)).json()).toMatchObject({ state: 'ALARM' });
    });

    it('lets the read-only role read but not change', async () => {
      expect((await h.get('tok-ro', '/v2.0/alarms')).statusCode).toBe(200);
      expect((await h.get('tok-ro', '/v2.0/alarms/count')).statusCode).toBe(200);
      expect((await h.send('PATCH', 'tok-ro', `/v2.0/alarms/${a1.id}`, { state: 'OK' })).statusCode).toBe(403);
      expect((await h.send('DELETE', 'tok-ro', `/v2.0/alarms/${a1.id}`)).statusCode).toBe(403);
    });

    it('deleting a definition deletes its alarms', async () => {
      expect((await h.send('DELETE', 'tok-a', `/v2.0/alarm-definitions/${cpuDef.id}`)).statusCode).toBe(204);
      expect(ids(await h.get('tok-a', '/v2.0/alarms'))).toEqual([a3.id]);
    });
  });

  it('answers unknown alarm ids with 404', async () => {
    for (const url of ['/v2.0/alarms/nope', '/v2.0/alarms/nope/state-history']) expect((await h.get('tok-a', url)).statusCode).toBe(404);
    expect((await h.send('PATCH', 'tok-a', '/v2.0/alarms/nope', { state: 'OK' })).statusCode).toBe(404);
    expect((await h.send('DELETE', 'tok-a', '/v2.0/alarms/nope')).statusCode).toBe(404);
  });

  it('answers 501 for every alarm route when the server has no alarm store', async () => {
    await h.close();
    h = await startApiHarness(TOKENS, { alarmStore: 'none' });
    for (const url of ['/v2.0/alarms', '/v2.0/alarms/count', '/v2.0/alarms/state-history', '/v2.0/alarms/x', '/v2.0/alarm-definitions']) {
      const res = await h.get('tok-a', url);
      expect(res.statusCode, url).toBe(501);
    }
  });
});
