/**
 * The real kubelet pages, parsed (text and protobuf) and mapped as the agent does: the
 * pods and containers each page has, and values and timestamps read off the page by hand.
 * The three pages cover both label generations (pod_name/container_name on 1.15,
 * pod/container later), Docker's "POD" sandbox and containerd's image-only one, cgroupfs
 * (`/kubepods/…`) and systemd (`/kubepods.slice/…`) cgroup ids, and a page without sample
 * timestamps (1.15: the scrape time is used).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Metric } from '../../core/envelope.js';
import { textToProtobuf } from '../../test/support/protobufExposition.js';
import { ExpositionParser, type ExpositionResult } from '../exposition/parseExposition.js';
import { parseProtobufExposition } from '../exposition/parseProtobuf.js';
import { mapCadvisorSamples, mapsSeries } from './cadvisorMetrics.js';
import type { ExpositionFormat } from './scrapeMetricsPage.js';

const SCRAPE_MS = 1_700_000_000_000;
const FIXTURES = new URL('../../test/fixtures/prometheus/', import.meta.url);

function parse(file: string, format: ExpositionFormat): ExpositionResult {
  const text = readFileSync(new URL(file, FIXTURES), 'utf8');
  if (format === 'protobuf') return parseProtobufExposition(textToProtobuf(text), mapsSeries);
  const parser = new ExpositionParser(mapsSeries);
  parser.push(text);
  return parser.finish();
}

interface ExpectedValue {
  readonly name: string;
  readonly dimensions: Record<string, string>;
  readonly value: number;
  readonly timestamp: number;
}

interface FixturePage {
  readonly name: string;
  readonly file: string;
  readonly samples: number;
  readonly measurements: number;
  /** namespace/pod/container of every `container.*` measurement. */
  readonly containers: string[];
  /** namespace/pod of every `pod.*` measurement: pods with a sandbox, with or without containers. */
  readonly pods: string[];
  readonly values: ExpectedValue[];
  /** Whether the page's samples carry timestamps; when not, every measurement has the scrape time. */
  readonly timestamped: boolean;
  /** How the page names cgroups: a prefix of its pods' `id` label. */
  readonly cgroupPrefix: string;
}

const HEAPSTER = { namespace: 'kube-system', pod_name: 'heapster-5mz5f', hostname: 'node-1' };
const COREDNS_116 = { namespace: 'kube-system', pod_name: 'coredns-5644d7b6d9-nz2s7', hostname: 'node-1' };
const COREDNS_125 = { namespace: 'kube-system', pod_name: 'coredns-565d847f94-xmmbs', hostname: 'node-1' };

const PAGES: FixturePage[] = [
  {
    name: 'k8s 1.15, Docker, pod_name/container_name, no timestamps',
    file: 'nri-k8s__k8s-1.15-minikube-docker17.09__kubelet_metrics_cadvisor.prom',
    samples: 960,
    measurements: 314,
    timestamped: false,
    cgroupPrefix: '/kubepods/',
    containers: [
      'kube-system/heapster-5mz5f/heapster',
      'kube-system/influxdb-grafana-rsmwp/grafana',
      'kube-system/influxdb-grafana-rsmwp/influxdb',
      'kube-system/kube-addon-manager-minikube/kube-addon-manager',
      'kube-system/kube-dns-54cccfbdf8-dznm7/dnsmasq',
      'kube-system/kube-dns-54cccfbdf8-dznm7/kubedns',
      'kube-system/kube-dns-54cccfbdf8-dznm7/sidecar',
      'kube-system/kube-state-metrics-57f4659995-6n2qq/addon-resizer',
      'kube-system/kube-state-metrics-57f4659995-6n2qq/kube-state-metrics',
      'kube-system/kubernetes-dashboard-77d8b98585-mtjld/kubernetes-dashboard',
      'kube-system/newrelic-infra-rz225/newrelic-infra',
      'kube-system/storage-provisioner/storage-provisioner',
    ],
    pods: [
      'kube-system/heapster-5mz5f',
      'kube-system/influxdb-grafana-rsmwp',
      'kube-system/kube-addon-manager-minikube',
      'kube-system/kube-dns-54cccfbdf8-dznm7',
      'kube-system/kube-state-metrics-57f4659995-6n2qq',
      'kube-system/kubernetes-dashboard-77d8b98585-mtjld',
      'kube-system/newrelic-infra-rz225',
      'kube-system/storage-provisioner',
    ],
    values: [
      // cpu00 4.949543914 + cpu01 4.058041406: per-core series summed.
      { name: 'container.cpu.total_time', dimensions: { ...HEAPSTER, container_name: 'heapster', image: 'k8s.gcr.io/heapster-amd64@sha256:da3288b0fe2312c621c2a6d08f24ccc56183156ec70767987501287db4927b9d' }, value: 4.949543914 + 4.058041406, timestamp: SCRAPE_MS },
      { name: 'container.mem.rss_bytes', dimensions: { ...HEAPSTER, container_name: 'heapster', image: 'k8s.gcr.io/heapster-amd64@sha256:da3288b0fe2312c621c2a6d08f24ccc56183156ec70767987501287db4927b9d' }, value: 15941632, timestamp: SCRAPE_MS },
      { name: 'pod.net.in_bytes', dimensions: { ...HEAPSTER, interface: 'eth0' }, value: 51111481, timestamp: SCRAPE_MS },
      { name: 'pod.net.in_bytes', dimensions: { ...HEAPSTER, interface: 'sit0' }, value: 0, timestamp: SCRAPE_MS },
    ],
  },
  {
    name: 'k8s 1.16, Docker, systemd cgroup driver, timestamps',
    file: 'nri-k8s__k8s-1.16.15-minikube-docker20.10-systemd__kubelet_metrics_cadvisor.prom',
    samples: 887,
    measurements: 451,
    timestamped: true,
    cgroupPrefix: '/kubepods.slice/',
    containers: [
      'kube-system/coredns-5644d7b6d9-nz2s7/coredns',
      'kube-system/etcd-minikube/etcd',
      'kube-system/kube-apiserver-minikube/kube-apiserver',
      'kube-system/kube-controller-manager-minikube/kube-controller-manager',
      'kube-system/kube-proxy-rz8xz/kube-proxy',
      'kube-system/kube-scheduler-minikube/kube-scheduler',
      'kube-system/metrics-server-6b79b4d69b-x2ps9/metrics-server',
      'kube-system/storage-provisioner/storage-provisioner',
      'scraper/e2e-depl-86cf7fbbf8-p4h98/busybox',
      'scraper/e2e-ds-8zz8h/busybox',
      'scraper/e2e-hpa-6549c6db47-dcw84/php-apache',
      'scraper/e2e-kube-state-metrics-887cff974-4jr26/kube-state-metrics',
      'scraper/e2e-scraper-69dbfb44ff-l7c8h/e2e-scraper',
      'scraper/e2e-statefulset-0/busybox',
      'scraper/e2e-statefulset-1/busybox',
    ],
    pods: [
      'kube-system/coredns-5644d7b6d9-nz2s7',
      'kube-system/etcd-minikube',
      'kube-system/kube-apiserver-minikube',
      'kube-system/kube-controller-manager-minikube',
      'kube-system/kube-proxy-rz8xz',
      'kube-system/kube-scheduler-minikube',
      'kube-system/metrics-server-6b79b4d69b-x2ps9',
      'kube-system/storage-provisioner',
      'scraper/e2e-depl-86cf7fbbf8-p4h98',
      'scraper/e2e-ds-8zz8h',
      'scraper/e2e-hpa-6549c6db47-dcw84',
      'scraper/e2e-kube-state-metrics-887cff974-4jr26',
      'scraper/e2e-scraper-69dbfb44ff-l7c8h',
      'scraper/e2e-statefulset-0',
      'scraper/e2e-statefulset-1',
    ],
    values: [
      { name: 'container.cpu.total_time', dimensions: { ...COREDNS_116, container_name: 'coredns', image: 'sha256:bf261d157914477ee1a5969d28ec687f3fbfc9fb5a664b22df78e57023b0e03b' }, value: 1.366839424, timestamp: 1639576261501 },
      { name: 'container.mem.working_set_bytes', dimensions: { ...COREDNS_116, container_name: 'coredns', image: 'sha256:bf261d157914477ee1a5969d28ec687f3fbfc9fb5a664b22df78e57023b0e03b' }, value: 7229440, timestamp: 1639576261501 },
      { name: 'pod.net.out_bytes', dimensions: { ...COREDNS_116, interface: 'eth0' }, value: 69971, timestamp: 1639576258365 },
    ],
  },
  {
    name: 'k8s 1.25, containerd, pod/container, timestamps',
    file: 'nri-k8s__k8s-1.25.13-containerd1.6__kubelet_metrics_cadvisor.prom',
    samples: 1187,
    measurements: 631,
    timestamped: true,
    cgroupPrefix: '/kubepods/',
    containers: [
      'kube-system/coredns-565d847f94-xmmbs/coredns',
      'kube-system/etcd-datagen-1-25/etcd',
      'kube-system/kindnet-c7tw4/kindnet-cni',
      'kube-system/kube-apiserver-datagen-1-25/kube-apiserver',
      'kube-system/kube-controller-manager-datagen-1-25/kube-controller-manager',
      'kube-system/kube-proxy-fvdv4/kube-proxy',
      'kube-system/kube-scheduler-datagen-1-25/kube-scheduler',
      'kube-system/metrics-server-bc5dcdf-m29pd/metrics-server',
      'kube-system/storage-provisioner/storage-provisioner',
      'scraper/e2e-depl-59b6859788-wskjx/busybox',
      'scraper/e2e-depl-59b6859788-zg8xr/busybox',
      'scraper/e2e-ds-5dpn5/busybox',
      'scraper/e2e-hpa-84cf5db7cb-wfpbv/php-apache',
      'scraper/e2e-kube-state-metrics-6fd769c848-bmg5h/kube-state-metrics',
      'scraper/e2e-scraper-7fcb557b5f-rjzl5/e2e-scraper',
      'scraper/e2e-statefulset-0/busybox',
      'scraper/e2e-statefulset-1/busybox',
    ],
    pods: [
      'kube-system/coredns-565d847f94-xmmbs',
      'kube-system/etcd-datagen-1-25',
      'kube-system/kindnet-c7tw4',
      'kube-system/kube-apiserver-datagen-1-25',
      'kube-system/kube-controller-manager-datagen-1-25',
      'kube-system/kube-proxy-fvdv4',
      'kube-system/kube-scheduler-datagen-1-25',
      'kube-system/metrics-server-bc5dcdf-m29pd',
      'kube-system/storage-provisioner',
      // Sandboxes without a running container: network only.
      'scraper/e2e-container-creating',
      'scraper/e2e-cronjob-28233619-2fr9t',
      'scraper/e2e-depl-59b6859788-wskjx',
      'scraper/e2e-depl-59b6859788-zg8xr',
      'scraper/e2e-ds-5dpn5',
      'scraper/e2e-hpa-84cf5db7cb-wfpbv',
      'scraper/e2e-kube-state-metrics-6fd769c848-bmg5h',
      'scraper/e2e-scraper-7fcb557b5f-rjzl5',
      'scraper/e2e-statefulset-0',
      'scraper/e2e-statefulset-1',
    ],
    values: [
      // Not the pod cgroup's 0.434414 nor the pause container's 0.014544.
      { name: 'container.cpu.total_time', dimensions: { ...COREDNS_125, container_name: 'coredns', image: 'registry.k8s.io/coredns/coredns:v1.9.3' }, value: 0.398773, timestamp: 1694017164572 },
      { name: 'container.mem.used_bytes', dimensions: { ...COREDNS_125, container_name: 'coredns', image: 'registry.k8s.io/coredns/coredns:v1.9.3' }, value: 11743232, timestamp: 1694017164572 },
      { name: 'pod.net.in_bytes', dimensions: { ...COREDNS_125, interface: 'eth0' }, value: 41204, timestamp: 1694017172424 },
      { name: 'pod.net.in_bytes', dimensions: { ...COREDNS_125, interface: 'tunl0' }, value: 0, timestamp: 1694017172424 },
    ],
  },
];

/** A measurement's series, whatever the order of its dimensions. */
const seriesOf = (name: string, dimensions: Record<string, string>): string => `${name} ${JSON.stringify(Object.entries(dimensions).sort(([a], [b]) => a.localeCompare(b)))}`;

const runs = PAGES.flatMap((page) => (['text', 'protobuf'] as const).map((format) => ({ ...page, format })));

describe('cAdvisor fixture pages, mapped', () => {
  it.each(runs)('$name ($format)', ({ file, format, samples, measurements, containers, pods, values, timestamped, cgroupPrefix }) => {
    const parsed = parse(file, format);
    expect(parsed.errors).toEqual([]);
    expect(parsed.samples).toHaveLength(samples);
    const podIds = parsed.samples.map((s) => s.labels['id'] ?? '').filter((id) => id.includes('/pod') || id.includes('-pod'));
    expect(podIds.length).toBeGreaterThan(0);
    for (const id of podIds) expect(id.startsWith(cgroupPrefix), id).toBe(true);

    const mapped = mapCadvisorSamples(parsed.samples, { hostname: 'node-1', scrapeTimeMs: SCRAPE_MS });
    expect(mapped.dropped).toEqual({ not_finite: 0, invalid: 0, duplicate: 0 });
    expect(mapped.measurements).toHaveLength(measurements);
    const containerMeasurements = mapped.measurements.filter((m) => m.name.startsWith('container.'));
    const podMeasurements = mapped.measurements.filter((m) => m.name.startsWith('pod.'));
    expect([...new Set(containerMeasurements.map((m) => `${m.dimensions['namespace']}/${m.dimensions['pod_name']}/${m.dimensions['container_name']}`))].sort()).toEqual(containers);
    expect([...new Set(podMeasurements.map((m) => `${m.dimensions['namespace']}/${m.dimensions['pod_name']}`))].sort()).toEqual(pods);
    // One measurement per series: the pod's own cgroup and the sandbox add no container.* duplicates.
    const keys = mapped.measurements.map((m) => seriesOf(m.name, m.dimensions));
    expect(new Set(keys).size).toBe(keys.length);

    for (const expected of values) {
      const found = mapped.measurements.filter((m: Metric) => seriesOf(m.name, m.dimensions) === seriesOf(expected.name, expected.dimensions));
      expect(found, `${expected.name} ${JSON.stringify(expected.dimensions)}`).toHaveLength(1);
      expect(found[0]?.value).toBeCloseTo(expected.value, 9);
      expect(found[0]?.timestamp).toBe(expected.timestamp);
    }
    if (timestamped) expect(mapped.measurements.filter((m) => m.timestamp === SCRAPE_MS)).toEqual([]);
    else expect(mapped.measurements.every((m) => m.timestamp === SCRAPE_MS)).toBe(true);
  });
});
