import { delivered, retryable, type DeliveryOutcome } from '../../core/outcome.js';
import type { Health } from '../../core/pipeline.js';
import type { SqliteDatabase } from './database.js';

/**
 * What the embedded sinks share: a batch is written in one transaction, so a failure
 * (SQLITE_BUSY, FULL, IOERR) leaves it whole or absent and retrying is safe. `onRollback`
 * forgets ids the sink cached for rows the rollback took back (they may go to other rows).
 */
export function deliverInTransaction<T>(write: () => void, onRollback: () => void): Promise<DeliveryOutcome<T>> {
  try {
    write();
    return Promise.resolve(delivered);
  } catch (error) {
    onRollback();
    return Promise.resolve(retryable(`sqlite: ${(error as Error).message}`, 500));
  }
}

export function sqliteHealth(db: SqliteDatabase): Promise<Health> {
  try {
    db.prepare('SELECT 1').get();
    return Promise.resolve({ healthy: true });
  } catch (error) {
    return Promise.resolve({ healthy: false, reason: (error as Error).message });
  }
}
