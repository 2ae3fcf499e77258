import { createHash } from 'node:crypto';
import type { LogEnvelope } from './envelope.js';

/**
 * The document id of a log record in every store: the same record gives the same id,
 * so a batch the bus delivers twice is stored once (Elasticsearch answers 409 on the
 * second `create`; SQLite ignores the second insert).
 *
 * A record with an `origin` (where it was read: file identity and offset, or API request
 * and index) is identified by tenant and origin alone. One without (a foreign producer
 * on the bus, Monasca's log agent say) is identified by its content: tenant, time,
 * dimensions and message; two identical lines in the same millisecond are then one.
 */
export function logRecordId(envelope: LogEnvelope): string {
  const { log, meta } = envelope;
  const hash = createHash('sha256');
  hash.update(meta.tenantId);
  hash.update('\0');
  if (log.origin !== undefined) {
    hash.update('o\0');
    hash.update(log.origin);
  } else {
    hash.update('c\0');
    hash.update(String(log.timestamp ?? envelope.creation_time * 1000));
    const keys = Object.keys(log.dimensions).sort();
    for (const key of keys) {
      hash.update('\0');
      hash.update(key);
      hash.update('=');
      hash.update(log.dimensions[key] ?? '');
    }
    hash.update('\0');
    hash.update(log.message);
  }
  // 128 bits, URL-safe: short enough for an Elasticsearch _id, wide enough never to collide.
  return hash.digest('base64url').slice(0, 22);
}
