import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { monasca } from '../support/monascaCli.js';
import { startInfluxd } from '../influxdb/influxd.js';
import { eventually, freePort, runKansoku, type KansokuProcess } from '../support/kansokuProcess.js';

/**
 * The OpenStack `monasca` CLI (Debian's python3-monascaclient) is the real client of the
 * tenant API: it must create a metric and list it back, for its own tenant only, against
 * the embedded store and against InfluxDB alike.
 */
const TOKENS = 'cli-token-a:project-a:monasca-user,cli-token-b:project-b:monasca-user';


describe.each([
  ['the embedded store (SQLite)', 'sqlite'],
  ['InfluxDB 1.x', 'influxdb'],
] as const)('monasca CLI against %s', (_label, store) => {
  let server: KansokuProcess;
  let endpoint: string;
  let influx: { url: string; stop(): Promise<void> } | undefined;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'kansoku-cli-'));
    const port = await freePort();
    endpoint = `http://127.0.0.1:${port}`;
    const env: Record<string, string> = {
      KANSOKU_AUTH_TOKENS: TOKENS,
      KANSOKU_SERVER__API__PORT: String(port),
      KANSOKU_SERVER__STORE: store,
      KANSOKU_SERVER__SQLITE__PATH: join(dataDir, 'kansoku.db'),
    };
    if (store === 'influxdb') {
      influx = await startInfluxd();
      env['KANSOKU_INFLUXDB_URL'] = influx.url;
    }
    server = runKansoku(['server'], env);
    await server.waitFor(/tenant API listening/, 60_000);
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    await influx?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('creates a metric and lists its measurement back for the same tenant only', async () => {
    const created = await monasca(endpoint, 'cli-token-a', 'metric-create', 'cli.test.latency', '42.5', '--dimensions', 'service=web,hostname=h1');
    expect(created.code, created.stderr).toBe(0);
    const listed = await eventually(
      () => monasca(endpoint, 'cli-token-a', 'measurement-list', 'cli.test.latency', '-5'),
      (r) => r.stdout.includes('42.5'),
      30_000,
    );
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(/cli\.test\.latency/);
    expect(listed.stdout).toMatch(/42\.50*/);
    expect(listed.stdout).toMatch(/service: web/);

    const other = await monasca(endpoint, 'cli-token-b', 'measurement-list', 'cli.test.latency', '-5');
    expect(other.code, other.stderr).toBe(0);
    expect(other.stdout).not.toMatch(/42\.5/);
    expect(other.stdout).not.toMatch(/cli\.test\.latency/);
  });

  it('lists metrics and names for the token tenant', async () => {
    const list = await monasca(endpoint, 'cli-token-a', 'metric-list', '--name', 'cli.test.latency');
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/cli\.test\.latency/);
    const names = await monasca(endpoint, 'cli-token-b', 'metric-name-list');
    expect(names.code, names.stderr).toBe(0);
    expect(names.stdout).not.toMatch(/cli\.test\.latency/);
  });

  it('computes statistics of the metric with metric-statistics', async () => {
    const stats = await monasca(endpoint, 'cli-token-a', 'metric-statistics', 'cli.test.latency', 'avg,max,count', '-5', '--period', '60', '--merge_metrics');
    expect(stats.code, stats.stderr).toBe(0);
    expect(stats.stdout).toMatch(/cli\.test\.latency/);
    expect(stats.stdout).toMatch(/42\.50*/);
    const other = await monasca(endpoint, 'cli-token-b', 'metric-statistics', 'cli.test.latency', 'avg', '-5', '--merge_metrics');
    expect(other.code, other.stderr).toBe(0);
    expect(other.stdout).not.toMatch(/42\.5/);
  });

  it('fails cleanly with a wrong token', async () => {
    const denied = await monasca(endpoint, 'not-a-token', 'metric-list');
    expect(denied.code).not.toBe(0);
    expect(`${denied.stdout}${denied.stderr}`).toMatch(/401|Unauthorized|not valid/i);
  });
});
