import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './loadConfig.js';

const dir = mkdtempSync(join(tmpdir(), 'kansoku-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

function file(text: string): string {
  const path = join(dir, `kansoku-${files++}.yaml`);
  writeFileSync(path, text);
  return path;
}

describe('loadConfig', () => {
  it('fills every default from the schema when nothing is given', () => {
    const config = loadConfig({ env: {} });
    expect(config.server.api.port).toBe(8070);
    expect(config.bus.kind).toBe('memory');
    expect(config.server.store).toBe('sqlite');
    expect(config.tenants.unmapped).toBe('namespace');
    expect(config.bus.kafka.brokers).toEqual(['127.0.0.1:9092']);
  });

  it('layers file, then environment, then command-line overrides', () => {
    const path = file('region: RegionOne\nserver:\n  api:\n    port: 9000\n  store: influxdb\nbus:\n  kind: kafka\n');
    const config = loadConfig({
      file: path,
      env: { KANSOKU_SERVER__API__PORT: '9001', KANSOKU_KAFKA_BROKERS: 'k1:9092, k2:9092', KANSOKU_SERVER__INFLUXDB__VERSION: '2', KANSOKU_AGENT__KUBELET__ENABLED: 'true', HOME: '/root' },
      overrides: { 'agent.hostname': 'node-7' },
    });
    expect(config.region).toBe('RegionOne');
    expect(config.server.api.port).toBe(9001);
    expect(config.bus.kafka.brokers).toEqual(['k1:9092', 'k2:9092']);
    expect(config.server.influxdb.version).toBe(2);
    expect(config.agent.kubelet.enabled).toBe(true);
    expect(config.agent.hostname).toBe('node-7');
  });

  it.each([
    ['an unknown top-level key', 'serevr: {}\n', /unknown configuration key "serevr"/],
    ['an unknown nested key', 'server:\n  api:\n    prot: 1\n', /unknown configuration key "server\.api\.prot" \(known here: enabled, host, port/],
    ['a wrong type', 'server:\n  api:\n    port: eighty\n', /configuration key "server\.api\.port"/],
    ['a value out of range', 'server:\n  api:\n    port: 70000\n', /server\.api\.port/],
    ['an unknown enum value', 'bus:\n  kind: rabbitmq\n', /bus\.kind/],
    ['an unknown key inside a union branch', 'tenants:\n  unmapped:\n    tenant: t\n    extra: 1\n', /tenants\.unmapped\.extra/],
    ['YAML that is not a mapping', '- a\n- b\n', /must hold a mapping/],
    ['broken YAML', 'a: [\n', /not valid YAML/],
  ])('rejects %s, naming the key', (_name, text, message) => {
    expect(() => loadConfig({ file: file(text), env: {} })).toThrow(ConfigError);
    expect(() => loadConfig({ file: file(text), env: {} })).toThrow(message);
  });

  it('rejects an environment variable that names no key', () => {
    expect(() => loadConfig({ env: { KANSOKU_SERVER__APII__PORT: '1' } })).toThrow(/KANSOKU_SERVER__APII__PORT names no configuration key/);
  });

  it('freezes the result', () => {
    const config = loadConfig({ env: {} });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.server.api)).toBe(true);
  });
});
