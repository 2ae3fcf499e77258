import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MetricDefinition } from '../../core/query.js';
import type { AlarmState } from '../alarmState.js';
import { encodeSubAlarms } from './alarmStore.js';
import type {
  AlarmCountGroup,
  AlarmDefinitionRecord,
  AlarmQuery,
  AlarmRecord,
  AlarmStore,
  AlarmTransitionRecord,
  DeliveryRecord,
  EngineCheckpoint,
  NewAlarmDefinition,
  NewNotificationMethod,
} from './alarmStore.js';

/**
 * The contract every AlarmStore passes, SQLite and PostgreSQL alike. `open` must give an
 * empty store each time: the outbox and the partitions are shared by all tenants, so a
 * claim would otherwise see another test's deliveries.
 */

const T0 = Date.UTC(2026, 10, 26, 12, 0, 0);
const A = 'tenant-a';
const B = 'tenant-b';

/** A tenant's definition, an alarm, a transition and a delivery as the contract uses them; for other store tests too. */
export function exampleDefinition(tenantId: string, overrides: Partial<NewAlarmDefinition> = {}): NewAlarmDefinition {
  return {
    tenantId,
    name: 'cpu high',
    description: 'cpu above ten',
    expression: 'avg(cpu{host=a, role=web}) > 10',
    matchBy: ['host'],
    severity: 'HIGH',
    alarmActions: ['m-alarm'],
    okActions: ['m-ok'],
    undeterminedActions: [],
    actionsEnabled: true,
    ...overrides,
  };
}

function metric(name: string, dimensions: Record<string, string>): MetricDefinition {
  return { name, dimensions };
}

export function exampleAlarm(tenantId: string, id: string, definitionId: string, overrides: Partial<AlarmRecord> = {}): AlarmRecord {
  return {
    id,
    tenantId,
    definitionId,
    matchBy: { host: 'a' },
    metrics: [metric('cpu', { host: 'a', role: 'web' })],
    state: 'OK',
    lifecycleState: null,
    link: null,
    partition: 0,
    subAlarms: [{ index: 0, expression: 'avg(cpu{host=a, role=web}) > 10.0', state: 'OK', window: '{"slots":[1,2,null]}', currentValues: [1.5, 2] }],
    stateUpdatedAtMs: T0,
    createdAtMs: T0,
    updatedAtMs: T0,
    ...overrides,
  };
}

export function exampleTransition(of: AlarmRecord, id: string, oldState: AlarmState, newState: AlarmState, timestampMs = T0 + 1000): AlarmTransitionRecord {
  return {
    id,
    tenantId: of.tenantId,
    alarmId: of.id,
    definitionId: of.definitionId,
    oldState,
    newState,
    reason: `went ${newState}`,
    reasonData: '{}',
    subAlarms: [{ expression: 'avg(cpu) > 10.0', state: newState, currentValues: [11] }],
    metrics: of.metrics,
    timestampMs,
  };
}

export function exampleDelivery(id: string, dueAtMs: number, overrides: Partial<DeliveryRecord> = {}): DeliveryRecord {
  return { id, tenantId: A, transitionId: 'tr-none', alarmId: 'alarm-none', methodId: 'method-none', kind: 'transition', dueAtMs, attempts: 0, claims: 0, lastError: null, ...overrides };
}

function newMethod(tenantId: string, overrides: Partial<NewNotificationMethod> = {}): NewNotificationMethod {
  return { tenantId, name: 'ops mail', type: 'EMAIL', address: 'ops@example.com', periodSeconds: 0, secret: null, ...overrides };
}

function checkpointOf(parts: Partial<EngineCheckpoint>): EngineCheckpoint {
  return { offsets: new Map(), alarms: [], transitions: [], deliveries: [], ...parts };
}

/** Every delivery due by then, leased so it is not seen twice; ids sorted. */
async function claimAllIds(store: AlarmStore, nowMs = T0 + 10 ** 9): Promise<string[]> {
  return (await store.claimDeliveries(nowMs, 1000, 'probe', 1000)).map((d) => d.id).sort();
}

export function alarmStoreContract(name: string, open: () => Promise<AlarmStore>, close: (store: AlarmStore) => Promise<void> = (store) => store.close()): void {
  describe(`AlarmStore contract: ${name}`, () => {
    let store: AlarmStore;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await close(store);
    });

    /** A definition of tenant A with alarms the engine stored for it. */
    async function seedAlarms(makers: readonly ((definitionId: string) => AlarmRecord)[]): Promise<{ definition: AlarmDefinitionRecord; alarms: AlarmRecord[] }> {
      const definition = await store.createDefinition(exampleDefinition(A), T0);
      const alarms = makers.map((make) => make(definition.id));
      await store.checkpoint(checkpointOf({ alarms }));
      return { definition, alarms };
    }

    describe('definitions', () => {
      it('reads back what was created, under a generated UUID or the id given', async () => {
        const generated = await store.createDefinition(exampleDefinition(A), T0);
        expect(generated.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
        expect(generated).toEqual({ ...exampleDefinition(A), id: generated.id, createdAtMs: T0, updatedAtMs: T0 });
        expect(await store.getDefinition(A, generated.id)).toEqual(generated);
        const given = await store.createDefinition(exampleDefinition(A, { id: 'def-given', actionsEnabled: false, severity: 'LOW', matchBy: [] }), T0 + 5);
        expect(given.id).toBe('def-given');
        expect(await store.getDefinition(A, 'def-given')).toEqual({ ...exampleDefinition(A, { actionsEnabled: false, severity: 'LOW', matchBy: [] }), id: 'def-given', createdAtMs: T0 + 5, updatedAtMs: T0 + 5 });
        expect(await store.getDefinition(A, 'no-such-id')).toBeNull();
      });

      it('is invisible and unchangeable from another tenant', async () => {
        const created = await store.createDefinition(exampleDefinition(A), T0);
        expect(await store.getDefinition(B, created.id)).toBeNull();
        expect(await store.listDefinitions({ tenantId: B, offset: 0, limit: 10 })).toEqual([]);
        expect(await store.updateDefinition(B, created.id, exampleDefinition(B, { name: 'taken over' }), T0 + 1)).toBeNull();
        expect(await store.deleteDefinition(B, created.id)).toBe(false);
        expect(await store.getDefinition(A, created.id)).toEqual(created);
      });

      it('updates every field but id, tenant and creation time', async () => {
        const created = await store.createDefinition(exampleDefinition(A), T0);
        const replacement = exampleDefinition(A, { name: 'renamed', description: 'd2', expression: 'max(mem) > 5', matchBy: [], severity: 'CRITICAL', alarmActions: [], okActions: ['x'], undeterminedActions: ['y'], actionsEnabled: false });
        const updated = await store.updateDefinition(A, created.id, replacement, T0 + 60_000);
        expect(updated).toEqual({ ...replacement, id: created.id, createdAtMs: T0, updatedAtMs: T0 + 60_000 });
        expect(await store.getDefinition(A, created.id)).toEqual(updated);
        expect(await store.updateDefinition(A, 'no-such-id', replacement, T0)).toBeNull();
      });

      it('deletes once', async () => {
        const created = await store.createDefinition(exampleDefinition(A), T0);
        expect(await store.deleteDefinition(A, created.id)).toBe(true);
        expect(await store.getDefinition(A, created.id)).toBeNull();
        expect(await store.deleteDefinition(A, created.id)).toBe(false);
      });

      it('moves the revision up on every create, update and delete, and not on a refused one', async () => {
        const seen = [await store.definitionsRevision()];
        const created = await store.createDefinition(exampleDefinition(A), T0);
        seen.push(await store.definitionsRevision());
        await store.updateDefinition(A, created.id, exampleDefinition(A, { name: 'n2' }), T0 + 1);
        seen.push(await store.definitionsRevision());
        await store.deleteDefinition(A, created.id);
        seen.push(await store.definitionsRevision());
        for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThan(seen[i - 1] ?? Infinity);
        const before = await store.definitionsRevision();
        expect(await store.deleteDefinition(A, created.id)).toBe(false);
        expect(await store.updateDefinition(A, created.id, exampleDefinition(A), T0)).toBeNull();
        expect(await store.definitionsRevision()).toBe(before);
      });

      it('gives the engine every tenant’s definitions', async () => {
        const a = await store.createDefinition(exampleDefinition(A), T0);
        const b = await store.createDefinition(exampleDefinition(B), T0);
        const all = await store.allDefinitions();
        expect(all.map((d) => d.id).sort()).toEqual([a.id, b.id].sort());
        expect(all.find((d) => d.id === b.id)).toEqual(b);
      });

      describe('listing', () => {
        beforeEach(async () => {
          await store.createDefinition(exampleDefinition(A, { id: 'd1', name: 'beta', severity: 'LOW', expression: 'avg(cpu{host=a, role=web}) > 10' }), T0 + 3);
          await store.createDefinition(exampleDefinition(A, { id: 'd2', name: 'alpha', severity: 'CRITICAL', expression: 'avg(cpu{host=b}) > 10 or max(mem{zone=z1}) > 5' }), T0 + 1);
          await store.createDefinition(exampleDefinition(A, { id: 'd3', name: 'gamma', severity: 'MEDIUM', expression: 'max(disk) > 90' }), T0 + 2);
          await store.createDefinition(exampleDefinition(B, { id: 'd4', name: 'alpha', severity: 'CRITICAL' }), T0);
        });

        const cases: { name: string; query: Partial<Parameters<AlarmStore['listDefinitions']>[0]>; ids: string[] }[] = [
          { name: 'all of the tenant, by id', query: {}, ids: ['d1', 'd2', 'd3'] },
          { name: 'by name', query: { name: 'alpha' }, ids: ['d2'] },
          { name: 'any of the severities', query: { severities: ['LOW', 'MEDIUM'] }, ids: ['d1', 'd3'] },
          { name: 'a dimension value', query: { dimensions: { host: ['a'] } }, ids: ['d1'] },
          { name: 'any of the dimension values', query: { dimensions: { host: ['a', 'b'] } }, ids: ['d1', 'd2'] },
          { name: 'a dimension that exists', query: { dimensions: { zone: null } }, ids: ['d2'] },
          { name: 'dimensions of two sub-expressions', query: { dimensions: { host: ['b'], zone: ['z1'] } }, ids: ['d2'] },
          { name: 'no match', query: { dimensions: { host: ['zzz'] } }, ids: [] },
          { name: 'by name descending', query: { sortBy: [['name', 'desc']] }, ids: ['d3', 'd1', 'd2'] },
          { name: 'by severity, lowest first', query: { sortBy: [['severity', 'asc']] }, ids: ['d1', 'd3', 'd2'] },
          { name: 'by creation time', query: { sortBy: [['created_at', 'asc']] }, ids: ['d2', 'd3', 'd1'] },
          { name: 'offset and limit', query: { offset: 1, limit: 1 }, ids: ['d2'] },
        ];
        it.each(cases)('$name', async ({ query, ids }) => {
          const listed = await store.listDefinitions({ tenantId: A, offset: 0, limit: 100, ...query });
          expect(listed.map((d) => d.id)).toEqual(ids);
        });

        it('rejects an unknown sort field', async () => {
          await expect(store.listDefinitions({ tenantId: A, sortBy: [['password', 'asc']], offset: 0, limit: 10 })).rejects.toThrow(/password/);
        });
      });
    });

    describe('alarms', () => {
      it('reads an alarm back whole, with its definition’s name and severity, and only for its tenant', async () => {
        const { definition, alarms } = await seedAlarms([(d) => exampleAlarm(A, 'alarm-1', d, { lifecycleState: 'OPEN', link: 'http://x', partition: 3, matchBy: { host: 'a' } })]);
        expect(await store.getAlarm(A, 'alarm-1')).toEqual({ ...alarms[0], definitionName: definition.name, severity: definition.severity });
        expect(await store.getAlarm(B, 'alarm-1')).toBeNull();
        expect(await store.getAlarm(A, 'alarm-2')).toBeNull();
      });

      describe('listing and counting', () => {
        beforeEach(async () => {
          const web = await store.createDefinition(exampleDefinition(A, { id: 'def-web', name: 'web', severity: 'HIGH' }), T0);
          const db = await store.createDefinition(exampleDefinition(A, { id: 'def-db', name: 'db', severity: 'LOW' }), T0);
          const other = await store.createDefinition(exampleDefinition(B, { id: 'def-b', name: 'web' }), T0);
          await store.checkpoint(
            checkpointOf({
              alarms: [
                exampleAlarm(A, 'a1', web.id, { state: 'ALARM', metrics: [metric('cpu', { host: 'h1', role: 'web' })], stateUpdatedAtMs: T0 + 10, createdAtMs: T0 + 3 }),
                exampleAlarm(A, 'a2', web.id, { state: 'OK', metrics: [metric('cpu', { host: 'h2', role: 'web' }), metric('mem', { host: 'h2' })], lifecycleState: 'OPEN', createdAtMs: T0 + 1 }),
                exampleAlarm(A, 'a3', db.id, { state: 'UNDETERMINED', metrics: [metric('mem', { host: 'h3' })], link: 'http://runbook', stateUpdatedAtMs: T0 + 20, createdAtMs: T0 + 2 }),
                exampleAlarm(B, 'b1', other.id, { state: 'ALARM', metrics: [metric('cpu', { host: 'h1', role: 'web' })] }),
              ],
            }),
          );
        });

        const cases: { name: string; query: Partial<AlarmQuery>; ids: string[] }[] = [
          { name: 'all of the tenant, by id', query: {}, ids: ['a1', 'a2', 'a3'] },
          { name: 'by definition', query: { definitionId: 'def-db' }, ids: ['a3'] },
          { name: 'a metric name any metric has', query: { metricName: 'mem' }, ids: ['a2', 'a3'] },
          { name: 'a dimension value', query: { metricDimensions: { host: ['h2'] } }, ids: ['a2'] },
          { name: 'any of the dimension values', query: { metricDimensions: { host: ['h1', 'h3'] } }, ids: ['a1', 'a3'] },
          { name: 'a dimension that exists', query: { metricDimensions: { role: null } }, ids: ['a1', 'a2'] },
          { name: 'name and dimensions on one metric', query: { metricName: 'mem', metricDimensions: { role: null } }, ids: [] },
          { name: 'any of the states', query: { states: ['ALARM', 'UNDETERMINED'] }, ids: ['a1', 'a3'] },
          { name: 'severity of the definition', query: { severities: ['LOW'] }, ids: ['a3'] },
          { name: 'lifecycle state', query: { lifecycleState: 'OPEN' }, ids: ['a2'] },
          { name: 'link', query: { link: 'http://runbook' }, ids: ['a3'] },
          { name: 'state updated since', query: { stateUpdatedStartMs: T0 + 10 }, ids: ['a1', 'a3'] },
          { name: 'by state, OK first', query: { sortBy: [['state', 'asc']] }, ids: ['a2', 'a3', 'a1'] },
          { name: 'by severity descending, then id', query: { sortBy: [['severity', 'desc']] }, ids: ['a1', 'a2', 'a3'] },
          { name: 'by definition name', query: { sortBy: [['alarm_definition_name', 'asc'], ['alarm_id', 'desc']] }, ids: ['a3', 'a2', 'a1'] },
          { name: 'by creation time', query: { sortBy: [['created_timestamp', 'asc']] }, ids: ['a2', 'a3', 'a1'] },
          { name: 'offset and limit', query: { offset: 1, limit: 1 }, ids: ['a2'] },
        ];
        it.each(cases)('lists $name', async ({ query, ids }) => {
          const listed = await store.listAlarms({ tenantId: A, offset: 0, limit: 100, ...query });
          expect(listed.map((a) => a.id)).toEqual(ids);
        });

        it('lists and counts nothing of another tenant', async () => {
          expect((await store.listAlarms({ tenantId: B, offset: 0, limit: 100 })).map((a) => a.id)).toEqual(['b1']);
          expect(await store.countAlarms({ tenantId: B }, [])).toEqual([{ count: 1, values: [] }]);
          expect(await store.countAlarms({ tenantId: 'tenant-c' }, [])).toEqual([{ count: 0, values: [] }]);
          expect(await store.countAlarms({ tenantId: 'tenant-c' }, ['state'])).toEqual([]);
        });

        it('rejects an unknown sort field or group', async () => {
          await expect(store.listAlarms({ tenantId: A, sortBy: [['tenant_id', 'asc']], offset: 0, limit: 10 })).rejects.toThrow(/tenant_id/);
          await expect(store.countAlarms({ tenantId: A }, ['tenant_id' as AlarmCountGroup])).rejects.toThrow(/tenant_id/);
        });

        const counts: { name: string; query?: Partial<AlarmQuery>; groupBy: AlarmCountGroup[]; rows: { count: number; values: (string | null)[] }[] }[] = [
          { name: 'the total', groupBy: [], rows: [{ count: 3, values: [] }] },
          { name: 'the total of a filter', query: { metricName: 'mem' }, groupBy: [], rows: [{ count: 2, values: [] }] },
          {
            name: 'by state',
            groupBy: ['state'],
            rows: [
              { count: 1, values: ['ALARM'] },
              { count: 1, values: ['OK'] },
              { count: 1, values: ['UNDETERMINED'] },
            ],
          },
          {
            name: 'by definition name and severity',
            groupBy: ['name', 'severity'],
            rows: [
              { count: 1, values: ['db', 'LOW'] },
              { count: 2, values: ['web', 'HIGH'] },
            ],
          },
          {
            name: 'by lifecycle state, null where there is none',
            groupBy: ['lifecycle_state'],
            rows: [
              { count: 2, values: [null] },
              { count: 1, values: ['OPEN'] },
            ],
          },
          {
            name: 'by metric name, an alarm under each of its metrics',
            groupBy: ['metric_name'],
            rows: [
              { count: 2, values: ['cpu'] },
              { count: 2, values: ['mem'] },
            ],
          },
          {
            name: 'by dimension name, an alarm once per name',
            groupBy: ['dimension_name'],
            rows: [
              { count: 3, values: ['host'] },
              { count: 2, values: ['role'] },
            ],
          },
          {
            name: 'by dimension name and value',
            query: { states: ['OK', 'ALARM'] },
            groupBy: ['dimension_name', 'dimension_value'],
            rows: [
              { count: 1, values: ['host', 'h1'] },
              { count: 1, values: ['host', 'h2'] },
              { count: 2, values: ['role', 'web'] },
            ],
          },
        ];
        it.each(counts)('counts $name', async ({ query, groupBy, rows }) => {
          expect(await store.countAlarms({ tenantId: A, ...query }, groupBy)).toEqual(rows);
        });
      });

      it('patches lifecycle state and link without a transition', async () => {
        await seedAlarms([(d) => exampleAlarm(A, 'alarm-1', d)]);
        const patched = await store.patchAlarm(A, 'alarm-1', { lifecycleState: 'ACKNOWLEDGED', link: 'http://ticket/1' }, T0 + 500);
        expect(patched).toMatchObject({ lifecycleState: 'ACKNOWLEDGED', link: 'http://ticket/1', state: 'OK', updatedAtMs: T0 + 500, stateUpdatedAtMs: T0 });
        expect(await store.getAlarm(A, 'alarm-1')).toEqual(patched);
        const cleared = await store.patchAlarm(A, 'alarm-1', { link: null }, T0 + 600);
        expect(cleared).toMatchObject({ lifecycleState: 'ACKNOWLEDGED', link: null });
        expect(await store.listHistory({ tenantId: A, offset: 0, limit: 10 })).toEqual([]);
      });

      it('patches the state as a compare-and-set transition recorded in history', async () => {
        const [stored] = (await seedAlarms([(d) => exampleAlarm(A, 'alarm-1', d)])).alarms;
        if (stored === undefined) throw new Error('seeded no alarm');
        const toAlarm = exampleTransition(stored, 'tr-api-1', 'OK', 'ALARM', T0 + 700);
        const patched = await store.patchAlarm(A, 'alarm-1', { state: 'ALARM' }, T0 + 700, toAlarm);
        expect(patched).toMatchObject({ state: 'ALARM', stateUpdatedAtMs: T0 + 700 });
        expect(await store.listHistory({ tenantId: A, offset: 0, limit: 10 })).toEqual([toAlarm]);

        // A stale caller still believes the alarm is OK: its transition must not apply.
        const stale = exampleTransition(stored, 'tr-api-2', 'OK', 'UNDETERMINED', T0 + 800);
        const refused = await store.patchAlarm(A, 'alarm-1', { state: 'UNDETERMINED', lifecycleState: 'OPEN' }, T0 + 800, stale);
        expect(refused).toMatchObject({ state: 'ALARM', lifecycleState: 'OPEN' });
        expect(await store.getTransition(A, 'tr-api-2')).toBeNull();
      });

      it('does not patch or delete another tenant’s alarm', async () => {
        await seedAlarms([(d) => exampleAlarm(A, 'alarm-1', d)]);
        const before = await store.getAlarm(A, 'alarm-1');
        expect(await store.patchAlarm(B, 'alarm-1', { state: 'ALARM', link: 'http://evil' }, T0 + 1)).toBeNull();
        expect(await store.deleteAlarm(B, 'alarm-1')).toBe(false);
        expect(await store.getAlarm(A, 'alarm-1')).toEqual(before);
        expect(await store.patchAlarm(A, 'no-such-alarm', { link: 'x' }, T0)).toBeNull();
      });

      it('deletes an alarm with its pending deliveries and keeps its history', async () => {
        const definition = await store.createDefinition(exampleDefinition(A), T0);
        const stored = exampleAlarm(A, 'alarm-1', definition.id);
        const toAlarm = exampleTransition(stored, 'tr-1', 'OK', 'ALARM');
        await store.checkpoint(
          checkpointOf({
            alarms: [stored, exampleAlarm(A, 'alarm-2', definition.id)],
            deliveries: [exampleDelivery('del-1', T0, { alarmId: 'alarm-1', transitionId: 'tr-1' }), exampleDelivery('del-2', T0, { alarmId: 'alarm-2' })],
          }),
        );
        await store.checkpoint(checkpointOf({ transitions: [toAlarm] }));
        expect(await store.deleteAlarm(B, 'alarm-1')).toBe(false);
        expect(await store.deleteAlarm(A, 'alarm-1')).toBe(true);
        expect(await store.getAlarm(A, 'alarm-1')).toBeNull();
        expect(await store.deleteAlarm(A, 'alarm-1')).toBe(false);
        expect(await claimAllIds(store)).toEqual(['del-2']);
        expect(await store.getTransition(A, 'tr-1')).toEqual(toAlarm);
      });

      it('deletes a definition with its alarms and their pending deliveries, keeping history and other alarms', async () => {
        const doomed = await store.createDefinition(exampleDefinition(A, { name: 'doomed' }), T0);
        const kept = await store.createDefinition(exampleDefinition(A, { name: 'kept' }), T0);
        const doomedAlarm = exampleAlarm(A, 'alarm-doomed', doomed.id);
        const toAlarm = exampleTransition(doomedAlarm, 'tr-doomed', 'OK', 'ALARM');
        await store.checkpoint(
          checkpointOf({
            alarms: [doomedAlarm, exampleAlarm(A, 'alarm-kept', kept.id)],
            deliveries: [exampleDelivery('del-doomed', T0, { alarmId: 'alarm-doomed' }), exampleDelivery('del-kept', T0, { alarmId: 'alarm-kept' })],
          }),
        );
        await store.checkpoint(checkpointOf({ transitions: [toAlarm] }));
        expect(await store.deleteDefinition(B, doomed.id)).toBe(false);
        expect(await store.getAlarm(A, 'alarm-doomed')).not.toBeNull();
        expect(await store.deleteDefinition(A, doomed.id)).toBe(true);
        expect(await store.getAlarm(A, 'alarm-doomed')).toBeNull();
        expect((await store.listAlarms({ tenantId: A, offset: 0, limit: 10 })).map((a) => a.id)).toEqual(['alarm-kept']);
        expect((await store.loadPartition(0)).alarms.map((a) => a.id)).toEqual(['alarm-kept']);
        expect(await claimAllIds(store)).toEqual(['del-kept']);
        expect(await store.listHistory({ tenantId: A, alarmIds: ['alarm-doomed'], offset: 0, limit: 10 })).toEqual([toAlarm]);
      });
    });

    describe('history', () => {
      const first = exampleAlarm(A, 'h-1', 'def-h', { metrics: [metric('cpu', { host: 'h1' })] });
      const second = exampleAlarm(A, 'h-2', 'def-h', { metrics: [metric('cpu', { host: 'h2' })] });
      const history = [
        exampleTransition(first, 'tr-3', 'ALARM', 'OK', T0 + 3000),
        exampleTransition(first, 'tr-1', 'OK', 'ALARM', T0 + 1000),
        exampleTransition(second, 'tr-2', 'OK', 'UNDETERMINED', T0 + 2000),
      ];
      beforeEach(async () => {
        await store.createDefinition(exampleDefinition(A, { id: 'def-h' }), T0);
        await store.checkpoint(checkpointOf({ alarms: [first, second] }));
        // Applied in time order, each against the state the one before left.
        await store.checkpoint(checkpointOf({ transitions: [history[1], history[2], history[0]] as AlarmTransitionRecord[] }));
        await store.createDefinition(exampleDefinition(B, { id: 'def-hb' }), T0);
        const other = exampleAlarm(B, 'h-b', 'def-hb', { metrics: [metric('cpu', { host: 'h1' })] });
        await store.checkpoint(checkpointOf({ alarms: [other] }));
        await store.checkpoint(checkpointOf({ transitions: [exampleTransition(other, 'tr-b', 'OK', 'ALARM', T0 + 1500)] }));
      });

      const cases: { name: string; query: Partial<Parameters<AlarmStore['listHistory']>[0]>; ids: string[] }[] = [
        { name: 'oldest first', query: {}, ids: ['tr-1', 'tr-2', 'tr-3'] },
        { name: 'of some alarms', query: { alarmIds: ['h-1'] }, ids: ['tr-1', 'tr-3'] },
        { name: 'of no alarms', query: { alarmIds: [] }, ids: [] },
        { name: 'by metric dimensions', query: { dimensions: { host: ['h2'] } }, ids: ['tr-2'] },
        { name: 'from a start, inclusive', query: { startMs: T0 + 2000 }, ids: ['tr-2', 'tr-3'] },
        { name: 'to an end, inclusive', query: { endMs: T0 + 2000 }, ids: ['tr-1', 'tr-2'] },
        { name: 'offset and limit', query: { offset: 1, limit: 1 }, ids: ['tr-2'] },
      ];
      it.each(cases)('lists $name', async ({ query, ids }) => {
        const listed = await store.listHistory({ tenantId: A, offset: 0, limit: 100, ...query });
        expect(listed.map((t) => t.id)).toEqual(ids);
      });

      it('reads a transition back whole, for its tenant only', async () => {
        expect(await store.getTransition(A, 'tr-2')).toEqual(history[2]);
        expect(await store.getTransition(B, 'tr-2')).toBeNull();
        expect((await store.listHistory({ tenantId: B, offset: 0, limit: 100 })).map((t) => t.id)).toEqual(['tr-b']);
        expect(await store.listHistory({ tenantId: B, alarmIds: ['h-1'], offset: 0, limit: 100 })).toEqual([]);
      });
    });

    describe('engine checkpoints', () => {
      it('applies transitions compare-and-set: a stale one is skipped with its deliveries and its alarm left as stored', async () => {
        const definition = await store.createDefinition(exampleDefinition(A), T0);
        const fresh = exampleAlarm(A, 'cas-fresh', definition.id, { partition: 2 });
        const contested = exampleAlarm(A, 'cas-contested', definition.id, { partition: 2 });
        await store.checkpoint(checkpointOf({ alarms: [fresh, contested] }));

        const applies = exampleTransition(fresh, 'tr-applies', 'OK', 'ALARM');
        // This writer believes `contested` is in ALARM; the store holds OK.
        const stale = exampleTransition(contested, 'tr-stale', 'ALARM', 'OK');
        const result = await store.checkpoint(
          checkpointOf({
            offsets: new Map([[2, '120']]),
            alarms: [
              { ...fresh, state: 'ALARM', stateUpdatedAtMs: T0 + 1000 },
              { ...contested, state: 'OK', lifecycleState: 'STALE VIEW', subAlarms: [] },
            ],
            transitions: [applies, stale],
            deliveries: [exampleDelivery('del-applies', T0 + 1000, { transitionId: 'tr-applies', alarmId: fresh.id }), exampleDelivery('del-stale', T0 + 1000, { transitionId: 'tr-stale', alarmId: contested.id })],
          }),
        );
        expect(result.skippedTransitions).toEqual(['tr-stale']);
        expect(await store.getTransition(A, 'tr-applies')).toEqual(applies);
        expect(await store.getTransition(A, 'tr-stale')).toBeNull();
        expect(await claimAllIds(store)).toEqual(['del-applies']);
        expect(await store.getAlarm(A, fresh.id)).toMatchObject({ state: 'ALARM', stateUpdatedAtMs: T0 + 1000 });
        expect(await store.getAlarm(A, contested.id)).toMatchObject({ state: 'OK', lifecycleState: null, subAlarms: contested.subAlarms });
        const partition = await store.loadPartition(2);
        expect(partition.offset).toBe('120');
        expect(partition.alarms.map((a) => a.id)).toEqual([contested.id, fresh.id]);
      });

      it("never undoes with an engine's write what the API set: state, lifecycle_state and link stay; windows and metrics move", async () => {
        const definition = await store.createDefinition(exampleDefinition(A), T0);
        const alarm = exampleAlarm(A, 'api-owned', definition.id, { state: 'ALARM' });
        await store.checkpoint(checkpointOf({ alarms: [alarm] }));
        await store.patchAlarm(A, alarm.id, { state: 'OK', lifecycleState: 'ACKNOWLEDGED', link: 'https://tickets.example/1' }, T0 + 500, exampleTransition(alarm, 'tr-api', 'ALARM', 'OK', T0 + 500));
        // The engine's memory still says ALARM, with no lifecycle or link; its checkpoint carries new windows.
        const windows = alarm.subAlarms.map((sub) => ({ ...sub, window: '{"moved":true}' }));
        await store.checkpoint(checkpointOf({ alarms: [{ ...alarm, subAlarms: windows, metrics: [{ name: 'cpu', dimensions: { hostname: 'h9' } }], updatedAtMs: T0 + 900 }] }));
        const stored = await store.getAlarm(A, alarm.id);
        expect(stored).toMatchObject({ state: 'OK', lifecycleState: 'ACKNOWLEDGED', link: 'https://tickets.example/1', stateUpdatedAtMs: T0 + 500, updatedAtMs: T0 + 900 });
        expect(stored?.subAlarms).toEqual(windows);
        expect(stored?.metrics).toEqual([{ name: 'cpu', dimensions: { hostname: 'h9' } }]);
      });

      it("writes an alarm's windows alone: sub-alarms and updated_at move, everything else stays, a deleted alarm stays deleted, a stale one is left", async () => {
        const definition = await store.createDefinition(exampleDefinition(A), T0);
        const alarm = exampleAlarm(A, 'win-1', definition.id, { partition: 3, state: 'ALARM' });
        const deleted = exampleAlarm(A, 'win-deleted', definition.id, { partition: 3 });
        const contested = exampleAlarm(A, 'win-stale', definition.id, { partition: 3, state: 'OK' });
        await store.checkpoint(checkpointOf({ alarms: [alarm, deleted, contested] }));
        await store.patchAlarm(A, alarm.id, { lifecycleState: 'ACKNOWLEDGED' }, T0 + 100);
        expect(await store.deleteAlarm(A, deleted.id)).toBe(true);

        const moved = (record: AlarmRecord, mark: string) => record.subAlarms.map((sub) => ({ ...sub, window: `{"w":{"mark":"${mark}"}}`, currentValues: [7] }));
        const result = await store.checkpoint(
          checkpointOf({
            offsets: new Map([[3, '42']]),
            windows: [
              { id: alarm.id, subAlarmsJson: encodeSubAlarms(moved(alarm, 'a')), updatedAtMs: T0 + 900 },
              { id: deleted.id, subAlarmsJson: encodeSubAlarms(moved(deleted, 'd')), updatedAtMs: T0 + 900 },
              { id: contested.id, subAlarmsJson: encodeSubAlarms(moved(contested, 'c')), updatedAtMs: T0 + 900 },
            ],
            // This writer believes win-stale is in ALARM; the store holds OK, so its windows are not written either.
            transitions: [exampleTransition(contested, 'tr-win-stale', 'ALARM', 'OK')],
          }),
        );
        expect(result.skippedTransitions).toEqual(['tr-win-stale']);
        expect(await store.getAlarm(A, alarm.id)).toMatchObject({ state: 'ALARM', lifecycleState: 'ACKNOWLEDGED', metrics: alarm.metrics, subAlarms: moved(alarm, 'a'), updatedAtMs: T0 + 900 });
        expect(await store.getAlarm(A, deleted.id)).toBeNull();
        expect(await store.getAlarm(A, contested.id)).toMatchObject({ subAlarms: contested.subAlarms, updatedAtMs: contested.updatedAtMs });
        expect(await store.loadPartition(3)).toMatchObject({ offset: '42' });
      });

      it('writes the windows of many alarms in one checkpoint, each to its own row, deleted ones staying deleted', async () => {
        // More rows than one statement sets (SqliteAlarmStore sets 200 a statement), and not a multiple of it.
        const definition = await store.createDefinition(exampleDefinition(A), T0);
        const alarms = Array.from({ length: 457 }, (_, i) => exampleAlarm(A, `many-${String(i).padStart(3, '0')}`, definition.id, { partition: 5 }));
        await store.checkpoint(checkpointOf({ alarms }));
        const gone = new Set([alarms[3]!.id, alarms[250]!.id, alarms[456]!.id]);
        for (const id of gone) expect(await store.deleteAlarm(A, id)).toBe(true);
        const windowOf = (i: number) => [{ ...alarms[i]!.subAlarms[0]!, window: `{"w":${i}}`, currentValues: [i] }];
        // In an order of their own, as the engine changed them.
        const order = alarms.map((_, i) => (i * 7) % alarms.length);
        await store.checkpoint(checkpointOf({ windows: order.map((i) => ({ id: alarms[i]!.id, subAlarmsJson: encodeSubAlarms(windowOf(i)), updatedAtMs: T0 + i })) }));
        const stored = (await store.loadPartition(5)).alarms;
        expect(stored).toHaveLength(alarms.length - gone.size);
        for (const alarm of stored) {
          const i = Number(alarm.id.slice('many-'.length));
          expect(alarm).toMatchObject({ subAlarms: windowOf(i), updatedAtMs: T0 + i, state: 'OK', metrics: alarms[i]!.metrics });
        }
        expect(stored.some((a) => gone.has(a.id))).toBe(false);
      });

      it('applies the transitions of an alarm the same checkpoint creates', async () => {
        const definition = await store.createDefinition(exampleDefinition(A), T0);
        const created = exampleAlarm(A, 'new-alarm', definition.id, { state: 'ALARM' });
        const result = await store.checkpoint(
          checkpointOf({ alarms: [created], transitions: [exampleTransition(created, 'tr-new', 'UNDETERMINED', 'ALARM')], deliveries: [exampleDelivery('del-new', T0, { transitionId: 'tr-new' })] }),
        );
        expect(result.skippedTransitions).toEqual([]);
        expect(await store.getAlarm(A, created.id)).toMatchObject({ state: 'ALARM' });
        expect(await claimAllIds(store)).toEqual(['del-new']);
        // A transition of an alarm that is neither stored nor created has nothing to apply to.
        const ghost = exampleAlarm(A, 'ghost', definition.id);
        expect((await store.checkpoint(checkpointOf({ transitions: [exampleTransition(ghost, 'tr-ghost', 'OK', 'ALARM')] }))).skippedTransitions).toEqual(['tr-ghost']);
      });

      it('drops the pending repeats of an alarm whose transition applies, a repeat being sent included, and no one else’s', async () => {
        const definition = await store.createDefinition(exampleDefinition(A), T0);
        const moves = exampleAlarm(A, 'rep-moves', definition.id, { state: 'ALARM' });
        const other = exampleAlarm(A, 'rep-other', definition.id, { state: 'ALARM' });
        const contested = exampleAlarm(A, 'rep-stale', definition.id, { state: 'ALARM' });
        const repeatOf = (id: string, alarmId: string, tenantId = A, dueAtMs = T0) => exampleDelivery(id, dueAtMs, { kind: 'repeat', alarmId, tenantId });
        await store.checkpoint(
          checkpointOf({
            alarms: [moves, other, contested],
            deliveries: [
              repeatOf('moves-repeat', moves.id),
              repeatOf('moves-repeat-sending', moves.id, A, T0 - 1),
              exampleDelivery('moves-earlier-transition', T0, { alarmId: moves.id }),
              repeatOf('other-repeat', other.id),
              repeatOf('stale-repeat', contested.id),
              repeatOf('tenant-b-repeat', moves.id, B),
            ],
          }),
        );
        expect((await store.claimDeliveries(T0, 60_000, 'notifier', 1)).map((d) => d.id)).toEqual(['moves-repeat-sending']);

        const toOk = exampleTransition(moves, 'tr-moves-ok', 'ALARM', 'OK');
        const result = await store.checkpoint(
          checkpointOf({
            alarms: [{ ...moves, state: 'OK' }],
            // This writer believes rep-stale is OK; the store holds ALARM, so its repeat stays.
            transitions: [toOk, exampleTransition(contested, 'tr-stale', 'OK', 'ALARM')],
            deliveries: [exampleDelivery('moves-ok', T0, { alarmId: moves.id, transitionId: toOk.id })],
          }),
        );
        expect(result.skippedTransitions).toEqual(['tr-stale']);
        // The notifier sending a dropped repeat finds it gone: no second chain from it.
        const next = repeatOf('moves-repeat-next', moves.id);
        expect(await store.completeDelivery('moves-repeat-sending', 'notifier', next)).toBe(false);
        expect(await claimAllIds(store)).toEqual(['moves-earlier-transition', 'moves-ok', 'other-repeat', 'stale-repeat', 'tenant-b-repeat']);
      });

      it('upserts alarms whole and keeps each partition’s offset, 64-bit offsets exactly', async () => {
        const definition = await store.createDefinition(exampleDefinition(A), T0);
        const first = exampleAlarm(A, 'p-1', definition.id, { partition: 1 });
        await store.checkpoint(checkpointOf({ offsets: new Map([[1, '10'], [4, '7']]), alarms: [first, exampleAlarm(A, 'p-4', definition.id, { partition: 4 })] }));
        const moved = {
          ...first,
          metrics: [...first.metrics, metric('cpu', { host: 'a', role: 'db' })],
          subAlarms: [{ index: 0, expression: 'avg(cpu) > 10.0', state: 'OK' as const, window: 'opaque;window=2', currentValues: [] }],
          updatedAtMs: T0 + 5,
        };
        await store.checkpoint(checkpointOf({ offsets: new Map([[1, '9007199254740993']]), alarms: [moved] }));
        expect(await store.loadPartition(1)).toEqual({ offset: '9007199254740993', alarms: [moved] });
        expect((await store.loadPartition(4)).offset).toBe('7');
        expect(await store.loadPartition(5)).toEqual({ offset: null, alarms: [] });
      });
    });

    describe('notification methods', () => {
      it('creates, reads, updates and deletes, for its tenant only', async () => {
        const created = await store.createNotificationMethod(newMethod(A, { type: 'WEBHOOK', address: 'http://hook', secret: 's3cret', periodSeconds: 60 }), T0);
        expect(created).toEqual({ ...newMethod(A, { type: 'WEBHOOK', address: 'http://hook', secret: 's3cret', periodSeconds: 60 }), id: created.id, createdAtMs: T0, updatedAtMs: T0 });
        expect(await store.getNotificationMethod(A, created.id)).toEqual(created);
        expect(await store.getNotificationMethod(B, created.id)).toBeNull();
        expect(await store.updateNotificationMethod(B, created.id, newMethod(B), T0 + 1)).toBeNull();
        expect(await store.deleteNotificationMethod(B, created.id)).toBe(false);
        expect(await store.getNotificationMethod(A, created.id)).toEqual(created);

        const updated = await store.updateNotificationMethod(A, created.id, newMethod(A, { name: 'pager', type: 'PAGERDUTY', address: 'key', periodSeconds: 0, secret: null }), T0 + 9);
        expect(updated).toEqual({ ...newMethod(A, { name: 'pager', type: 'PAGERDUTY', address: 'key' }), id: created.id, createdAtMs: T0, updatedAtMs: T0 + 9 });
        expect(await store.getNotificationMethod(A, created.id)).toEqual(updated);
        expect(await store.updateNotificationMethod(A, 'no-such-method', newMethod(A), T0)).toBeNull();

        expect(await store.deleteNotificationMethod(A, created.id)).toBe(true);
        expect(await store.getNotificationMethod(A, created.id)).toBeNull();
        expect(await store.deleteNotificationMethod(A, created.id)).toBe(false);
      });

      it('lists a tenant’s methods sorted and paged', async () => {
        await store.createNotificationMethod(newMethod(A, { id: 'm1', name: 'charlie', type: 'SLACK' }), T0 + 2);
        await store.createNotificationMethod(newMethod(A, { id: 'm2', name: 'alpha', type: 'WEBHOOK' }), T0 + 1);
        await store.createNotificationMethod(newMethod(A, { id: 'm3', name: 'bravo', type: 'EMAIL' }), T0 + 3);
        await store.createNotificationMethod(newMethod(B, { id: 'm4', name: 'aardvark' }), T0);
        const list = async (query: { sortBy?: [string, 'asc' | 'desc'][]; offset?: number; limit?: number }) =>
          (await store.listNotificationMethods({ tenantId: A, offset: 0, limit: 100, ...query })).map((m) => m.id);
        expect(await list({})).toEqual(['m1', 'm2', 'm3']);
        expect(await list({ sortBy: [['name', 'asc']] })).toEqual(['m2', 'm3', 'm1']);
        expect(await list({ sortBy: [['created_at', 'desc']] })).toEqual(['m3', 'm1', 'm2']);
        expect(await list({ sortBy: [['type', 'asc']], offset: 1, limit: 1 })).toEqual(['m1']);
        await expect(list({ sortBy: [['secret', 'asc']] })).rejects.toThrow(/secret/);
      });

      it('takes a deleted method out of its tenant’s definitions’ action lists, as Monasca does, and tells the engines', async () => {
        const method = await store.createNotificationMethod(newMethod(A, { id: 'm-gone' }), T0);
        const both = await store.createDefinition(exampleDefinition(A, { name: 'both', alarmActions: ['m-gone', 'm-kept'], okActions: ['m-gone'], undeterminedActions: ['m-kept', 'm-gone'] }), T0);
        const other = await store.createDefinition(exampleDefinition(A, { name: 'other', alarmActions: ['m-kept'], okActions: [], undeterminedActions: [] }), T0);
        // Another tenant's list naming the same id is its own business.
        const foreign = await store.createDefinition(exampleDefinition(B, { name: 'foreign', alarmActions: ['m-gone'], okActions: [], undeterminedActions: [] }), T0);
        const revision = await store.definitionsRevision();
        expect(await store.deleteNotificationMethod(A, method.id)).toBe(true);
        expect(await store.getDefinition(A, both.id)).toEqual({ ...both, alarmActions: ['m-kept'], okActions: [], undeterminedActions: ['m-kept'] });
        expect(await store.getDefinition(A, other.id)).toEqual(other);
        expect(await store.getDefinition(B, foreign.id)).toEqual(foreign);
        expect(await store.definitionsRevision()).toBeGreaterThan(revision);
      });

      it('takes a deleted method’s pending deliveries with it, and no other tenant’s', async () => {
        const method = await store.createNotificationMethod(newMethod(A), T0);
        await store.checkpoint(checkpointOf({ deliveries: [exampleDelivery('del-m', T0, { methodId: method.id }), exampleDelivery('del-other', T0, { methodId: 'another' })] }));
        expect(await store.deleteNotificationMethod(B, method.id)).toBe(false);
        expect(await store.deleteNotificationMethod(A, method.id)).toBe(true);
        expect(await claimAllIds(store)).toEqual(['del-other']);
      });
    });

    describe('outbox', () => {
      it('claims due deliveries oldest first, up to the limit, and leases them', async () => {
        await store.checkpoint(
          checkpointOf({ deliveries: [exampleDelivery('late', T0 + 30), exampleDelivery('early', T0 + 10), exampleDelivery('middle', T0 + 20), exampleDelivery('future', T0 + 1000)] }),
        );
        const first = await store.claimDeliveries(T0 + 100, 5000, 'notifier-1', 2);
        expect(first).toEqual([exampleDelivery('early', T0 + 10, { claims: 1 }), exampleDelivery('middle', T0 + 20, { claims: 1 })]);
        const second = await store.claimDeliveries(T0 + 100, 5000, 'notifier-2', 10);
        expect(second.map((d) => d.id)).toEqual(['late']);
        expect(await store.claimDeliveries(T0 + 200, 5000, 'notifier-2', 10)).toEqual([]);
        expect(await store.claimDeliveries(T0 + 100, 5000, 'notifier-2', 0)).toEqual([]);
      });

      it('makes a delivery claimable again when its lease expires, counting each claim', async () => {
        await store.checkpoint(checkpointOf({ deliveries: [exampleDelivery('leased', T0)] }));
        expect(await store.claimDeliveries(T0, 1000, 'dies', 10)).toEqual([exampleDelivery('leased', T0, { claims: 1 })]);
        expect(await store.claimDeliveries(T0 + 999, 1000, 'other', 10)).toEqual([]);
        expect(await store.claimDeliveries(T0 + 1000, 1000, 'other', 10)).toEqual([exampleDelivery('leased', T0, { claims: 2 })]);
        expect(await store.claimDeliveries(T0 + 2000, 1000, 'third', 10)).toEqual([exampleDelivery('leased', T0, { claims: 3 })]);
      });

      it('keeps the claims a delivery is written with; one written without starts at none', async () => {
        const { claims: _left, ...unclaimed } = exampleDelivery('new', T0);
        await store.checkpoint(checkpointOf({ deliveries: [unclaimed, exampleDelivery('carried', T0, { claims: 4 })] }));
        const claimed = await store.claimDeliveries(T0, 1000, 'n', 10);
        expect(claimed.map((d) => [d.id, d.claims])).toEqual([
          ['carried', 5],
          ['new', 1],
        ]);
      });

      it('retries a failed delivery later, counting the attempt and releasing the lease', async () => {
        await store.checkpoint(checkpointOf({ deliveries: [exampleDelivery('flaky', T0)] }));
        await store.claimDeliveries(T0, 60_000, 'n', 10);
        expect(await store.retryDelivery('flaky', 'n', T0 + 500, 'HTTP 503')).toBe(true);
        expect(await store.claimDeliveries(T0 + 499, 60_000, 'n', 10)).toEqual([]);
        expect(await store.claimDeliveries(T0 + 500, 60_000, 'n', 10)).toEqual([exampleDelivery('flaky', T0 + 500, { attempts: 1, claims: 2, lastError: 'HTTP 503' })]);
        expect(await store.retryDelivery('flaky', 'n', T0 + 600, 'timeout')).toBe(true);
        expect(await store.claimDeliveries(T0 + 600, 60_000, 'n', 10)).toEqual([exampleDelivery('flaky', T0 + 600, { attempts: 2, claims: 3, lastError: 'timeout' })]);
      });

      it('removes a completed delivery, adding the next repeat in its place', async () => {
        await store.checkpoint(checkpointOf({ deliveries: [exampleDelivery('sent', T0), exampleDelivery('sent-once', T0)] }));
        await store.claimDeliveries(T0, 10, 'n', 10);
        const repeat = exampleDelivery('repeat-1', T0 + 60_000, { kind: 'repeat' });
        expect(await store.completeDelivery('sent', 'n', repeat)).toBe(true);
        expect(await store.completeDelivery('sent-once', 'n')).toBe(true);
        expect(await store.claimDeliveries(T0 + 59_999, 10, 'n', 10)).toEqual([]);
        expect(await store.claimDeliveries(T0 + 60_000, 10, 'n', 10)).toEqual([{ ...repeat, claims: 1 }]);
      });

      it('forgets an abandoned delivery', async () => {
        await store.checkpoint(checkpointOf({ deliveries: [exampleDelivery('hopeless', T0), exampleDelivery('fine', T0)] }));
        await store.claimDeliveries(T0, 10, 'n', 10);
        expect(await store.abandonDelivery('hopeless', 'n')).toBe(true);
        expect(await claimAllIds(store)).toEqual(['fine']);
      });

      describe('records an outcome only for the lease holder', () => {
        const repeat = exampleDelivery('next-repeat', T0 + 60_000, { kind: 'repeat' });
        const outcomes: { name: string; record: (store: AlarmStore, owner: string) => Promise<boolean>; left: string[] }[] = [
          { name: 'completion, with its next repeat', record: (s, owner) => s.completeDelivery('contested', owner, repeat), left: ['next-repeat'] },
          { name: 'retry', record: (s, owner) => s.retryDelivery('contested', owner, T0 + 5, 'HTTP 503'), left: ['contested'] },
          { name: 'abandonment', record: (s, owner) => s.abandonDelivery('contested', owner), left: [] },
        ];

        it.each(outcomes)('$name: refused once another claimer took the expired lease over, leaving its lease and the row as they were', async ({ record }) => {
          await store.checkpoint(checkpointOf({ deliveries: [exampleDelivery('contested', T0)] }));
          await store.claimDeliveries(T0, 1000, 'slow', 10);
          await store.claimDeliveries(T0 + 1000, 1000, 'taker', 10);
          expect(await record(store, 'slow')).toBe(false);
          expect(await record(store, 'bystander')).toBe(false);
          // Still leased to the taker, unchanged, and no repeat was added.
          expect(await store.claimDeliveries(T0 + 1999, 1000, 'probe', 10)).toEqual([]);
          expect(await store.claimDeliveries(T0 + 10 ** 9, 1000, 'probe', 10)).toEqual([exampleDelivery('contested', T0, { claims: 3 })]);
        });

        it.each(outcomes)('$name: accepted from the holder, once (its lease ends with it)', async ({ record, left }) => {
          await store.checkpoint(checkpointOf({ deliveries: [exampleDelivery('contested', T0)] }));
          await store.claimDeliveries(T0, 1000, 'slow', 10);
          expect(await store.claimDeliveries(T0 + 500, 1000, 'other', 10)).toEqual([]);
          expect(await record(store, 'slow')).toBe(true);
          expect(await record(store, 'slow')).toBe(false);
          expect(await claimAllIds(store)).toEqual(left);
        });

        it.each(outcomes)('$name: refused for a delivery that is gone', async ({ record }) => {
          expect(await record(store, 'anyone')).toBe(false);
          expect(await claimAllIds(store)).toEqual([]);
        });
      });

      it('never gives one delivery to two concurrent claimers', async () => {
        const ids = Array.from({ length: 40 }, (_, i) => `c-${String(i).padStart(2, '0')}`);
        await store.checkpoint(checkpointOf({ deliveries: ids.map((id, i) => exampleDelivery(id, T0 + i)) }));
        const claims = await Promise.all(['n1', 'n2', 'n3', 'n4'].map((owner) => store.claimDeliveries(T0 + 100, 60_000, owner, 15)));
        const claimed = claims.flatMap((c) => c.map((d) => d.id));
        expect(new Set(claimed).size).toBe(claimed.length);
        expect(claimed.sort()).toEqual(ids);
        expect(claims.flat().map((d) => d.claims)).toEqual(ids.map(() => 1));
      });
    });
  });
}
