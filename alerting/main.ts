import type { Logger } from 'pino';
import type { Counters } from '../core/counters.js';
import type { Bus } from '../core/pipeline.js';
import { AlertEngine } from './alertEngine.js';
import { defaultEvaluationSettings, type AlarmDefinition, type EvaluationSettings, type WebhookSettings } from './config.js';
import { WebhookNotifier } from './webhookNotifier.js';

/**
 * The alert stage wired from concrete parts: the bus's consumer and producer, the
 * evaluator inside the engine, the webhook notifier. The CLI validates the rules
 * (`loadAlertingRules`) and calls this; nothing here parses arguments or reads files.
 */
export interface AlertingDeps {
  readonly bus: Bus;
  readonly groupId: string;
  readonly definitions: readonly AlarmDefinition[];
  readonly webhook: Readonly<WebhookSettings>;
  /** The schema's defaults when absent. */
  readonly evaluation?: Readonly<EvaluationSettings>;
  readonly counters: Counters;
  readonly logger: Logger;
  readonly now: () => number;
}

export interface RunningAlerting {
  /** Runs once: stop reading metrics and evaluating, publish what waits, drain notifications, close the producer. */
  stop(): Promise<void>;
}

export async function startAlerting(deps: AlertingDeps): Promise<RunningAlerting> {
  const logger = deps.logger.child({ component: 'alerting' });
  const evaluation = deps.evaluation ?? defaultEvaluationSettings();
  const producer = deps.bus.producer();
  const notifier = new WebhookNotifier({ settings: deps.webhook, counters: deps.counters, logger });
  const engine = new AlertEngine({
    consumer: deps.bus.consumer(deps.groupId),
    producer,
    definitions: deps.definitions,
    notifier,
    counters: deps.counters,
    now: deps.now,
    evaluationIntervalMs: evaluation.interval_ms,
    limits: evaluation,
    logger,
  });
  try {
    await engine.start();
  } catch (error) {
    await notifier.drain();
    await producer.close();
    throw error;
  }
  let stopped: Promise<void> | undefined;
  return {
    stop: () => {
      stopped ??= engine.stop().finally(() => producer.close());
      return stopped;
    },
  };
}
