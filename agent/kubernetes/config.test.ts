import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { kubeConfigOf, KubernetesSectionSchema, type KubernetesSection } from './config.js';

function withDefaults(raw: Record<string, unknown>): KubernetesSection {
  return Value.Default(KubernetesSectionSchema, structuredClone(raw)) as KubernetesSection;
}

describe('KubernetesSectionSchema', () => {
  it('an absent section takes every default', () => {
    const section = withDefaults({});
    expect(section).toEqual({ enabled: false, pod_labels: [], pod_annotations: [], wait_for_metadata_ms: 2_000, resync_timeout_ms: 10_000 });
    expect(Value.Check(KubernetesSectionSchema, section)).toBe(true);
  });

  it.each([
    ['an unknown key', { enabled: true, nodename: 'x' }],
    ['a negative wait', { wait_for_metadata_ms: -1 }],
    ['a fractional timeout', { resync_timeout_ms: 1.5 }],
    ['an empty kubeconfig path', { kubeconfig: '' }],
    ['a label key that is not a string', { pod_labels: [1] }],
  ])('rejects %s', (_name, raw) => {
    expect(Value.Check(KubernetesSectionSchema, withDefaults(raw))).toBe(false);
  });
});

describe('kubeConfigOf', () => {
  it('reads a kubeconfig file when one is given', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kansoku-kubeconfig-'));
    const file = join(dir, 'config');
    writeFileSync(
      file,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters: [{ name: c, cluster: { server: "https://10.0.0.1:6443", insecure-skip-tls-verify: true } }]',
        'users: [{ name: u, user: { token: abc } }]',
        'contexts: [{ name: x, context: { cluster: c, user: u } }]',
        'current-context: x',
      ].join('\n'),
    );
    const kubeConfig = kubeConfigOf({ kubeconfig: file });
    expect(kubeConfig.getCurrentCluster()?.server).toBe('https://10.0.0.1:6443');
    expect(kubeConfig.getCurrentUser()?.token).toBe('abc');
  });

  it('fails at start-up outside a pod when no kubeconfig is given', () => {
    const saved = process.env['KUBERNETES_SERVICE_HOST'];
    delete process.env['KUBERNETES_SERVICE_HOST'];
    try {
      expect(() => kubeConfigOf({})).toThrow(/not running in a pod/);
    } finally {
      if (saved !== undefined) process.env['KUBERNETES_SERVICE_HOST'] = saved;
    }
  });
});
