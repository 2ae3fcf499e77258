import { hostname as osHostname } from 'node:os';
import type { Logger } from 'pino';
import type { Counters } from '../core/counters.js';
import { metricCodec } from '../core/codec.js';
import type { MetricEnvelope } from '../core/envelope.js';
import type { BusProducer, Source } from '../core/pipeline.js';
import { sleep } from '../core/backoff.js';
import type { TenantMapping } from '../core/tenant.js';
import { metricKey } from '../bus/partitionKey.js';
import { Publisher } from '../bus/publisher.js';
import type { WireFormat } from '../bus/wire.js';
import { CgroupSource } from './cgroup/cgroupSource.js';
import { collectOnce, type CycleResult } from './collect.js';
import type { AgentSection } from './config.js';
import { KubeletSource } from './kubelet/kubeletSource.js';

/** What the sources need besides the agent's own section: shared values the CLI passes on. */
export interface SourceContext {
  readonly region: string;
  readonly tenants: TenantMapping;
  readonly counters: Counters;
  readonly now: () => number;
}

/** The sources the agent's section turns on. */
export function buildSources(agent: Readonly<AgentSection>, context: SourceContext): Source<MetricEnvelope>[] {
  const { region, tenants, counters, now } = context;
  const hostname = agent.hostname ?? osHostname();
  const sources: Source<MetricEnvelope>[] = [];
  if (agent.kubelet.enabled) {
    const k = agent.kubelet;
    sources.push(
      new KubeletSource({
        url: k.url,
        ...(k.bearer_token_file ? { bearerTokenFile: k.bearer_token_file } : {}),
        ...(k.ca_file ? { caFile: k.ca_file } : {}),
        insecureSkipTlsVerify: k.insecure_skip_tls_verify,
        hostname,
        region,
        tenants,
        timeoutMs: k.timeout_ms,
        now,
        counters,
      }),
    );
  }
  if (agent.cgroup.enabled) {
    sources.push(new CgroupSource({ root: agent.cgroup.root, tenant: agent.cgroup.tenant, region, hostname, now, counters }));
  }
  return sources;
}

/** `kansoku agent --once --output stdout`: one cycle, envelopes as JSON lines, the way `telegraf --test` works. */
export async function runOnce(sources: readonly Source<MetricEnvelope>[], counters: Counters, write: (line: string) => void): Promise<CycleResult> {
  const result = await collectOnce(sources, counters);
  for (const record of result.records) write(`${JSON.stringify(record)}\n`);
  return result;
}

/** How the agent hands envelopes to the bus: its producer, the bus's framing, the agent's queue settings. */
export interface PublishSettings {
  readonly producer: BusProducer;
  readonly wire: WireFormat;
  readonly maxQueued: number;
  readonly batchSize: number;
}

function metricsPublisher(settings: PublishSettings, counters: Counters, maxQueued = settings.maxQueued): Publisher<MetricEnvelope> {
  return new Publisher<MetricEnvelope>({
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
export async function publishOnce(sources: readonly Source<MetricEnvelope>[], settings: PublishSettings, counters: Counters, timeoutMs: number): Promise<number> {
  const { records } = await collectOnce(sources, counters);
  // One cycle is all there is: the queue holds all of it, however large.
  const publisher = metricsPublisher(settings, counters, Math.max(records.length, 1));
  publisher.enqueue(records);
  const { remaining } = await publisher.flush(Date.now() + timeoutMs);
  await settings.producer.close();
  return remaining;
}

export interface AgentDeps {
  readonly sources: readonly Source<MetricEnvelope>[];
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
  log.info({ sources: deps.sources.map((s) => s.name), intervalMs: deps.intervalMs, wire: deps.publish.wire.mode }, 'agent started');

  const loop = async (): Promise<void> => {
    while (!stopping.signal.aborted) {
      const started = Date.now();
      const { records, errors } = await collectOnce(deps.sources, deps.counters, stopping.signal);
      for (const { source, error } of errors.slice(0, 5)) log.warn({ source, error }, 'collection problem');
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
