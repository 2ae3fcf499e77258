import type { V1Pod } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Counters } from '../../core/counters.js';
import { KubernetesApiStandIn } from '../../test/support/kubernetesApiStandIn.js';
import { KubernetesInformers } from './informers.js';
import { TenantResolver } from './tenancy.js';

const NODE = 'minikube';
const BACKOFF = { initialMs: 20, maxMs: 100 };

let standIn: KubernetesApiStandIn;
let informers: KubernetesInformers | undefined;
let counters: Counters;

beforeEach(async () => {
  standIn = new KubernetesApiStandIn();
  await standIn.start();
  counters = new Counters();
});

afterEach(async () => {
  await informers?.stop();
  informers = undefined;
  await standIn.close();
});

function startInformers(options: { listPageSize?: number; token?: string; watchTimeoutSeconds?: number } = {}): KubernetesInformers {
  informers = new KubernetesInformers({
    kubeConfig: standIn.kubeConfig(options.token),
    nodeName: NODE,
    counters,
    logger: pino({ level: 'silent' }),
    backoff: BACKOFF,
    ...(options.listPageSize ? { listPageSize: options.listPageSize } : {}),
    ...(options.watchTimeoutSeconds ? { watchTimeoutSeconds: options.watchTimeoutSeconds } : {}),
  });
  return informers;
}

/** start() resolves once the lists are applied; the watches open just after. */
async function startAndWatch(metadata: KubernetesInformers): Promise<void> {
  await expect(metadata.start(3_000)).resolves.toBe(true);
  await eventually(() => standIn.openWatches() === 2);
}

async function eventually(check: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadlineMs = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadlineMs) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function newPod(name: string, namespace = 'scraper', nodeName = NODE): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, uid: `uid-${name}`, labels: { app: name } },
    spec: { nodeName, containers: [{ name: 'main', image: 'busybox:1.36', resources: { limits: { cpu: '250m', memory: '64Mi' } } }] },
  };
}

function relabelled(pod: V1Pod | undefined, labels: Record<string, string>): V1Pod {
  if (!pod) throw new Error('no such pod in the stand-in');
  return { ...pod, metadata: { ...pod.metadata, labels } };
}

describe('KubernetesInformers against the API stand-in', () => {
  it('syncs the pods of its node and all namespaces', async () => {
    const metadata = startInformers();
    await expect(metadata.start(3_000)).resolves.toBe(true);
    // 16 pods of the minikube fixture are on this node; the kind ones are not.
    expect(metadata.stats().pods).toMatchObject({ objects: 16, synced: true, lists: 1 });
    expect(metadata.pod('scraper', 'e2e-statefulset-0')?.owner).toEqual({ kind: 'StatefulSet', name: 'e2e-statefulset' });
    expect(metadata.pod('kube-system', 'coredns-74ff55c5b-cpfqs')).toBeUndefined();
    // Fixture namespaces plus the ones synthesised for pods (sonobuoy, local-path-storage).
    expect(metadata.namespace('nri-test-namespace')?.labels['team']).toBe('k8-team');
    expect(metadata.namespace('sonobuoy')).toBeDefined();
    expect(counters.get('kansoku_agent_kubernetes_objects', { resource: 'pods' })).toBe(16);
    expect(counters.get('kansoku_agent_kubernetes_objects', { resource: 'namespaces' })).toBe(metadata.stats().namespaces.objects);
    const podLists = standIn.requests.filter((r) => r.path === '/api/v1/pods');
    expect(podLists.every((r) => r.query['fieldSelector'] === `spec.nodeName=${NODE}`)).toBe(true);
  });

  it('lists in pages when asked to', async () => {
    const metadata = startInformers({ listPageSize: 3 });
    await expect(metadata.start(3_000)).resolves.toBe(true);
    expect(metadata.stats().pods.objects).toBe(16);
    expect(standIn.lists('pods')).toBe(6);
    expect(metadata.stats().pods.lists).toBe(1);
  });

  it('applies ADDED, MODIFIED and DELETED as they come', async () => {
    const metadata = startInformers();
    await metadata.start(3_000);
    const versionBefore = metadata.version;
    standIn.addPod(newPod('web-1'));
    standIn.addPod(newPod('elsewhere', 'scraper', 'another-node'));
    await eventually(() => metadata.pod('scraper', 'web-1') !== undefined);
    expect(metadata.pod('scraper', 'web-1')?.containers.get('main')).toMatchObject({ cpuLimitCores: 0.25, memoryLimitBytes: 64 * 2 ** 20 });
    standIn.updatePod(relabelled(standIn.pod('scraper', 'web-1'), { app: 'web', tier: 'front' }));
    await eventually(() => metadata.pod('scraper', 'web-1')?.labels['tier'] === 'front');
    standIn.deletePod('scraper', 'e2e-depl-86cf7fbbf8-p4h98');
    await eventually(() => metadata.pod('scraper', 'e2e-depl-86cf7fbbf8-p4h98') === undefined);
    expect(metadata.pod('scraper', 'elsewhere')).toBeUndefined();
    expect(metadata.version).toBeGreaterThanOrEqual(versionBefore + 3);
    expect(standIn.lists('pods')).toBe(1);
  });

  it('a watch ending with 410 Gone leads to a new list, and what changed in the gap is seen', async () => {
    const metadata = startInformers();
    await startAndWatch(metadata);
    expect(standIn.lists('pods')).toBe(1);
    standIn.expireWatches();
    // Changes no watch carries: only a new list can bring them.
    standIn.updatePod(relabelled(standIn.pod('scraper', 'e2e-hpa-6549c6db47-dcw84'), { app: 'hpa', changed: 'in-the-gap' }));
    standIn.deletePod('kube-system', 'kube-proxy-rz8xz');
    await eventually(() => standIn.lists('pods') >= 2 && standIn.lists('namespaces') >= 2);
    await eventually(() => metadata.pod('scraper', 'e2e-hpa-6549c6db47-dcw84')?.labels['changed'] === 'in-the-gap');
    await eventually(() => metadata.pod('kube-system', 'kube-proxy-rz8xz') === undefined);
    expect(metadata.stats().pods.objects).toBe(15);
    expect(counters.get('kansoku_agent_kubernetes_watch_restarts_total', { resource: 'pods', reason: 'gone_410' })).toBe(1);
    expect(counters.get('kansoku_agent_kubernetes_watch_restarts_total', { resource: 'namespaces', reason: 'gone_410' })).toBe(1);
    // And the new watch carries on.
    standIn.addPod(newPod('after-relist'));
    await eventually(() => metadata.pod('scraper', 'after-relist') !== undefined);
  });

  it('410s that keep coming with no event between are listed after a backoff, not in a loop', async () => {
    const metadata = startInformers();
    await startAndWatch(metadata);
    standIn.setExpireEveryWatch(true);
    standIn.expireWatches();
    await new Promise((resolve) => setTimeout(resolve, 400));
    const lists = standIn.lists('pods');
    // 20 ms doubling to 100 ms, with jitter, over 400 ms: a handful of lists, not hundreds.
    expect(lists).toBeGreaterThanOrEqual(3);
    expect(lists).toBeLessThan(20);
    standIn.setExpireEveryWatch(false);
    standIn.addPod(newPod('after-expiries'));
    await eventually(() => metadata.pod('scraper', 'after-expiries') !== undefined);
    // Every 410 led to one list, no more.
    expect(metadata.stats().pods.restarts.gone_410).toBe(standIn.lists('pods') - 1);
  });

  it('a dropped connection is watched again after a backoff, from where it was, and catches up', async () => {
    const metadata = startInformers();
    await startAndWatch(metadata);
    const watchesBefore = standIn.watchRequests('pods');
    standIn.dropConnections();
    standIn.addPod(newPod('while-dropped'));
    standIn.updatePod(relabelled(standIn.pod('scraper', 'e2e-ds-8zz8h'), { changed: 'while-dropped' }));
    await eventually(() => metadata.pod('scraper', 'while-dropped') !== undefined);
    await eventually(() => metadata.pod('scraper', 'e2e-ds-8zz8h')?.labels['changed'] === 'while-dropped');
    expect(standIn.watchRequests('pods')).toBeGreaterThan(watchesBefore);
    // Caught up from the resourceVersion: no new list.
    expect(standIn.lists('pods')).toBe(1);
    // node-fetch reports the reset as a premature close: an error, restarted after the backoff.
    expect(counters.get('kansoku_agent_kubernetes_watch_restarts_total', { resource: 'pods', reason: 'error' })).toBe(1);
  });

  it('a watch the server ended cleanly is watched again from its resourceVersion, counted as closed', async () => {
    const metadata = startInformers();
    await startAndWatch(metadata);
    standIn.closeWatches();
    standIn.addPod(newPod('after-close'));
    await eventually(() => metadata.pod('scraper', 'after-close') !== undefined);
    expect(standIn.lists('pods')).toBe(1);
    expect(counters.get('kansoku_agent_kubernetes_watch_restarts_total', { resource: 'pods', reason: 'closed' })).toBe(1);
    const rewatch = standIn.requests.filter((r) => r.path === '/api/v1/pods' && r.query['watch'] === 'true').at(-1);
    expect(Number(rewatch?.query['resourceVersion'])).toBeGreaterThan(0);
  });

  it('asks for bookmarks and a watch timeout; a watch the server ends at its timeout is watched again from a bookmark', async () => {
    const metadata = startInformers({ watchTimeoutSeconds: 1 });
    await startAndWatch(metadata);
    const firstWatch = standIn.requests.find((r) => r.path === '/api/v1/pods' && r.query['watch'] === 'true');
    expect(firstWatch?.query).toMatchObject({ allowWatchBookmarks: 'true', timeoutSeconds: '1', fieldSelector: `spec.nodeName=${NODE}` });
    // Namespaces change; the pod watch hears of the new version only through a bookmark.
    standIn.setNamespaceLabels('scraper', { team: 'x' });
    standIn.sendBookmarks();
    await eventually(() => standIn.watchRequests('pods') >= 2, 2_500);
    const rewatch = standIn.requests.filter((r) => r.path === '/api/v1/pods' && r.query['watch'] === 'true').at(-1);
    expect(rewatch?.query['resourceVersion']).toBe(standIn.resourceVersion);
    expect(counters.get('kansoku_agent_kubernetes_watch_restarts_total', { resource: 'pods', reason: 'closed' })).toBeGreaterThanOrEqual(1);
    expect(standIn.lists('pods')).toBe(1);
  });

  it('a watch still open past its timeout (a half-open connection) is aborted and started again', async () => {
    standIn.setIgnoreWatchTimeouts(true);
    const metadata = startInformers({ watchTimeoutSeconds: 1 });
    await startAndWatch(metadata);
    await eventually(() => standIn.watchRequests('pods') >= 2, 2_500);
    expect(counters.get('kansoku_agent_kubernetes_watch_restarts_total', { resource: 'pods', reason: 'error' })).toBe(1);
    standIn.addPod(newPod('after-half-open'));
    await eventually(() => metadata.pod('scraper', 'after-half-open') !== undefined);
    expect(standIn.lists('pods')).toBe(1);
  });

  it('keeps trying with backoff while the server is away, then catches up', async () => {
    const metadata = startInformers();
    await startAndWatch(metadata);
    standIn.setUnavailable(true);
    standIn.dropConnections();
    const requestsAtDrop = standIn.requests.length;
    await new Promise((resolve) => setTimeout(resolve, 400));
    const retries = standIn.requests.length - requestsAtDrop;
    // Two resources, 20 ms doubling to 100 ms (with jitter) over 400 ms: a handful each, not a tight loop.
    expect(retries).toBeGreaterThanOrEqual(4);
    expect(retries).toBeLessThan(40);
    standIn.addPod(newPod('after-outage'));
    standIn.setUnavailable(false);
    await eventually(() => metadata.pod('scraper', 'after-outage') !== undefined);
    expect(counters.get('kansoku_agent_kubernetes_watch_restarts_total', { resource: 'pods', reason: 'error' })).toBeGreaterThanOrEqual(2);
  });

  it('a namespace relabelled mid-stream moves the tenant', async () => {
    const metadata = startInformers();
    await startAndWatch(metadata);
    const resolver = new TenantResolver({ map: { scraper: 'project-from-map' }, unmapped: 'namespace' }, metadata);
    expect(resolver.tenantOf('scraper')).toBe('project-from-map');
    standIn.setNamespaceLabels('scraper', { 'kubernetes.io/metadata.name': 'scraper', 'kansoku.io/tenant': 'project-a' });
    await eventually(() => resolver.tenantOf('scraper') === 'project-a');
    standIn.setNamespaceLabels('scraper', { 'kubernetes.io/metadata.name': 'scraper', 'kansoku.io/tenant': 'project-b' });
    await eventually(() => resolver.tenantOf('scraper') === 'project-b');
  });

  it('waitForPod resolves true when the pod arrives later, false at its timeout', async () => {
    const metadata = startInformers();
    await metadata.start(3_000);
    await expect(metadata.waitForPod('scraper', 'e2e-statefulset-1', 10)).resolves.toBe(true);
    const arriving = metadata.waitForPod('scraper', 'late-pod', 3_000);
    setTimeout(() => standIn.addPod(newPod('late-pod')), 30);
    await expect(arriving).resolves.toBe(true);
    const startedMs = Date.now();
    await expect(metadata.waitForPod('scraper', 'never', 80)).resolves.toBe(false);
    expect(Date.now() - startedMs).toBeGreaterThanOrEqual(70);
    expect(metadata.stats().podWaiters).toBe(0);
  });

  it('pending waits resolve false on stop, and nothing is watched afterwards', async () => {
    const metadata = startInformers();
    await startAndWatch(metadata);
    const waiting = metadata.waitForPod('scraper', 'never', 10_000);
    await metadata.stop();
    await expect(waiting).resolves.toBe(false);
    await eventually(() => standIn.openWatches() === 0);
    const requests = standIn.requests.length;
    standIn.expireWatches();
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(standIn.requests.length).toBe(requests);
  });

  it('start resolves false at its timeout when the server refuses the token, and the agent runs on', async () => {
    const metadata = startInformers({ token: 'wrong-token' });
    await expect(metadata.start(150)).resolves.toBe(false);
    expect(metadata.stats().pods.synced).toBe(false);
    expect(standIn.requests.length).toBeGreaterThanOrEqual(2);
    expect(counters.total('kansoku_agent_kubernetes_watch_restarts_total')).toBeGreaterThanOrEqual(2);
  });
});
