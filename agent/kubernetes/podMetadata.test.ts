import { readFileSync } from 'node:fs';
import type { V1Namespace, V1Pod, V1PodList } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { namespaceMetadataOf, parseQuantity, podMetadataOf } from './podMetadata.js';

const FIXTURES = new URL('../../test/fixtures/k8s/', import.meta.url);

function podList(file: string): V1Pod[] {
  return (JSON.parse(readFileSync(new URL(file, FIXTURES), 'utf8')) as V1PodList).items;
}

const minikube = podList('nri-k8s__k8s-1.16.15__kubelet_pods_PodList.json');
const kind = [
  ...podList('sonobuoy__kind-1.20__PodList_kube-system.json'),
  ...podList('sonobuoy__kind-1.20__PodList_sonobuoy.json'),
  ...podList('sonobuoy__kind-1.20__PodList_local-path-storage.json'),
];

function find(pods: V1Pod[], name: string): V1Pod {
  const pod = pods.find((p) => p.metadata?.name === name);
  if (!pod) throw new Error(`no pod ${name} in the fixture`);
  return pod;
}

describe('podMetadataOf on every fixture pod', () => {
  it.each([...minikube, ...kind].map((pod) => [`${pod.metadata?.namespace}/${pod.metadata?.name}`, pod] as const))('%s', (_name, pod) => {
    const metadata = podMetadataOf(pod);
    expect(metadata.namespace).toBe(pod.metadata?.namespace);
    expect(metadata.name).toBe(pod.metadata?.name);
    expect(metadata.uid).toBe(pod.metadata?.uid);
    expect(metadata.nodeName).toBe(pod.spec?.nodeName);
    expect(metadata.labels).toEqual(pod.metadata?.labels ?? {});
    expect(metadata.annotations).toEqual(pod.metadata?.annotations ?? {});
    const names = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].map((c) => c.name);
    expect([...metadata.containers.keys()].sort()).toEqual([...names].sort());
    for (const container of pod.spec?.containers ?? []) expect(metadata.containers.get(container.name)?.image).toBe(container.image);
    for (const status of pod.status?.containerStatuses ?? []) {
      const container = metadata.containers.get(status.name);
      expect(container?.imageId).toBe(status.imageID || undefined);
      expect(container?.containerId).toBe(status.containerID || undefined);
    }
    const controller = pod.metadata?.ownerReferences?.find((r) => r.controller === true);
    if (!controller) expect(metadata.owner).toBeUndefined();
    else if (controller.kind === 'ReplicaSet') expect(metadata.owner?.kind).toBe('Deployment');
    else expect(metadata.owner).toEqual({ kind: controller.kind, name: controller.name });
    expect(Object.isFrozen(metadata)).toBe(true);
  });
});

describe('owners', () => {
  it.each([
    ['ReplicaSet with the pod-template-hash: its Deployment', find(minikube, 'e2e-kube-state-metrics-887cff974-4jr26'), { kind: 'Deployment', name: 'e2e-kube-state-metrics' }],
    ['coredns in kind', find(kind, 'coredns-74ff55c5b-cpfqs'), { kind: 'Deployment', name: 'coredns' }],
    ['DaemonSet', find(minikube, 'kube-proxy-rz8xz'), { kind: 'DaemonSet', name: 'kube-proxy' }],
    ['StatefulSet', find(minikube, 'e2e-statefulset-1'), { kind: 'StatefulSet', name: 'e2e-statefulset' }],
    ['static pod: its Node', find(kind, 'etcd-kind-control-plane'), { kind: 'Node', name: 'kind-control-plane' }],
    ['an owner that is not the controller is no owner', find(kind, 'sonobuoy-e2e-job-1d0e9c62fc114e08'), undefined],
    ['no owner references', find(minikube, 'storage-provisioner'), undefined],
  ])('%s', (_name, pod, owner) => {
    expect(podMetadataOf(pod).owner).toEqual(owner);
  });

  const built = (kind: string, name: string, labels: Record<string, string> = {}): V1Pod => ({
    metadata: { name: `${name}-x7k2p`, namespace: 'batch', uid: 'u-1', labels, ownerReferences: [{ apiVersion: 'v1', kind, name, uid: 'o-1', controller: true }] },
    spec: { containers: [{ name: 'main', image: 'busybox' }] },
  });

  it.each([
    ['Job of a CronJob (scheduled-time suffix)', built('Job', 'nightly-report-28374912'), { kind: 'CronJob', name: 'nightly-report' }],
    ['Job with a short numeric suffix stays a Job', built('Job', 'migrate-42'), { kind: 'Job', name: 'migrate-42' }],
    ['plain Job', built('Job', 'backfill'), { kind: 'Job', name: 'backfill' }],
    ['ReplicaSet without the hash label stays a ReplicaSet', built('ReplicaSet', 'web-5d8f9c'), { kind: 'ReplicaSet', name: 'web-5d8f9c' }],
    ['ReplicaSet whose name does not end with the hash', built('ReplicaSet', 'web-5d8f9c', { 'pod-template-hash': 'abc' }), { kind: 'ReplicaSet', name: 'web-5d8f9c' }],
  ])('%s', (_name, pod, owner) => {
    expect(podMetadataOf(pod).owner).toEqual(owner);
  });
});

describe('containers', () => {
  it('limits and requests in cores and bytes', () => {
    const coredns = podMetadataOf(find(minikube, 'coredns-5644d7b6d9-nz2s7')).containers.get('coredns');
    expect(coredns).toMatchObject({ cpuRequestCores: 0.1, memoryLimitBytes: 170 * 2 ** 20, memoryRequestBytes: 70 * 2 ** 20 });
    expect(coredns?.cpuLimitCores).toBeUndefined();
    const creating = podMetadataOf(find(minikube, 'e2e-container-creating')).containers.get('alpine');
    expect(creating).toMatchObject({ cpuLimitCores: 0.005, cpuRequestCores: 0.005, memoryLimitBytes: 5e6, memoryRequestBytes: 5e6 });
    // Still creating: the status has an empty imageID and no containerID.
    expect(creating?.imageId).toBeUndefined();
    expect(creating?.containerId).toBeUndefined();
  });

  it('image, image id and container id joined from the status', () => {
    expect(podMetadataOf(find(minikube, 'e2e-hpa-6549c6db47-dcw84')).containers.get('php-apache')).toEqual({
      name: 'php-apache',
      image: 'k8s.gcr.io/hpa-example',
      imageId: 'docker-pullable://k8s.gcr.io/hpa-example@sha256:581697a37f0e136db86d6b30392f0db40ce99c8248a7044c770012f4e8491544',
      containerId: 'docker://0b1e47f8f8e0b57d5c9d702acc40cbc387184510c661311c73d79ac55faa234e',
      cpuLimitCores: 0.5,
      cpuRequestCores: 0.2,
    });
  });

  it('init containers are included', () => {
    const pod: V1Pod = {
      metadata: { name: 'p', namespace: 'n', uid: 'u' },
      spec: { initContainers: [{ name: 'init', image: 'alpine' }], containers: [{ name: 'app', image: 'nginx' }] },
      status: { initContainerStatuses: [{ name: 'init', image: 'alpine', imageID: 'sha256:1', containerID: 'containerd://a', ready: false, restartCount: 0 }] },
    };
    const containers = podMetadataOf(pod).containers;
    expect(containers.get('init')).toEqual({ name: 'init', image: 'alpine', imageId: 'sha256:1', containerId: 'containerd://a' });
    expect(containers.get('app')).toEqual({ name: 'app', image: 'nginx' });
  });
});

describe('namespaceMetadataOf', () => {
  it('keeps name, labels and annotations', () => {
    const ns: V1Namespace = { metadata: { name: 'team-a', labels: { 'kansoku.io/tenant': 'p-1' }, annotations: { owner: 'x' } } };
    expect(namespaceMetadataOf(ns)).toEqual({ name: 'team-a', labels: { 'kansoku.io/tenant': 'p-1' }, annotations: { owner: 'x' } });
    expect(namespaceMetadataOf({ metadata: { name: 'bare' } })).toEqual({ name: 'bare', labels: {}, annotations: {} });
  });
});

describe('parseQuantity', () => {
  it.each([
    ['500m', 0.5],
    ['5m', 0.005],
    ['2', 2],
    ['1.5', 1.5],
    ['.5', 0.5],
    ['1.', 1],
    ['128Mi', 128 * 2 ** 20],
    ['1Ki', 1024],
    ['2Gi', 2 * 2 ** 30],
    ['1Ti', 2 ** 40],
    ['1G', 1e9],
    ['5M', 5e6],
    ['100k', 100_000],
    ['1e3', 1000],
    ['1E3', 1000],
    ['1e-3', 0.001],
    ['1E', 1e18],
    ['250u', 0.00025],
    ['100n', 1e-7],
    ['0', 0],
    ['+3', 3],
    ['-1', -1],
    ['1.5Gi', 1.5 * 2 ** 30],
  ])('%s → %d', (text, value) => {
    expect(parseQuantity(text)).toBe(value);
  });

  it.each([[''], ['m'], ['abc'], ['1.2.3'], ['1KB'], ['1ki'], ['1 Mi'], ['Mi1'], ['1e'], ['1e3Mi'], ['--1'], ['1K']])('%j is not a quantity', (text) => {
    expect(parseQuantity(text)).toBeUndefined();
  });
});
