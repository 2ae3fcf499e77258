/**
 * What enrichment reads of the cluster: pods of this node and all namespaces, by name.
 * The informers implement it against the API server; `StaticClusterMetadata` implements it
 * in memory for the tests of the components that consume it.
 */
import type { NamespaceMetadata, PodMetadata } from './podMetadata.js';

export interface ClusterMetadata {
  pod(namespace: string, name: string): PodMetadata | undefined;
  namespace(name: string): NamespaceMetadata | undefined;
  /** Resolves true as soon as the pod is known, false after timeoutMs (or when stopped). */
  waitForPod(namespace: string, name: string, timeoutMs: number): Promise<boolean>;
  /** Increments on every add/update/delete of a pod or namespace (for caches keyed on it). */
  readonly version: number;
}

export function podKey(namespace: string, name: string): string {
  // '/' cannot appear in a namespace or pod name, so the key is unambiguous.
  return `${namespace}/${name}`;
}

/**
 * Callers waiting for a pod that is not known yet: a container's first sample often
 * arrives before the informer saw the pod. Each wait ends at its own timeout; the timers
 * are unref'd so that a pending wait never holds the process open.
 */
export class PodWaiters {
  private readonly waiting = new Map<string, Set<(found: boolean) => void>>();

  wait(key: string, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const waiters = this.waiting.get(key) ?? new Set();
      this.waiting.set(key, waiters);
      const settle = (found: boolean): void => {
        clearTimeout(timer);
        waiters.delete(settle);
        if (waiters.size === 0 && this.waiting.get(key) === waiters) this.waiting.delete(key);
        resolve(found);
      };
      const timer = setTimeout(() => settle(false), Math.max(0, timeoutMs));
      timer.unref();
      waiters.add(settle);
    });
  }

  /** The pod at `key` became known. */
  found(key: string): void {
    const waiters = this.waiting.get(key);
    if (!waiters) return;
    for (const settle of [...waiters]) settle(true);
  }

  /** Stopping: nobody will learn of a pod any more. */
  cancelAll(): void {
    for (const waiters of [...this.waiting.values()]) for (const settle of [...waiters]) settle(false);
  }

  get size(): number {
    let count = 0;
    for (const waiters of this.waiting.values()) count += waiters.size;
    return count;
  }
}

/**
 * Pods and namespaces by name, the callers waiting for a pod, and the version: what the
 * informers keep current from the API server, and what `StaticClusterMetadata` holds.
 */
export class ClusterMetadataMaps implements ClusterMetadata {
  private readonly pods = new Map<string, PodMetadata>();
  private readonly namespaces = new Map<string, NamespaceMetadata>();
  private readonly waiters = new PodWaiters();
  private changes = 0;
  private refusing = false;

  constructor(pods: readonly PodMetadata[] = [], namespaces: readonly NamespaceMetadata[] = []) {
    for (const pod of pods) this.pods.set(podKey(pod.namespace, pod.name), pod);
    for (const ns of namespaces) this.namespaces.set(ns.name, ns);
  }

  get version(): number {
    return this.changes;
  }

  get podCount(): number {
    return this.pods.size;
  }

  get namespaceCount(): number {
    return this.namespaces.size;
  }

  /** Callers waiting in waitForPod right now. */
  get podWaiters(): number {
    return this.waiters.size;
  }

  pod(namespace: string, name: string): PodMetadata | undefined {
    return this.pods.get(podKey(namespace, name));
  }

  namespace(name: string): NamespaceMetadata | undefined {
    return this.namespaces.get(name);
  }

  waitForPod(namespace: string, name: string, timeoutMs: number): Promise<boolean> {
    if (this.pod(namespace, name)) return Promise.resolve(true);
    if (this.refusing) return Promise.resolve(false);
    return this.waiters.wait(podKey(namespace, name), timeoutMs);
  }

  setPod(pod: PodMetadata): void {
    const key = podKey(pod.namespace, pod.name);
    this.pods.set(key, pod);
    this.changes++;
    this.waiters.found(key);
  }

  /** True when the pod was there. */
  deletePod(namespace: string, name: string): boolean {
    const deleted = this.pods.delete(podKey(namespace, name));
    if (deleted) this.changes++;
    return deleted;
  }

  setNamespace(ns: NamespaceMetadata): void {
    this.namespaces.set(ns.name, ns);
    this.changes++;
  }

  /** True when the namespace was there. */
  deleteNamespace(name: string): boolean {
    const deleted = this.namespaces.delete(name);
    if (deleted) this.changes++;
    return deleted;
  }

  /** Stopping: from now on a wait for a pod not known yet answers false at once. */
  refuseWaits(): void {
    this.refusing = true;
  }

  /** Stopped: the pending waits answer false, as nobody will learn of a pod any more. */
  cancelWaits(): void {
    this.waiters.cancelAll();
  }
}

/** In-memory cluster metadata for unit tests of the components that read it. */
export class StaticClusterMetadata extends ClusterMetadataMaps {}
