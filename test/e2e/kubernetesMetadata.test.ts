import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startInfluxd } from '../influxdb/influxd.js';
import { startKafkaMockCluster, type KafkaMockCluster } from '../kafka/mockCluster.js';
import { eventually, freePort, runKansoku, type KansokuProcess } from '../support/kansokuProcess.js';
import { withoutTimestamps } from '../support/cadvisorPages.js';
import { KubernetesApiStandIn } from '../support/kubernetesApiStandIn.js';
import { serveKubeletPage, type KubeletStandIn } from '../support/kubeletStandIn.js';
import { expectedFromPage, PIPELINE_TOPICS, serverEnv, type ApiSeries } from '../support/pipelineFixtures.js';
import { counterValue } from '../support/selfMetrics.js';

/**
 * One node of a real cluster, end to end with its metadata: a Kubernetes API stand-in
 * serving the minikube 1.16 pods (list and watch), the kubelet stand-in serving the same
 * node's /metrics/cadvisor (in protobuf, as asked) → `kansoku agent` with informers →
 * Kafka (librdkafka's mock cluster) → `kansoku server` → InfluxDB → the tenant API.
 *
 * Tenants come from namespace labels (`kansoku.io/tenant`), as a Keystone project id would:
 * kube-system → project-ops, scraper → project-apps. Each tenant reads its own pods, with
 * their owners and the allow-listed label, and nothing else; a relabel (after the watch
 * expired with 410, so it is seen only if the agent re-lists) moves new records at once.
 */
// Without its sample timestamps, so that every scrape is new points (stamped with the scrape's time).
const PAGE = withoutTimestamps(readFileSync(new URL('../fixtures/prometheus/nri-k8s__k8s-1.16.15-minikube-docker20.10-systemd__kubelet_metrics_cadvisor.prom', import.meta.url), 'utf8'));
const TENANT_KEY = 'kansoku.io/tenant';

describe('Kubernetes API + kubelet stand-ins → agent with informers → Kafka → server → InfluxDB → tenant API', () => {
  let kafka: KafkaMockCluster;
  let influx: { url: string; stop(): Promise<void> };
  let kubelet: KubeletStandIn;
  let apiServer: KubernetesApiStandIn;
  let server: KansokuProcess;
  let agent: KansokuProcess;
  let api: string;
  let dir: string;
  let telemetryPort: number;

  beforeAll(async () => {
    apiServer = new KubernetesApiStandIn();
    apiServer.setNamespaceLabels('kube-system', { [TENANT_KEY]: 'project-ops' });
    apiServer.setNamespaceLabels('scraper', { [TENANT_KEY]: 'project-apps' });
    [kafka, influx, kubelet] = await Promise.all([startKafkaMockCluster({ brokers: 3, topics: PIPELINE_TOPICS }), startInfluxd(), serveKubeletPage(PAGE), apiServer.start()]);
    dir = mkdtempSync(join(tmpdir(), 'kansoku-k8s-e2e-'));
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, apiServer.kubeConfig().exportConfig());
    const configFile = join(dir, 'kansoku.yaml');
    writeFileSync(
      configFile,
      stringify({
        agent: {
          hostname: 'minikube',
          interval_seconds: 1,
          kubelet: { enabled: true, url: kubelet.url, format: 'protobuf' },
          kubernetes: { enabled: true, kubeconfig, pod_labels: ['app'], wait_for_metadata_ms: 3000 },
        },
        tenants: { unmapped: 'drop' },
      }),
    );
    const port = await freePort();
    api = `http://127.0.0.1:${port}`;
    const env = serverEnv({
      brokers: kafka.brokers,
      influxUrl: influx.url,
      database: 'monasca_k8s',
      apiPort: port,
      tokens: 'tok-ops:project-ops:monasca-user,tok-apps:project-apps:monasca-user,tok-ns:scraper:monasca-user,tok-new:project-new:monasca-user',
    });
    server = runKansoku(['server'], env);
    await server.waitFor(/tenant API listening/, 60_000);
    telemetryPort = await freePort();
    agent = runKansoku(['agent', '--config', configFile], { ...env, KANSOKU_AGENT__TELEMETRY__PORT: String(telemetryPort) });
    await agent.waitFor(/agent started/, 60_000);
  }, 180_000);

  afterAll(async () => {
    await agent?.stop();
    await server?.stop();
    await Promise.all([kafka?.stop(), influx?.stop(), kubelet?.close(), apiServer?.close()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function series(token: string, name: string, dimensions = ''): Promise<ApiSeries[]> {
    const url = `${api}/v2.0/metrics/measurements?name=${encodeURIComponent(name)}&start_time=2020-01-01T00:00:00Z&group_by=*${dimensions ? `&dimensions=${encodeURIComponent(dimensions)}` : ''}`;
    const res = await fetch(url, { headers: { 'x-auth-token': token } });
    expect(res.status).toBe(200);
    return ((await res.json()) as { elements?: ApiSeries[] }).elements ?? [];
  }

  it('gives each tenant, named by its namespace label, its own pods with owner and label dimensions', async () => {
    const expectedApps = expectedFromPage('container_memory_usage_bytes', 'scraper', PAGE);
    const expectedOps = expectedFromPage('container_memory_usage_bytes', 'kube-system', PAGE);
    expect(expectedApps.size).toBeGreaterThan(5);
    const apps = await eventually(() => series('tok-apps', 'container.mem.used_bytes'), (s) => s.length >= expectedApps.size, 60_000);
    const ops = await eventually(() => series('tok-ops', 'container.mem.used_bytes'), (s) => s.length >= expectedOps.size, 60_000);
    // The page was asked for, and read, in protobuf.
    expect(kubelet.served('protobuf')).toBeGreaterThan(0);

    const byPod = (list: ApiSeries[]): Map<string, ApiSeries> => new Map(list.map((s) => [`${s.dimensions['pod_name']}/${s.dimensions['container_name']}`, s]));
    const appSeries = byPod(apps);
    expect([...appSeries.keys()].sort()).toEqual([...expectedApps.keys()].sort());
    for (const [key, want] of expectedApps) expect(appSeries.get(key)?.measurements.at(-1)?.[1], key).toBe(want.value);
    // New points every scrape (the page has no timestamps): the negative checks below mean something.
    await eventually(() => series('tok-apps', 'container.mem.used_bytes'), (s) => (s[0]?.measurements.length ?? 0) >= 2, 30_000);
    for (const s of apps) {
      expect(s.dimensions['namespace']).toBe('scraper');
      expect(s.dimensions['hostname']).toBe('minikube');
      expect(s.dimensions['pod_uid']).toMatch(/^[0-9a-f-]{36}$/);
    }
    // Owners: the Deployment through its ReplicaSet, the StatefulSet, the DaemonSet; and the allow-listed label.
    const depl = apps.find((s) => s.dimensions['pod_name'] === 'e2e-depl-86cf7fbbf8-p4h98');
    expect(depl?.dimensions).toMatchObject({ deployment: 'e2e-depl', app: 'deployment' });
    expect(apps.find((s) => s.dimensions['pod_name'] === 'e2e-statefulset-0')?.dimensions).toMatchObject({ stateful_set: 'e2e-statefulset' });
    expect(apps.find((s) => s.dimensions['pod_name'] === 'e2e-ds-8zz8h')?.dimensions).toMatchObject({ daemon_set: 'e2e-ds' });
    expect(apps.find((s) => s.dimensions['pod_name'] === 'e2e-container-creating')?.dimensions['deployment']).toBeUndefined();
    // Labels not on the allow-list stay out.
    expect(apps.some((s) => 'pod-template-hash' in s.dimensions)).toBe(false);

    expect(new Set(ops.map((s) => s.dimensions['namespace']))).toEqual(new Set(['kube-system']));
    expect(ops.find((s) => s.dimensions['pod_name'] === 'kube-proxy-rz8xz')?.dimensions).toMatchObject({ daemon_set: 'kube-proxy' });
    expect(ops.find((s) => s.dimensions['pod_name'] === 'coredns-5644d7b6d9-nz2s7')?.dimensions).toMatchObject({ deployment: 'coredns' });

    // Query by an owner dimension, as a dashboard would.
    const byOwner = await series('tok-apps', 'container.mem.used_bytes', 'deployment:e2e-depl');
    expect(byOwner.map((s) => s.dimensions['pod_name'])).toEqual(['e2e-depl-86cf7fbbf8-p4h98']);
  });

  it('shows a tenant nothing of another: not by namespace name, not by crafted dimensions', async () => {
    // Positive first: the other tenant's data is there.
    expect((await series('tok-ops', 'container.cpu.total_time')).length).toBeGreaterThan(0);
    expect(await series('tok-ns', 'container.mem.used_bytes')).toEqual([]);
    expect(await series('tok-apps', 'container.mem.used_bytes', 'namespace:kube-system')).toEqual([]);
    const list = (await (await fetch(`${api}/v2.0/metrics`, { headers: { 'x-auth-token': 'tok-apps' } })).json()) as { elements: { dimensions: Record<string, string> }[] };
    expect(list.elements.length).toBeGreaterThan(0);
    expect(list.elements.every((m) => m.dimensions['namespace'] === 'scraper')).toBe(true);
  });

  it('re-lists after a watch ends with 410 Gone, and moves a relabelled namespace to its new tenant within seconds', async () => {
    const listsBefore = apiServer.lists('namespaces');
    apiServer.expireWatches();
    await eventually(async () => apiServer.lists('namespaces'), (n) => n > listsBefore, 20_000, 100);
    const relabelledAt = Date.now();
    apiServer.setNamespaceLabels('scraper', { [TENANT_KEY]: 'project-new' });
    const moved = await eventually(() => series('tok-new', 'container.mem.used_bytes'), (s) => s.length > 0, 30_000);
    expect(Date.now() - relabelledAt).toBeLessThan(20_000);
    expect(new Set(moved.map((s) => s.dimensions['namespace']))).toEqual(new Set(['scraper']));
    // The old tenant keeps what it had and gains no new points (after the move was seen).
    const oldPoints = (await series('tok-apps', 'container.mem.used_bytes')).reduce((n, s) => n + s.measurements.length, 0);
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const later = (await series('tok-apps', 'container.mem.used_bytes')).reduce((n, s) => n + s.measurements.length, 0);
    expect(later).toBe(oldPoints);
    const telemetry = await (await fetch(`http://127.0.0.1:${telemetryPort}/metrics`)).text();
    expect(counterValue(telemetry, 'kansoku_agent_kubernetes_watch_restarts_total')).toBeGreaterThan(0);
  });
});
