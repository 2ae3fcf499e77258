/**
 * The v1 sink and the store against a real influxd (Debian's 1.6.7): what the sink
 * writes, the store reads back per tenant, exactly, and nothing of another tenant.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MetricEnvelope } from '../../core/envelope.js';
import type { DeliveryOutcome } from '../../core/outcome.js';
import type { DimensionFilter, Series } from '../../core/query.js';
import type { InfluxdbConfig } from '../../server/influxdb/config.js';
import { InfluxdbV1Sink } from '../../server/influxdb/influxdbV1Sink.js';
import { InfluxdbQueryError, InfluxdbV1Store } from '../../server/influxdb/influxdbV1Store.js';
import { startInfluxd, type RunningInfluxd } from './influxd.js';

const T0 = 1_700_000_000_000;

function metric(tenantId: string, name: string, dimensions: Record<string, string>, timestamp: number, value: number, valueMeta: Record<string, string> | null = null): MetricEnvelope {
  return { metric: { name, dimensions, timestamp, value, value_meta: valueMeta }, meta: { tenantId, region: 'useast' }, creation_time: Math.floor(timestamp / 1000) };
}

let influxd: RunningInfluxd;

beforeAll(async () => {
  influxd = await startInfluxd();
});

afterAll(async () => {
  await influxd?.stop();
});

/** Each test writes into its own database, so that none sees another's series. */
let databases = 0;
function config(overrides: Partial<InfluxdbConfig> = {}): InfluxdbConfig {
  databases += 1;
  return { version: 1, url: influxd.url, database: `kansoku_test_${databases}`, timeoutMs: 5_000, retryDelayMs: 10, ...overrides };
}

async function influxql(statement: string, database?: string): Promise<unknown> {
  const form = new URLSearchParams({ q: statement, epoch: 'ms', ...(database ? { db: database } : {}) });
  const response = await fetch(`${influxd.url}/query`, { method: 'POST', body: form });
  return response.json();
}

async function databaseNames(): Promise<string[]> {
  const json = (await influxql('SHOW DATABASES')) as { results: [{ series?: [{ values: [string][] }] }] };
  return (json.results[0].series?.[0]?.values ?? []).map(([name]) => name);
}

/** Delivers, letting the sink create its database first when it has to. */
async function deliverAll(sink: InfluxdbV1Sink, batch: readonly MetricEnvelope[]): Promise<DeliveryOutcome<MetricEnvelope>> {
  const first = await sink.deliver(batch);
  if (first.kind === 'retryable' && /was created/.test(first.reason)) return sink.deliver(batch);
  return first;
}

describe('InfluxdbV1Sink against influxd', () => {
  it('creates the missing database on the first write, answers retryable, then delivers', async () => {
    const cfg = config();
    const sink = new InfluxdbV1Sink(cfg);
    const batch = [metric('t', 'cpu', {}, T0, 1)];
    expect(await databaseNames()).not.toContain(cfg.database);

    const first = await sink.deliver(batch);
    expect(first).toMatchObject({ kind: 'retryable', reason: expect.stringMatching(/was created/) as unknown });
    expect(await databaseNames()).toContain(cfg.database);
    expect(await sink.deliver(batch)).toEqual({ kind: 'delivered' });
  });

  it('rejects a type conflict without retrying it, and stores the rest of the batch', async () => {
    const cfg = config();
    const sink = new InfluxdbV1Sink(cfg);
    const store = new InfluxdbV1Store(cfg);
    expect(await deliverAll(sink, [metric('t', 'warmup', {}, T0, 1)])).toEqual({ kind: 'delivered' });
    // Another writer made `value` a string in this measurement: every float write to it now conflicts.
    const raw = await fetch(`${influxd.url}/write?db=${cfg.database}&precision=ms`, { method: 'POST', body: `conflicted,_tenant_id=t value="text" ${T0}` });
    expect(raw.status).toBe(204);

    const bad = metric('t', 'conflicted', { host: 'a' }, T0 + 1, 2);
    const good = metric('t', 'fine', { host: 'a' }, T0 + 1, 3);
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const outcome = await sink.deliver([bad, good]);
      expect(outcome).toMatchObject({ kind: 'rejected', items: [bad], delivered: 1, reason: expect.stringMatching(/field type conflict/) as unknown });
    }
    const stored = await store.listMeasurements({ tenantId: 't', name: 'fine', dimensions: {}, startMs: T0, limit: 10 });
    expect(stored).toEqual([{ name: 'fine', dimensions: { host: 'a' }, points: [{ timestampMs: T0 + 1, value: 3, valueMeta: null }] }]);
  });

  it('rejects what line protocol cannot carry before sending, and delivers the rest', async () => {
    const cfg = config();
    const sink = new InfluxdbV1Sink(cfg);
    const store = new InfluxdbV1Store(cfg);
    const unsendable = metric('t', 'two\nlines', {}, T0, 1);
    const fine = metric('t', 'one.line', {}, T0, 2);
    await deliverAll(sink, [fine]);
    expect(await sink.deliver([unsendable, fine])).toMatchObject({ kind: 'rejected', items: [unsendable], delivered: 1 });
    expect(await store.listMetrics({ tenantId: 't', dimensions: {}, limit: 10 })).toEqual([{ name: 'one.line', dimensions: {} }]);
  });

  it('splits a batch into requests of batchSize points', async () => {
    const cfg = config({ batchSize: 2 });
    const sink = new InfluxdbV1Sink(cfg);
    const store = new InfluxdbV1Store(cfg);
    const batch = [0, 1, 2, 3, 4].map((i) => metric('t', 'split', {}, T0 + i, i));
    expect(await deliverAll(sink, batch)).toEqual({ kind: 'delivered' });
    const [series] = await store.listMeasurements({ tenantId: 't', name: 'split', dimensions: {}, startMs: T0, limit: 100 });
    expect(series?.points.map((p) => p.value)).toEqual([0, 1, 2, 3, 4]);
  });

  it('reports healthy while influxd answers /ping', async () => {
    expect(await new InfluxdbV1Sink(config()).health()).toEqual({ healthy: true });
  });
});

describe('InfluxdbV1Store reads back what the sink wrote, per tenant', () => {
  const cfg = { version: 1, url: '', database: 'kansoku_tenants', timeoutMs: 5_000, retryDelayMs: 10 } as const;
  let store: InfluxdbV1Store;
  // Awkward but valid Monasca data: spaces, commas, equals signs, quotes, non-ASCII, and a dimension named like a field.
  const a = [
    metric('tenant-a', 'cpu.idle_perc', { hostname: 'node 1', zone: 'z=1,2' }, T0, 91.5, { note: 'say "hi"' }),
    metric('tenant-a', 'cpu.idle_perc', { hostname: 'node 1', zone: 'z=1,2' }, T0 + 1_000, 92.25),
    metric('tenant-a', 'cpu.idle_perc', { hostname: 'node 2', zone: 'z=1,2' }, T0 + 500, 10),
    metric('tenant-a', 'disk space,used=%', { device: 'sdä', value: 'not the field' }, T0 + 2_000, 1e12),
  ];
  const b = [metric('tenant-b', 'cpu.idle_perc', { hostname: 'node 1', zone: 'z=1,2' }, T0, 7)];
  // Tenants whose ids are injection attempts are still tenants: they must see their own rows only.
  const hostileTenants = ["x' OR '1'='1", '"; DROP DATABASE kansoku_tenants', "x\\' OR 1=1 --"];
  const hostile = hostileTenants.map((tenantId, i) => metric(tenantId, 'cpu.idle_perc', { hostname: 'node 1', zone: 'z=1,2' }, T0, 100 + i));

  beforeAll(async () => {
    const settings = { ...cfg, url: influxd.url };
    store = new InfluxdbV1Store(settings);
    const outcome = await deliverAll(new InfluxdbV1Sink(settings), [...a, ...b, ...hostile.filter((m) => !m.meta.tenantId.includes('\\'))]);
    expect(outcome).toEqual({ kind: 'delivered' });
  });

  it('lists each tenant its own metrics, with dimensions as written', async () => {
    expect(await store.listMetrics({ tenantId: 'tenant-a', dimensions: {}, limit: 100 })).toEqual(
      expect.arrayContaining([
        { name: 'cpu.idle_perc', dimensions: { hostname: 'node 1', zone: 'z=1,2' } },
        { name: 'cpu.idle_perc', dimensions: { hostname: 'node 2', zone: 'z=1,2' } },
        { name: 'disk space,used=%', dimensions: { device: 'sdä', value: 'not the field' } },
      ]),
    );
    expect(await store.listMetrics({ tenantId: 'tenant-a', dimensions: {}, limit: 100 })).toHaveLength(3);
    expect(await store.listMetrics({ tenantId: 'tenant-b', dimensions: {}, limit: 100 })).toEqual([{ name: 'cpu.idle_perc', dimensions: { hostname: 'node 1', zone: 'z=1,2' } }]);
    expect(await store.listMetrics({ tenantId: 'tenant-c', dimensions: {}, limit: 100 })).toEqual([]);
  });

  it('returns measurements exactly: values, ms timestamps, value_meta, oldest first', async () => {
    const series = await store.listMeasurements({ tenantId: 'tenant-a', name: 'cpu.idle_perc', dimensions: {}, startMs: T0, limit: 10 });
    const byHost = (s: Series) => s.dimensions['hostname'] ?? '';
    expect([...series].sort((x, y) => byHost(x).localeCompare(byHost(y)))).toEqual([
      {
        name: 'cpu.idle_perc',
        dimensions: { hostname: 'node 1', zone: 'z=1,2' },
        points: [
          { timestampMs: T0, value: 91.5, valueMeta: { note: 'say "hi"' } },
          { timestampMs: T0 + 1_000, value: 92.25, valueMeta: null },
        ],
      },
      { name: 'cpu.idle_perc', dimensions: { hostname: 'node 2', zone: 'z=1,2' }, points: [{ timestampMs: T0 + 500, value: 10, valueMeta: null }] },
    ]);
    expect(await store.listMeasurements({ tenantId: 'tenant-b', name: 'cpu.idle_perc', dimensions: {}, startMs: T0, limit: 10 })).toEqual([
      { name: 'cpu.idle_perc', dimensions: { hostname: 'node 1', zone: 'z=1,2' }, points: [{ timestampMs: T0, value: 7, valueMeta: null }] },
    ]);
  });

  const filters: { name: string; dimensions: DimensionFilter; hosts: string[] }[] = [
    { name: 'one value', dimensions: { hostname: ['node 2'] }, hosts: ['node 2'] },
    { name: 'any of several values', dimensions: { hostname: ['node 1', 'node 2'] }, hosts: ['node 1', 'node 2'] },
    { name: 'a value with escaped characters', dimensions: { zone: ['z=1,2'] }, hosts: ['node 1', 'node 2'] },
    { name: 'key exists', dimensions: { zone: null }, hosts: ['node 1', 'node 2'] },
    { name: 'key missing everywhere', dimensions: { rack: null }, hosts: [] },
    { name: 'empty list of values', dimensions: { hostname: [] }, hosts: [] },
    { name: 'empty value (would mean "no such tag" to InfluxDB)', dimensions: { rack: [''] }, hosts: [] },
    { name: 'a reserved key cannot widen the tenant', dimensions: { _tenant_id: ['tenant-b'] }, hosts: [] },
  ];
  for (const { name, dimensions, hosts } of filters) {
    it(`filters by dimensions: ${name}`, async () => {
      const query = { tenantId: 'tenant-a', name: 'cpu.idle_perc', dimensions, startMs: T0, limit: 10 };
      const series = await store.listMeasurements(query);
      expect(series.map((s) => s.dimensions['hostname']).sort()).toEqual(hosts);
      for (const listQuery of [query, { ...query, startMs: undefined }]) {
        const metrics = await store.listMetrics(listQuery);
        expect(metrics.map((m) => m.dimensions['hostname']).sort()).toEqual(hosts);
      }
    });
  }

  it('pages by time: afterMs is exclusive, endMs inclusive, limit per series', async () => {
    const base = { tenantId: 'tenant-a', name: 'cpu.idle_perc', dimensions: { hostname: ['node 1'] }, startMs: T0 };
    const times = async (extra: { afterMs?: number; endMs?: number; limit: number }) => (await store.listMeasurements({ ...base, ...extra })).flatMap((s) => s.points.map((p) => p.timestampMs));
    expect(await times({ limit: 1 })).toEqual([T0]);
    expect(await times({ afterMs: T0, limit: 10 })).toEqual([T0 + 1_000]);
    expect(await times({ endMs: T0, limit: 10 })).toEqual([T0]);
    expect(await times({ afterMs: T0 + 1_000, limit: 10 })).toEqual([]);
  });

  it('lists only metrics with a measurement in the window when one is given', async () => {
    const names = async (startMs: number, endMs?: number) =>
      (await store.listMetrics({ tenantId: 'tenant-a', dimensions: {}, startMs, ...(endMs !== undefined ? { endMs } : {}), limit: 100 })).map((m) => `${m.name}/${m.dimensions['hostname'] ?? m.dimensions['device']}`).sort();
    expect(await names(T0 + 600)).toEqual(['cpu.idle_perc/node 1', 'disk space,used=%/sdä']);
    expect(await names(T0, T0 + 500)).toEqual(['cpu.idle_perc/node 1', 'cpu.idle_perc/node 2']);
    expect(await names(T0 + 3_000)).toEqual([]);
  });

  // InfluxDB 1.x bounds only GROUP BY time() queries by now(); these have no such bound, and must not.
  it('has no implicit "now" bound: far-future and pre-1970 points are listed and returned', async () => {
    const cfg = config();
    const sink = new InfluxdbV1Sink(cfg);
    const fresh = new InfluxdbV1Store(cfg);
    const farFuture = Date.parse('2200-01-01T00:00:00Z');
    expect(await deliverAll(sink, [metric('t', 'skewed', {}, farFuture, 1), metric('t', 'skewed', {}, -5_000, 2)])).toEqual({ kind: 'delivered' });
    expect(await fresh.listMetrics({ tenantId: 't', dimensions: {}, startMs: farFuture, limit: 10 })).toEqual([{ name: 'skewed', dimensions: {} }]);
    const [series] = await fresh.listMeasurements({ tenantId: 't', name: 'skewed', dimensions: {}, startMs: -10_000, limit: 10 });
    expect(series?.points.map((p) => p.timestampMs)).toEqual([-5_000, farFuture]);
  });

  it('gives tenants with hostile ids their own rows and nothing else', async () => {
    for (const [i, tenantId] of hostileTenants.entries()) {
      const series = await store.listMeasurements({ tenantId, name: 'cpu.idle_perc', dimensions: {}, startMs: T0, limit: 10 });
      const written = !tenantId.includes('\\'); // a backslash cannot be written as a tag, so that tenant has no rows
      expect(series).toEqual(written ? [{ name: 'cpu.idle_perc', dimensions: { hostname: 'node 1', zone: 'z=1,2' }, points: [{ timestampMs: T0, value: 100 + i, valueMeta: null }] }] : []);
      expect(await store.listMetrics({ tenantId, dimensions: {}, limit: 100 })).toEqual(written ? [{ name: 'cpu.idle_perc', dimensions: { hostname: 'node 1', zone: 'z=1,2' } }] : []);
    }
  });

  const injections = ["x' OR '1'='1", "' OR ''='", '"; DROP DATABASE kansoku_tenants; SELECT "', 'a\nb', '\\', "\\'", '/.*/'];
  for (const hostileText of injections) {
    it(`never leaks rows or breaks the query on hostile input ${JSON.stringify(hostileText)}`, async () => {
      const asTenant = { tenantId: hostileText, name: 'cpu.idle_perc', dimensions: {}, startMs: T0, limit: 10 };
      const asName = { tenantId: 'nobody', name: hostileText, dimensions: {}, startMs: T0, limit: 10 };
      const asFilterValue = { tenantId: 'nobody', name: 'cpu.idle_perc', dimensions: { hostname: [hostileText] }, startMs: T0, limit: 10 };
      const asFilterKey = { tenantId: 'nobody', name: 'cpu.idle_perc', dimensions: { [hostileText]: null }, startMs: T0, limit: 10 };
      const hostileTenantRows = hostileTenants.includes(hostileText) ? 1 : 0;
      expect(await store.listMeasurements(asTenant)).toHaveLength(hostileTenantRows);
      expect(await store.listMetrics(asTenant)).toHaveLength(hostileTenantRows);
      for (const query of [asName, asFilterValue, asFilterKey]) {
        expect(await store.listMeasurements(query)).toEqual([]);
        expect(await store.listMetrics(query)).toEqual([]);
        expect(await store.listMetrics({ ...query, startMs: undefined })).toEqual([]);
      }
      // And tenant-a's rows are still there: nothing was dropped.
      expect(await store.listMetrics({ tenantId: 'tenant-a', dimensions: {}, limit: 100 })).toHaveLength(3);
      expect(await databaseNames()).toContain('kansoku_tenants');
    });
  }

  it('answers an empty list before the database exists', async () => {
    const fresh = new InfluxdbV1Store(config());
    expect(await fresh.listMetrics({ tenantId: 'tenant-a', dimensions: {}, limit: 10 })).toEqual([]);
    expect(await fresh.listMeasurements({ tenantId: 'tenant-a', name: 'cpu', dimensions: {}, startMs: 0, limit: 10 })).toEqual([]);
  });
});

describe('when influxd stops', () => {
  it('the sink answers retryable and unhealthy, and the store fails with a query error, none of them throwing', async () => {
    const own = await startInfluxd();
    const cfg: InfluxdbConfig = { version: 1, url: own.url, database: 'stopping', timeoutMs: 2_000, retryDelayMs: 25 };
    const sink = new InfluxdbV1Sink(cfg);
    const batch = [metric('t', 'cpu', {}, T0, 1)];
    try {
      expect(await deliverAll(sink, batch)).toEqual({ kind: 'delivered' });
    } finally {
      await own.stop();
    }
    expect(await sink.deliver(batch)).toMatchObject({ kind: 'retryable', delayMs: 25, reason: expect.stringMatching(/unreachable/) as unknown });
    expect(await sink.health()).toMatchObject({ healthy: false });
    await expect(new InfluxdbV1Store(cfg).listMetrics({ tenantId: 't', dimensions: {}, limit: 10 })).rejects.toBeInstanceOf(InfluxdbQueryError);
  });
});
