import { describe, expect, it } from 'vitest';
import type { Metric } from '../../core/envelope.js';
import { CADVISOR_METRICS } from '../kubelet/cadvisorMetrics.js';
import { STATS_SUMMARY_METRICS } from '../summary/statsSummaryMetrics.js';
import { subcontainersFixture, toV2, type Json } from './cadvisorApi.testkit.js';
import { CADVISOR_API_LIMITS, CADVISOR_API_METRICS, mapCadvisorSubcontainers, mapCadvisorV2, type CadvisorApiMapResult } from './cadvisorApiMetrics.js';

const SCRAPE_MS = 1_700_000_000_000;
const HOST = 'node-b';
const CONTEXT = { hostname: HOST, scrapeTimeMs: SCRAPE_MS };

function find(result: CadvisorApiMapResult, name: string, dimensions: Record<string, string> = {}): Metric {
  const found = result.measurements.filter((m) => m.name === name && Object.entries(dimensions).every(([k, v]) => m.dimensions[k] === v));
  expect(found, `${name} ${JSON.stringify(dimensions)}`).toHaveLength(1);
  return found[0] as Metric;
}

function names(result: CadvisorApiMapResult, name: string, dimension: string): string[] {
  return [...new Set(result.measurements.filter((m) => m.name === name).map((m) => m.dimensions[dimension] ?? ''))].sort();
}

const DD_AGENT = { namespace: 'default', pod_name: 'dd-agent-1rxlh', container_name: 'dd-agent' };
const DD_AGENT_TIME = Date.parse('2016-06-17T16:07:53.544Z');

/** What both shapes of the k8s 1.2 fixture must give. */
function expectK12(result: CadvisorApiMapResult): void {
  expect(result.errors).toEqual([]);
  expect(result.shapeErrors).toBe(0);
  expect(result.dropped).toEqual({ not_finite: 0, invalid: 0 });
  expect(names(result, 'container.cpu.total_time', 'container_name')).toEqual(['dd-agent']);
  expect(names(result, 'pod.net.in_bytes', 'pod_name')).toEqual(['dd-agent-1rxlh']);
  const cpu = find(result, 'container.cpu.total_time', DD_AGENT);
  expect(cpu.value).toBeCloseTo(1636.943556502, 9);
  expect(cpu.timestamp).toBe(DD_AGENT_TIME);
  expect(cpu.dimensions).toEqual({ ...DD_AGENT, image: 'datadog/docker-dd-agent:massi_ingest_k8s_events', hostname: HOST });
  expect(find(result, 'container.mem.working_set_bytes', DD_AGENT).value).toBe(94449664);
  expect(find(result, 'container.fs.usage_bytes', { ...DD_AGENT, device: '/dev/sda1' }).value).toBe(57970688);
  expect(find(result, 'container.fs.total_bytes', { ...DD_AGENT, device: '/dev/sda1' }).value).toBe(105553100800);
  expect(find(result, 'container.io.read_bytes', { ...DD_AGENT, device: '8:0' }).value).toBe(18366464);
  expect(find(result, 'container.io.write_bytes', { ...DD_AGENT, device: '8:0' }).value).toBe(3379200);
  // The dd-agent container shares its pod's network namespace (has_network false): the sandbox alone reports it.
  const podNet = find(result, 'pod.net.in_bytes', { pod_name: 'dd-agent-1rxlh' });
  expect(podNet).toEqual({
    name: 'pod.net.in_bytes',
    dimensions: { namespace: 'default', pod_name: 'dd-agent-1rxlh', hostname: HOST, interface: 'eth0' },
    timestamp: Date.parse('2016-06-17T16:07:55.236Z'),
    value: 1217092163,
    value_meta: null,
  });
  expect(find(result, 'pod.net.out_packets').value).toBe(475476);
  expect(result.measurements.some((m) => m.dimensions['container_name'] === 'POD')).toBe(false);
  // The root cgroup is the node.
  expect(find(result, 'node.cpu.total_time').value).toBeCloseTo(179058.059341746, 9);
  expect(find(result, 'node.cpu.total_time').timestamp).toBe(Date.parse('2016-06-17T16:07:50.026Z'));
  expect(find(result, 'node.mem.working_set_bytes').value).toBe(1953751040);
  expect(names(result, 'node.net.in_bytes', 'interface')).toEqual(['cbr0', 'eth0']);
  expect(find(result, 'node.net.in_bytes', { interface: 'cbr0' }).value).toBe(10295887677);
  expect(find(result, 'node.fs.available_bytes', { device: '/dev/sda1' }).value).toBe(97096605696);
  expect(find(result, 'node.io.write_bytes', { device: '8:0' }).value).toBe(78901051392);
  // /system and /kubelet are not a pod's and not the node.
  expect(result.measurements.filter((m) => m.name === 'node.cpu.total_time')).toHaveLength(1);
  for (const m of result.measurements) expect(m.dimensions['hostname']).toBe(HOST);
}

describe('mapCadvisorSubcontainers: real v1.3 responses', () => {
  it('k8s 1.2: containers by their kubelet labels, the sandbox for the pod network, the root for the node', () => {
    const result = mapCadvisorSubcontainers(subcontainersFixture('1.2'), CONTEXT);
    expectK12(result);
    expect(result.measurements).toHaveLength(51);
  });

  it('k8s 1.1: pods found by the Docker names, as the labels name no namespace', () => {
    const result = mapCadvisorSubcontainers(subcontainersFixture('1.1'), CONTEXT);
    expect(result.errors).toEqual([]);
    expect(result.measurements).toHaveLength(162);
    expect(names(result, 'pod.net.in_bytes', 'pod_name')).toEqual([
      'fluentd-cloud-logging-kubernetes-minion-mu4w',
      'haproxy-6db79c7bbcac01601ac35bcdb18868b3-rr7la',
      'kube-dns-v8-smhcb',
      'kube-ui-v1-sv2sq',
      'propjoe-dhdzk',
      'propjoe-lkc3l',
    ]);
    expect(names(result, 'container.cpu.total_time', 'container_name')).toEqual(['etcd', 'fluentd-cloud-logging', 'haproxy', 'healthz', 'kube-ui', 'kube2sky', 'propjoe', 'skydns']);
    const propjoe = { namespace: 'default', pod_name: 'propjoe-lkc3l', container_name: 'propjoe' };
    expect(find(result, 'container.cpu.total_time', propjoe).value).toBeCloseTo(6525.672598806, 9);
    expect(find(result, 'container.cpu.total_time', propjoe).timestamp).toBe(Date.parse('2015-10-28T20:27:05.030Z'));
    expect(find(result, 'container.mem.used_bytes', propjoe).value).toBe(2916352);
    expect(find(result, 'pod.net.in_bytes', { pod_name: 'propjoe-lkc3l' }).dimensions).toEqual({ namespace: 'default', pod_name: 'propjoe-lkc3l', hostname: HOST, interface: 'vethf0e4918' });
    expect(find(result, 'pod.net.in_bytes', { pod_name: 'propjoe-lkc3l' }).value).toBe(4944664970);
    // The dd-agent container runs outside Kubernetes (/system/docker/…, alias "dd-agent"): passed over.
    expect(result.measurements.some((m) => m.dimensions['pod_name'] === 'dd-agent')).toBe(false);
    expect(find(result, 'node.net.in_bytes', { interface: 'eth0' }).value).toBe(178898213788);
  });

  it('reads the latest stats entry whatever the order', () => {
    const fixture = subcontainersFixture('1.2').map((info) => ({ ...info, stats: [...(info['stats'] as unknown[])].reverse() }));
    expectK12(mapCadvisorSubcontainers(fixture, CONTEXT));
  });
});

describe('mapCadvisorV2: v2.0 responses (converted from the v1.3 fixture)', () => {
  it('gives what the v1.3 response gives', () => {
    const v2 = toV2(subcontainersFixture('1.2'));
    const result = mapCadvisorV2(v2, CONTEXT);
    expectK12(result);
    const v13 = mapCadvisorSubcontainers(subcontainersFixture('1.2'), CONTEXT);
    const key = (m: Metric): string => `${m.name}${JSON.stringify(m.dimensions)}=${m.value}@${m.timestamp}`;
    expect(result.measurements.map(key).sort()).toEqual(v13.measurements.map(key).sort());
  });

  it('without the root response: the pods only', () => {
    const { stats, specs } = toV2(subcontainersFixture('1.2'));
    const result = mapCadvisorV2({ stats, specs }, CONTEXT);
    expect(result.errors).toEqual([]);
    expect(result.measurements.some((m) => m.name.startsWith('node.'))).toBe(false);
    expect(find(result, 'container.cpu.total_time', DD_AGENT).value).toBeCloseTo(1636.943556502, 9);
  });

  it('a container with no spec yet is read next time, not counted', () => {
    const { stats, root } = toV2(subcontainersFixture('1.2'));
    const result = mapCadvisorV2({ stats, specs: {}, root }, CONTEXT);
    expect(result.errors).toEqual([]);
    expect(result.measurements.every((m) => m.name.startsWith('node.'))).toBe(true);
  });

  it('honours has_* flags that are false (cAdvisor sends zeroed blocks for them)', () => {
    const { stats, specs } = toV2(subcontainersFixture('1.2'));
    const name = Object.keys(stats).find((n) => n.startsWith('/1d6e')) ?? '';
    const entry = (stats[name] as Json[])[0] as Json;
    stats[name] = [{ ...entry, has_memory: false, has_filesystem: false }];
    const result = mapCadvisorV2({ stats, specs }, CONTEXT);
    expect(result.measurements.some((m) => m.name.startsWith('container.mem.'))).toBe(false);
    expect(result.measurements.some((m) => m.name.startsWith('container.fs.'))).toBe(false);
    expect(find(result, 'container.cpu.total_time', DD_AGENT).value).toBeGreaterThan(0);
  });

  it('containerd sandboxes are the pod; its containers are found by their labels', () => {
    const labels = { 'io.kubernetes.pod.namespace': 'team-a', 'io.kubernetes.pod.name': 'web-1' };
    const entry = { timestamp: '2024-05-06T07:08:09.123456Z', has_cpu: true, has_network: true, cpu: { usage: { total: 2e9, user: 1e9, system: 5e8 }, cfs: { throttled_time: 3e8 } }, network: { interfaces: [{ name: 'eth0', rx_bytes: 7 }] } };
    const result = mapCadvisorV2(
      {
        stats: { '/kubepods/sandbox': [entry], '/kubepods/app': [entry], '/system.slice/containerd.service': [entry] },
        specs: {
          '/kubepods/sandbox': { labels: { ...labels, 'io.cri-containerd.kind': 'sandbox' } },
          '/kubepods/app': { labels: { ...labels, 'io.kubernetes.container.name': 'app', 'io.cri-containerd.kind': 'container' }, image: 'registry/app:1' },
          '/system.slice/containerd.service': {},
        },
      },
      CONTEXT,
    );
    expect(result.errors).toEqual([]);
    expect(find(result, 'pod.net.in_bytes').dimensions).toEqual({ namespace: 'team-a', pod_name: 'web-1', hostname: HOST, interface: 'eth0' });
    expect(find(result, 'container.cpu.total_time').value).toBe(2);
    expect(find(result, 'container.cpu.throttled_time').value).toBeCloseTo(0.3, 12);
    expect(find(result, 'container.cpu.user_time').timestamp).toBe(Date.parse('2024-05-06T07:08:09.123Z'));
    expect(find(result, 'container.cpu.system_time').dimensions['image']).toBe('registry/app:1');
    expect(result.measurements).toHaveLength(5);
  });
});

describe('the mapping table', () => {
  it('uses the /metrics/cadvisor names, with the same dimensions, for the same cAdvisor figures', () => {
    const cadvisorNames = new Set(CADVISOR_METRICS.map((r) => r.name));
    for (const r of CADVISOR_API_METRICS.filter((r) => r.scope !== 'node')) expect(cadvisorNames, r.name).toContain(r.name);
    for (const r of CADVISOR_METRICS) expect(CADVISOR_API_METRICS.map((a) => a.name), r.name).toContain(r.name);
  });

  it('names the node as the /stats/summary mapping does, where both read the quantity', () => {
    const summary = new Map(STATS_SUMMARY_METRICS.filter((r) => r.scope === 'node').map((r) => [r.name, r]));
    const shared = CADVISOR_API_METRICS.filter((r) => r.scope === 'node' && summary.has(r.name));
    expect(shared.map((r) => r.name)).toEqual(
      expect.arrayContaining(['node.cpu.total_time', 'node.mem.used_bytes', 'node.mem.working_set_bytes', 'node.net.in_bytes', 'node.net.out_errors', 'node.fs.usage_bytes', 'node.fs.total_bytes']),
    );
    for (const r of shared) expect(summary.get(r.name)?.unit, r.name).toBe(r.unit);
  });

  it('documents every row, and every name is unique', () => {
    expect(new Set(CADVISOR_API_METRICS.map((r) => r.name)).size).toBe(CADVISOR_API_METRICS.length);
    for (const r of CADVISOR_API_METRICS) {
      expect(r.name.startsWith(`${r.scope}.`)).toBe(true);
      expect(r.field).toMatch(/^stats\[latest\]\./);
      expect(r.unit.length).toBeGreaterThan(0);
      expect(r.dimensions).toContain('hostname');
    }
  });
});

describe('hostile and broken responses: counted, and the good rest kept', () => {
  const good = (): Json[] => subcontainersFixture('1.2');
  const GOOD_COUNT = 51;

  const cases: readonly { name: string; input: () => unknown; measurements: number; shapeErrors: number; invalid?: number; notFinite?: number; error?: RegExp }[] = [
    { name: 'an object instead of the array', input: () => ({ a: 1 }), measurements: 0, shapeErrors: 1, error: /not an array/ },
    { name: 'null', input: () => null, measurements: 0, shapeErrors: 1 },
    { name: 'a container that is a number', input: () => [7, ...good()], measurements: GOOD_COUNT, shapeErrors: 1, error: /subcontainers\[0\] is a number/ },
    { name: 'a container without a name', input: () => [{ spec: {}, stats: [] }, ...good()], measurements: GOOD_COUNT, shapeErrors: 1, error: /has no name/ },
    {
      name: 'stats that are not an array',
      input: () => good().map((c) => (c['name'] === '/' ? { ...c, stats: 'lots' } : c)),
      measurements: GOOD_COUNT - 28,
      shapeErrors: 1,
      error: /stats is a string, not an array/,
    },
    {
      name: '"NaN" strings and negative values',
      input: () =>
        good().map((c) => {
          if (c['name'] !== '/') return c;
          const stats = c['stats'] as Json[];
          const last = stats[stats.length - 1] as Json;
          return { ...c, stats: [{ ...last, memory: { ...(last['memory'] as Json), usage: 'NaN', working_set: -1 } }] };
        }),
      measurements: GOOD_COUNT - 2,
      shapeErrors: 0,
      invalid: 2,
      error: /node.mem.used_bytes .*not a number/,
    },
    {
      name: 'an unreadable timestamp: the scrape time, counted',
      input: () => [{ name: '/', spec: { has_cpu: true }, stats: [{ timestamp: 'now', cpu: { usage: { total: 1e9 } } }] }],
      measurements: 1,
      shapeErrors: 1,
      error: /no RFC 3339 timestamp/,
    },
    {
      name: 'interfaces of the wrong types',
      input: () => [{ name: '/', spec: {}, stats: [{ timestamp: '2024-01-01T00:00:00Z', network: { interfaces: [null, { rx_bytes: 1 }, { name: 'eth0', rx_bytes: true }] } }] }],
      measurements: 0,
      shapeErrors: 2,
      invalid: 1,
    },
    {
      name: 'a huge list of stats entries',
      input: () => [{ name: '/', spec: {}, stats: Array.from({ length: CADVISOR_API_LIMITS.statsPerContainer + 1 }, (_, i) => ({ timestamp: new Date(i * 1000).toISOString(), memory: { usage: i } })) }],
      measurements: 1,
      shapeErrors: 1,
      error: /has 1001 items; the first 1000 are read/,
    },
    {
      name: 'a label that is not a string',
      input: () => [{ name: '/x', spec: { labels: { 'io.kubernetes.pod.namespace': 5, 'io.kubernetes.pod.name': 'p', 'io.kubernetes.container.name': 'c' } }, stats: [{ timestamp: '2024-01-01T00:00:00Z', memory: { usage: 1 } }] }],
      measurements: 0,
      shapeErrors: 0,
    },
  ];

  for (const c of cases) {
    it(c.name, () => {
      const result = mapCadvisorSubcontainers(c.input(), CONTEXT);
      expect(result.measurements, JSON.stringify(result.errors)).toHaveLength(c.measurements);
      expect(result.shapeErrors).toBe(c.shapeErrors);
      expect(result.dropped).toEqual({ invalid: c.invalid ?? 0, not_finite: c.notFinite ?? 0 });
      if (c.error !== undefined) expect(result.errors.join('\n')).toMatch(c.error);
    });
  }

  it('v2.0: maps that are not maps, entries that are not lists', () => {
    const v2 = toV2(subcontainersFixture('1.2'));
    expect(mapCadvisorV2({ stats: [], specs: v2.specs }, CONTEXT).shapeErrors).toBe(1);
    expect(mapCadvisorV2({ stats: v2.stats, specs: 'x' }, CONTEXT).errors[0]).toMatch(/spec response is a string/);
    const broken = mapCadvisorV2({ stats: { ...v2.stats, '/bad': 3 }, specs: v2.specs, root: v2.root }, CONTEXT);
    expect(broken.shapeErrors).toBe(1);
    expect(broken.measurements).toHaveLength(GOOD_COUNT);
  });

  it('payload keys such as __proto__ are data', () => {
    const payload = JSON.parse('[{"name":"/","spec":{"__proto__":{"has_cpu":false}},"stats":[{"timestamp":"2024-01-01T00:00:00Z","cpu":{"usage":{"total":1000000000}}}]}]') as unknown;
    const result = mapCadvisorSubcontainers(payload, CONTEXT);
    expect(find(result, 'node.cpu.total_time').value).toBe(1);
  });
});
