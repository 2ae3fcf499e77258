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

/** In-memory cluster metadata for unit tests of the components that read it. */
export class StaticClusterMetadata implements ClusterMetadata {
  private readonly pods = new Map<string, PodMetadata>();
  private readonly namespaces = new Map<string, NamespaceMetadata>();
  private readonly waiters = new PodWaiters();
  private changes = 0;

  constructor(pods: readonly PodMetadata[] = [], namespaces: readonly NamespaceMetadata[] = []) {
    for (const pod of pods) this.pods.set(podKey(pod.namespace, pod.name), pod);
    for (const ns of namespaces) this.namespaces.set(ns.name, ns);
  }

  get version(): number {
    return this.changes;
  }

  pod(namespace: string, name: string): PodMetadata | undefined {
    return this.pods.get(podKey(namespace, name));
  }

  namespace(name: string): NamespaceMetadata | undefined {
    return this.namespaces.get(name);
  }

  waitForPod(namespace: string, name: string, timeoutMs: number): Promise<boolean> {
    if (this.pod(namespace, name)) return Promise.resolve(true);
    return this.waiters.wait(podKey(namespace, name), timeoutMs);
  }

  setPod(pod: PodMetadata): void {
    const key = podKey(pod.namespace, pod.name);
    this.pods.set(key, pod);
    this.changes++;
    this.waiters.found(key);
  }

  deletePod(namespace: string, name: string): void {
    if (this.pods.delete(podKey(namespace, name))) this.changes++;
  }

  setNamespace(ns: NamespaceMetadata): void {
    this.namespaces.set(ns.name, ns);
    this.changes++;
  }

  deleteNamespace(name: string): void {
    if (this.namespaces.delete(name)) this.changes++;
  }
}
