/**
 * A Kubernetes API server stand-in on 127.0.0.1 for tests: lists and watches of pods and
 * namespaces the way kube-apiserver serves them (List objects with a resourceVersion,
 * chunked watch events from a resourceVersion, 410 Gone once a version is compacted away),
 * plus the failures an informer has to survive: expired watches, dropped connections,
 * an unavailable server. Objects start from real fixtures (test/fixtures/k8s/).
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { KubeConfig, type V1Namespace, type V1Pod } from '@kubernetes/client-node';

export type StandInResource = 'pods' | 'namespaces';
export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
}

interface StoredEvent {
  readonly revision: number;
  readonly resource: StandInResource;
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly object: V1Pod | V1Namespace;
}

interface OpenWatch {
  readonly resource: StandInResource;
  readonly bookmarks: boolean;
  readonly nodeName: string | undefined;
  readonly res: ServerResponse;
}

const FIXTURES = new URL('../fixtures/k8s/', import.meta.url);

/** Pods of the fixture PodLists: minikube (k8s 1.16, node `minikube`) and kind (k8s 1.20, nodes kind-control-plane, kind-worker, kind-worker2). */
export function fixturePods(): V1Pod[] {
  return [
    'nri-k8s__k8s-1.16.15__kubelet_pods_PodList.json',
    'sonobuoy__kind-1.20__PodList_kube-system.json',
    'sonobuoy__kind-1.20__PodList_sonobuoy.json',
    'sonobuoy__kind-1.20__PodList_local-path-storage.json',
  ].flatMap((file) => (JSON.parse(readFileSync(new URL(file, FIXTURES), 'utf8')) as { items: V1Pod[] }).items);
}

/** Namespaces of the fixture lists (a 2016 NamespaceList, then a k8s 1.35 one, which wins on the names both have). */
export function fixtureNamespaces(): V1Namespace[] {
  const byName = new Map<string, V1Namespace>();
  for (const file of ['dd-agent__NamespaceList__k8s-1.x.json', 'DERIVED__nri-k8s__k8s-1.35.0__namespaces.json']) {
    for (const ns of (JSON.parse(readFileSync(new URL(file, FIXTURES), 'utf8')) as { items: V1Namespace[] }).items) byName.set(ns.metadata?.name ?? '', ns);
  }
  return [...byName.values()];
}

export interface KubernetesApiStandInOptions {
  readonly pods?: readonly V1Pod[];
  readonly namespaces?: readonly V1Namespace[];
  readonly token?: string;
}

export class KubernetesApiStandIn {
  /** Every request, in order, so tests can tell lists from watches. */
  readonly requests: RecordedRequest[] = [];
  readonly token: string;
  private readonly server: Server;
  private readonly objects: Record<StandInResource, Map<string, V1Pod | V1Namespace>> = { pods: new Map(), namespaces: new Map() };
  private readonly history: StoredEvent[] = [];
  private readonly watches = new Set<OpenWatch>();
  private readonly continuations = new Map<string, { revision: number; rest: (V1Pod | V1Namespace)[] }>();
  private revision = 1000;
  /** Watches from an older version get 410 Gone: etcd compacted it away. */
  private compactedRevision = 0;
  private unavailable = false;
  private expireEveryWatch = false;
  private ignoreWatchTimeouts = false;
  private url = '';

  constructor(options: KubernetesApiStandInOptions = {}) {
    this.token = options.token ?? 'stand-in-token-8f14e45f';
    for (const ns of options.namespaces ?? fixtureNamespaces()) this.store('namespaces', structuredClone(ns));
    for (const pod of options.pods ?? fixturePods()) this.store('pods', structuredClone(pod));
    // A pod's namespace always exists in a real cluster; the fixtures do not all carry theirs.
    for (const pod of this.objects.pods.values()) {
      const name = pod.metadata?.namespace;
      if (name && !this.objects.namespaces.has(name)) {
        this.store('namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name, uid: `synthesised-${name}`, labels: { 'kubernetes.io/metadata.name': name } }, status: { phase: 'Active' } });
      }
    }
    this.server = createServer((req, res) => this.handle(req, res));
  }

  async start(): Promise<{ url: string }> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    this.url = `http://127.0.0.1:${port}`;
    return { url: this.url };
  }

  /** A client-node config pointing here, with the bearer token the stand-in expects. */
  kubeConfig(token = this.token): KubeConfig {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromOptions({
      clusters: [{ name: 'stand-in', server: this.url, skipTLSVerify: true }],
      users: [{ name: 'stand-in', token }],
      contexts: [{ name: 'stand-in', cluster: 'stand-in', user: 'stand-in' }],
      currentContext: 'stand-in',
    });
    return kubeConfig;
  }

  get resourceVersion(): string {
    return String(this.revision);
  }

  pod(namespace: string, name: string): V1Pod | undefined {
    return this.objects.pods.get(`${namespace}/${name}`) as V1Pod | undefined;
  }

  namespace(name: string): V1Namespace | undefined {
    return this.objects.namespaces.get(name) as V1Namespace | undefined;
  }

  addPod(pod: V1Pod): void {
    this.change('pods', 'ADDED', structuredClone(pod));
  }

  updatePod(pod: V1Pod): void {
    this.change('pods', 'MODIFIED', structuredClone(pod));
  }

  deletePod(namespace: string, name: string): void {
    const pod = this.objects.pods.get(`${namespace}/${name}`);
    if (pod) this.change('pods', 'DELETED', structuredClone(pod));
  }

  addNamespace(ns: V1Namespace): void {
    this.change('namespaces', 'ADDED', structuredClone(ns));
  }

  setNamespaceLabels(name: string, labels: Record<string, string>): void {
    const ns = this.objects.namespaces.get(name);
    if (!ns) throw new Error(`stand-in: no namespace ${name}`);
    const copy = structuredClone(ns);
    copy.metadata = { ...copy.metadata, labels };
    this.change('namespaces', 'MODIFIED', copy);
  }

  /**
   * Every open watch gets an ERROR event (Status 410 Expired) and ends, and the versions
   * seen so far are compacted away: a re-watch from them gets 410 too, so the client must list.
   */
  expireWatches(): void {
    this.revision++;
    this.compactedRevision = this.revision;
    for (const watch of [...this.watches]) {
      writeEvent(watch.res, 'ERROR', goneStatus(this.compactedRevision));
      watch.res.end();
      this.watches.delete(watch);
    }
  }

  /** A BOOKMARK event at the current version on every open watch that asked for bookmarks. */
  sendBookmarks(): void {
    for (const watch of this.watches) {
      if (!watch.bookmarks) continue;
      writeEvent(watch.res, 'BOOKMARK', { kind: watch.resource === 'pods' ? 'Pod' : 'Namespace', apiVersion: 'v1', metadata: { resourceVersion: String(this.revision) } });
    }
  }

  /** Ends every open watch cleanly, as the API server does when a watch's timeout is up. */
  closeWatches(): void {
    for (const watch of [...this.watches]) {
      watch.res.end();
      this.watches.delete(watch);
    }
  }

  /** Destroys the sockets of open watches, as a load balancer or a restarting API server does. */
  dropConnections(): void {
    for (const watch of [...this.watches]) {
      watch.res.socket?.destroy();
      this.watches.delete(watch);
    }
  }

  /** While set, every new watch gets 410 Gone at once, as from a server whose cache is compacted faster than clients list. */
  setExpireEveryWatch(expire: boolean): void {
    this.expireEveryWatch = expire;
  }

  /** While set, new watches stay open past their timeoutSeconds, as a connection gone half-open looks to the client. */
  setIgnoreWatchTimeouts(ignore: boolean): void {
    this.ignoreWatchTimeouts = ignore;
  }

  /** While set, every request is answered 503, as by an API server that is restarting. */
  setUnavailable(unavailable: boolean): void {
    this.unavailable = unavailable;
  }

  /** Requests made so far that were lists (not watches) of a resource. */
  lists(resource: StandInResource): number {
    return this.requests.filter((r) => r.path === `/api/v1/${resource}` && r.query['watch'] !== 'true').length;
  }

  /** Requests made so far that were watches of a resource. */
  watchRequests(resource: StandInResource): number {
    return this.requests.filter((r) => r.path === `/api/v1/${resource}` && r.query['watch'] === 'true').length;
  }

  openWatches(): number {
    return this.watches.size;
  }

  async close(): Promise<void> {
    for (const watch of this.watches) watch.res.socket?.destroy();
    this.watches.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private store(resource: StandInResource, object: V1Pod | V1Namespace): void {
    this.revision++;
    object.metadata = { ...object.metadata, resourceVersion: String(this.revision) };
    this.objects[resource].set(keyOf(object), object);
  }

  private change(resource: StandInResource, type: StoredEvent['type'], object: V1Pod | V1Namespace): void {
    this.revision++;
    object.metadata = { ...object.metadata, resourceVersion: String(this.revision) };
    if (type === 'DELETED') this.objects[resource].delete(keyOf(object));
    else this.objects[resource].set(keyOf(object), object);
    const event: StoredEvent = { revision: this.revision, resource, type, object };
    this.history.push(event);
    for (const watch of this.watches) if (watch.resource === resource && matches(object, watch.nodeName)) writeEvent(watch.res, type, object);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const query = Object.fromEntries(url.searchParams.entries());
    this.requests.push({ method: req.method ?? 'GET', path: url.pathname, query });
    if (req.headers.authorization !== `Bearer ${this.token}`) return sendStatus(res, 401, 'Unauthorized', 'Unauthorized');
    if (this.unavailable) return sendStatus(res, 503, 'ServiceUnavailable', 'the server is currently unable to handle the request');
    const resource = url.pathname === '/api/v1/pods' ? 'pods' : url.pathname === '/api/v1/namespaces' ? 'namespaces' : undefined;
    if (req.method !== 'GET' || !resource) return sendStatus(res, 404, 'NotFound', `the server could not find the requested resource (${url.pathname})`);
    const selector = query['fieldSelector'];
    let nodeName: string | undefined;
    if (selector) {
      const match = /^spec\.nodeName==?(.*)$/.exec(selector);
      if (!match || resource !== 'pods') return sendStatus(res, 400, 'BadRequest', `field label not supported: ${selector}`);
      nodeName = match[1];
    }
    if (query['watch'] === 'true' || query['watch'] === '1') this.watch(resource, nodeName, query['resourceVersion'] ?? '', Number(query['timeoutSeconds'] ?? 0), query['allowWatchBookmarks'] === 'true', res);
    else this.list(resource, nodeName, query, res);
  }

  private list(resource: StandInResource, nodeName: string | undefined, query: Record<string, string>, res: ServerResponse): void {
    let revision = this.revision;
    let items: (V1Pod | V1Namespace)[];
    const token = query['continue'];
    if (token) {
      const continuation = this.continuations.get(token);
      if (!continuation) return sendStatus(res, 410, 'Expired', 'The provided continue parameter is too old');
      this.continuations.delete(token);
      ({ revision, rest: items } = continuation);
    } else {
      items = [...this.objects[resource].values()].filter((object) => matches(object, nodeName)).map((object) => structuredClone(object));
    }
    const limit = Number(query['limit'] ?? 0);
    let next: string | undefined;
    if (limit > 0 && items.length > limit) {
      next = `c${this.continuations.size}-${revision}-${Math.random().toString(36).slice(2)}`;
      this.continuations.set(next, { revision, rest: items.slice(limit) });
      items = items.slice(0, limit);
    }
    const kind = resource === 'pods' ? 'PodList' : 'NamespaceList';
    const body = { kind, apiVersion: 'v1', metadata: { resourceVersion: String(revision), ...(next ? { continue: next } : {}) }, items };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  }

  private watch(resource: StandInResource, nodeName: string | undefined, resourceVersion: string, timeoutSeconds: number, bookmarks: boolean, res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    // Headers go out at once, as from the API server, so the client knows the watch is open.
    res.flushHeaders();
    const from = Number(resourceVersion || '0');
    if ((from !== 0 && from < this.compactedRevision) || this.expireEveryWatch) {
      // kube-apiserver answers a too-old version with 200 and an ERROR event, then ends the watch.
      writeEvent(res, 'ERROR', goneStatus(this.compactedRevision));
      res.end();
      return;
    }
    if (from === 0) {
      // No version: the current state as ADDED events, then what follows.
      for (const object of this.objects[resource].values()) if (matches(object, nodeName)) writeEvent(res, 'ADDED', object);
    } else {
      for (const event of this.history) if (event.revision > from && event.resource === resource && matches(event.object, nodeName)) writeEvent(res, event.type, event.object);
    }
    const watch: OpenWatch = { resource, nodeName, res, bookmarks };
    this.watches.add(watch);
    // The API server ends a watch cleanly once its timeoutSeconds are up.
    const timer = timeoutSeconds > 0 && !this.ignoreWatchTimeouts ? setTimeout(() => res.end(), timeoutSeconds * 1000) : undefined;
    timer?.unref();
    res.on('close', () => {
      clearTimeout(timer);
      this.watches.delete(watch);
    });
  }
}

function keyOf(object: V1Pod | V1Namespace): string {
  const name = object.metadata?.name ?? '';
  const namespace = object.metadata?.namespace;
  return namespace ? `${namespace}/${name}` : name;
}

function matches(object: V1Pod | V1Namespace, nodeName: string | undefined): boolean {
  if (nodeName === undefined) return true;
  // Only pods are selected by node (namespaces with a selector are refused above).
  return (object as V1Pod).spec?.nodeName === nodeName;
}

function writeEvent(res: ServerResponse, type: WatchEventType, object: unknown): void {
  res.write(`${JSON.stringify({ type, object })}\n`);
}

function goneStatus(revision: number): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `too old resource version (current ${revision})`, reason: 'Expired', code: 410 };
}

function sendStatus(res: ServerResponse, code: number, reason: string, message: string): void {
  res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code }));
}
