/**
 * Shutdown as data: steps run in the order given, each within what is left of one overall
 * deadline. A step that fails or overruns is reported and the next one still runs, so
 * that a broker that hangs on disconnect cannot keep the database from being closed.
 */
export interface ShutdownStep {
  readonly name: string;
  run(): Promise<void>;
}

export type StepOutcome =
  | { readonly name: string; readonly outcome: 'done'; readonly ms: number }
  | { readonly name: string; readonly outcome: 'failed'; readonly ms: number; readonly error: string }
  | { readonly name: string; readonly outcome: 'timed_out'; readonly ms: number };

export async function shutdownInOrder(steps: readonly ShutdownStep[], deadlineMs: number, now: () => number = Date.now): Promise<StepOutcome[]> {
  const outcomes: StepOutcome[] = [];
  for (const step of steps) {
    const started = now();
    const leftMs = Math.max(0, deadlineMs - started);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timed_out'>((resolve) => {
      timer = setTimeout(() => resolve('timed_out'), leftMs);
      timer.unref();
    });
    let result: 'done' | 'timed_out' | { error: string };
    try {
      // Started even when no time is left: a step that finishes at once (closing a file) still gets its chance.
      result = await Promise.race([
        Promise.resolve()
          .then(() => step.run())
          .then(() => 'done' as const),
        timedOut,
      ]);
    } catch (error) {
      result = { error: error instanceof Error ? error.message : String(error) };
    } finally {
      clearTimeout(timer);
    }
    const ms = now() - started;
    if (result === 'done' || result === 'timed_out') outcomes.push({ name: step.name, outcome: result, ms });
    else outcomes.push({ name: step.name, outcome: 'failed', ms, error: result.error });
  }
  return outcomes;
}

/** Throws, naming them, when some steps did not finish cleanly: a part made of steps is then itself a failed step. */
export function requireClean(outcomes: readonly StepOutcome[]): void {
  const unclean = outcomes.filter((o) => o.outcome !== 'done');
  if (unclean.length > 0) throw new Error(unclean.map((o) => (o.outcome === 'failed' ? `${o.name} failed: ${o.error}` : `${o.name} timed out`)).join('; '));
}
