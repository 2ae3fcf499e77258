import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'libsql';
import { describe, expect, it } from 'vitest';
import type { LogEnvelope } from '../../core/envelope.js';
import { logTerms } from '../../core/query.js';
import { logSinkContract } from '../logSinkContract.testkit.js';
import { openDatabase } from './database.js';
import { ftsQuery, indexedWords } from './logFts.js';
import { SqliteLogSink } from './sqliteLogSink.js';
import { SqliteLogStore } from './sqliteLogStore.js';

describe('SqliteLogSink and SqliteLogStore', () => {
  logSinkContract(async () => {
    const db = openDatabase(':memory:');
    return { sink: new SqliteLogSink(db), store: new SqliteLogStore(db), refresh: () => Promise.resolve() };
  });
});

const T0 = Date.UTC(2026, 0, 1);

function log(tenantId: string, message: string, n: number, dimensions: Record<string, string> = { pod_name: 'p' }): LogEnvelope {
  return { log: { message, dimensions, timestamp: T0 + n, origin: `t|${n}` }, meta: { tenantId, region: 'r' }, creation_time: 0 };
}

describe('the word split of logs_fts', () => {
  // Each message is found by every word logTerms reads from it, and by no word it does not hold.
  const cases = [
    { name: 'underscore separates', message: 'foo_bar baz', finds: ['foo', 'bar', 'baz', 'foo_bar', '"bar baz"'], misses: ['foobar', '"foo baz"'] },
    { name: 'dots, parentheses and colons separate', message: 'Foo.bar(Foo.java:1)', finds: ['foo', 'java', '1', 'Foo.bar'], misses: ['foobar'] },
    { name: 'accents are kept', message: 'café naïve', finds: ['café', 'NAÏVE'], misses: ['cafe'] },
    { name: 'a combining mark separates, as in logTerms', message: 'a\u0301b', finds: ['a', 'b'], misses: ['ab'] },
    { name: 'a private-use character separates, as in logTerms', message: 'x\ue000y', finds: ['x', 'y'], misses: ['xy'] },
    { name: 'dotted capital I folds as toLowerCase folds it', message: 'İstanbul', finds: ['İstanbul', 'stanbul'], misses: [] },
    { name: 'CJK runs and other scripts', message: '日本語 テキスト ١٢٣', finds: ['日本語', 'テキスト', '١٢٣'], misses: ['日本'] },
  ];
  for (const { name, message, finds, misses } of cases) {
    it(name, async () => {
      const db = openDatabase(':memory:');
      await new SqliteLogSink(db).deliver([log('a', message, 0)]);
      const store = new SqliteLogStore(db);
      for (const q of finds) expect((await store.searchLogs({ tenantId: 'a', q, dimensions: {}, limit: 10 })).length, q).toBe(1);
      for (const q of misses) expect((await store.searchLogs({ tenantId: 'a', q, dimensions: {}, limit: 10 })).length, q).toBe(0);
    });
  }

  it('indexes the words logTerms reads, in order', () => {
    const message = 'GET /api/v1_x?q="Ünïcode"&n=42 ½ — done';
    expect(indexedWords(message).split(' ')).toEqual([...logTerms(message).words]);
  });

  it('quotes every word of the match and puts exclusions after a positive term', () => {
    expect(ftsQuery('secret OR * "a b" -x')).toEqual({ match: '"secret" "or" "a b" NOT ("x")' });
    expect(ftsQuery('-x -y')).toEqual({ exclude: '"x" OR "y"' });
    expect(ftsQuery('* ( )')).toEqual({});
    expect(ftsQuery(undefined)).toEqual({});
  });
});

describe('SqliteLogStore', () => {
  it('answers a query of exclusions alone', async () => {
    const db = openDatabase(':memory:');
    await new SqliteLogSink(db).deliver([log('a', 'one ok', 1), log('a', 'two failed', 2), log('b', 'three ok', 3)]);
    const found = await new SqliteLogStore(db).searchLogs({ tenantId: 'a', q: '-failed', dimensions: {}, limit: 10 });
    expect(found.map((e) => e.message)).toEqual(['one ok']);
  });

  it('keeps one stream per tenant and dimension set, whatever the key order', async () => {
    const db = openDatabase(':memory:');
    const sink = new SqliteLogSink(db);
    await sink.deliver([log('a', 'x', 1, { k: '1', j: '2' }), log('a', 'y', 2, { j: '2', k: '1' }), log('b', 'z', 3, { k: '1', j: '2' })]);
    await new SqliteLogSink(db).deliver([log('a', 'w', 4, { j: '2', k: '1' })]);
    expect(db.prepare('SELECT tenant_id, dimensions_key FROM log_streams ORDER BY id').all()).toEqual([
      { tenant_id: 'a', dimensions_key: '[["j","2"],["k","1"]]' },
      { tenant_id: 'b', dimensions_key: '[["j","2"],["k","1"]]' },
    ]);
    const found = await new SqliteLogStore(db).searchLogs({ tenantId: 'a', dimensions: { k: ['1'] }, limit: 10 });
    expect(found.map((e) => e.message)).toEqual(['w', 'y', 'x']);
  });

  it('asks more than a thousand matching streams as a subquery', async () => {
    const db = openDatabase(':memory:');
    await new SqliteLogSink(db).deliver(Array.from({ length: 1500 }, (_, i) => log('a', `line ${i}`, i, { pod_name: `p${i}`, app: 'shop' })));
    const found = await new SqliteLogStore(db).searchLogs({ tenantId: 'a', dimensions: { app: ['shop'] }, limit: 2 });
    expect(found.map((e) => e.message)).toEqual(['line 1499', 'line 1498']);
  });

  it('replaces a logs table of the old, never written shape when the file is opened', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kansoku-logs-'));
    try {
      const path = join(dir, 'kansoku.db');
      const old = new Database(path);
      old.exec('CREATE TABLE logs (id INTEGER PRIMARY KEY, tenant_id TEXT, region TEXT, timestamp_ms INTEGER, message TEXT, dimensions TEXT); CREATE INDEX logs_by_tenant_time ON logs (tenant_id, timestamp_ms)');
      old.close();
      const db = openDatabase(path);
      expect((db.prepare("SELECT name FROM pragma_table_info('logs')").all() as { name: string }[]).map((c) => c.name)).toContain('stream_id');
      db.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('searches 100,000 logs for a word (latency logged, behaviour asserted)', { timeout: 120_000 }, async () => {
    const db = openDatabase(':memory:');
    const sink = new SqliteLogSink(db);
    const words = ['GET', 'POST', 'cart', 'user', 'timeout', 'connection', 'refused', 'upstream'];
    const started = performance.now();
    for (let b = 0; b < 100; b++) {
      const batch: LogEnvelope[] = [];
      for (let i = 0; i < 1000; i++) {
        const n = b * 1000 + i;
        const dimensions = { namespace: `ns${n % 10}`, pod_name: `pod-${n % 500}`, container_name: 'app', hostname: `node-${n % 20}`, stream: 'stdout' };
        batch.push(log(n % 4 === 0 ? 'b' : 'a', `${words[n % 8]} ${words[(n * 3) % 8]} request ${n} took ${n % 997}ms${n % 1000 === 7 ? ' rareword' : ''}`, n, dimensions));
      }
      expect(await sink.deliver(batch)).toEqual({ kind: 'delivered' });
    }
    const insertMs = performance.now() - started;
    const store = new SqliteLogStore(db);
    const timed = async (q: Parameters<SqliteLogStore['searchLogs']>[0]) => {
      await store.searchLogs(q);
      const t = performance.now();
      const found = await store.searchLogs(q);
      return { found, ms: performance.now() - t };
    };
    const common = await timed({ tenantId: 'a', q: 'cart', dimensions: {}, limit: 100 });
    const rare = await timed({ tenantId: 'a', q: 'rareword', dimensions: {}, limit: 100 });
    const pod = await timed({ tenantId: 'a', q: 'cart', dimensions: { pod_name: ['pod-10'] }, limit: 100 });
    console.log(
      `100,000 logs: insert ${((insertMs * 1000) / 100_000).toFixed(0)} µs a log; search 'cart' ${common.ms.toFixed(1)} ms, 'rareword' ${rare.ms.toFixed(1)} ms, 'cart' in one pod ${pod.ms.toFixed(1)} ms`,
    );
    expect(common.found).toHaveLength(100);
    expect(common.found.every((e) => /\bcart\b/.test(e.message))).toBe(true);
    expect(common.found.map((e) => e.timestampMs)).toEqual([...common.found.map((e) => e.timestampMs)].sort((x, y) => y - x));
    // n % 1000 === 7 is odd, so tenant a's: one in each thousand.
    expect(rare.found).toHaveLength(100);
    expect(pod.found.every((e) => e.dimensions['pod_name'] === 'pod-10' && e.message.includes('cart'))).toBe(true);
  });
});
