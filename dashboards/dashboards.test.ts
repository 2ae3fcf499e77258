import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CADVISOR_METRICS } from '../agent/kubelet/cadvisorMetrics.js';

/** A dashboard that queries a metric the agent never emits shows an empty panel: catch it here. */
const dir = new URL('./grafana/', import.meta.url);
const dashboards = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .map((f) => ({ file: f, json: JSON.parse(readFileSync(new URL(f, dir), 'utf8')) as { uid: string; panels: { id: number; targets: { metric: string; dimensions: { key: string }[] }[] }[] } }));

describe('Grafana dashboards', () => {
  it('exist', () => {
    expect(dashboards.length).toBeGreaterThan(0);
  });

  it.each(dashboards)('$file queries only metrics and dimensions the kubelet source emits', ({ json }) => {
    const emitted = new Set(CADVISOR_METRICS.map((m) => m.name));
    const dimensionsOf = (name: string): Set<string> => {
      const row = CADVISOR_METRICS.find((m) => m.name === name);
      const base = row?.scope === 'pod' ? ['namespace', 'pod_name', 'hostname'] : ['namespace', 'pod_name', 'container_name', 'image', 'hostname'];
      return new Set([...base, ...Object.values(row?.dimensions ?? {})]);
    };
    for (const panel of json.panels) {
      for (const target of panel.targets) {
        expect(emitted, `panel ${panel.id}`).toContain(target.metric);
        for (const d of target.dimensions) expect(dimensionsOf(target.metric), `panel ${panel.id} dimension ${d.key}`).toContain(d.key);
      }
    }
    expect(new Set(json.panels.map((p) => p.id)).size).toBe(json.panels.length);
  });
});
