import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Counters } from '../core/counters.js';
import { metricCodec } from '../core/codec.js';
import type { Metric, MetricEnvelope } from '../core/envelope.js';
import type { BusProducer, Source } from '../core/pipeline.js';
import { sleep } from '../core/backoff.js';
import { metricKey } from '../bus/partitionKey.js';
import { Publisher } from '../bus/publisher.js';
import { DiskSpill } from '../bus/spill/diskSpill.js';
import type { WireFormat } from '../bus/wire.js';
import { CgroupSource } from './cgroup/cgroupSource.js';
import { collectOnce, type MetricSource } from './collect.js';
import type { AgentSection, TenantsSection } from './config.js';
import { CardinalityGuard } from './cardinality/cardinalityGuard.js';
import { enrichWithPodMetadata } from './enrich/enrichWithPodMetadata.js';
import { kubeConfigOf } from './kubernetes/config.js';
import { KubernetesInformers } from './kubernetes/informers.js';
import { TenantResolver } from './kubernetes/tenancy.js';
import { RateDeriver, type ContainerLimits } from './rates/deriveRates.js';
import type { PodMetadataEnrichment } from './enrich/enrichWithPodMetadata.js';
import { processCycle, type MetricSteps } from './metricSteps.js';
import { KubeletSource } from './kubelet/kubeletSource.js';
import type { EndpointOptions } from './kubelet/endpoint.js';
import { StatsSummarySource } from './summary/statsSummarySource.js';
import { CadvisorApiSource } from './cadvisor/cadvisorApiSource.js';
import { ContainerLogsSource } from './logs/containerLogsSource.js';
import { LogFileParser } from './logs/parse/logFileParser.js';
import { deserializePositionedLog, positionedLogCodec, positionedLogKey, serializePositionedLog, type PositionedLog } from './logs/positionedLog.js';
import { startLogShipping, type RunningLogShipping } from './logs/shipLogs.js';
import { FileTailer } from './logs/tail/fileTailer.js';

/** What the sources need besides the agent's own section: shared values the CLI passes on. */
export interface SourceContext {
  /** The tenant of the node's own measurements, which belong to no namespace. */
  readonly nodeTenant: string;
  readonly counters: Counters;
  readonly now: () => number;
}

/** An HTTP(S) endpoint section of the agent's config, as the sources take it. */
function endpointOptions(e: Readonly<AgentSection['summary']>): EndpointOptions {
  return {
    url: e.url,
    ...(e.bearer_token_file ? { bearerTokenFile: e.bearer_token_file } : {}),
    ...(e.ca_file ? { caFile: e.ca_file } : {}),
    insecureSkipTlsVerify: e.insecure_skip_tls_verify,
    timeoutMs: e.timeout_ms,
  };
}

/** The sources the agent's section turns on. */
export function buildSources(agent: Readonly<AgentSection>, context: SourceContext): MetricSource[] {
  const { nodeTenant, counters, now } = context;
  const hostname = agent.hostname ?? osHostname();
  const sources: MetricSource[] = [];
  const node = (source: Source<Metric>): void => void sources.push({ source, fallbackTenant: nodeTenant });
  if (agent.kubelet.enabled) node(new KubeletSource({ ...endpointOptions(agent.kubelet), format: agent.kubelet.format, hostname, now, counters }));
  if (agent.summary.enabled) node(new StatsSummarySource({ ...endpointOptions(agent.summary), hostname, now, counters }));
  if (agent.cadvisor.enabled) node(new CadvisorApiSource({ ...endpointOptions(agent.cadvisor), hostname, now, counters }));
  if (agent.cgroup.enabled) {
    sources.push({ source: new CgroupSource({ root: agent.cgroup.root, hostname, now, counters }), fallbackTenant: agent.cgroup.tenant });
  }
  return sources;
}

/** The steps between sources and publishers, and what keeps them informed (the informers). */
export interface AgentSteps {
  readonly enrichment: PodMetadataEnrichment;
  readonly metrics: MetricSteps;
  /** Stops the informers, if any. */
  stop(): Promise<void>;
}

export interface StepsContext {
  readonly region: string;
  readonly counters: Counters;
  readonly logger: Logger;
  readonly now: () => number;
}

/**
 * Starts the informers (when `agent.kubernetes` is on) and builds the steps on them:
 * tenancy, enrichment, rates, the cardinality guard. Waits for the first list at most
 * `resync_timeout_ms`; without it the agent still runs, records wait for their pods.
 */
export async function startAgentSteps(agent: Readonly<AgentSection>, tenants: Readonly<TenantsSection>, context: StepsContext): Promise<AgentSteps> {
  const { counters, logger, now } = context;
  const k = agent.kubernetes;
  let informers: KubernetesInformers | undefined;
  if (k.enabled) {
    informers = new KubernetesInformers({ kubeConfig: kubeConfigOf(k), nodeName: k.node_name ?? agent.hostname ?? osHostname(), counters, logger: logger.child({ component: 'kubernetes' }) });
    const synced = await informers.start(k.resync_timeout_ms);
    if (!synced) logger.warn({ timeoutMs: k.resync_timeout_ms }, 'the Kubernetes API did not answer the first lists in time; going on, records wait for their pods');
  }
  const resolver = new TenantResolver({ namespaceKey: tenants.namespace_key, map: tenants.map, unmapped: tenants.unmapped }, informers);
  const enrichment = enrichWithPodMetadata({
    settings: { podLabels: k.pod_labels, podAnnotations: k.pod_annotations, waitForMetadataMs: k.enabled ? k.wait_for_metadata_ms : 0 },
    tenants: resolver,
    ...(informers ? { metadata: informers } : {}),
    region: context.region,
    counters,
    now,
  });
  const c = agent.cardinality;
  const guardLog = logger.child({ component: 'cardinality_guard' });
  const metrics: MetricSteps = {
    enrichment,
    ...(agent.rates.enabled ? { rates: ratesBySource(agent.rates, counters, (ns, pod, container) => enrichment.limitsOf(ns, pod, container)) } : {}),
    guard: new CardinalityGuard({
      maxSeriesPerTenant: c.max_series_per_tenant,
      maxSeriesTotal: c.max_series_total,
      windowMs: c.window_seconds * 1000,
      logEveryMs: c.log_every_seconds * 1000,
      counters,
      log: (fields, message) => guardLog.warn(fields, message),
      now,
    }),
  };
  return { enrichment, metrics, stop: async () => informers?.stop() };
}

/** One rate stage per source, made at its first batch. */
function ratesBySource(settings: Readonly<AgentSection['rates']>, counters: Counters, limitsOf: (namespace: string, pod: string, container: string) => ContainerLimits | undefined): (source: string) => RateDeriver {
  const bySource = new Map<string, RateDeriver>();
  return (source) => {
    let rates = bySource.get(source);
    if (rates === undefined) {
      rates = new RateDeriver({ staleAfterMs: settings.stale_after_seconds * 1000, maxSeries: settings.max_series, counters, limitsOf });
      bySource.set(source, rates);
    }
    return rates;
  };
}

/** `kansoku agent --once --output stdout`: one cycle, envelopes as JSON lines, the way `telegraf --test` works. */
export async function runOnce(sources: readonly MetricSource[], steps: MetricSteps, counters: Counters, write: (line: string) => void): Promise<{ records: number; errors: readonly { source: string; error: string }[] }> {
  const cycle = await collectOnce(sources, counters);
  const records = await processCycle(cycle, steps);
  for (const record of records) write(`${JSON.stringify(record)}\n`);
  return { records: records.length, errors: cycle.errors };
}

/** How the agent hands envelopes to the bus: its producer, the bus's framing, the agent's queue settings. */
export interface PublishSettings {
  readonly producer: BusProducer;
  readonly wire: WireFormat;
  readonly maxQueued: number;
  readonly batchSize: number;
  readonly spill?: SpillSettings;
}

/** The agent's spill settings, when it has one: each topic spills into a directory of its own. */
export interface SpillSettings {
  readonly dir: string;
  readonly maxBytes: number;
}

function diskSpill<T>(settings: SpillSettings, topic: string, maxQueued: number, counters: Counters, serialize: (r: T) => string, deserialize: (line: string) => T | undefined): DiskSpill<T> {
  return new DiskSpill<T>({
    dir: join(settings.dir, topic),
    maxBytes: settings.maxBytes,
    // Segments small enough that the queue takes a whole one while it still holds some.
    segmentBytes: Math.max(64 * 1024, Math.min(8 * 1024 * 1024, Math.floor(settings.maxBytes / 16))),
    segmentRecords: Math.max(1, Math.floor(maxQueued / 4)),
    serialize,
    deserialize,
    onDrop: (count) => counters.add('kansoku_agent_dropped_total', { topic, reason: 'spill_full' }, count),
    onCorrupt: (count) => counters.add('kansoku_agent_spill_corrupt_total', { topic }, count),
  });
}

function metricsPublisher(settings: PublishSettings, counters: Counters, maxQueued = settings.maxQueued): Publisher<MetricEnvelope> {
  const spill = settings.spill ? diskSpill<MetricEnvelope>(settings.spill, metricCodec.topic, maxQueued, counters, (e) => metricCodec.encode(e), (line) => {
    const decoded = metricCodec.decode(line);
    return decoded.ok ? decoded.value : undefined;
  }) : undefined;
  return new Publisher<MetricEnvelope>({
    ...(spill ? { spill } : {}),
    producer: settings.producer,
    codec: metricCodec,
    keyOf: metricKey,
    wire: settings.wire,
    counters,
    counterPrefix: 'kansoku_agent',
    maxQueued,
    batchSize: settings.batchSize,
  });
}

/** `kansoku agent --once`: one cycle onto the bus; returns how many envelopes it could not publish in time. */
export async function publishOnce(sources: readonly MetricSource[], steps: MetricSteps, settings: PublishSettings, counters: Counters, timeoutMs: number): Promise<number> {
  const records = await processCycle(await collectOnce(sources, counters), steps);
  // One cycle is all there is: the queue holds all of it, however large.
  const publisher = metricsPublisher(settings, counters, Math.max(records.length, 1));
  publisher.enqueue(records);
  const { remaining } = await publisher.flush(Date.now() + timeoutMs);
  await settings.producer.close();
  return remaining;
}

export interface AgentDeps {
  readonly sources: readonly MetricSource[];
  readonly steps: MetricSteps;
  readonly publish: PublishSettings;
  readonly counters: Counters;
  readonly logger: Logger;
  readonly intervalMs: number;
  /** How long a stopping agent keeps trying to publish what it holds. */
  readonly shutdownFlushMs: number;
}

export interface RunningAgent {
  /** Stops intake, makes one last bounded attempt to publish, closes the producer; runs once. */
  stop(): Promise<void>;
}

/**
 * The agent's loop: collect every interval, publish what was collected, and keep what the
 * bus could not take (bounded) for the next cycle.
 */
export function startAgent(deps: AgentDeps): RunningAgent {
  const stopping = new AbortController();
  const publisher = metricsPublisher(deps.publish, deps.counters);
  const log = deps.logger.child({ component: 'agent' });
  log.info({ sources: deps.sources.map((s) => s.source.name), intervalMs: deps.intervalMs, wire: deps.publish.wire.mode }, 'agent started');

  const loop = async (): Promise<void> => {
    while (!stopping.signal.aborted) {
      const started = Date.now();
      const cycle = await collectOnce(deps.sources, deps.counters, stopping.signal);
      for (const { source, error } of cycle.errors.slice(0, 5)) log.warn({ source, error }, 'collection problem');
      const records = await processCycle(cycle, deps.steps);
      publisher.enqueue(records);
      const { remaining } = await publisher.flush(started + deps.intervalMs, stopping.signal);
      if (remaining > 0) log.warn({ queued: remaining }, 'bus did not take everything; keeping it for the next cycle');
      await sleep(Math.max(0, started + deps.intervalMs - Date.now()), stopping.signal);
    }
  };
  const running = loop();
  let stopped: Promise<void> | undefined;
  return {
    stop: () =>
      (stopped ??= (async () => {
        stopping.abort();
        try {
          await running;
          await publisher.flush(Date.now() + deps.shutdownFlushMs);
        } finally {
          await deps.publish.producer.close();
          log.info({ unsent: publisher.queued }, 'agent stopped');
        }
      })()),
  };
}

/** What the container-logs path needs besides the agent's section. */
export interface LogsContext {
  readonly region: string;
  readonly counters: Counters;
  readonly now: () => number;
  readonly logger: Logger;
  /** Gives each record its namespace's tenant and its pod's metadata. */
  readonly enrichment: PodMetadataEnrichment;
}

function containerLogs(agent: Readonly<AgentSection>, context: LogsContext, mode: 'follow' | 'once', include: string): { source: ContainerLogsSource; tailer: FileTailer } {
  const l = agent.logs;
  const tailer = new FileTailer({
    include,
    ...(mode === 'follow' ? { checkpointPath: l.checkpoint_path } : {}),
    startAt: l.start_at,
    mode,
    maxLineBytes: l.max_line_bytes,
    log: context.logger.child({ component: 'log_tailer' }),
  });
  const source = new ContainerLogsSource({
    tailer,
    newParser: () => new LogFileParser({ format: l.format, multiline: l.multiline, multilineFlushMs: l.multiline_flush_ms, maxMessageBytes: l.max_message_bytes }),
    hostname: agent.hostname ?? osHostname(),
    region: context.region,
    defaultTenant: l.default_tenant,
    counters: context.counters,
    now: context.now,
  });
  return { source, tailer };
}

/**
 * `kansoku agent --once --output stdout --log-path GLOB`: every matching file from its
 * start, parsed, printed as log envelopes (JSON lines). Returns how many were printed.
 */
export async function printLogsOnce(agent: Readonly<AgentSection>, context: LogsContext, include: string, write: (line: string) => void): Promise<number> {
  const { source, tailer } = containerLogs(agent, context, 'once', include);
  await tailer.start();
  let printed = 0;
  const print = async (records: readonly PositionedLog[]): Promise<void> => {
    const { kept } = await context.enrichment.logs(records);
    for (const record of kept) write(`${JSON.stringify(record.envelope)}\n`);
    printed += kept.length;
  };
  try {
    for (;;) {
      const records = await source.read(agent.logs.read_budget_bytes);
      if (records.length === 0 && tailer.isDone()) break;
      await print(records);
    }
    await print(source.drain());
  } finally {
    await tailer.close();
  }
  return printed;
}

/** Tails the container logs onto the bus until stopped; file checkpoints follow the bus's acknowledgements. */
export async function startContainerLogs(agent: Readonly<AgentSection>, context: LogsContext, publish: PublishSettings, shutdownFlushMs: number): Promise<RunningLogShipping> {
  const { source, tailer } = containerLogs(agent, context, 'follow', agent.logs.include);
  await tailer.start();
  const { counters } = context;
  const maxQueued = agent.logs.max_queued;
  const spill = publish.spill ? diskSpill<PositionedLog>(publish.spill, positionedLogCodec.topic, maxQueued, counters, serializePositionedLog, deserializePositionedLog) : undefined;
  const publisher = new Publisher<PositionedLog>({
    producer: publish.producer,
    codec: positionedLogCodec,
    keyOf: positionedLogKey,
    wire: publish.wire,
    counters,
    counterPrefix: 'kansoku_agent',
    maxQueued,
    batchSize: agent.logs.batch_size,
    onDelivered: (records) => source.delivered(records),
    ...(spill ? { spill } : {}),
  });
  const labels = { source: 'container_logs' };
  const shipping = startLogShipping({
    source,
    publisher,
    counters,
    logger: context.logger,
    pollIntervalMs: agent.logs.poll_interval_ms,
    readBudgetBytes: agent.logs.read_budget_bytes,
    shutdownFlushMs,
    transform: (records) => context.enrichment.logs(records),
    reportStats: () => {
      const stats = tailer.stats();
      counters.set('kansoku_agent_log_files_watched', labels, stats.filesWatched);
      counters.set('kansoku_agent_log_bytes_behind', labels, stats.bytesBehind);
      counters.set('kansoku_agent_log_rotations_total', { ...labels, kind: 'rename' }, stats.rotations.rename, 'counter');
      counters.set('kansoku_agent_log_rotations_total', { ...labels, kind: 'truncate' }, stats.rotations.truncate, 'counter');
      counters.set('kansoku_agent_log_bytes_read_total', labels, stats.bytesRead, 'counter');
      counters.set('kansoku_agent_log_checkpoint_write_errors_total', labels, stats.checkpointWriteErrors, 'counter');
      counters.set('kansoku_agent_spill_records', { topic: positionedLogCodec.topic }, spill?.depth ?? 0);
    },
  });
  return {
    stop: async () => {
      await shipping.stop();
      await tailer.close();
      await publish.producer.close();
    },
  };
}
