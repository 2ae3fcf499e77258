import { describe, expect, it } from 'vitest';
import { StaticClusterMetadata } from './clusterMetadata.js';
import type { PodMetadata } from './podMetadata.js';

function pod(namespace: string, name: string): PodMetadata {
  return { uid: `${namespace}-${name}`, namespace, name, labels: {}, annotations: {}, containers: new Map() };
}

describe('StaticClusterMetadata', () => {
  it('answers from what it was given and counts changes', () => {
    const metadata = new StaticClusterMetadata([pod('a', 'p1')], [{ name: 'a', labels: {}, annotations: {} }]);
    expect(metadata.pod('a', 'p1')?.uid).toBe('a-p1');
    expect(metadata.pod('a', 'p2')).toBeUndefined();
    expect(metadata.namespace('a')?.name).toBe('a');
    expect(metadata.version).toBe(0);
    metadata.setPod(pod('a', 'p2'));
    metadata.deletePod('a', 'p1');
    metadata.deletePod('a', 'gone-already');
    expect(metadata.version).toBe(2);
    expect(metadata.pod('a', 'p1')).toBeUndefined();
  });

  it('waitForPod: true at once when known, true when the pod arrives, false at the timeout', async () => {
    const metadata = new StaticClusterMetadata([pod('a', 'known')]);
    await expect(metadata.waitForPod('a', 'known', 10)).resolves.toBe(true);
    const later = metadata.waitForPod('a', 'later', 5_000);
    setTimeout(() => metadata.setPod(pod('a', 'later')), 20);
    await expect(later).resolves.toBe(true);
    const startedMs = Date.now();
    await expect(metadata.waitForPod('a', 'never', 50)).resolves.toBe(false);
    expect(Date.now() - startedMs).toBeGreaterThanOrEqual(45);
  });
});
