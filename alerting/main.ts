import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Counters } from '../core/counters.js';
import type { Bus } from '../core/pipeline.js';
import type { AlertingRules } from './config.js';
import { AlarmEngine } from './engine/alarmEngine.js';
import { Notifier } from './notify/notifier.js';
import { createNotificationSenders } from './notify/senders.js';
import { seedConfigDefinitions } from './seedConfigDefinitions.js';
import type { AlarmStore } from './store/alarmStore.js';

/**
 * The alert stage wired from concrete parts: the file's definitions seeded into the store,
 * the engine on the bus, and the notifier on the store's outbox. The CLI validates the
 * rules and opens the store (the API shares it in all-in-one); nothing here parses
 * arguments or reads files.
 */
export interface AlertingDeps {
  readonly bus: Bus;
  readonly groupId: string;
  readonly rules: AlertingRules;
  readonly store: AlarmStore;
  readonly counters: Counters;
  readonly logger: Logger;
  readonly now: () => number;
}

export interface RunningAlerting {
  readonly engine: AlarmEngine;
  /** Runs once: stop the engine (reading, evaluating, publishing), then the notifier, then the producer. */
  stop(): Promise<void>;
}

export async function startAlerting(deps: AlertingDeps): Promise<RunningAlerting> {
  const logger = deps.logger.child({ component: 'alerting' });
  const { rules, store } = deps;
  const seeded = await seedConfigDefinitions(store, rules.definitions, deps.now());
  if (seeded.created + seeded.updated > 0) logger.info(seeded, 'alarm definitions from the configuration file stored');
  const producer = deps.bus.producer();
  const evaluation = rules.evaluation;
  const engine = new AlarmEngine({
    consumer: deps.bus.consumer(deps.groupId),
    producer,
    store,
    counters: deps.counters,
    now: deps.now,
    logger,
    options: {
      tickMs: evaluation.interval_ms,
      evaluateAtClose: true,
      delayMs: evaluation.delay_ms,
      definitionsPollMs: evaluation.definitions_poll_ms,
      catchUpTimeoutMs: evaluation.catch_up_timeout_ms,
      checkpointIntervalMs: evaluation.checkpoint_interval_ms,
      maxAlarms: evaluation.max_alarms,
      maxMetricsPerAlarm: evaluation.max_metrics_per_alarm,
      maxPendingTransitions: evaluation.max_pending_transitions,
    },
  });
  const senders = createNotificationSenders(rules.notification);
  const notifier = new Notifier({
    store,
    senders: senders.senders,
    settings: rules.notification,
    counters: deps.counters,
    owner: `${hostname()}/${process.pid}`,
    now: deps.now,
    logger,
  });
  try {
    await engine.start();
  } catch (error) {
    await producer.close();
    senders.close();
    throw error;
  }
  notifier.start();
  let stopped: Promise<void> | undefined;
  return {
    engine,
    stop: () => {
      stopped ??= engine
        .stop()
        .then(() => notifier.stop())
        .finally(() => {
          senders.close();
          return producer.close();
        });
      return stopped;
    },
  };
}
