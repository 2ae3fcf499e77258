import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Value } from '@sinclair/typebox/value';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBus } from '../bus/memory/memoryBus.js';
import { DEFAULT_WIRE } from '../bus/wire.js';
import { Counters } from '../core/counters.js';
import { StaticTokenAuthenticator } from './api/auth.js';
import { ServerSectionSchema, type ServerSection } from './config.js';
import { startServer } from './main.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function section(path: string): ServerSection {
  return Value.Default(ServerSectionSchema, { store: 'sqlite', sqlite: { path }, api: { enabled: false } }) as ServerSection;
}

describe('startServer', () => {
  it('stops in reverse order, each step reported, the SQLite database closed last of the store', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kansoku-server-'));
    dirs.push(dir);
    const server = await startServer({
      config: section(join(dir, 'k.db')),
      region: 'r',
      bus: new MemoryBus({ capacity: 100, maxBatch: 10 }),
      wire: DEFAULT_WIRE,
      counters: new Counters(),
      logger: pino({ level: 'silent' }),
      authenticator: StaticTokenAuthenticator.parse('t:t:monasca-user'),
      now: () => Date.now(),
    });
    const outcomes = await server.stop(Date.now() + 5_000);
    expect(outcomes.map((o) => [o.name, o.outcome])).toEqual([
      ['api', 'done'],
      ['consumer', 'done'],
      ['log consumer', 'done'],
      ['sink', 'done'],
      ['log sink', 'done'],
      ['database', 'done'],
      ['producer', 'done'],
    ]);
    expect(server.stop(Date.now())).toBe(server.stop(Date.now()));
  });
});
