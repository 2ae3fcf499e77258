/**
 * What the agent keeps of a pod or a namespace: the few fields enrichment needs, taken
 * out of the API objects once, when the informer hands them over, so that a lookup per
 * sample is a map read and the full objects (managed fields, status conditions…) are not
 * held twice. Pure functions, no I/O.
 */
import type { V1Container, V1ContainerStatus, V1Namespace, V1OwnerReference, V1Pod } from '@kubernetes/client-node';

export interface ContainerMetadata {
  readonly name: string;
  readonly image?: string;
  readonly imageId?: string;
  readonly containerId?: string;
  readonly cpuLimitCores?: number;
  readonly cpuRequestCores?: number;
  readonly memoryLimitBytes?: number;
  readonly memoryRequestBytes?: number;
}

/** The workload a pod belongs to: Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob, Node (static pods)… */
export interface OwnerRef {
  readonly kind: string;
  readonly name: string;
}

export interface PodMetadata {
  readonly uid: string;
  readonly namespace: string;
  readonly name: string;
  readonly nodeName?: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly owner?: OwnerRef;
  readonly containers: ReadonlyMap<string, ContainerMetadata>;
}

export interface NamespaceMetadata {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

export function podMetadataOf(pod: V1Pod): PodMetadata {
  const labels = frozenCopy(pod.metadata?.labels);
  const owner = workloadOf(pod.metadata?.ownerReferences, labels);
  const statuses = new Map<string, V1ContainerStatus>();
  for (const status of [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]) statuses.set(status.name, status);
  const containers = new Map<string, ContainerMetadata>();
  for (const container of [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])]) {
    containers.set(container.name, containerMetadataOf(container, statuses.get(container.name)));
  }
  return Object.freeze({
    uid: pod.metadata?.uid ?? '',
    namespace: pod.metadata?.namespace ?? '',
    name: pod.metadata?.name ?? '',
    ...(pod.spec?.nodeName ? { nodeName: pod.spec.nodeName } : {}),
    labels,
    annotations: frozenCopy(pod.metadata?.annotations),
    ...(owner ? { owner } : {}),
    containers,
  });
}

export function namespaceMetadataOf(ns: V1Namespace): NamespaceMetadata {
  return Object.freeze({
    name: ns.metadata?.name ?? '',
    labels: frozenCopy(ns.metadata?.labels),
    annotations: frozenCopy(ns.metadata?.annotations),
  });
}

// <signedNumber><suffix>, suffix binary SI, decimal SI (n and u included, as the API
// server accepts them) or a decimal exponent; see k8s.io/apimachinery/pkg/api/resource.
const quantityPattern = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])|[eE]([+-]?\d+))?$/;

const suffixFactors: Readonly<Record<string, number>> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

/** A Kubernetes resource quantity ("500m", "1.5", "128Mi", "1G", "1e3") as a plain number; undefined when it is not one. */
export function parseQuantity(q: string): number | undefined {
  const match = quantityPattern.exec(q.trim());
  if (!match) return undefined;
  const [, digits, suffix, exponent] = match;
  const base = Number(digits);
  let value: number;
  if (suffix !== undefined) value = base * (suffixFactors[suffix] ?? 1);
  else if (exponent !== undefined) value = base * 10 ** Number(exponent);
  else value = base;
  // Milli- and smaller factors are not exact in binary: 0.1 * 3 style noise would show in limits.
  if (suffix === 'm' || suffix === 'u' || suffix === 'n' || (exponent !== undefined && Number(exponent) < 0)) value = Number(value.toPrecision(15));
  return Number.isFinite(value) ? value : undefined;
}

function containerMetadataOf(container: V1Container, status: V1ContainerStatus | undefined): ContainerMetadata {
  const limits = container.resources?.limits ?? {};
  const requests = container.resources?.requests ?? {};
  const fields: { -readonly [K in keyof ContainerMetadata]: ContainerMetadata[K] } = { name: container.name };
  if (container.image) fields.image = container.image;
  if (status?.imageID) fields.imageId = status.imageID;
  if (status?.containerID) fields.containerId = status.containerID;
  const cpuLimitCores = quantityOf(limits['cpu']);
  if (cpuLimitCores !== undefined) fields.cpuLimitCores = cpuLimitCores;
  const cpuRequestCores = quantityOf(requests['cpu']);
  if (cpuRequestCores !== undefined) fields.cpuRequestCores = cpuRequestCores;
  const memoryLimitBytes = quantityOf(limits['memory']);
  if (memoryLimitBytes !== undefined) fields.memoryLimitBytes = memoryLimitBytes;
  const memoryRequestBytes = quantityOf(requests['memory']);
  if (memoryRequestBytes !== undefined) fields.memoryRequestBytes = memoryRequestBytes;
  return Object.freeze(fields);
}

function quantityOf(value: string | number | undefined): number | undefined {
  if (value === undefined) return undefined;
  // The generated client types quantities as strings; a hand-built object may carry a number.
  return typeof value === 'number' ? value : parseQuantity(value);
}

// The CronJob controller names a Job `<cronjob>-<scheduled time in minutes>`.
const cronJobSuffix = /^(.+)-\d{8,}$/;

/**
 * The controlling owner, lifted one level where the name says it: a ReplicaSet named
 * `<deployment>-<pod-template-hash>` is the Deployment's, a Job named `<cronjob>-<digits>`
 * the CronJob's. The OpenTelemetry k8sattributes processor does the same, so the agent
 * need not watch ReplicaSets and Jobs cluster-wide to name the workload.
 */
function workloadOf(references: readonly V1OwnerReference[] | undefined, labels: Readonly<Record<string, string>>): OwnerRef | undefined {
  const controller = references?.find((reference) => reference.controller === true);
  if (!controller) return undefined;
  const { kind, name } = controller;
  if (kind === 'ReplicaSet') {
    const hash = labels['pod-template-hash'];
    if (hash && name.length > hash.length + 1 && name.endsWith(`-${hash}`)) return Object.freeze({ kind: 'Deployment', name: name.slice(0, -(hash.length + 1)) });
  }
  if (kind === 'Job') {
    const cronJob = cronJobSuffix.exec(name)?.[1];
    if (cronJob) return Object.freeze({ kind: 'CronJob', name: cronJob });
  }
  return Object.freeze({ kind, name });
}

function frozenCopy(record: Record<string, string> | undefined): Readonly<Record<string, string>> {
  return Object.freeze({ ...(record ?? {}) });
}
