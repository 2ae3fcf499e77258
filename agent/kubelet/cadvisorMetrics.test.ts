import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Metric } from '../../core/envelope.js';
import { checkMetricName } from '../../core/validation.js';
import { parseExposition } from '../exposition/parseExposition.js';
import { CADVISOR_METRICS, CONTAINER_DIMENSIONS, mapCadvisorSamples } from './cadvisorMetrics.js';
import { ScrapeDimensions } from './scrapeDimensions.js';

const SCRAPE_MS = 1_700_000_000_000;
const CONTEXT = { hostname: 'node-1', scrapeTimeMs: SCRAPE_MS };
const FIXTURES = new URL('../../test/fixtures/prometheus/', import.meta.url);
const page = (name: string): string => readFileSync(new URL(name, FIXTURES), 'utf8');
const map = (text: string) => mapCadvisorSamples(parseExposition(text).samples, CONTEXT);

const NEW_LABELS = 'namespace="shop",pod="cart-7d9",container="cart",image="registry/cart:1.2"';
const OLD_LABELS = 'namespace="shop",pod_name="cart-7d9",container_name="cart",image="registry/cart:1.2"';
const CART = { namespace: 'shop', pod_name: 'cart-7d9', container_name: 'cart', image: 'registry/cart:1.2', hostname: 'node-1' };
const CART_POD = { namespace: 'shop', pod_name: 'cart-7d9', hostname: 'node-1' };

function metric(name: string, dimensions: Record<string, string>, value: number, timestamp = SCRAPE_MS): Metric {
  return { name, dimensions, value, timestamp, value_meta: null };
}

describe('mapCadvisorSamples', () => {
  const cases: { name: string; page: string; measurements: Metric[] }[] = [
    { name: 'k8s >= 1.16 labels (namespace, pod, container)', page: `container_memory_rss{${NEW_LABELS}} 1024\n`, measurements: [metric('container.mem.rss_bytes', CART, 1024)] },
    { name: 'k8s 1.15 labels (namespace, pod_name, container_name)', page: `container_memory_rss{${OLD_LABELS}} 1024\n`, measurements: [metric('container.mem.rss_bytes', CART, 1024)] },
    { name: "the sample's own timestamp wins over the scrape time", page: `container_memory_cache{${NEW_LABELS}} 5 1694017169416\n`, measurements: [metric('container.mem.cache_bytes', CART, 5, 1694017169416)] },
    { name: 'cpu="total" is the total', page: `container_cpu_usage_seconds_total{${NEW_LABELS},cpu="total"} 1.5\n`, measurements: [metric('container.cpu.total_time', CART, 1.5)] },
    {
      name: 'per-core CPU (k8s 1.15) is summed, at the latest timestamp',
      page: `container_cpu_usage_seconds_total{${OLD_LABELS},cpu="cpu00"} 1.25 10\ncontainer_cpu_usage_seconds_total{${OLD_LABELS},cpu="cpu01"} 2.5 20\n`,
      measurements: [metric('container.cpu.total_time', CART, 3.75, 20)],
    },
    {
      name: 'a total next to per-core samples is taken alone',
      page: `container_cpu_usage_seconds_total{${NEW_LABELS},cpu="cpu00"} 1\ncontainer_cpu_usage_seconds_total{${NEW_LABELS},cpu="total"} 9\n`,
      measurements: [metric('container.cpu.total_time', CART, 9)],
    },
    { name: 'fs series get the device dimension', page: `container_fs_usage_bytes{${NEW_LABELS},device="/dev/vda1"} 4096\n`, measurements: [metric('container.fs.usage_bytes', { ...CART, device: '/dev/vda1' }, 4096)] },
    { name: 'io series get the device dimension', page: `container_fs_reads_bytes_total{${NEW_LABELS},device="/dev/vda"} 8\n`, measurements: [metric('container.io.read_bytes', { ...CART, device: '/dev/vda' }, 8)] },
    { name: 'an empty image is left out, not the measurement', page: 'container_memory_swap{namespace="shop",pod="cart-7d9",container="cart",image=""} 0\n', measurements: [metric('container.mem.swap_bytes', { namespace: 'shop', pod_name: 'cart-7d9', container_name: 'cart', hostname: 'node-1' }, 0)] },
    {
      name: "network of the containerd sandbox (container=\"\" with an image) is the pod's",
      page: 'container_network_receive_bytes_total{namespace="shop",pod="cart-7d9",container="",image="registry.k8s.io/pause:3.9",interface="eth0"} 431533 5\n',
      measurements: [metric('pod.net.in_bytes', { ...CART_POD, interface: 'eth0' }, 431533, 5)],
    },
    {
      name: 'network of the Docker sandbox (container="POD") is the pod\'s',
      page: 'container_network_transmit_errors_total{namespace="shop",pod_name="cart-7d9",container_name="POD",image="pause-amd64:3.0",interface="eth0"} 2\n',
      measurements: [metric('pod.net.out_errors', { ...CART_POD, interface: 'eth0' }, 2)],
    },
    { name: 'network series of a container are not mapped', page: `container_network_receive_bytes_total{${NEW_LABELS},interface="eth0"} 1\n`, measurements: [] },
    { name: 'container series of the sandbox are not mapped', page: 'container_memory_rss{namespace="shop",pod="cart-7d9",container="POD",image="pause"} 1\n', measurements: [] },
    { name: "the pod's own cgroup is skipped", page: 'container_memory_rss{namespace="shop",pod="cart-7d9",container="",image=""} 1\n', measurements: [] },
    { name: "the node's cgroups are skipped", page: 'container_memory_rss{namespace="",pod="",container="",image="",id="/kubepods"} 1\ncontainer_memory_rss{id="/"} 1\n', measurements: [] },
    { name: 'series outside the table are ignored', page: `container_tasks_state{${NEW_LABELS},state="sleeping"} 3\nmachine_cpu_cores 4\n`, measurements: [] },
  ];

  it.each(cases)('$name', ({ page: text, measurements }) => {
    const result = map(text);
    expect(result.measurements).toEqual(measurements);
    expect(result.dropped).toEqual({ not_finite: 0, invalid: 0, duplicate: 0 });
  });

  it('drops NaN and ±Inf samples, counted as not_finite', () => {
    const result = map(`container_memory_rss{${NEW_LABELS}} NaN\ncontainer_memory_cache{${NEW_LABELS}} +Inf\ncontainer_memory_swap{${NEW_LABELS}} -Inf\ncontainer_memory_failcnt{${NEW_LABELS}} 3\n`);
    expect(result.measurements.map((m) => m.name)).toEqual(['container.mem.fail_count']);
    expect(result.dropped).toEqual({ not_finite: 3, invalid: 0, duplicate: 0 });
  });

  it('drops a per-core CPU sum when any core is NaN', () => {
    const result = map(`container_cpu_usage_seconds_total{${OLD_LABELS},cpu="cpu00"} 1\ncontainer_cpu_usage_seconds_total{${OLD_LABELS},cpu="cpu01"} NaN\n`);
    expect(result.measurements).toEqual([]);
    expect(result.dropped.not_finite).toBe(1);
  });

  const invalid: { name: string; page: string; error: string }[] = [
    { name: 'a dimension value over 255 characters', page: `container_memory_rss{namespace="shop",pod="${'p'.repeat(256)}",container="c"} 1\n`, error: 'dimension "pod_name" value is longer than 255 characters' },
    { name: 'a restricted character in a dimension value', page: 'container_memory_rss{namespace="shop",pod="cart",container="c",image="registry/cart;rm"} 1\n', error: 'dimension "image" value has a restricted character' },
    { name: 'a negative timestamp', page: `container_memory_rss{${NEW_LABELS}} 1 -62135596800000\n`, error: 'timestamp must not be negative' },
  ];

  it.each(invalid)('drops $name, counted as invalid with the reason', ({ page: text, error }) => {
    const result = map(`${text}container_memory_failcnt{${NEW_LABELS}} 3\n`);
    expect(result.measurements).toEqual([metric('container.mem.fail_count', CART, 3)]);
    expect(result.dropped).toEqual({ not_finite: 0, invalid: 1, duplicate: 0 });
    expect(result.errors).toEqual([`container.mem.rss_bytes: ${error}`]);
  });
});

describe('mapCadvisorSamples with the dimensions of earlier scrapes', () => {
  it('hands every measurement of a container, scrape after scrape, the same frozen dimensions object', () => {
    const dimensions = new ScrapeDimensions();
    const text = `container_memory_rss{${NEW_LABELS}} 1\ncontainer_memory_cache{${NEW_LABELS}} 2\ncontainer_fs_usage_bytes{${NEW_LABELS},device="/dev/vda1"} 3\n`;
    const scrape = () => mapCadvisorSamples(parseExposition(text).samples, { ...CONTEXT, dimensions }).measurements;
    const [rss, cache, fs] = scrape();
    expect(cache?.dimensions).toBe(rss?.dimensions);
    expect(fs?.dimensions).toEqual({ ...CART, device: '/dev/vda1' });
    expect(Object.isFrozen(rss?.dimensions)).toBe(true);
    const again = scrape();
    expect(again.map((m) => m.dimensions)).toEqual([rss?.dimensions, rss?.dimensions, fs?.dimensions]);
    expect(again[0]?.dimensions).toBe(rss?.dimensions);
    expect(again[2]?.dimensions).toBe(fs?.dimensions);
  });

  it('forgets a series one scrape after it is last seen', () => {
    const dimensions = new ScrapeDimensions();
    const scrape = (text: string) => mapCadvisorSamples(parseExposition(text).samples, { ...CONTEXT, dimensions });
    scrape(`container_memory_rss{${NEW_LABELS}} 1\n`);
    scrape('container_memory_rss{namespace="shop",pod="other",container="c"} 1\n');
    expect(dimensions.size).toBe(1);
    scrape('container_memory_rss{namespace="shop",pod="other",container="c"} 1\n');
    expect(dimensions.size).toBe(1);
  });

  it('does not confuse label values that run together', () => {
    const result = map('container_memory_rss{namespace="a1",pod="b",container="c"} 1\ncontainer_memory_rss{namespace="a",pod="1b",container="c"} 2\n');
    expect(result.measurements.map((m) => [m.dimensions['namespace'], m.dimensions['pod_name']])).toEqual([['a1', 'b'], ['a', '1b']]);
  });
});

describe('CADVISOR_METRICS', () => {
  it('has valid Monasca names and one row per series and scope', () => {
    for (const row of CADVISOR_METRICS) expect(checkMetricName(row.name).ok).toBe(true);
    const keys = CADVISOR_METRICS.map((row) => `${row.series}/${row.scope}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('names container rows container.* and pod rows pod.*', () => {
    for (const row of CADVISOR_METRICS) expect(row.name.startsWith(`${row.scope}.`)).toBe(true);
  });
});

describe('mapCadvisorSamples on real kubelet pages', () => {
  const pages = [
    { file: 'nri-k8s__k8s-1.15-minikube-docker17.09__kubelet_metrics_cadvisor.prom', containers: 12, podInterfaces: 18, total: 314 },
    { file: 'nri-k8s__k8s-1.16.15-minikube-docker20.10-systemd__kubelet_metrics_cadvisor.prom', containers: 15, podInterfaces: 30, total: 451 },
    { file: 'nri-k8s__k8s-1.25.13-containerd1.6__kubelet_metrics_cadvisor.prom', containers: 17, podInterfaces: 57, total: 631 },
  ];

  it.each(pages)('maps $file', ({ file, containers, podInterfaces, total }) => {
    const result = map(page(file));
    const count = (name: string): number => result.measurements.filter((m) => m.name === name).length;
    expect(result.dropped).toEqual({ not_finite: 0, invalid: 0, duplicate: 0 });
    expect(result.measurements).toHaveLength(total);
    expect(count('container.cpu.total_time')).toBe(containers);
    expect(count('container.mem.working_set_bytes')).toBe(containers);
    expect(count('pod.net.in_bytes')).toBe(podInterfaces);
    const series = new Set(result.measurements.map((m) => `${m.name}${JSON.stringify(m.dimensions)}`));
    expect(series.size).toBe(result.measurements.length);
    for (const m of result.measurements) {
      const expected = m.name.startsWith('container.') ? CONTAINER_DIMENSIONS : (['namespace', 'pod_name', 'hostname'] as const);
      for (const dimension of expected) expect(m.dimensions[dimension], `${m.name} ${dimension}`).toBeTruthy();
      expect(m.dimensions['container_name']).not.toBe('POD');
    }
  });

  it('sums the per-core CPU of the k8s 1.15 page', () => {
    const text = page(pages[0]?.file ?? '');
    const cores = parseExposition(text).samples.filter((s) => s.name === 'container_cpu_usage_seconds_total' && s.labels['container_name'] === 'addon-resizer');
    expect(cores.map((s) => s.labels['cpu'])).toEqual(['cpu00', 'cpu01']);
    const total = map(text).measurements.find((m) => m.name === 'container.cpu.total_time' && m.dimensions['container_name'] === 'addon-resizer');
    expect(total?.value).toBeCloseTo((cores[0]?.value ?? NaN) + (cores[1]?.value ?? NaN), 9);
  });
});
