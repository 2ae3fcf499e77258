import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Metric } from '../../core/envelope.js';
import { MAX_ERRORS_KEPT } from '../json/jsonMapping.js';
import { STATS_SUMMARY_METRICS, SUMMARY_LIMITS, mapStatsSummary, type StatsSummaryMapResult } from './statsSummaryMetrics.js';

const SCRAPE_MS = 1_700_000_000_000;
const HOST = 'node-a';

function fixture(name: string): unknown {
  return JSON.parse(readFileSync(new URL(`../../test/fixtures/summary/${name}`, import.meta.url), 'utf8')) as unknown;
}

function map(payload: unknown): StatsSummaryMapResult {
  return mapStatsSummary(payload, { hostname: HOST, scrapeTimeMs: SCRAPE_MS });
}

/** The one measurement of `name` whose dimensions include `dimensions`. */
function find(result: StatsSummaryMapResult, name: string, dimensions: Record<string, string> = {}): Metric {
  const found = result.measurements.filter((m) => m.name === name && Object.entries(dimensions).every(([k, v]) => m.dimensions[k] === v));
  expect(found, `${name} ${JSON.stringify(dimensions)}`).toHaveLength(1);
  return found[0] as Metric;
}

function podsOf(result: StatsSummaryMapResult): string[] {
  return [...new Set(result.measurements.filter((m) => m.name === 'pod.cpu.total_time').map((m) => `${m.dimensions['namespace']}/${m.dimensions['pod_name']}`))].sort();
}

function containersOf(result: StatsSummaryMapResult): string[] {
  return [
    ...new Set(result.measurements.filter((m) => m.name === 'container.mem.working_set_bytes').map((m) => `${m.dimensions['pod_name']}/${m.dimensions['container_name']}`)),
  ].sort();
}

const NODE_NAMES = ['node.cpu.total_time', 'node.cpu.usage_cores', 'node.mem.working_set_bytes', 'node.net.in_bytes', 'node.fs.usage_bytes', 'node.imagefs.usage_bytes'];

interface FixtureCase {
  readonly file: string;
  readonly measurements: number;
  readonly pods: number;
  readonly containers: number;
  readonly somePods: readonly string[];
  readonly checks: readonly { name: string; dimensions?: Record<string, string>; value: number; time: string }[];
}

const FIXTURES: readonly FixtureCase[] = [
  {
    file: 'nri-k8s__k8s-1.16.15-docker__kubelet_stats_summary.json',
    measurements: 802,
    pods: 15,
    containers: 15,
    somePods: ['kube-system/coredns-5644d7b6d9-nz2s7', 'scraper/e2e-ds-8zz8h', 'scraper/e2e-statefulset-1'],
    checks: [
      { name: 'node.cpu.total_time', value: 216.639857637, time: '2021-12-15T13:51:05Z' },
      { name: 'node.cpu.usage_cores', value: 0.41830061, time: '2021-12-15T13:51:05Z' },
      { name: 'node.mem.working_set_bytes', value: 1446182912, time: '2021-12-15T13:51:05Z' },
      { name: 'node.net.in_bytes', dimensions: { interface: 'eth0' }, value: 811882573, time: '2021-12-15T13:51:05Z' },
      { name: 'node.net.total_in_bytes', value: 811882573, time: '2021-12-15T13:51:05Z' },
      { name: 'node.imagefs.usage_bytes', value: 1697403198, time: '2021-12-15T13:51:05Z' },
      { name: 'node.imagefs.inodes_used', value: 50031, time: '2021-12-15T13:51:05Z' },
      { name: 'pod.volume.usage_bytes', dimensions: { pod_name: 'e2e-ds-8zz8h', volume: 'an-empty-dir' }, value: 4096, time: '2021-12-15T13:50:20Z' },
      { name: 'pod.net.in_bytes', dimensions: { pod_name: 'e2e-ds-8zz8h', interface: 'eth0' }, value: 42, time: '2021-12-15T13:50:58Z' },
      { name: 'container.mem.working_set_bytes', dimensions: { pod_name: 'e2e-ds-8zz8h', container_name: 'busybox' }, value: 557056, time: '2021-12-15T13:50:49Z' },
      { name: 'container.logs.usage_bytes', dimensions: { pod_name: 'e2e-ds-8zz8h', container_name: 'busybox' }, value: 24576, time: '2021-12-15T13:50:49Z' },
    ],
  },
  {
    file: 'nri-k8s__k8s-1.25.13-containerd__kubelet_stats_summary.json',
    measurements: 999,
    pods: 17,
    containers: 17,
    somePods: ['kube-system/coredns-565d847f94-xmmbs', 'kube-system/kindnet-c7tw4', 'scraper/e2e-hpa-84cf5db7cb-wfpbv'],
    checks: [
      { name: 'node.cpu.total_time', value: 109.612534, time: '2023-09-06T16:19:35Z' },
      { name: 'node.net.total_in_bytes', value: 980585508, time: '2023-09-06T16:19:35Z' },
      { name: 'node.imagefs.usage_bytes', value: 1711075328, time: '2023-09-06T16:19:25Z' },
      { name: 'node.fs.total_bytes', value: 62671097856, time: '2023-09-06T16:19:35Z' },
      { name: 'pod.cpu.total_time', dimensions: { pod_name: 'kube-apiserver-datagen-1-25' }, value: 18.026965, time: '2023-09-06T16:19:24Z' },
      { name: 'pod.net.in_bytes', dimensions: { pod_name: 'kube-apiserver-datagen-1-25', interface: 'eth0' }, value: 969630380, time: '2023-09-06T16:19:34Z' },
      { name: 'pod.ephemeral_storage.usage_bytes', dimensions: { pod_name: 'kube-apiserver-datagen-1-25' }, value: 86016, time: '2023-09-06T16:19:35Z' },
      { name: 'pod.volume.total_bytes', dimensions: { pod_name: 'coredns-565d847f94-xmmbs', volume: 'kube-api-access-fxjkx' }, value: 178257920, time: '2023-09-06T16:18:02Z' },
      { name: 'pod.process_count', dimensions: { pod_name: 'coredns-565d847f94-xmmbs' }, value: 0, time: '2023-11-14T22:13:20Z' },
      { name: 'container.cpu.total_time', dimensions: { container_name: 'kube-apiserver' }, value: 17.931439, time: '2023-09-06T16:19:23Z' },
      { name: 'container.mem.available_bytes', dimensions: { container_name: 'coredns' }, value: 166514688, time: '2023-09-06T16:19:24Z' },
      { name: 'container.fs.usage_bytes', dimensions: { container_name: 'kube-apiserver' }, value: 61440, time: '2023-09-06T16:19:35Z' },
    ],
  },
  {
    file: 'nri-k8s__legacy__kubelet_stats_summary_payload.json',
    measurements: 532,
    pods: 8,
    containers: 12,
    somePods: ['kube-system/heapster-5mz5f', 'kube-system/kube-dns-54cccfbdf8-dznm7', 'kube-system/influxdb-grafana-rsmwp'],
    checks: [
      { name: 'node.cpu.total_time', value: 22332.102208229, time: '2018-03-02T13:42:44Z' },
      { name: 'node.net.total_in_bytes', value: 1507694406 + 5354431, time: '2018-03-02T13:42:44Z' },
      { name: 'node.net.out_bytes', dimensions: { interface: 'eth1' }, value: 302062791, time: '2018-03-02T13:42:44Z' },
      { name: 'pod.net.in_bytes', dimensions: { pod_name: 'kube-state-metrics-57f4659995-6n2qq', interface: 'eth0' }, value: 32575098, time: '2018-03-02T13:42:43Z' },
      {
        name: 'pod.volume.usage_bytes',
        dimensions: { pod_name: 'kube-state-metrics-57f4659995-6n2qq', volume: 'kube-state-metrics-token-rl9b8' },
        value: 12288,
        time: '2018-03-01T14:32:03Z',
      },
      { name: 'container.cpu.total_time', dimensions: { container_name: 'sidecar' }, value: 57.903101656, time: '2018-03-02T13:42:54Z' },
      { name: 'container.cpu.usage_cores', dimensions: { container_name: 'dnsmasq' }, value: 0.0001519, time: '2018-03-02T13:42:40Z' },
      { name: 'container.mem.available_bytes', dimensions: { container_name: 'addon-resizer' }, value: 25186304, time: '2018-03-02T13:42:51Z' },
    ],
  },
];

describe('mapStatsSummary: real payloads', () => {
  for (const c of FIXTURES) {
    it(`${c.file}: every pod, container and node metric, with the payload's values and times`, () => {
      const result = map(fixture(c.file));
      expect(result.errors).toEqual([]);
      expect(result.shapeErrors).toBe(0);
      expect(result.dropped).toEqual({ not_finite: 0, invalid: 0 });
      expect(result.measurements).toHaveLength(c.measurements);
      expect(podsOf(result)).toHaveLength(c.pods);
      expect(podsOf(result)).toEqual(expect.arrayContaining([...c.somePods]));
      expect(containersOf(result)).toHaveLength(c.containers);
      for (const name of NODE_NAMES) expect(result.measurements.some((m) => m.name === name && m.dimensions['hostname'] === HOST)).toBe(true);
      for (const check of c.checks) {
        const metric = find(result, check.name, check.dimensions);
        expect(metric.value, check.name).toBeCloseTo(check.value, 9);
        expect(metric.timestamp, check.name).toBe(Date.parse(check.time));
        expect(metric.value_meta).toBeNull();
      }
    });
  }

  it('gives each scope exactly its dimensions', () => {
    const result = map(fixture(FIXTURES[1]?.file ?? ''));
    const allowed: Record<string, readonly string[]> = {
      node: ['hostname', 'interface'],
      pod: ['namespace', 'pod_name', 'hostname', 'interface', 'volume', 'persistentvolumeclaim'],
      container: ['namespace', 'pod_name', 'container_name', 'hostname'],
    };
    for (const m of result.measurements) {
      const scope = m.name.split('.')[0] ?? '';
      for (const key of Object.keys(m.dimensions)) expect(allowed[scope], `${m.name} ${key}`).toContain(key);
      expect(m.dimensions['hostname']).toBe(HOST);
      if (scope !== 'node') expect(m.dimensions['namespace']).toBeTruthy();
    }
  });

  it('shares names and dimensions with the /metrics/cadvisor mapping where the quantity is the same', () => {
    const names = new Set(STATS_SUMMARY_METRICS.map((r) => r.name));
    for (const name of ['container.cpu.total_time', 'container.mem.used_bytes', 'container.mem.working_set_bytes', 'container.mem.rss_bytes', 'container.fs.usage_bytes', 'container.fs.total_bytes', 'pod.net.in_bytes', 'pod.net.out_bytes', 'pod.net.in_errors', 'pod.net.out_errors']) {
      expect(names).toContain(name);
    }
    const inBytes = STATS_SUMMARY_METRICS.find((r) => r.name === 'pod.net.in_bytes');
    expect(inBytes?.dimensions).toEqual(['namespace', 'pod_name', 'hostname', 'interface']);
  });

  it('has a table row for every name, each documented with field, unit and scope', () => {
    const result = map(fixture(FIXTURES[1]?.file ?? ''));
    const rowNames = new Set(STATS_SUMMARY_METRICS.map((r) => r.name));
    for (const m of result.measurements) expect(rowNames).toContain(m.name);
    expect(new Set(STATS_SUMMARY_METRICS.map((r) => r.name)).size).toBe(STATS_SUMMARY_METRICS.length);
    for (const r of STATS_SUMMARY_METRICS) {
      expect(r.field.length).toBeGreaterThan(0);
      expect(r.unit.length).toBeGreaterThan(0);
      expect(r.name.startsWith(`${r.scope}.`)).toBe(true);
    }
  });
});

/** A small valid payload to break piece by piece. */
function payload(): Record<string, unknown> {
  return {
    node: {
      nodeName: 'n',
      cpu: { time: '2024-01-02T03:04:05Z', usageCoreNanoSeconds: 5e9, usageNanoCores: 2.5e8 },
      network: { time: '2024-01-02T03:04:05Z', interfaces: [{ name: 'eth0', rxBytes: 10, txBytes: 20, rxErrors: 0, txErrors: 0 }] },
    },
    pods: [
      {
        podRef: { namespace: 'team-a', name: 'web-1', uid: 'u' },
        cpu: { time: '2024-01-02T03:04:06.123456789Z', usageCoreNanoSeconds: 1e9 },
        containers: [{ name: 'app', memory: { time: '2024-01-02T03:04:07+01:00', workingSetBytes: 1024 } }],
      },
    ],
  };
}

describe('mapStatsSummary: hostile and broken payloads', () => {
  it('reads the small payload it breaks below', () => {
    const result = map(payload());
    expect(result.errors).toEqual([]);
    expect(find(result, 'node.cpu.total_time').value).toBe(5);
    expect(find(result, 'node.cpu.usage_cores').value).toBe(0.25);
    expect(find(result, 'pod.cpu.total_time').timestamp).toBe(Date.parse('2024-01-02T03:04:06.123Z'));
    expect(find(result, 'container.mem.working_set_bytes').timestamp).toBe(Date.parse('2024-01-02T02:04:07Z'));
  });

  const cases: readonly { name: string; input: unknown; measurements: number; shapeErrors: number; invalid?: number; notFinite?: number; error?: RegExp }[] = [
    { name: 'not an object', input: 'hello', measurements: 0, shapeErrors: 1, error: /not an object/ },
    { name: 'null', input: null, measurements: 0, shapeErrors: 1 },
    { name: 'an array', input: [payload()], measurements: 0, shapeErrors: 1 },
    { name: 'no node', input: { pods: [] }, measurements: 0, shapeErrors: 1, error: /no node/ },
    { name: 'pods is an object', input: { ...payload(), pods: { a: 1 } }, measurements: 10, shapeErrors: 1, error: /pods is an object, not an array/ },
    { name: 'a pod is a string', input: { ...payload(), pods: ['x', ...(payload()['pods'] as unknown[])] }, measurements: 12, shapeErrors: 1, error: /pods\[0\] is a string/ },
    { name: 'a pod without podRef', input: { ...payload(), pods: [{ cpu: { usageCoreNanoSeconds: 1 } }] }, measurements: 10, shapeErrors: 1, error: /podRef has no namespace/ },
    {
      name: 'a pod name of the wrong type',
      input: { ...payload(), pods: [{ podRef: { namespace: 'a', name: 42 }, cpu: { usageCoreNanoSeconds: 1 } }] },
      measurements: 10,
      shapeErrors: 1,
    },
    { name: 'cpu a number', input: { node: { cpu: 5 }, pods: [] }, measurements: 0, shapeErrors: 1, error: /node.cpu is a number, not an object/ },
    { name: '"NaN" as a value', input: { node: { cpu: { usageCoreNanoSeconds: 'NaN', usageNanoCores: 1 } }, pods: [] }, measurements: 1, shapeErrors: 0, invalid: 1, error: /is a string \("NaN"\), not a number/ },
    { name: 'a numeric string', input: { node: { cpu: { usageCoreNanoSeconds: '12' } }, pods: [] }, measurements: 0, shapeErrors: 0, invalid: 1 },
    { name: 'a negative value', input: { node: { memory: { usageBytes: -1, rssBytes: 3 } }, pods: [] }, measurements: 1, shapeErrors: 0, invalid: 1, error: /negative/ },
    { name: 'an overflowing number (Infinity)', input: JSON.parse('{"node":{"memory":{"usageBytes":1e999}},"pods":[]}') as unknown, measurements: 0, shapeErrors: 0, notFinite: 1 },
    { name: 'a value that is an object', input: { node: { memory: { usageBytes: { x: 1 } } }, pods: [] }, measurements: 0, shapeErrors: 0, invalid: 1 },
    { name: 'a bad time falls back to the scrape time', input: { node: { cpu: { time: 'yesterday', usageNanoCores: 1 } }, pods: [] }, measurements: 1, shapeErrors: 1, error: /not an RFC 3339 time/ },
    { name: 'interfaces not an array', input: { node: { network: { interfaces: 'eth0' } }, pods: [] }, measurements: 0, shapeErrors: 1 },
    { name: 'an interface without a name', input: { node: { network: { interfaces: [{ rxBytes: 1 }, { name: 'eth0', rxBytes: 2 }] } }, pods: [] }, measurements: 2, shapeErrors: 1 },
    {
      name: 'a dimension Monasca refuses',
      input: { node: {}, pods: [{ podRef: { namespace: 'a', name: 'b{c}' }, cpu: { usageCoreNanoSeconds: 1 } }] },
      measurements: 0,
      shapeErrors: 0,
      invalid: 1,
      error: /restricted character/,
    },
    {
      name: '__proto__ keys are data, not prototypes',
      input: JSON.parse('{"node":{"cpu":{"__proto__":{"usageNanoCores":7}}},"pods":[]}') as unknown,
      measurements: 0,
      shapeErrors: 0,
    },
  ];

  for (const c of cases) {
    it(`${c.name}: counted, and the good rest kept`, () => {
      const result = map(c.input);
      expect(result.measurements, JSON.stringify(result.errors)).toHaveLength(c.measurements);
      expect(result.shapeErrors).toBe(c.shapeErrors);
      expect(result.dropped).toEqual({ invalid: c.invalid ?? 0, not_finite: c.notFinite ?? 0 });
      if (c.error !== undefined) expect(result.errors.join('\n')).toMatch(c.error);
      expect(result.errors.length).toBe(Math.min(MAX_ERRORS_KEPT, c.shapeErrors + (c.invalid ?? 0) + (c.notFinite ?? 0)));
    });
  }

  it('a total is left out when one interface has a bad value, which is counted once', () => {
    const result = map({ node: { network: { interfaces: [{ name: 'a', rxBytes: 1, txBytes: 1 }, { name: 'b', rxBytes: 'x', txBytes: 2 }] } }, pods: [] });
    expect(result.dropped.invalid).toBe(1);
    expect(result.measurements.some((m) => m.name === 'node.net.total_in_bytes')).toBe(false);
    expect(find(result, 'node.net.total_out_bytes').value).toBe(3);
  });

  it('a persistent volume carries its claim', () => {
    const volume = { time: '2024-01-02T03:04:05Z', name: 'data', usedBytes: 5, pvcRef: { name: 'data-db-0', namespace: 'team-a' } };
    const result = map({ node: {}, pods: [{ podRef: { namespace: 'team-a', name: 'db-0' }, volume: [volume] }] });
    expect(find(result, 'pod.volume.usage_bytes').dimensions).toEqual({ namespace: 'team-a', pod_name: 'db-0', hostname: HOST, volume: 'data', persistentvolumeclaim: 'data-db-0' });
  });

  it('a kubelet that sends no interface list: the inlined default interface', () => {
    const result = map({ node: { network: { time: '2024-01-02T03:04:05Z', name: 'eth0', rxBytes: 11, txBytes: 12 } }, pods: [{ podRef: { namespace: 'a', name: 'b' }, network: { rxBytes: 0 } }] });
    expect(result.errors).toEqual([]);
    expect(find(result, 'node.net.in_bytes', { interface: 'eth0' }).value).toBe(11);
    expect(find(result, 'node.net.total_out_bytes').value).toBe(12);
    // A pod without networking of its own (host network) has an unnamed default interface: nothing to report.
    expect(result.measurements.some((m) => m.name.startsWith('pod.net.'))).toBe(false);
  });

  it('a bad time uses the scrape time', () => {
    const result = map({ node: { cpu: { time: 123, usageNanoCores: 1e9 } }, pods: [] });
    expect(find(result, 'node.cpu.usage_cores').timestamp).toBe(SCRAPE_MS);
  });

  it('huge arrays are cut at their limit and counted', () => {
    const pod = (i: number): unknown => ({ podRef: { namespace: 'ns', name: `p${i}` }, cpu: { usageCoreNanoSeconds: i } });
    const pods = Array.from({ length: SUMMARY_LIMITS.pods + 5 }, (_, i) => pod(i));
    const containers = Array.from({ length: SUMMARY_LIMITS.containersPerPod + 1 }, (_, i) => ({ name: `c${i}`, cpu: { usageCoreNanoSeconds: 1 } }));
    const result = map({ node: {}, pods: [{ podRef: { namespace: 'ns', name: 'big' }, containers }, ...pods] });
    expect(result.shapeErrors).toBe(2);
    expect(result.errors.join('\n')).toMatch(/pods has 2006 items; the first 2000 are read/);
    expect(result.errors.join('\n')).toMatch(/containers has 257 items; the first 256 are read/);
    expect(result.measurements.filter((m) => m.name === 'container.cpu.total_time')).toHaveLength(SUMMARY_LIMITS.containersPerPod);
    expect(result.measurements.filter((m) => m.name === 'pod.cpu.total_time')).toHaveLength(SUMMARY_LIMITS.pods - 1);
  });

  it('keeps the descriptions of a flood of bad values bounded, and counts them all', () => {
    const pods = Array.from({ length: 500 }, (_, i) => ({ podRef: { namespace: 'ns', name: `p${i}` }, cpu: { usageCoreNanoSeconds: 'NaN' } }));
    const result = map({ node: {}, pods });
    expect(result.dropped.invalid).toBe(500);
    expect(result.errors).toHaveLength(MAX_ERRORS_KEPT);
  });
});
