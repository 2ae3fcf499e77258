import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { MetricEnvelope } from '../../core/envelope.js';
import { sinkContract } from '../sinkContract.testkit.js';
import { dimensionsKey, openDatabase, type SqliteDatabase } from './database.js';
import { POINTS_PER_STATEMENT, SqliteSink } from './sqliteSink.js';
import { SqliteStore } from './sqliteStore.js';

describe('SqliteSink and SqliteStore', () => {
  sinkContract(() => {
    const db = openDatabase(':memory:');
    return Promise.resolve({ sink: new SqliteSink(db), store: new SqliteStore(db) });
  });
});

function envelope(tenantId: string, name: string, dimensions: Record<string, string>, timestamp: number, value: number): MetricEnvelope {
  return { metric: { name, dimensions, timestamp, value, value_meta: null }, meta: { tenantId, region: 'r' }, creation_time: 1 };
}

interface StoredPoint {
  tenant_id: string;
  name: string;
  dimensions_key: string;
  timestamp_ms: number;
  value: number;
}

/** Every point with the series it was filed under, in a stable order. */
function storedPoints(db: SqliteDatabase): StoredPoint[] {
  return db
    .prepare(
      'SELECT s.tenant_id, s.name, s.dimensions_key, p.timestamp_ms, p.value FROM points p JOIN series s ON s.id = p.series_id ORDER BY s.tenant_id, s.name, s.dimensions_key, p.timestamp_ms',
    )
    .all()
    .map((row) => {
      const { tenant_id, name, dimensions_key, timestamp_ms, value } = row as StoredPoint;
      return { tenant_id, name, dimensions_key, timestamp_ms, value };
    });
}

function seriesCount(db: SqliteDatabase): number {
  return (db.prepare('SELECT count(*) AS n FROM series').get() as { n: number }).n;
}

describe('SqliteSink series and points', () => {
  // Points 10, 110 and 210 land on point 0's instant: in the first statement, the second, and the one-by-one remainder.
  const overwrites = [10, POINTS_PER_STATEMENT + 10, 2 * POINTS_PER_STATEMENT + 10];
  const manyPoints = Array.from({ length: 2.5 * POINTS_PER_STATEMENT }, (_, i) => envelope('a', 'cpu', {}, overwrites.includes(i) ? 0 : i, i));
  const cases: { name: string; deliveries: MetricEnvelope[][]; sinks?: 'one' | 'new sink per delivery'; series: number; points: Omit<StoredPoint, 'dimensions_key'>[] }[] = [
    {
      name: 'the same dimensions in another key order are the same series',
      deliveries: [
        [envelope('a', 'cpu', { x: '1', y: '2' }, 1000, 1), envelope('a', 'cpu', { x: '1' }, 1000, 9)],
        [envelope('a', 'cpu', { y: '2', x: '1' }, 2000, 2), envelope('a', 'cpu', { x: '1', y: '2' }, 3000, 3)],
      ],
      series: 2,
      points: [
        { tenant_id: 'a', name: 'cpu', timestamp_ms: 1000, value: 1 },
        { tenant_id: 'a', name: 'cpu', timestamp_ms: 2000, value: 2 },
        { tenant_id: 'a', name: 'cpu', timestamp_ms: 3000, value: 3 },
        { tenant_id: 'a', name: 'cpu', timestamp_ms: 1000, value: 9 },
      ],
    },
    {
      name: 'tenants with the same metric and dimensions have a series each',
      deliveries: [[envelope('a', 'cpu', { x: '1' }, 1000, 1), envelope('b', 'cpu', { x: '1' }, 1000, 2)]],
      series: 2,
      points: [
        { tenant_id: 'a', name: 'cpu', timestamp_ms: 1000, value: 1 },
        { tenant_id: 'b', name: 'cpu', timestamp_ms: 1000, value: 2 },
      ],
    },
    {
      name: 'a series created through an earlier sink on the same database is found, not duplicated',
      deliveries: [[envelope('a', 'cpu', { x: '1', y: '2' }, 1000, 1), envelope('a', 'mem', {}, 1000, 9)], [envelope('a', 'cpu', { y: '2', x: '1' }, 2000, 2)]],
      sinks: 'new sink per delivery',
      series: 2,
      points: [
        { tenant_id: 'a', name: 'cpu', timestamp_ms: 1000, value: 1 },
        { tenant_id: 'a', name: 'cpu', timestamp_ms: 2000, value: 2 },
        { tenant_id: 'a', name: 'mem', timestamp_ms: 1000, value: 9 },
      ],
    },
    {
      name: 'a batch of 2.5 statements: of the points at one instant the last wins, within a statement, across them and in the remainder',
      deliveries: [manyPoints],
      series: 1,
      points: [
        { tenant_id: 'a', name: 'cpu', timestamp_ms: 0, value: overwrites.at(-1) ?? NaN },
        ...manyPoints.filter((e) => e.metric.timestamp !== 0).map((e) => ({ tenant_id: 'a', name: 'cpu', timestamp_ms: e.metric.timestamp, value: e.metric.value })),
      ],
    },
  ];
  for (const { name, deliveries, sinks = 'one', series, points } of cases) {
    it(name, async () => {
      const db = openDatabase(':memory:');
      let sink = new SqliteSink(db);
      for (const batch of deliveries) {
        if (sinks === 'new sink per delivery') sink = new SqliteSink(db);
        expect(await sink.deliver(batch)).toEqual({ kind: 'delivered' });
      }
      expect(seriesCount(db)).toBe(series);
      expect(storedPoints(db).map(({ dimensions_key: _, ...point }) => point)).toEqual(points);
    });
  }

  it('keeps the region and dimension text of the first point of a series', async () => {
    const db = openDatabase(':memory:');
    const sink = new SqliteSink(db);
    const inRegion = (region: string, dimensions: Record<string, string>, timestamp: number): MetricEnvelope => ({ ...envelope('a', 'cpu', dimensions, timestamp, 1), meta: { tenantId: 'a', region } });
    expect(await sink.deliver([inRegion('r1', { x: '1', y: '2' }, 1000), inRegion('r2', { x: '1', y: '2' }, 2000)])).toEqual({ kind: 'delivered' });
    expect(await sink.deliver([inRegion('r3', { y: '2', x: '1' }, 3000)])).toEqual({ kind: 'delivered' });
    const series = db.prepare('SELECT region, dimensions FROM series').all() as { region: string; dimensions: string }[];
    expect(series.map(({ region, dimensions }) => ({ region, dimensions }))).toEqual([{ region: 'r1', dimensions: '{"x":"1","y":"2"}' }]);
  });

  it('forgets the series a failed batch created: their ids go to other series after the rollback', async () => {
    const db = openDatabase(':memory:');
    const sink = new SqliteSink(db);
    // NaN binds as NULL, which `value NOT NULL` refuses: the transaction rolls back after creating a's series.
    const failed = await sink.deliver([envelope('a', 'cpu', { h: '1' }, 1000, 1), envelope('a', 'cpu', { h: '1' }, 2000, Number.NaN)]);
    expect(failed.kind).toBe('retryable');
    expect(await sink.deliver([envelope('b', 'mem', { h: '1' }, 1000, 2)])).toEqual({ kind: 'delivered' });
    expect(await sink.deliver([envelope('a', 'cpu', { h: '1' }, 1000, 3)])).toEqual({ kind: 'delivered' });
    expect(storedPoints(db).map(({ tenant_id, name, value }) => ({ tenant_id, name, value }))).toEqual([
      { tenant_id: 'a', name: 'cpu', value: 3 },
      { tenant_id: 'b', name: 'mem', value: 2 },
    ]);
  });

  it('files every point under its own tenant, name and dimension set, whatever the key order (property)', async () => {
    // Few tenants, names, keys and values, so that series collide often; keys in random order.
    const dimensions = fc
      .uniqueArray(fc.tuple(fc.constantFrom('k1', 'é', '😀', '__proto__'), fc.constantFrom('v1', '')), { selector: ([key]) => key, maxLength: 3 })
      .chain((pairs) => fc.shuffledSubarray(pairs, { minLength: pairs.length, maxLength: pairs.length }))
      .map((pairs) => Object.fromEntries(pairs));
    const point = fc.record({
      tenantId: fc.constantFrom('a', 'b', 'c'),
      name: fc.constantFrom('cpu', 'mem', ''),
      dimensions,
      timestamp: fc.integer({ min: 0, max: 20 }),
      value: fc.integer(),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(point, { maxLength: 2 * POINTS_PER_STATEMENT + 30 }), { maxLength: 4 }), async (deliveries) => {
        const db = openDatabase(':memory:');
        const sink = new SqliteSink(db);
        // What the store should hold: the last value per (tenant, name, canonical dimensions, timestamp).
        const expected = new Map<string, StoredPoint>();
        for (const batch of deliveries) {
          expect(await sink.deliver(batch.map((p) => envelope(p.tenantId, p.name, p.dimensions, p.timestamp, p.value)))).toEqual({ kind: 'delivered' });
          for (const p of batch) {
            const stored = { tenant_id: p.tenantId, name: p.name, dimensions_key: dimensionsKey(p.dimensions), timestamp_ms: p.timestamp, value: p.value };
            expected.set(JSON.stringify([stored.tenant_id, stored.name, stored.dimensions_key, stored.timestamp_ms]), stored);
          }
        }
        const byKey = (a: StoredPoint, b: StoredPoint) => JSON.stringify([a.tenant_id, a.name, a.dimensions_key, a.timestamp_ms]).localeCompare(JSON.stringify([b.tenant_id, b.name, b.dimensions_key, b.timestamp_ms]));
        expect(storedPoints(db).sort(byKey)).toEqual([...expected.values()].sort(byKey));
        expect(seriesCount(db)).toBe(new Set([...expected.values()].map((p) => JSON.stringify([p.tenant_id, p.name, p.dimensions_key]))).size);
        db.close();
      }),
      { numRuns: 150 },
    );
  });
});
