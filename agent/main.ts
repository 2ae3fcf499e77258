import { hostname as osHostname } from 'node:os';
import type { Logger } from 'pino';
import type { Counters } from '../core/counters.js';
import type { MetricEnvelope } from '../core/envelope.js';
import type { BusProducer, Source } from '../core/pipeline.js';
import { sleep } from '../core/backoff.js';
import type { Config } from '../cmd/configSchema.js';
import { CgroupSource } from './cgroup/cgroupSource.js';
import { collectOnce, type CycleResult } from './collect.js';
import { KubeletSource } from './kubelet/kubeletSource.js';
import { Publisher } from './publisher.js';

/** The sources the configuration turns on. */
export function buildSources(config: Readonly<Config>, counters: Counters, now: () => number): Source<MetricEnvelope>[] {
  const hostname = config.agent.hostname ?? osHostname();
  const sources: Source<MetricEnvelope>[] = [];
  if (config.agent.kubelet.enabled) {
    const k = config.agent.kubelet;
    sources.push(
      new KubeletSource({
        url: k.url,
        ...(k.bearer_token_file ? { bearerTokenFile: k.bearer_token_file } : {}),
        ...(k.ca_file ? { caFile: k.ca_file } : {}),
        insecureSkipTlsVerify: k.insecure_skip_tls_verify,
        hostname,
        region: config.region,
        tenants: config.tenants,
        timeoutMs: k.timeout_ms,
        now,
        counters,
      }),
    );
  }
  if (config.agent.cgroup.enabled) {
    sources.push(new CgroupSource({ root: config.agent.cgroup.root, tenant: config.agent.cgroup.tenant, region: config.region, hostname, now, counters }));
  }
  return sources;
}

/** `kansoku agent --once --output stdout`: one cycle, envelopes as JSON lines, the way `telegraf --test` works. */
export async function runOnce(sources: readonly Source<MetricEnvelope>[], counters: Counters, write: (line: string) => void): Promise<CycleResult> {
  const result = await collectOnce(sources, counters);
  for (const record of result.records) write(`${JSON.stringify(record)}\n`);
  return result;
}

/** `kansoku agent --once`: one cycle onto the bus; returns how many envelopes it could not publish in time. */
export async function publishOnce(sources: readonly Source<MetricEnvelope>[], producer: BusProducer, counters: Counters, timeoutMs: number): Promise<number> {
  const { records } = await collectOnce(sources, counters);
  const publisher = new Publisher({ producer, counters, maxQueued: Math.max(records.length, 1), batchSize: 500 });
  publisher.enqueue(records);
  const unsent = await publisher.flush(Date.now() + timeoutMs);
  await producer.close();
  return unsent;
}

export interface AgentDeps {
  readonly sources: readonly Source<MetricEnvelope>[];
  readonly producer: BusProducer;
  readonly counters: Counters;
  readonly logger: Logger;
  readonly intervalMs: number;
  readonly maxQueued: number;
}

/**
 * The agent's loop: collect every interval, publish what was collected, and keep what the
 * bus could not take (bounded) for the next cycle. Stopping ends intake first, then makes
 * one last bounded attempt to publish, then closes the producer.
 */
export function startAgent(deps: AgentDeps): { stop(): Promise<void> } {
  const stopping = new AbortController();
  const publisher = new Publisher({ producer: deps.producer, counters: deps.counters, maxQueued: deps.maxQueued, batchSize: 500 });
  const log = deps.logger.child({ component: 'agent' });
  log.info({ sources: deps.sources.map((s) => s.name), intervalMs: deps.intervalMs }, 'agent started');

  const loop = async (): Promise<void> => {
    while (!stopping.signal.aborted) {
      const started = Date.now();
      const { records, errors } = await collectOnce(deps.sources, deps.counters, stopping.signal);
      for (const { source, error } of errors.slice(0, 5)) log.warn({ source, error }, 'collection problem');
      publisher.enqueue(records);
      const left = await publisher.flush(started + deps.intervalMs, stopping.signal);
      if (left > 0) log.warn({ queued: left }, 'bus did not take everything; keeping it for the next cycle');
      await sleep(Math.max(0, started + deps.intervalMs - Date.now()), stopping.signal);
    }
  };
  const running = loop();
  let stopped: Promise<void> | undefined;
  return {
    stop: () =>
      (stopped ??= (async () => {
        stopping.abort();
        await running;
        await publisher.flush(Date.now() + 5000);
        await deps.producer.close();
        log.info({ unsent: publisher.queued }, 'agent stopped');
      })()),
  };
}
