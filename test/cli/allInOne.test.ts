import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually, freePort, runKansoku } from '../support/kansokuProcess.js';

/**
 * What `npm start` gives a new user: one process, no external service, this machine's
 * cgroups measured as tenant `local`, readable through the API with the printed token,
 * and a clean exit on SIGTERM.
 */
describe('kansoku all-in-one', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'kansoku-aio-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('measures this machine, serves it with the printed token, and stops cleanly', async () => {
    const port = await freePort();
    const p = runKansoku(['all-in-one', '--port', String(port)], { KANSOKU_SERVER__SQLITE__PATH: join(dataDir, 'kansoku.db') });
    try {
      const tokenLine = await p.waitFor(/Token for tenant "local"/, 60_000);
      const token = tokenLine.trim().split(' ').pop() ?? '';
      expect(token.length).toBeGreaterThan(10);
      expect(p.stdout()).toContain(`http://127.0.0.1:${port}/v2.0`);

      const names = await eventually(
        async () => (await (await fetch(`http://127.0.0.1:${port}/v2.0/metrics/names`, { headers: { 'x-auth-token': token } })).json()) as { elements: { name: string }[] },
        (body) => body.elements.some((e) => e.name === 'container.cpu.total_time'),
        30_000,
      );
      expect(names.elements.map((e) => e.name)).toContain('container.cpu.total_time');

      const res = await fetch(`http://127.0.0.1:${port}/v2.0/metrics/measurements?name=container.cpu.total_time&dimensions=cgroup:/&start_time=2000-01-01T00:00:00Z`, { headers: { 'x-auth-token': token } });
      const body = (await res.json()) as { elements: { dimensions: Record<string, string>; measurements: [string, number, unknown][] }[] };
      expect(res.status).toBe(200);
      expect(body.elements[0]?.dimensions).toMatchObject({ cgroup: '/', container_name: '/' });
      expect(body.elements[0]?.measurements[0]?.[1]).toBeGreaterThan(0);

      const denied = await fetch(`http://127.0.0.1:${port}/v2.0/metrics/names`, { headers: { 'x-auth-token': 'guess' } });
      expect(denied.status).toBe(401);
    } finally {
      expect(await p.stop()).toBe(0);
    }
    expect(p.stderr()).toMatch(/agent stopped/);
    expect(p.stderr()).toMatch(/server stopped/);
  });
});
