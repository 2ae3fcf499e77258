import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricCodec } from '../../core/codec.js';
import { serveKubeletPage } from '../support/kubeletStandIn.js';
import { runKansoku } from '../support/kansokuProcess.js';

/** The `kansoku` command as a user meets it: help, config errors, and `agent --once --output stdout`. */
const PAGE = readFileSync(new URL('../fixtures/prometheus/nri-k8s__k8s-1.25.13-containerd1.6__kubelet_metrics_cadvisor.prom', import.meta.url), 'utf8');

describe('kansoku CLI', () => {
  let kubelet: Awaited<ReturnType<typeof serveKubeletPage>>;
  beforeAll(async () => {
    kubelet = await serveKubeletPage(PAGE);
  });
  afterAll(async () => {
    await kubelet.close();
  });

  it.each(['agent', 'server', 'alerting', 'all-in-one'])('%s --help explains the command and exits 0', async (command) => {
    const p = runKansoku([command, '--help'], {});
    expect(await p.exited()).toBe(0);
    expect(p.stdout()).toMatch(new RegExp(`Usage: kansoku ${command}`));
  });

  it('refuses an unknown configuration key, naming it, with a non-zero exit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kansoku-cli-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'server:\n  api:\n    prot: 8070\n');
    const p = runKansoku(['server', '--config', file], { KANSOKU_AUTH_TOKENS: 't:p:admin' });
    expect(await p.exited()).toBe(2);
    rmSync(dir, { recursive: true, force: true });
    expect(p.stderr()).toMatch(/unknown configuration key "server\.api\.prot"/);
  });

  it('refuses an unknown KANSOKU_ variable and a bad value', async () => {
    const unknown = runKansoku(['server'], { KANSOKU_SERVER__NOPE: '1' });
    expect(await unknown.exited()).toBe(2);
    expect(unknown.stderr()).toMatch(/KANSOKU_SERVER__NOPE names no configuration key/);
    const bad = runKansoku(['server'], { KANSOKU_SERVER__API__PORT: 'eighty' });
    expect(await bad.exited()).toBe(2);
    expect(bad.stderr()).toMatch(/server\.api\.port/);
  });

  it('agent --once --output stdout takes a page of 200,000 series (it used to die with RangeError: Maximum call stack size exceeded)', async () => {
    const lines = ['# TYPE container_memory_usage_bytes gauge'];
    for (let i = 0; i < 200_000; i++) {
      lines.push(`container_memory_usage_bytes{container="app",id="/kubepods/burstable/pod${i}/c",image="registry/app:1",name="c${i}",namespace="ns-${i % 50}",pod="pod-${i}"} ${1000 + i} 1700000000000`);
    }
    const big = await serveKubeletPage(`${lines.join('\n')}\n`);
    try {
      const p = runKansoku(['agent', '--once', '--output', 'stdout', '--kubelet-url', big.url, '--hostname', 'node-big'], {});
      expect(await p.exited(), p.stderr()).toBe(0);
      const printed = p.stdout().trim().split('\n');
      expect(printed).toHaveLength(200_000);
      const last = metricCodec.decode(printed[199_999] ?? '');
      expect(last.ok && last.value.metric.value).toBe(200_999);
    } finally {
      await big.close();
    }
  }, 120_000);

  it('agent --once --output stdout prints one Monasca envelope per line, tenants from namespaces', async () => {
    const p = runKansoku(['agent', '--once', '--output', 'stdout', '--kubelet-url', kubelet.url, '--hostname', 'node-1'], { KANSOKU_REGION: 'RegionOne' });
    expect(await p.exited(), p.stderr()).toBe(0);
    const lines = p.stdout().trim().split('\n');
    expect(lines.length).toBeGreaterThan(100);
    const envelopes = lines.map((line) => {
      const decoded = metricCodec.decode(line);
      if (!decoded.ok) throw new Error(`line does not decode: ${decoded.error}: ${line}`);
      return decoded.value;
    });
    expect(new Set(envelopes.map((e) => e.meta.tenantId))).toEqual(new Set(['kube-system', 'scraper']));
    for (const e of envelopes) {
      expect(e.meta.region).toBe('RegionOne');
      expect(e.metric.dimensions['namespace']).toBe(e.meta.tenantId);
      expect(e.metric.dimensions['hostname']).toBe('node-1');
    }
  });

  it.each([
    ['agent', ['agent', '--kubelet-url', 'http://127.0.0.1:1/metrics/cadvisor'], /agent alone cannot use the in-process bus/],
    ['alerting', ['alerting'], /alerting alone cannot use the in-process bus/],
  ])('%s refuses the in-process bus, which nothing would read in its own process', async (_name, args, message) => {
    const p = runKansoku(args, {});
    expect(await p.exited()).toBe(2);
    expect(p.stderr()).toMatch(message);
  });

  it('agent --once exits non-zero with a clear error when the kubelet is unreachable', async () => {
    const p = runKansoku(['agent', '--once', '--output', 'stdout', '--kubelet-url', 'http://127.0.0.1:1/metrics/cadvisor'], {});
    expect(await p.exited()).toBe(1);
    expect(p.stdout()).toBe('');
    expect(p.stderr()).toMatch(/kubelet/i);
  });
});
