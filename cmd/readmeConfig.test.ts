import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadAlertingRules } from '../alerting/config.js';
import { loadConfig } from './loadConfig.js';

/** The configuration README.md shows is a configuration Kansoku accepts, so users can start from it. */
describe("README's configuration example", () => {
  it('loads, with its alarm definitions valid', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const block = /## Configuration[\s\S]*?```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block, 'README.md has a yaml block under "## Configuration"').toBeDefined();
    const dir = mkdtempSync(join(tmpdir(), 'kansoku-readme-'));
    try {
      const file = join(dir, 'kansoku.yaml');
      writeFileSync(file, block ?? '');
      const config = loadConfig({ file, env: {} });
      expect(config.bus.kind).toBe('kafka');
      expect(config.server.store).toBe('influxdb');
      const { group_id: _groupId, telemetry: _telemetry, ...rules } = config.alerting;
      const loaded = loadAlertingRules(rules);
      expect(loaded.ok, loaded.ok ? '' : loaded.error).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
