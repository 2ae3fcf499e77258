/**
 * The alert engine as its own process, for `bench/alertingEngineProcess.ts`:
 * `node --import tsx bench/alertingEngineChild.ts '<EngineRunOptions as JSON>'`.
 *
 * It wires the engine as `kansoku alerting` does on the single-machine default: an
 * `AlarmEngine` reading the in-process bus (`MemoryBus` with the `bus.memory` defaults),
 * checkpointing every 5 s into a SQLite file store, evaluating at each close. The
 * definitions are created through the store, the measurements come pre-framed
 * (bench/alertingLoad.ts), and the feeder lives in this process because the bus does:
 *
 * - `throughput`: the feeder tops the metrics topic up whenever its backlog falls under
 *   a few consumer batches, so the engine always has work and never more than that
 *   queued; measurements/s, CPU and RSS over the window.
 * - `latency`: one round (every series once) per period, spread over the period in even
 *   publish calls; per transition, the time its checkpoint committed minus the end of the
 *   slot it decided plus `delayMs`.
 *
 * It prints one JSON line (EngineRunResult) on stdout and exits. The feeder's own work
 * (rewriting timestamps, the bus's copy on publish) is timed and reported apart.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Counters } from '../core/counters.js';
import { TOPICS } from '../core/envelope.js';
import { MemoryBus } from '../bus/memory/memoryBus.js';
import { AlarmEngine, ENGINE_COUNTERS, type AlarmEngineOptions } from '../alerting/engine/alarmEngine.js';
import { EVALUATOR_COUNTERS } from '../alerting/evaluation/alarmEvaluator.js';
import type { AlarmStore, CheckpointResult, EngineCheckpoint } from '../alerting/store/alarmStore.js';
import { openSqliteAlarmStore } from '../alerting/store/sqliteAlarmStore.js';
import { definitions, framedRound, seriesCount, stamp, type AlertingLoadShape, type PublishCall } from './alertingLoad.js';

export interface EngineRunOptions {
  readonly mode: 'throughput' | 'latency';
  readonly shape: AlertingLoadShape;
  readonly warmupMs: number;
  readonly windowMs: number;
}

export interface EvaluationTiming {
  count: number;
  alarmsEvaluated: number;
  ms: number;
  maxMs: number;
}

export interface EngineRunResult {
  readonly mode: EngineRunOptions['mode'];
  readonly definitions: number;
  readonly alarms: number;
  readonly setupMs: { readonly definitions: number; readonly framing: number; readonly firstRound: number };
  readonly windowSeconds: number;
  readonly measurements: number;
  readonly cpuMs: number;
  /** CPU the feeder spent rewriting timestamps and publishing (the bus's copy), inside cpuMs. */
  readonly feederMs: number;
  readonly rssMedianBytes: number;
  readonly rssMaxBytes: number;
  readonly backlogAtEnd: number;
  readonly ingestCheckpoints: { readonly count: number; readonly alarms: number; readonly ms: number };
  /** evaluate() calls at ticks where the views closed (every alarm decides) and at the others (nothing to decide). */
  readonly evaluations: { readonly closing: EvaluationTiming; readonly idle: EvaluationTiming };
  readonly evaluationCheckpoints: { readonly count: number; readonly alarms: number; readonly transitions: number; readonly ms: number };
  readonly transitions: number;
  /** ms from slot end + delay to the transition's checkpoint committing, sorted. */
  readonly latenciesMs: readonly number[];
  readonly counters: Readonly<Record<string, number>>;
}

/** The `alerting.evaluation` and `bus.memory` defaults (alerting/config.ts, bus/config.ts). */
const ENGINE_OPTIONS: AlarmEngineOptions = {
  tickMs: 1_000,
  evaluateAtClose: true,
  delayMs: 10_000,
  definitionsPollMs: 2_000,
  catchUpTimeoutMs: 30_000,
  checkpointIntervalMs: 5_000,
  maxAlarms: 1_000_000,
  maxMetricsPerAlarm: 100,
  maxPendingTransitions: 10_000,
};
const BUS_CAPACITY = 100_000;
const BUS_MAX_BATCH = 1_000;
/** The throughput feeder keeps about this many consumer batches queued. */
const BACKLOG_BATCHES = 3;
const RSS_SAMPLE_EVERY_MS = 1_000;

async function main(options: EngineRunOptions): Promise<EngineRunResult> {
  const { shape } = options;
  const series = seriesCount(shape);
  const periodMs = shape.periodSeconds * 1000;
  const dir = mkdtempSync(join(tmpdir(), 'kansoku-bench-alerting-'));
  const store = await openSqliteAlarmStore(join(dir, 'alarms.db'));
  try {
    let t0 = performance.now();
    const createdAtMs = Date.now();
    let definitionCount = 0;
    for (const definition of definitions(shape)) {
      await store.createDefinition(definition, createdAtMs);
      definitionCount++;
    }
    const definitionsMs = performance.now() - t0;
    t0 = performance.now();
    const round = framedRound(shape, Date.now());
    const framingMs = performance.now() - t0;

    // What the engine records, timed from outside: store writes, evaluations, transitions.
    const ingestCheckpoints = { count: 0, alarms: 0, ms: 0 };
    const evaluationCheckpoints = { count: 0, alarms: 0, transitions: 0, ms: 0 };
    const latenciesMs: number[] = [];
    let timing = false;
    const timedStore = new Proxy(store, {
      get(target, property) {
        if (property === 'checkpoint') {
          return async (checkpoint: EngineCheckpoint): Promise<CheckpointResult> => {
            const start = performance.now();
            const result = await target.checkpoint(checkpoint);
            const committedAtMs = Date.now();
            if (!timing) return result;
            const ms = performance.now() - start;
            if (checkpoint.offsets.size > 0) {
              ingestCheckpoints.count++;
              ingestCheckpoints.alarms += checkpoint.alarms.length + (checkpoint.windows?.length ?? 0);
              ingestCheckpoints.ms += ms;
            } else {
              evaluationCheckpoints.count++;
              evaluationCheckpoints.alarms += checkpoint.alarms.length + (checkpoint.windows?.length ?? 0);
              evaluationCheckpoints.transitions += checkpoint.transitions.length;
              evaluationCheckpoints.ms += ms;
            }
            // A batch's checkpoint carries the transitions its measurements decided (a view closed by newer data).
            const skipped = new Set(result.skippedTransitions);
            for (const transition of checkpoint.transitions) {
              if (skipped.has(transition.id)) continue;
              // A transition is stamped with the instant its view closed (view end + delay); the view end is the
              // start of the slot that holds timestampMs − delay, so a stamp of "now" would be measured right too.
              const viewEndMs = Math.floor((transition.timestampMs - ENGINE_OPTIONS.delayMs) / periodMs) * periodMs;
              latenciesMs.push(committedAtMs - (viewEndMs + ENGINE_OPTIONS.delayMs));
            }
            return result;
          };
        }
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    }) as AlarmStore;

    const bus = new MemoryBus({ capacity: BUS_CAPACITY, maxBatch: BUS_MAX_BATCH, dropOldestTopics: [TOPICS.alarmTransitions, TOPICS.logs, TOPICS.deadLetter] });
    const counters = new Counters();
    const engine = new AlarmEngine({ consumer: bus.consumer('kansoku-alerting'), producer: bus.producer(), store: timedStore, counters, now: Date.now, options: ENGINE_OPTIONS });
    const evaluations = { closing: { count: 0, alarmsEvaluated: 0, ms: 0, maxMs: 0 }, idle: { count: 0, alarmsEvaluated: 0, ms: 0, maxMs: 0 } };
    const evaluator = engine.evaluator;
    const evaluate = evaluator.evaluate.bind(evaluator);
    const viewEnd = (nowMs: number): number => Math.floor((nowMs - ENGINE_OPTIONS.delayMs) / periodMs);
    let lastEvaluatedMs = Date.now();
    evaluator.evaluate = (nowMs, live) => {
      const start = performance.now();
      const alarms = evaluator.alarmCount;
      const transitions = evaluate(nowMs, live);
      const ms = performance.now() - start;
      const closed = viewEnd(nowMs) > viewEnd(lastEvaluatedMs);
      lastEvaluatedMs = nowMs;
      if (timing) {
        const timed = closed ? evaluations.closing : evaluations.idle;
        timed.count++;
        timed.alarmsEvaluated += alarms;
        timed.ms += ms;
        timed.maxMs = Math.max(timed.maxMs, ms);
      }
      return transitions;
    };
    await engine.start();

    const producer = bus.producer();
    let feederMs = 0;
    const publish = async (call: PublishCall, breaching: (timestampMs: number) => boolean): Promise<void> => {
      const start = performance.now();
      const nowMs = Date.now();
      stamp(call, nowMs, breaching(nowMs));
      const outcome = await producer.publish(TOPICS.metrics, call.messages);
      feederMs += performance.now() - start;
      if (outcome.kind !== 'delivered') throw new Error(`the in-process bus refused a publish call: ${JSON.stringify(outcome)}`);
    };
    const measurementsRead = (): number => counters.total(ENGINE_COUNTERS.measurements);

    // The first round creates every alarm; wait until the engine has read it.
    t0 = performance.now();
    for (const call of round) await publish(call, () => false);
    while (measurementsRead() < series) await sleep(20);
    const firstRoundMs = performance.now() - t0;
    if (evaluator.alarmCount !== series) throw new Error(`the first round made ${evaluator.alarmCount} alarms, not ${series}`);

    let feeding = true;
    let next = 0;
    const flipping = (timestampMs: number): boolean => Math.floor(timestampMs / periodMs) % 2 === 0;
    const fed = new Promise<void>((resolve, reject) => {
      if (options.mode === 'throughput') {
        // Top up whenever the consumer has drained below a few batches; setImmediate lets timers (the tick) run between.
        const backlogTarget = BUS_MAX_BATCH * BACKLOG_BATCHES;
        const topUp = (): void => {
          if (!feeding) return resolve();
          const work = async (): Promise<void> => {
            while (bus.backlog(TOPICS.metrics) < backlogTarget) {
              await publish(round[next] as PublishCall, () => false);
              next = (next + 1) % round.length;
            }
          };
          work().then(() => setImmediate(topUp), reject);
        };
        setImmediate(topUp);
      } else {
        // One round per period, its publish calls evenly spaced, each in the middle of its share of the
        // period: a timer that fires a millisecond early must not stamp a round into the slot before.
        const spacingMs = periodMs / round.length;
        let dueMs = Math.ceil(Date.now() / periodMs) * periodMs + spacingMs / 2;
        const step = (): void => {
          if (!feeding) return resolve();
          publish(round[next] as PublishCall, flipping).then(() => {
            next = (next + 1) % round.length;
            dueMs += spacingMs;
            setTimeout(step, Math.max(0, dueMs - Date.now()));
          }, reject);
        };
        setTimeout(step, Math.max(0, dueMs - Date.now()));
      }
    });

    await sleep(options.warmupMs);
    const rss: number[] = [process.memoryUsage.rss()];
    const sampler = setInterval(() => rss.push(process.memoryUsage.rss()), RSS_SAMPLE_EVERY_MS);
    timing = true;
    feederMs = 0;
    const measuredBefore = measurementsRead();
    const cpuBefore = process.cpuUsage();
    const windowStart = performance.now();
    await sleep(options.windowMs);
    const cpu = process.cpuUsage(cpuBefore);
    const windowSeconds = (performance.now() - windowStart) / 1000;
    const measurements = measurementsRead() - measuredBefore;
    const feederWindowMs = feederMs;
    timing = false;
    clearInterval(sampler);
    const backlogAtEnd = bus.backlog(TOPICS.metrics);
    feeding = false;
    await fed;
    await engine.stop();

    const counterNames = [...Object.values(ENGINE_COUNTERS), ...Object.values(EVALUATOR_COUNTERS)];
    rss.sort((a, b) => a - b);
    return {
      mode: options.mode,
      definitions: definitionCount,
      alarms: evaluator.alarmCount,
      setupMs: { definitions: definitionsMs, framing: framingMs, firstRound: firstRoundMs },
      windowSeconds,
      measurements,
      cpuMs: (cpu.user + cpu.system) / 1000,
      feederMs: feederWindowMs,
      rssMedianBytes: rss[rss.length >> 1] ?? NaN,
      rssMaxBytes: rss[rss.length - 1] ?? NaN,
      backlogAtEnd,
      ingestCheckpoints,
      evaluations,
      evaluationCheckpoints,
      transitions: latenciesMs.length,
      latenciesMs: latenciesMs.sort((a, b) => a - b),
      counters: Object.fromEntries(counterNames.map((name) => [name, counters.total(name)])),
    };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const input = process.argv[2];
if (input === undefined) throw new Error('usage: node --import tsx bench/alertingEngineChild.ts <options as JSON>');
const result = await main(JSON.parse(input) as EngineRunOptions);
process.stdout.write(`${JSON.stringify(result)}\n`);
