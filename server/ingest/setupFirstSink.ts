import type { DeliveryOutcome } from '../../core/outcome.js';
import { retryable } from '../../core/outcome.js';
import type { Health, Sink } from '../../core/pipeline.js';

/** What a sink needs done once before its first write (an index template, a lifecycle policy). */
export type Setup = () => Promise<{ readonly ok: true } | { readonly ok: false; readonly reason: string }>;

export interface SetupLog {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

/**
 * Runs a sink's set-up before its first delivery, and again until it succeeds: while the
 * store is away at start-up, deliveries come back retryable (the bus keeps the records)
 * instead of the server failing to start or writing into indices without their template.
 */
export class SetupFirstSink<T> implements Sink<T> {
  readonly name: string;
  private ready = false;
  private running: Promise<string | undefined> | undefined;

  constructor(
    private readonly inner: Sink<T>,
    private readonly setup: Setup,
    private readonly retryDelayMs: number,
    private readonly log: SetupLog,
  ) {
    this.name = inner.name;
  }

  async deliver(batch: readonly T[]): Promise<DeliveryOutcome<T>> {
    if (!this.ready) {
      const problem = await this.ensure();
      if (problem !== undefined) return retryable(`set-up of ${this.name} not done: ${problem}`, this.retryDelayMs);
    }
    return this.inner.deliver(batch);
  }

  /** Undefined once the set-up is done; else why not (one attempt at a time). */
  private ensure(): Promise<string | undefined> {
    this.running ??= (async () => {
      try {
        const result = await this.setup();
        if (result.ok) {
          this.ready = true;
          this.log.info({ sink: this.name }, 'log store set up');
          return undefined;
        }
        this.log.warn({ sink: this.name, reason: result.reason }, 'log store set-up failed; deliveries wait for it');
        return result.reason;
      } catch (error) {
        return (error as Error).message;
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  health(): Promise<Health> {
    return this.inner.health();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
