import { createHash } from 'node:crypto';

/**
 * A UUID-shaped id derived from its parts, so that an alarm keeps its id across
 * restarts and replays (a transition redelivered at-least-once names the same alarm).
 * Monasca's ids are random UUIDs held in its database; the full engine keeps them in
 * SQLite and can keep these.
 */
export function stableId(...parts: readonly string[]): string {
  const hex = createHash('sha256').update(parts.join('\u0000')).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
