/**
 * Pods of this node and all namespaces, kept current by list-then-watch informers of
 * @kubernetes/client-node 1.4, so that enrichment reads maps instead of asking the API
 * server per sample.
 *
 * What client-node's ListWatch does by itself, and what is added here:
 * - A watch ending with 410 Gone (an ERROR event with a Status of code 410, or a 410
 *   answer): ListWatch forgets its resourceVersion and lists again at once, deleting
 *   what disappeared meanwhile. Counted here as `gone_410`; when 410s follow each other
 *   with no event between, the end of the watch is handed to ListWatch after a backoff.
 * - Any other failure (list refused, watch refused, connection reset): ListWatch emits
 *   'error' and stops for good. Restarted here after an exponential backoff with jitter;
 *   the restart watches again from the last resourceVersion (no list), and a version
 *   compacted meanwhile turns into 410 and so into a list. Counted as `error`.
 * - A watch the server ended cleanly (its timeout, a dropped connection that looked
 *   clean): ListWatch would watch again at once, in a loop if the server keeps closing.
 *   The end is turned into an error here so that it goes through the same backoff.
 *   Counted as `closed`.
 * - ListWatch.stop() during a reconnect leaves the new watch open; the watch wrapper
 *   below refuses new watches and aborts open ones once stopped.
 * - client-node's Watch has no deadline: a connection gone half-open (a node or a load
 *   balancer vanished without a reset) would hang the informer until TCP keepalive gives
 *   up. Watches are asked for with timeoutSeconds, and one the server has not ended
 *   by then (plus a grace) is aborted here, which counts as an error and restarts.
 *   Bookmarks are asked for too, so that a restart resumes from a recent version.
 */
import { CoreV1Api, ListWatch, Watch, type KubeConfig, type KubernetesListObject, type V1Namespace, type V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { backoffDelayMs, type BackoffPolicy } from '../../core/backoff.js';
import type { Counters } from '../../core/counters.js';
import { ClusterMetadataMaps, type ClusterMetadata } from './clusterMetadata.js';
import { namespaceMetadataOf, podMetadataOf, type NamespaceMetadata, type PodMetadata } from './podMetadata.js';

export type InformerResource = 'pods' | 'namespaces';
export type WatchRestartReason = 'gone_410' | 'error' | 'closed';

export interface KubernetesInformersOptions {
  readonly kubeConfig: KubeConfig;
  /** Only this node's pods are watched (field selector spec.nodeName). */
  readonly nodeName: string;
  readonly counters: Counters;
  readonly logger: Logger;
  /** Between restarts of a failed watch; 500 ms doubling up to 30 s by default. */
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
  /** Objects per list page; lists of thousands of namespaces come in pages. */
  readonly listPageSize?: number;
  /** How long the server keeps a watch open (timeoutSeconds); 5 to 10 minutes at random by default, as client-go does. */
  readonly watchTimeoutSeconds?: number;
}

export interface InformerStats {
  readonly objects: number;
  readonly synced: boolean;
  readonly lists: number;
  readonly watches: number;
  readonly restarts: Readonly<Record<WatchRestartReason, number>>;
}

export interface KubernetesInformersStats {
  readonly pods: InformerStats;
  readonly namespaces: InformerStats;
  /** Callers waiting in waitForPod right now. */
  readonly podWaiters: number;
}

const restartsMetric = 'kansoku_agent_kubernetes_watch_restarts_total';
const objectsMetric = 'kansoku_agent_kubernetes_objects';
const defaultPageSize = 500;

export class KubernetesInformers implements ClusterMetadata {
  private readonly metadata = new ClusterMetadataMaps();
  private readonly podInformer: ResourceInformer<V1Pod>;
  private readonly namespaceInformer: ResourceInformer<V1Namespace>;
  private started = false;
  private stopped = false;
  private readonly stopSignal = new AbortController();

  constructor(private readonly options: KubernetesInformersOptions) {
    const api = options.kubeConfig.makeApiClient(CoreV1Api);
    const limit = options.listPageSize ?? defaultPageSize;
    const fieldSelector = `spec.nodeName=${options.nodeName}`;
    const backoff: BackoffPolicy = { initialDelayMs: options.backoff?.initialMs ?? 500, maxDelayMs: options.backoff?.maxMs ?? 30_000 };
    options.counters.describe(restartsMetric, 'Kubernetes watches started again, by resource and why: gone_410 (listed again), error (after a backoff), closed (ended by the server)');
    options.counters.describe(objectsMetric, 'Kubernetes objects held by the informers: pods of this node, all namespaces');
    const watching = { kubeConfig: options.kubeConfig, backoff, watchTimeoutSeconds: options.watchTimeoutSeconds, counters: options.counters, logger: options.logger };
    const { metadata } = this;
    this.podInformer = new ResourceInformer<V1Pod>({
      ...watching,
      resource: 'pods',
      path: '/api/v1/pods',
      fieldSelector,
      list: (_continue) => api.listPodForAllNamespaces({ fieldSelector, limit, ...(_continue ? { _continue } : {}) }),
      onUpsert: (pod) => {
        metadata.setPod(podMetadataOf(pod));
        this.countObjects('pods', metadata.podCount);
      },
      onDelete: (pod) => {
        if (metadata.deletePod(pod.metadata?.namespace ?? '', pod.metadata?.name ?? '')) this.countObjects('pods', metadata.podCount);
      },
    });
    this.namespaceInformer = new ResourceInformer<V1Namespace>({
      ...watching,
      resource: 'namespaces',
      path: '/api/v1/namespaces',
      list: (_continue) => api.listNamespace({ limit, ...(_continue ? { _continue } : {}) }),
      onUpsert: (ns) => {
        metadata.setNamespace(namespaceMetadataOf(ns));
        this.countObjects('namespaces', metadata.namespaceCount);
      },
      onDelete: (ns) => {
        if (metadata.deleteNamespace(ns.metadata?.name ?? '')) this.countObjects('namespaces', metadata.namespaceCount);
      },
    });
  }

  get version(): number {
    return this.metadata.version;
  }

  pod(namespace: string, name: string): PodMetadata | undefined {
    return this.metadata.pod(namespace, name);
  }

  namespace(name: string): NamespaceMetadata | undefined {
    return this.metadata.namespace(name);
  }

  waitForPod(namespace: string, name: string, timeoutMs: number): Promise<boolean> {
    return this.metadata.waitForPod(namespace, name, timeoutMs);
  }

  /**
   * Starts both informers. Resolves true once both first lists are in, false at the
   * timeout (the informers go on trying; the agent runs without metadata meanwhile).
   */
  async start(timeoutMs: number): Promise<boolean> {
    if (this.started) throw new Error('KubernetesInformers.start called twice');
    this.started = true;
    this.options.logger.info({ nodeName: this.options.nodeName, timeoutMs }, 'Kubernetes informers starting: pods of this node and all namespaces');
    const startedMs = Date.now();
    this.podInformer.start();
    this.namespaceInformer.start();
    const synced = await Promise.race([
      Promise.all([this.podInformer.synced, this.namespaceInformer.synced]).then(() => true),
      new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), timeoutMs);
        timer.unref();
        this.stopSignal.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          resolve(false);
        });
      }),
    ]);
    const fields = { pods: this.metadata.podCount, namespaces: this.metadata.namespaceCount, elapsedMs: Date.now() - startedMs };
    if (synced) this.options.logger.info(fields, 'Kubernetes informers synced');
    else if (!this.stopped) this.options.logger.warn({ ...fields, timeoutMs }, 'Kubernetes informers not synced in time; running without full metadata until they are');
    return synced;
  }

  /** Stops watching; pending waitForPod calls resolve false. Runs once. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.metadata.refuseWaits();
    this.stopSignal.abort();
    await Promise.all([this.podInformer.stop(), this.namespaceInformer.stop()]);
    this.metadata.cancelWaits();
    this.options.logger.info({ pods: this.metadata.podCount, namespaces: this.metadata.namespaceCount }, 'Kubernetes informers stopped');
  }

  stats(): KubernetesInformersStats {
    return { pods: this.podInformer.stats(), namespaces: this.namespaceInformer.stats(), podWaiters: this.metadata.podWaiters };
  }

  private countObjects(resource: InformerResource, size: number): void {
    this.options.counters.set(objectsMetric, { resource }, size);
  }
}

interface ResourceInformerOptions<T extends V1Pod | V1Namespace> {
  readonly resource: InformerResource;
  readonly path: string;
  readonly fieldSelector?: string;
  /** One page of the list; `_continue` names the next one. */
  readonly list: (_continue: string | undefined) => Promise<KubernetesListObject<T>>;
  readonly kubeConfig: KubeConfig;
  readonly backoff: BackoffPolicy;
  readonly watchTimeoutSeconds: number | undefined;
  readonly counters: Counters;
  readonly logger: Logger;
  readonly onUpsert: (object: T) => void;
  readonly onDelete: (object: T) => void;
}

/** The end of a watch the server closed cleanly, handed to ListWatch as an error so that it stops and the backoff applies. */
class WatchClosed extends Error {
  constructor() {
    super('watch closed by the server');
  }
}

/** One resource's ListWatch, restarted with backoff when it gives up. */
class ResourceInformer<T extends V1Pod | V1Namespace> {
  readonly synced: Promise<void>;
  private markSynced: () => void = () => undefined;
  private isSynced = false;
  private readonly informer: ListWatch<T>;
  private readonly watch: GuardedWatch;
  private stopped = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private attempt = 0;
  /** 410s with no event between them: a server expiring every fresh watch would otherwise be listed in a loop. */
  private goneInARow = 0;
  private lists = 0;
  private watches = 0;
  private listApplied = false;
  private readonly restarts: Record<WatchRestartReason, number> = { gone_410: 0, error: 0, closed: 0 };

  constructor(private readonly options: ResourceInformerOptions<T>) {
    this.synced = new Promise((resolve) => (this.markSynced = resolve));
    this.watch = new GuardedWatch(options.kubeConfig, {
      isStopped: () => this.stopped,
      onWatchOpening: () => this.onWatchOpening(),
      onEvent: () => {
        // The watch delivers: the server is back, the next failure starts the backoff anew.
        this.attempt = 0;
        this.goneInARow = 0;
      },
      onGone: () => this.onGone(),
      watchTimeoutSeconds: () => options.watchTimeoutSeconds ?? 300 + Math.floor(Math.random() * 300),
    });
    this.informer = new ListWatch<T>(options.path, this.watch, () => this.listAll(), false, undefined, options.fieldSelector);
    this.informer.on('add', (object) => options.onUpsert(object));
    this.informer.on('update', (object) => options.onUpsert(object));
    this.informer.on('delete', (object) => options.onDelete(object));
    this.informer.on('error', (err: unknown) => this.onError(err));
  }

  start(): void {
    this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    await this.informer.stop();
    this.watch.abortAll();
  }

  stats(): InformerStats {
    return { objects: this.informer.list().length, synced: this.isSynced, lists: this.lists, watches: this.watches, restarts: { ...this.restarts } };
  }

  private run(): void {
    this.informer.start().catch((err: unknown) => this.onError(err));
  }

  /** Every page of the list, as one list at the snapshot's resourceVersion. */
  private async listAll(): Promise<KubernetesListObject<T>> {
    this.lists++;
    const items: T[] = [];
    let page = await this.options.list(undefined);
    items.push(...page.items.map(withoutManagedFields));
    while (page.metadata?._continue) {
      page = await this.options.list(page.metadata._continue);
      items.push(...page.items.map(withoutManagedFields));
    }
    this.attempt = 0;
    this.listApplied = true;
    return { ...page, items };
  }

  /** ListWatch asks for a watch only after it applied the list it made, if any: that is when the cache is in sync. */
  private onWatchOpening(): void {
    this.watches++;
    if (this.listApplied && !this.isSynced) {
      this.isSynced = true;
      this.markSynced();
    }
    this.listApplied = false;
  }

  /** How long to wait before the list that follows a 410: at once the first time, with backoff when it repeats without an event between. */
  private onGone(): number {
    this.goneInARow++;
    const delayMs = this.goneInARow > 1 ? backoffDelayMs(this.goneInARow - 2, this.options.backoff) : 0;
    this.countRestart('gone_410', delayMs > 0 ? { delayMs, attempt: this.goneInARow, error: '410 Gone again with no event since the last list' } : undefined);
    return delayMs;
  }

  private onError(err: unknown): void {
    if (this.stopped || this.restartTimer) return;
    const reason: WatchRestartReason = err instanceof WatchClosed ? 'closed' : 'error';
    const delayMs = backoffDelayMs(this.attempt, this.options.backoff);
    this.attempt++;
    this.countRestart(reason, { delayMs, attempt: this.attempt, error: describeError(err) });
    // unref: a pending restart alone must not keep a stopping agent alive.
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (!this.stopped) this.run();
    }, delayMs);
    this.restartTimer.unref();
  }

  private countRestart(reason: WatchRestartReason, fields: { delayMs: number; attempt: number; error: string } | undefined): void {
    if (this.stopped) return;
    this.restarts[reason]++;
    this.options.counters.add(restartsMetric, { resource: this.options.resource, reason }, 1);
    const logFields = { resource: this.options.resource, reason, ...fields };
    if (reason === 'gone_410') this.options.logger.info(logFields, 'Kubernetes watch expired (410 Gone); listing again');
    else if (reason === 'closed') this.options.logger.debug(logFields, 'Kubernetes watch closed by the server; watching again after a backoff');
    else this.options.logger.warn(logFields, 'Kubernetes list or watch failed; starting again after a backoff');
  }
}

interface GuardedWatchHooks {
  isStopped(): boolean;
  onWatchOpening(): void;
  onEvent(): void;
  /** A watch ended with 410 Gone; returns how long to wait before letting ListWatch list again. */
  onGone(): number;
  watchTimeoutSeconds(): number;
}

/**
 * client-node's Watch with what ListWatch cannot see: why a watch ended, refusal of new
 * watches once stopped, and abort of the open ones on stop.
 */
class GuardedWatch extends Watch {
  private readonly open = new Set<AbortController>();
  /** Ends of watches held back by a backoff (repeated 410s). */
  private readonly delayed = new Set<NodeJS.Timeout>();

  constructor(
    config: KubeConfig,
    private readonly hooks: GuardedWatchHooks,
  ) {
    super(config);
  }

  override async watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    if (this.hooks.isStopped()) {
      // Not calling done: ListWatch then neither restarts nor reports anything.
      const refused = new AbortController();
      refused.abort();
      return refused;
    }
    this.hooks.onWatchOpening();
    const timeoutSeconds = this.hooks.watchTimeoutSeconds();
    const params = { ...queryParams, allowWatchBookmarks: true, timeoutSeconds };
    let gone = false;
    // Set once super.watch returns; done may be called before that (a refused connection).
    const opened: { controller?: AbortController } = {};
    const onEvent = (phase: string, apiObj: unknown, watchObj?: unknown): void => {
      if (phase === 'ERROR' && isGoneStatus(apiObj)) gone = true;
      else this.hooks.onEvent();
      callback(phase, phase === 'ADDED' || phase === 'MODIFIED' ? withoutManagedFields(apiObj) : apiObj, watchObj);
    };
    const onDone = (err: unknown): void => {
      clearTimeout(deadline);
      if (opened.controller) this.open.delete(opened.controller);
      if (this.hooks.isStopped()) return done(err);
      if (gone || isGoneStatus(err)) {
        // ListWatch lists again when told the watch is done: its resourceVersion was reset by the ERROR event or by this 410.
        const delayMs = this.hooks.onGone();
        if (delayMs === 0) return done(gone ? null : err);
        const timer = setTimeout(() => {
          this.delayed.delete(timer);
          if (!this.hooks.isStopped()) done(gone ? null : err);
        }, delayMs);
        timer.unref();
        this.delayed.add(timer);
        return;
      }
      done(err ?? new WatchClosed());
    };
    // The server ends the watch at timeoutSeconds; still open well after, the connection is dead.
    const deadlineMs = timeoutSeconds * 1000 + Math.min(30_000, timeoutSeconds * 500);
    const deadline = setTimeout(() => opened.controller?.abort(), deadlineMs);
    deadline.unref();
    const controller = await super.watch(path, params, onEvent, onDone);
    opened.controller = controller;
    this.open.add(controller);
    if (this.hooks.isStopped() || controller.signal.aborted) {
      clearTimeout(deadline);
      this.open.delete(controller);
      controller.abort();
    }
    return controller;
  }

  abortAll(): void {
    for (const controller of this.open) controller.abort();
    this.open.clear();
    for (const timer of this.delayed) clearTimeout(timer);
    this.delayed.clear();
  }
}

/**
 * ListWatch keeps every object it is given, whole; managedFields (server-side apply
 * bookkeeping) are often most of an object's size and nothing here reads them.
 */
function withoutManagedFields<T>(object: T): T {
  const metadata = typeof object === 'object' && object !== null ? (object as { metadata?: { managedFields?: unknown } }).metadata : undefined;
  if (metadata && metadata.managedFields !== undefined) delete metadata.managedFields;
  return object;
}

function isGoneStatus(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const { code, statusCode } = value as { code?: unknown; statusCode?: unknown };
  return code === 410 || statusCode === 410;
}

function describeError(err: unknown): string {
  if (err instanceof Error) {
    const { statusCode, code } = err as Error & { statusCode?: unknown; code?: unknown };
    const detail = typeof statusCode === 'number' ? ` (HTTP ${statusCode})` : typeof code === 'string' ? ` (${code})` : '';
    return `${err.message}${detail}`;
  }
  return String(err);
}
