import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqliteFile } from './sqliteFile.js';

const directory = mkdtempSync(join(tmpdir(), 'kansoku-sqlite-file-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

/** What libsql throws for a lock SQLite would not wait for. */
const busy = (): Error => Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY', rawCode: 5 });

describe('openSqliteFile', () => {
  it('runs the setup again while SQLite answers busy, then returns the working database', () => {
    let calls = 0;
    const db = openSqliteFile(join(directory, 'nested', 'retried.db'), (d) => {
      calls++;
      if (calls <= 2) throw busy();
      d.exec('CREATE TABLE IF NOT EXISTS t (x INTEGER)');
    });
    expect(calls).toBe(3);
    db.exec('INSERT INTO t VALUES (7)');
    expect(db.prepare('SELECT x FROM t').all()).toEqual([{ x: 7 }]);
    expect(db.prepare('PRAGMA busy_timeout').all()).toEqual([{ timeout: 5000 }]);
    db.close();
  });

  it('throws any other error at once, without a second try', () => {
    let calls = 0;
    expect(() =>
      openSqliteFile(join(directory, 'failing.db'), () => {
        calls++;
        throw new Error('no such function: nope');
      }),
    ).toThrow('no such function: nope');
    expect(calls).toBe(1);
  });

  it('gives up with the busy error once its deadline has passed', () => {
    let calls = 0;
    const started = Date.now();
    expect(() =>
      openSqliteFile(
        join(directory, 'stuck.db'),
        () => {
          calls++;
          throw busy();
        },
        400,
      ),
    ).toThrow('database is locked');
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    expect(calls).toBeGreaterThan(2);
  });
});
