/**
 * Pages and pods built from a real kubelet page's shapes, for tests and benchmarks that need
 * a bigger node than the recorded one, and a Kubernetes API that knows the page's pods.
 */
import type { V1Pod } from '@kubernetes/client-node';

const POD_LABEL = /(?:^|[{,])pod(?:_name)?="([^"]*)"/;
const NAMESPACE_LABEL = /(?:^|[{,])namespace="([^"]*)"/;
const CONTAINER_LABEL = /(?:^|[{,])container(?:_name)?="([^"]*)"/;
const IMAGE_LABEL = /(?:^|[{,])image="([^"]*)"/;

interface PageLine {
  readonly line: string;
  readonly namespace: string;
  readonly pod: string;
}

function podOf(line: string): PageLine | undefined {
  if (line.startsWith('#')) return undefined;
  const pod = POD_LABEL.exec(line)?.[1];
  const namespace = NAMESPACE_LABEL.exec(line)?.[1];
  if (!pod || !namespace) return undefined;
  return { line, namespace, pod };
}

/** The page's pods, in the order they first appear: `namespace/pod`. */
export function podsOnPage(page: string): string[] {
  const seen = new Set<string>();
  for (const line of page.split('\n')) {
    const found = podOf(line);
    if (found) seen.add(`${found.namespace}/${found.pod}`);
  }
  return [...seen];
}

/**
 * The page with `podCount` pods: the recorded pods, then copies of them (`<pod>-r<k>`) in
 * turn until there are enough. Each copy's series sit next to the original's, so every
 * family stays in one block as the text format requires. Node-level series stay as they are.
 */
export function scalePage(page: string, podCount: number): string {
  const pods = podsOnPage(page);
  if (pods.length === 0) throw new Error('the page has no pods to copy');
  const index = new Map(pods.map((key, i) => [key, i]));
  const out: string[] = [];
  for (const line of page.split('\n')) {
    const found = podOf(line);
    if (found === undefined) {
      out.push(line);
      continue;
    }
    const i = index.get(`${found.namespace}/${found.pod}`) ?? 0;
    for (let copy = 0; copy * pods.length + i < podCount; copy++) {
      out.push(copy === 0 ? line : line.replace(`pod="${found.pod}"`, `pod="${found.pod}-r${copy}"`).replace(`pod_name="${found.pod}"`, `pod_name="${found.pod}-r${copy}"`));
    }
  }
  return out.join('\n');
}

/** The page without sample timestamps: each scrape is then stamped with its own time. */
export function withoutTimestamps(page: string): string {
  // name[{labels}] value timestamp: label values may hold blanks, so the labels are matched as a whole.
  return page.replace(/^([^#{}\s][^{}\s]*(?:\{.*\})? \S+) -?\d+$/gm, '$1');
}

/**
 * Pod objects for every pod on the page, as the API server would list them for `nodeName`:
 * a Deployment's pods (name `<deployment>-<hash>-<suffix>`) owned by its ReplicaSet with
 * the `pod-template-hash` label, a StatefulSet's (`<set>-<n>`), others bare; each container
 * with its image from the page and limits of 500m CPU and 256Mi of memory.
 */
export function podsForPage(page: string, nodeName: string): V1Pod[] {
  const containers = new Map<string, Map<string, string>>();
  for (const line of page.split('\n')) {
    const found = podOf(line);
    if (found === undefined) continue;
    const key = `${found.namespace}/${found.pod}`;
    const own = containers.get(key) ?? new Map<string, string>();
    containers.set(key, own);
    const container = CONTAINER_LABEL.exec(line)?.[1];
    if (container && container !== 'POD') own.set(container, IMAGE_LABEL.exec(line)?.[1] ?? own.get(container) ?? '');
  }
  let uid = 0;
  return [...containers].map(([key, own]) => {
    const [namespace = '', name = ''] = key.split('/');
    const deployment = /^(.*)-([a-z0-9]{8,10})-[a-z0-9]{5}(-r\d+)?$/.exec(name);
    const statefulSet = /^(.*)-\d+(-r\d+)?$/.exec(name);
    const labels: Record<string, string> = { app: deployment?.[1] ?? statefulSet?.[1] ?? name };
    const ownerReferences = deployment
      ? [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${deployment[1]}-${deployment[2]}`, uid: `rs-${deployment[2]}`, controller: true }]
      : statefulSet
        ? [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: statefulSet[1] ?? '', uid: `sts-${statefulSet[1]}`, controller: true }]
        : [];
    if (deployment) labels['pod-template-hash'] = deployment[2] ?? '';
    uid++;
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace, uid: `00000000-0000-4000-8000-${String(uid).padStart(12, '0')}`, labels, ownerReferences, resourceVersion: '1' },
      spec: {
        nodeName,
        containers: [...own].map(([container, image]) => ({ name: container, image, resources: { limits: { cpu: '500m', memory: '256Mi' }, requests: { cpu: '100m', memory: '64Mi' } } })),
      },
      status: { phase: 'Running', containerStatuses: [...own].map(([container, image]) => ({ name: container, image, imageID: `${image}@sha256:${'0'.repeat(64)}`, ready: true, restartCount: 0, containerID: `containerd://${container}` })) },
    };
  });
}
