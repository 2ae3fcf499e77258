import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { alarmStoreContract } from './alarmStoreContract.testkit.js';
import { openSqliteAlarmStore } from './sqliteAlarmStore.js';

const directory = mkdtempSync(join(tmpdir(), 'kansoku-alarm-store-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));
let files = 0;

alarmStoreContract('SQLite in memory', () => openSqliteAlarmStore(':memory:'));
alarmStoreContract('SQLite file', () => openSqliteAlarmStore(join(directory, `contract-${++files}.db`)));

/** Runs `node` on a script with tsx, resolving to its exit code and stderr. */
function runNode(script: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: fileURLToPath(new URL('../..', import.meta.url)), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

describe('SqliteAlarmStore on a file', () => {
  it('opens in several processes at once on a new file (two servers starting together): none fails with "database is locked"', async () => {
    for (let round = 0; round < 2; round++) {
      const path = join(directory, `together-${round}.db`);
      // All four open at one instant, well after each has loaded.
      const startAtMs = Date.now() + 4_000;
      const script = `import { openSqliteAlarmStore } from './alerting/store/sqliteAlarmStore.ts';
while (Date.now() < ${startAtMs}) await new Promise((resolve) => setTimeout(resolve, 1));
const store = await openSqliteAlarmStore(${JSON.stringify(path)});
await store.createDefinition({ tenantId: 't', name: 'd' + process.pid, description: '', expression: 'avg(cpu) > 1', matchBy: [], severity: 'LOW', alarmActions: [], okActions: [], undeterminedActions: [], actionsEnabled: true }, Date.now());
await store.close();`;
      const results = await Promise.all([1, 2, 3, 4].map(() => runNode(script)));
      const outcomes = results.map((r) => (r.code === 0 ? 'ok' : `exit ${String(r.code)}: ${r.stderr.trim().split('\n').slice(-12).join('\n')}`));
      expect(outcomes.filter((o) => o !== 'ok'), outcomes.join('\n---\n')).toEqual([]);
      const store = await openSqliteAlarmStore(path);
      expect(await store.allDefinitions()).toHaveLength(4);
      await store.close();
    }
  }, 60_000);

  it('keeps everything across a reopen', async () => {
    const path = join(directory, 'reopened', 'alarms.db');
    const nowMs = Date.UTC(2026, 10, 26);
    const first = await openSqliteAlarmStore(path);
    const definition = await first.createDefinition(
      { tenantId: 't', name: 'disk', description: '', expression: 'max(disk{mount=/}) > 90', matchBy: ['hostname'], severity: 'CRITICAL', alarmActions: ['m'], okActions: [], undeterminedActions: [], actionsEnabled: true },
      nowMs,
    );
    const method = await first.createNotificationMethod({ tenantId: 't', name: 'hook', type: 'WEBHOOK', address: 'http://hook', periodSeconds: 60, secret: 'k' }, nowMs);
    const alarm = {
      id: 'alarm-1',
      tenantId: 't',
      definitionId: definition.id,
      matchBy: { hostname: 'h' },
      metrics: [{ name: 'disk', dimensions: { hostname: 'h', mount: '/' } }],
      state: 'ALARM' as const,
      lifecycleState: null,
      link: null,
      partition: 7,
      subAlarms: [{ index: 0, expression: 'max(disk{mount=/}) > 90.0', state: 'ALARM' as const, window: 'w', currentValues: [95] }],
      stateUpdatedAtMs: nowMs,
      createdAtMs: nowMs,
      updatedAtMs: nowMs,
    };
    const transition = { id: 'tr-1', tenantId: 't', alarmId: 'alarm-1', definitionId: definition.id, oldState: 'UNDETERMINED' as const, newState: 'ALARM' as const, reason: 'r', reasonData: '{}', subAlarms: [], metrics: alarm.metrics, timestampMs: nowMs };
    const delivery = { id: 'd-1', tenantId: 't', transitionId: 'tr-1', alarmId: 'alarm-1', methodId: method.id, kind: 'transition' as const, dueAtMs: nowMs, attempts: 0, lastError: null };
    await first.checkpoint({ offsets: new Map([[7, '42']]), alarms: [alarm], transitions: [transition], deliveries: [delivery] });
    const revision = await first.definitionsRevision();
    await first.close();

    const second = await openSqliteAlarmStore(path);
    try {
      expect(await second.getDefinition('t', definition.id)).toEqual(definition);
      expect(await second.getNotificationMethod('t', method.id)).toEqual(method);
      expect(await second.loadPartition(7)).toEqual({ offset: '42', alarms: [alarm] });
      expect(await second.getTransition('t', 'tr-1')).toEqual(transition);
      expect(await second.definitionsRevision()).toBe(revision);
      expect(await second.claimDeliveries(nowMs, 1000, 'n', 10)).toEqual([{ ...delivery, claims: 1 }]);
    } finally {
      await second.close();
    }
  });
});
