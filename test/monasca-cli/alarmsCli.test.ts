import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { monasca } from '../support/monascaCli.js';
import { seedAlarm } from '../../server/api/alarmSeed.testkit.js';
import { startApiHarness, type ApiHarness } from '../../server/api/apiHarness.testkit.js';

/**
 * The OpenStack `monasca` CLI (Debian's python3-monascaclient) against the alarm API:
 * notification methods, alarm definitions, alarms, counts and history, checked by what the
 * CLI prints. The API listens on a real port over the in-memory SQLite alarm store; alarms are
 * written through the store's checkpoint, as the engine writes them (the `server` command
 * wires no alarm engine that could make them from metrics).
 */
const TOKENS = 'cli-token-a:project-a:monasca-user,cli-token-b:project-b:monasca-user';
const CLI_TIMEOUT_MS = 180_000;


/** A table row of the CLI's output holding these cells in this order (prettytable pads them). */
function row(...cells: string[]): RegExp {
  return new RegExp(`\\|\\s*${cells.map((c) => c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('\\s*\\|\\s*')}\\s*\\|`);
}

describe('monasca CLI against the alarm API (SQLite alarm store)', () => {
  let h: ApiHarness;
  let endpoint: string;
  const a = (...args: string[]) => monasca(endpoint, 'cli-token-a', ...args);
  const b = (...args: string[]) => monasca(endpoint, 'cli-token-b', ...args);
  /** Runs a command that must succeed; returns what it printed. */
  const ok = async (result: Promise<{ code: number; stdout: string; stderr: string }>): Promise<string> => {
    const r = await result;
    expect(r.code, r.stderr).toBe(0);
    return r.stdout;
  };

  beforeAll(async () => {
    h = await startApiHarness(TOKENS);
    endpoint = await h.app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await h?.close();
  });

  it(
    'manages notification methods: create, list, show, update, patch, delete, and lists the types',
    async () => {
      const created = JSON.parse(await ok(a('notification-create', 'ops-mail', 'EMAIL', 'ops@example.com'))) as { id: string; name: string; period: number };
      expect(created).toMatchObject({ name: 'ops-mail', period: 0 });
      const hook = JSON.parse(await ok(a('notification-create', 'ops-hook', 'webhook', 'https://hooks.example.com/monasca', '--period', '60'))) as { id: string; type: string; secret: string };
      expect(hook.type).toBe('WEBHOOK');
      expect(hook.secret).toMatch(/^[0-9a-f]{64}$/);

      const list = await ok(a('notification-list', '--sort-by', 'name'));
      expect(list).toMatch(row('ops-hook', hook.id, 'WEBHOOK', 'https://hooks.example.com/monasca', '60'));
      expect(list).toMatch(row('ops-mail', created.id, 'EMAIL', 'ops@example.com', '0'));
      expect(list.indexOf('ops-hook')).toBeLessThan(list.indexOf('ops-mail'));
      expect(list).not.toContain(hook.secret);

      const shown = await ok(a('notification-show', hook.id));
      expect(shown).toMatch(row('address', '"https://hooks.example.com/monasca"'));
      expect(shown).toMatch(row('name', '"ops-hook"'));
      expect(shown).not.toContain(hook.secret);

      const updated = JSON.parse(await ok(a('notification-update', created.id, 'ops-mail-2', 'EMAIL', 'oncall@example.com', '0'))) as Record<string, unknown>;
      expect(updated).toMatchObject({ id: created.id, name: 'ops-mail-2', address: 'oncall@example.com', period: 0 });
      const patched = JSON.parse(await ok(a('notification-patch', created.id, '--name', 'ops-mail-3'))) as Record<string, unknown>;
      expect(patched).toMatchObject({ name: 'ops-mail-3', address: 'oncall@example.com' });
      expect(await ok(a('notification-show', created.id))).toMatch(row('name', '"ops-mail-3"'));

      const types = await ok(a('notification-type-list'));
      for (const type of ['EMAIL', 'WEBHOOK', 'PAGERDUTY', 'SLACK']) expect(types).toMatch(row(type));

      // Another tenant sees none of it.
      expect(await ok(b('notification-list'))).not.toContain('ops-');
      const foreign = await b('notification-show', created.id);
      expect(foreign.code).not.toBe(0);
      expect(foreign.stderr).toMatch(/Not Found|404/);

      const invalid = await a('notification-create', 'bad', 'EMAIL', 'not-an-address');
      expect(invalid.code).not.toBe(0);
      expect(invalid.stderr).toMatch(/422|not an email address/);

      expect(await ok(a('notification-delete', created.id))).toMatch(/Successfully deleted notification/);
      expect((await a('notification-show', created.id)).code).not.toBe(0);
      expect(await ok(a('notification-list'))).not.toContain(created.id);
    },
    CLI_TIMEOUT_MS,
  );

  it(
    'manages alarm definitions: create, list with filters, show, update, patch, delete',
    async () => {
      const method = (JSON.parse(await ok(a('notification-create', 'def-mail', 'EMAIL', 'defs@example.com'))) as { id: string }).id;
      const created = JSON.parse(
        await ok(
          a('alarm-definition-create', 'cpu high', 'avg(cpu.user_perc{service=web}) > 90 times 3', '--description', 'CPU too high', '--severity', 'high', '--match-by', 'hostname', '--alarm-actions', method),
        ),
      ) as { id: string } & Record<string, unknown>;
      expect(created).toMatchObject({
        name: 'cpu high',
        description: 'CPU too high',
        severity: 'HIGH',
        match_by: ['hostname'],
        alarm_actions: [method],
        actions_enabled: true,
        deterministic: false,
        expression_data: { function: 'AVG', metric_name: 'cpu.user_perc', dimensions: { service: 'web' }, operator: 'GT', threshold: 90, periods: 3 },
      });
      const other = (JSON.parse(await ok(a('alarm-definition-create', 'disk full', 'max(disk.space_used_perc{service=db}) > 95', '--severity', 'LOW'))) as { id: string }).id;

      const list = await ok(a('alarm-definition-list', '--sort-by', 'name'));
      expect(list).toMatch(row('cpu high', created.id, 'avg(cpu.user_perc{service=web}) > 90 times 3'));
      expect(list).toMatch(row('disk full', other, 'max(disk.space_used_perc{service=db}) > 95'));
      const high = await ok(a('alarm-definition-list', '--severity', 'HIGH'));
      expect(high).toContain(created.id);
      expect(high).not.toContain(other);
      const db = await ok(a('alarm-definition-list', '--dimensions', 'service=db'));
      expect(db).toContain(other);
      expect(db).not.toContain(created.id);

      const shown = await ok(a('alarm-definition-show', created.id));
      expect(shown).toMatch(row('name', '"cpu high"'));
      expect(shown).toMatch(row('severity', '"HIGH"'));
      expect(shown).toMatch(/metric_name: cpu\.user_perc/);
      expect(shown).toMatch(/periods: 3/);

      const updated = JSON.parse(
        await ok(a('alarm-definition-update', created.id, 'cpu very high', 'CPU far too high', 'avg(cpu.user_perc{service=web}) > 95', method, method, '', 'false', 'hostname', 'CRITICAL')),
      ) as Record<string, unknown>;
      expect(updated).toMatchObject({ name: 'cpu very high', description: 'CPU far too high', severity: 'CRITICAL', actions_enabled: false, ok_actions: [method], undetermined_actions: [] });
      const patched = JSON.parse(await ok(a('alarm-definition-patch', created.id, '--severity', 'medium', '--actions-enabled', 'true'))) as Record<string, unknown>;
      expect(patched).toMatchObject({ name: 'cpu very high', severity: 'MEDIUM', actions_enabled: true });
      expect(await ok(a('alarm-definition-list', '--name', 'cpu very high'))).toMatch(row('cpu very high', created.id));

      // The API's refusals reach the user with what was wrong.
      const bad = await a('alarm-definition-create', 'broken', 'avg(cpu.user_perc > 90');
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toMatch(/offset 18 \(line 1, column 19\)/);
      const metricChange = await a('alarm-definition-patch', created.id, '--expression', 'avg(mem.free_mb) > 1');
      expect(metricChange.code).not.toBe(0);
      expect(metricChange.stderr).toMatch(/metrics of sub-expressions cannot change/);
      const duplicate = await a('alarm-definition-create', 'disk full', 'max(disk) > 1');
      expect(duplicate.code).not.toBe(0);
      expect(duplicate.stderr).toMatch(/409|already exists/);

      // Another tenant sees none of it.
      expect(await ok(b('alarm-definition-list'))).not.toContain(created.id);
      expect((await b('alarm-definition-show', created.id)).code).not.toBe(0);
      expect((await b('alarm-definition-delete', created.id)).code).not.toBe(0);

      expect(await ok(a('alarm-definition-delete', other))).toMatch(/Successfully deleted alarm definition/);
      expect(await ok(a('alarm-definition-list'))).not.toContain(other);
      expect((await a('alarm-definition-show', other)).code).not.toBe(0);
    },
    CLI_TIMEOUT_MS,
  );

  it(
    'lists, shows, counts, updates, patches and deletes alarms, and shows their history',
    async () => {
      const definition = (JSON.parse(await ok(a('alarm-definition-create', 'web cpu', 'avg(cpu.user_perc) > 10', '--severity', 'HIGH', '--match-by', 'hostname'))) as { id: string }).id;
      const nowMs = Date.now();
      const metric = (hostname: string) => [{ name: 'cpu.user_perc', dimensions: { hostname, service: 'web' } }];
      const firing = await seedAlarm(h.alarmStore, { tenantId: 'project-a', definitionId: definition, metrics: metric('web-1'), state: 'ALARM', atMs: nowMs - 120_000 });
      const calm = await seedAlarm(h.alarmStore, { tenantId: 'project-a', definitionId: definition, metrics: metric('web-2'), state: 'OK', atMs: nowMs - 60_000 });

      const list = await ok(a('alarm-list', '--sort-by', 'created_timestamp'));
      expect(list).toMatch(row(firing.id, definition, 'web cpu', 'cpu.user_perc', 'hostname: web-1', 'HIGH', 'ALARM', 'None', 'None'));
      expect(list).toMatch(row(calm.id, definition, 'web cpu', 'cpu.user_perc', 'hostname: web-2', 'HIGH', 'OK'));
      const alarming = await ok(a('alarm-list', '--state', 'ALARM'));
      expect(alarming).toContain(firing.id);
      expect(alarming).not.toContain(calm.id);
      const byHost = await ok(a('alarm-list', '--metric-dimensions', 'hostname=web-2'));
      expect(byHost).toContain(calm.id);
      expect(byHost).not.toContain(firing.id);

      const shown = await ok(a('alarm-show', firing.id));
      expect(shown).toMatch(row('state', '"ALARM"'));
      expect(shown).toMatch(/"name": "web cpu"/);
      expect(shown).toMatch(/"hostname": "web-1"/);

      expect(await ok(a('alarm-count'))).toMatch(row('2'));
      const byState = await ok(a('alarm-count', '--group-by', 'state'));
      expect(byState).toMatch(row('count', 'state'));
      expect(byState).toMatch(row('1', 'ALARM'));
      expect(byState).toMatch(row('1', 'OK'));

      const updated = JSON.parse(await ok(a('alarm-update', firing.id, 'OK', 'ACKNOWLEDGED', 'http://tickets.example.com/1'))) as Record<string, unknown>;
      expect(updated).toMatchObject({ id: firing.id, alarm_definition_id: definition, state: 'OK', lifecycle_state: 'ACKNOWLEDGED', link: 'http://tickets.example.com/1' });
      const patched = JSON.parse(await ok(a('alarm-patch', firing.id, '--lifecycle-state', 'RESOLVED'))) as Record<string, unknown>;
      expect(patched).toMatchObject({ state: 'OK', lifecycle_state: 'RESOLVED', link: 'http://tickets.example.com/1' });
      expect(await ok(a('alarm-list', '--lifecycle-state', 'RESOLVED'))).toMatch(row(firing.id, definition, 'web cpu', 'cpu.user_perc', 'hostname: web-1', 'HIGH', 'OK', 'RESOLVED'));

      const history = await ok(a('alarm-history', firing.id));
      expect(history).toMatch(row(firing.id, 'ALARM', 'UNDETERMINED', 'Thresholds were exceeded for the sub-alarms: avg(cpu.user_perc) > 10.0 with the values: [12.5]'));
      expect(history).toMatch(row(firing.id, 'OK', 'ALARM', 'Alarm state updated via API', '{}', 'cpu.user_perc', 'hostname: web-1'));
      const all = await ok(a('alarm-history-list', '--dimensions', 'hostname=web-2'));
      expect(all).toMatch(row(calm.id, 'OK', 'UNDETERMINED'));
      expect(all).not.toContain(firing.id);
      expect(await ok(a('alarm-history-list', '--starttime', '-60'))).toContain(firing.id);

      // Another tenant can neither see, count, change nor delete them.
      expect(await ok(b('alarm-list'))).not.toContain(firing.id);
      expect(await ok(b('alarm-count'))).toMatch(row('0'));
      expect(await ok(b('alarm-history-list'))).not.toContain(firing.id);
      for (const args of [['alarm-show', firing.id], ['alarm-history', firing.id], ['alarm-patch', firing.id, '--state', 'ALARM'], ['alarm-delete', firing.id]]) {
        const denied = await b(...args);
        expect(denied.code, args.join(' ')).not.toBe(0);
        expect(denied.stderr).toMatch(/Not Found|404/);
      }
      expect(await ok(a('alarm-show', firing.id))).toMatch(row('lifecycle_state', 'RESOLVED'));

      expect(await ok(a('alarm-delete', calm.id))).toMatch(/Successfully deleted alarm/);
      expect((await a('alarm-show', calm.id)).code).not.toBe(0);
      expect(await ok(a('alarm-count'))).toMatch(row('1'));
    },
    CLI_TIMEOUT_MS,
  );

  it('fails cleanly with a wrong token', async () => {
    const denied = await monasca(endpoint, 'not-a-token', 'alarm-list');
    expect(denied.code).not.toBe(0);
    expect(`${denied.stdout}${denied.stderr}`).toMatch(/401|Unauthorized|not valid/i);
  });
});
