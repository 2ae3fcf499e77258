import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startApiHarness, type ApiHarness } from './apiHarness.testkit.js';

const TOKENS = 'tok-a:tenant-a:monasca-user,tok-b:tenant-b:monasca-user,tok-ro:tenant-a:monasca-read-only-user,tok-agent:tenant-a:monasca-agent';
const METHOD_KEYS = ['address', 'id', 'links', 'name', 'period', 'type'];

interface Method {
  id: string;
  links: { rel: string; href: string }[];
  name: string;
  type: string;
  address: string;
  period: number;
  secret?: string;
}
interface List<T> {
  links: { rel: string; href: string }[];
  elements: T[];
}

describe('notification-methods API', () => {
  let h: ApiHarness;
  beforeEach(async () => {
    h = await startApiHarness(TOKENS);
  });
  afterEach(async () => {
    await h.close();
  });

  const create = async (token: string, body: Record<string, unknown>) => {
    const res = await h.send('POST', token, '/v2.0/notification-methods', body);
    expect(res.statusCode, res.body).toBe(201);
    return res.json<Method>();
  };
  const email = (name: string, address = 'ops@example.com') => ({ name, type: 'EMAIL', address });

  it('creates an email method in Monasca shape and reads it back', async () => {
    const created = await create('tok-a', email('Ops mail'));
    expect(Object.keys(created).sort()).toEqual(METHOD_KEYS);
    expect(created).toMatchObject({ name: 'Ops mail', type: 'EMAIL', address: 'ops@example.com', period: 0 });
    expect(created.links).toEqual([{ rel: 'self', href: `http://localhost/v2.0/notification-methods/${created.id}` }]);
    const got = await h.get('tok-a', `/v2.0/notification-methods/${created.id}`);
    expect(got.statusCode).toBe(200);
    expect(got.json()).toEqual(created);
  });

  it('gives a webhook a generated secret, shown in the create response only', async () => {
    const created = await create('tok-a', { name: 'hook', type: 'WEBHOOK', address: 'https://hooks.example.com/monasca', period: 60 });
    expect(created.secret).toMatch(/^[0-9a-f]{64}$/);
    expect(created.period).toBe(60);
    const stored = await h.alarmStore.getNotificationMethod('tenant-a', created.id);
    expect(stored?.secret).toBe(created.secret);
    const got = await h.get('tok-a', `/v2.0/notification-methods/${created.id}`);
    expect(got.json()).not.toHaveProperty('secret');
    expect(got.body).not.toContain(created.secret);
    const list = await h.get('tok-a', '/v2.0/notification-methods');
    expect(list.body).not.toContain(created.secret);
    const patched = await h.send('PATCH', 'tok-a', `/v2.0/notification-methods/${created.id}`, { name: 'hook 2' });
    expect(patched.statusCode).toBe(200);
    expect(patched.json()).not.toHaveProperty('secret');
    expect((await h.alarmStore.getNotificationMethod('tenant-a', created.id))?.secret).toBe(created.secret);
  });

  it.each([
    ['lower case', 'email'],
    ['mixed case', 'eMaIl'],
  ])('takes the type in %s and stores it upper-case', async (_name, type) => {
    expect((await create('tok-a', { name: 'm', type, address: 'a@example.org' })).type).toBe('EMAIL');
  });

  it.each([
    ['no name', { type: 'EMAIL', address: 'a@example.org' }, /name/],
    ['no type', { name: 'm', address: 'a@example.org' }, /type/],
    ['no address', { name: 'm', type: 'EMAIL' }, /address/],
    ['a name of 251 characters', email('n'.repeat(251)), /name/],
    ['an address of 513 characters', { name: 'm', type: 'WEBHOOK', address: `https://example.com/${'a'.repeat(493)}` }, /address/],
    ['an invalid email address', email('m', 'not-an-address'), /email/],
    ['a webhook with an ftp scheme', { name: 'm', type: 'WEBHOOK', address: 'ftp://example.com/x' }, /scheme/],
    ['a webhook that is no URL', { name: 'm', type: 'WEBHOOK', address: 'example' }, /URL/],
    ['a webhook to loopback', { name: 'm', type: 'WEBHOOK', address: 'http://127.0.0.1:9000/x' }, /loopback|private/],
    ['an unknown type', { name: 'm', type: 'CARRIER_PIGEON', address: 'x' }, /type/],
    ['a float period', { name: 'm', type: 'WEBHOOK', address: 'https://example.com/', period: 1.5 }, /period/],
    ['a string period', { name: 'm', type: 'WEBHOOK', address: 'https://example.com/', period: 'often' }, /period/],
    ['a period not configured', { name: 'm', type: 'WEBHOOK', address: 'https://example.com/', period: 30 }, /period must be one of 0, 60/],
    ['a period on an email method', { ...email('m'), period: 60 }, /WEBHOOK/],
    ['an array body', [email('m')], /object/],
  ])('refuses %s with 422 and says why', async (_name, body, message) => {
    const res = await h.send('POST', 'tok-a', '/v2.0/notification-methods', body);
    expect(res.statusCode, res.body).toBe(422);
    expect(res.json<{ title: string; description: string }>()).toMatchObject({ title: 'Unprocessable Entity', description: expect.stringMatching(message) as string });
    expect(h.counters.total('kansoku_api_errors_total')).toBe(1);
  });

  it('refuses bad JSON with 400', async () => {
    const res = await h.send('POST', 'tok-a', '/v2.0/notification-methods', '{"name": ');
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ title: 'Bad Request' });
  });

  it('refuses a second method of the same name in a tenant (409), not in another tenant', async () => {
    await create('tok-a', email('same'));
    const again = await h.send('POST', 'tok-a', '/v2.0/notification-methods', email('same'));
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ title: 'Conflict' });
    await create('tok-b', email('same'));
    const other = await create('tok-a', email('other'));
    expect((await h.send('PATCH', 'tok-a', `/v2.0/notification-methods/${other.id}`, { name: 'same' })).statusCode).toBe(409);
  });

  it('takes periods from the configuration', async () => {
    await h.close();
    h = await startApiHarness(TOKENS, { notificationPeriodsSeconds: [0, 60, 300] });
    expect((await create('tok-a', { name: 'slow', type: 'WEBHOOK', address: 'https://example.com/', period: 300 })).period).toBe(300);
  });

  it('lists with sort_by and pages with offset and limit through next links', async () => {
    for (const name of ['c', 'a', 'd', 'b', 'e']) await create('tok-a', email(name));
    const sorted = await h.get('tok-a', '/v2.0/notification-methods?sort_by=name%20desc');
    expect(sorted.json<List<Method>>().elements.map((m) => m.name)).toEqual(['e', 'd', 'c', 'b', 'a']);
    const multi = await h.get('tok-a', '/v2.0/notification-methods?sort_by=type,name%20asc');
    expect(multi.json<List<Method>>().elements.map((m) => m.name)).toEqual(['a', 'b', 'c', 'd', 'e']);

    const names: string[] = [];
    let url: string | undefined = '/v2.0/notification-methods?sort_by=name&limit=2';
    let pages = 0;
    while (url !== undefined) {
      const res = await h.get('tok-a', url);
      const body = res.json<List<Method>>();
      expect(body.links[0]).toEqual({ rel: 'self', href: `http://localhost:80${url}` });
      names.push(...body.elements.map((m) => m.name));
      const next = body.links.find((l) => l.rel === 'next');
      url = next === undefined ? undefined : new URL(next.href).pathname + new URL(next.href).search;
      pages++;
    }
    expect(names).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(pages).toBe(3);
    const huge = await h.get('tok-a', '/v2.0/notification-methods?limit=99999999999');
    expect(huge.json<List<Method>>().elements).toHaveLength(5);
  });

  it.each([
    ['an unknown sort field', 'sort_by=secret', /sort_by/],
    ['a bad sort direction', 'sort_by=name%20sideways', /asc or desc/],
    ['a negative offset', 'offset=-1', /offset/],
    ['a word offset', 'offset=abc', /offset/],
    ['a zero limit', 'limit=0', /limit/],
  ])('refuses a list with %s (422)', async (_name, query, message) => {
    const res = await h.get('tok-a', `/v2.0/notification-methods?${query}`);
    expect(res.statusCode).toBe(422);
    expect(res.json<{ description: string }>().description).toMatch(message);
  });

  it('replaces with PUT (all fields required), patches with PATCH and deletes', async () => {
    const m = await create('tok-a', email('first'));
    const url = `/v2.0/notification-methods/${m.id}`;
    const incomplete = await h.send('PUT', 'tok-a', url, { name: 'x', type: 'EMAIL', address: 'b@example.org' });
    expect(incomplete.statusCode).toBe(422);
    expect(incomplete.json<{ description: string }>().description).toMatch(/period/);
    const put = await h.send('PUT', 'tok-a', url, { name: 'second', type: 'webhook', address: 'https://example.net/hook', period: 60 });
    expect(put.statusCode, put.body).toBe(200);
    expect(put.json()).toMatchObject({ id: m.id, name: 'second', type: 'WEBHOOK', address: 'https://example.net/hook', period: 60 });
    // Becoming a webhook made the secret: shown in that answer, once.
    expect(put.json<Method>().secret).toMatch(/^[0-9a-f]{64}$/);
    const patch = await h.send('PATCH', 'tok-a', url, { period: 0 });
    expect(patch.statusCode).toBe(200);
    expect(patch.json()).toMatchObject({ name: 'second', type: 'WEBHOOK', period: 0 });
    expect((await h.get('tok-a', url)).json()).toMatchObject({ name: 'second', period: 0 });
    expect((await h.send('DELETE', 'tok-a', url)).statusCode).toBe(204);
    expect((await h.get('tok-a', url)).statusCode).toBe(404);
    expect((await h.send('DELETE', 'tok-a', url)).statusCode).toBe(404);
  });

  it('takes a deleted method out of the definitions that name it, as Monasca does', async () => {
    const gone = await create('tok-a', email('gone'));
    const kept = await create('tok-a', email('kept', 'kept@example.com'));
    const res = await h.send('POST', 'tok-a', '/v2.0/alarm-definitions', { name: 'cpu', expression: 'avg(cpu) > 1', alarm_actions: [gone.id, kept.id], ok_actions: [gone.id] });
    expect(res.statusCode, res.body).toBe(201);
    const definition = res.json<{ id: string }>();
    expect((await h.send('DELETE', 'tok-a', `/v2.0/notification-methods/${gone.id}`)).statusCode).toBe(204);
    const got = await h.get('tok-a', `/v2.0/alarm-definitions/${definition.id}`);
    expect(got.json()).toMatchObject({ alarm_actions: [kept.id], ok_actions: [], undetermined_actions: [] });
  });

  it('keeps tenants apart: B cannot see, change or delete A’s methods', async () => {
    const a = await create('tok-a', email('secret-ops'));
    const url = `/v2.0/notification-methods/${a.id}`;
    expect((await h.get('tok-b', url)).statusCode).toBe(404);
    expect((await h.send('PUT', 'tok-b', url, { name: 'x', type: 'EMAIL', address: 'x@example.org', period: 0 })).statusCode).toBe(404);
    expect((await h.send('PATCH', 'tok-b', url, { name: 'x' })).statusCode).toBe(404);
    expect((await h.send('DELETE', 'tok-b', url)).statusCode).toBe(404);
    expect((await h.get('tok-b', '/v2.0/notification-methods')).json<List<Method>>().elements).toEqual([]);
    expect((await h.get('tok-a', url)).json()).toMatchObject({ name: 'secret-ops' });
  });

  it('answers unknown ids with 404', async () => {
    for (const method of ['GET', 'DELETE'] as const) expect((await h.send(method, 'tok-a', '/v2.0/notification-methods/nope')).statusCode).toBe(404);
    expect((await h.send('PATCH', 'tok-a', '/v2.0/notification-methods/nope', { name: 'x' })).statusCode).toBe(404);
  });

  it('lists the supported types', async () => {
    const res = await h.get('tok-a', '/v2.0/notification-methods/types');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      links: [{ rel: 'self', href: 'http://localhost/v2.0/notification-methods/types' }],
      elements: [{ type: 'EMAIL' }, { type: 'WEBHOOK' }, { type: 'PAGERDUTY' }, { type: 'SLACK' }],
    });
  });

  it('lets the read-only role read but not create, and the agent role do neither', async () => {
    expect((await h.get('tok-ro', '/v2.0/notification-methods')).statusCode).toBe(200);
    expect((await h.send('POST', 'tok-ro', '/v2.0/notification-methods', email('m'))).statusCode).toBe(403);
    expect((await h.get('tok-agent', '/v2.0/notification-methods')).statusCode).toBe(403);
    expect((await h.send('POST', 'tok-agent', '/v2.0/notification-methods', email('m'))).statusCode).toBe(403);
  });

  it('answers 501 when the server has no alarm store', async () => {
    await h.close();
    h = await startApiHarness(TOKENS, { alarmStore: 'none' });
    const res = await h.get('tok-a', '/v2.0/notification-methods');
    expect(res.statusCode).toBe(501);
    expect(res.json()).toMatchObject({ title: 'Not Implemented' });
  });
});
