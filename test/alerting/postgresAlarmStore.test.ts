import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlarmStore } from '../../alerting/store/alarmStore.js';
import { alarmStoreContract, exampleAlarm, exampleDefinition, exampleDelivery, exampleTransition } from '../../alerting/store/alarmStoreContract.testkit.js';
import { ALARM_STORE_TABLES } from '../../alerting/store/alarmStoreSchema.js';
import { openPostgresAlarmStore } from '../../alerting/store/postgresAlarmStore.js';
import { startPostgres, type RunningPostgres } from '../support/postgres.js';

let server: RunningPostgres | undefined;
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => {
  await server?.stop();
});

function running(): RunningPostgres {
  if (server === undefined) throw new Error('PostgreSQL did not start');
  return server;
}

/**
 * The contract wants an empty store each time (the outbox and the partitions are global):
 * one database, emptied before each case, costs a tenth of a new database per case.
 */
async function emptyStore(): Promise<AlarmStore> {
  const { connectionString } = running();
  const store = await openPostgresAlarmStore(connectionString, { maxConnections: 4 });
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    await client.query(`TRUNCATE ${ALARM_STORE_TABLES.join(', ')}`);
  } finally {
    await client.end();
  }
  return store;
}

alarmStoreContract('PostgreSQL', emptyStore);

const T0 = Date.UTC(2026, 10, 26, 13, 0, 0);

describe('PostgresAlarmStore shared by replicas', () => {
  const replicas: AlarmStore[] = [];
  afterAll(async () => {
    await Promise.all(replicas.map((store) => store.close()));
  });

  async function twoReplicas(): Promise<[AlarmStore, AlarmStore]> {
    const connectionString = await running().createDatabase();
    // Opened together: the schema is created once, under its advisory lock.
    const [first, second] = await Promise.all([openPostgresAlarmStore(connectionString, { maxConnections: 4 }), openPostgresAlarmStore(connectionString, { maxConnections: 4 })]);
    replicas.push(first, second);
    return [first, second];
  }

  it('never lets two replicas claim the same delivery', async () => {
    const [first, second] = await twoReplicas();
    const ids = Array.from({ length: 300 }, (_, i) => `d-${String(i).padStart(3, '0')}`);
    const deliveries = ids.map((id, i) => exampleDelivery(id, T0 + (i % 17)));
    await first.checkpoint({ offsets: new Map(), alarms: [], transitions: [], deliveries });

    const claimedBy = new Map<string, string[]>();
    // Four claimers a replica, each claiming small batches until nothing is left.
    const claimer = async (store: AlarmStore, owner: string): Promise<void> => {
      for (;;) {
        const batch = await store.claimDeliveries(T0 + 100, 60_000, owner, 7);
        if (batch.length === 0) return;
        for (const d of batch) claimedBy.set(d.id, [...(claimedBy.get(d.id) ?? []), owner]);
      }
    };
    await Promise.all([first, second].flatMap((store, r) => [0, 1, 2, 3].map((c) => claimer(store, `replica-${r}-claimer-${c}`))));

    const doubles = [...claimedBy].filter(([, owners]) => owners.length > 1);
    expect(doubles).toEqual([]);
    expect([...claimedBy.keys()].sort()).toEqual(ids);
    const owners = new Set([...claimedBy.values()].flat().map((owner) => owner.split('-claimer')[0]));
    expect(owners.size).toBe(2);
  });

  it('lets exactly one of two replicas make the same transition', async () => {
    const [first, second] = await twoReplicas();
    const definition = await first.createDefinition(exampleDefinition('t'), T0);
    const alarm = exampleAlarm('t', 'contested', definition.id, { state: 'OK' });
    await first.checkpoint({ offsets: new Map(), alarms: [alarm], transitions: [], deliveries: [] });
    const attempt = (store: AlarmStore, name: string) =>
      store.checkpoint({
        offsets: new Map([[0, name]]),
        alarms: [{ ...alarm, state: 'ALARM', stateUpdatedAtMs: T0 + 1 }],
        transitions: [exampleTransition(alarm, `tr-${name}`, 'OK', 'ALARM', T0 + 1)],
        deliveries: [exampleDelivery(`del-${name}`, T0 + 1, { tenantId: 't', transitionId: `tr-${name}`, alarmId: alarm.id })],
      });
    const results = await Promise.all([attempt(first, 'first'), attempt(second, 'second')]);
    const skipped = results.flatMap((r) => r.skippedTransitions);
    expect(skipped).toHaveLength(1);
    const history = await first.listHistory({ tenantId: 't', offset: 0, limit: 10 });
    expect(history).toHaveLength(1);
    expect(skipped).not.toContain(history[0]?.id);
    const claimed = await second.claimDeliveries(T0 + 10, 1000, 'n', 10);
    expect(claimed.map((d) => d.transitionId)).toEqual([history[0]?.id]);
  });

  it('counts every definition change of concurrent replicas in the revision', async () => {
    const [first, second] = await twoReplicas();
    const before = await first.definitionsRevision();
    const creates = Array.from({ length: 20 }, (_, i) =>
      (i % 2 === 0 ? first : second).createDefinition(exampleDefinition('t', { name: `d${i}` }), T0),
    );
    await Promise.all(creates);
    expect(await second.definitionsRevision()).toBe(before + 20);
  });
});
