import type { Codec } from '../../core/codec.js';
import { logCodec } from '../../core/codec.js';
import type { LogEnvelope } from '../../core/envelope.js';
import { fail } from '../../core/outcome.js';
import { logKey } from '../../bus/partitionKey.js';

/**
 * A log envelope on its way from a file to the bus, with where its file may be resumed
 * from once the bus has it. Only the envelope goes on the bus; the position stays on the
 * node (in the publisher's queue and its disk spill) and moves the file's checkpoint.
 */
export interface PositionedLog {
  readonly envelope: LogEnvelope;
  /** The tailer's identity of the file the record was read from. */
  readonly fileKey: string;
  readonly resumeOffset: number;
}

/** Frames positioned logs as plain log envelopes: what the server reads is `logCodec`'s. */
export const positionedLogCodec: Codec<PositionedLog> = {
  topic: logCodec.topic,
  encode: (record) => logCodec.encode(record.envelope),
  fromJson: () => fail('positioned logs are written on the node, never read from the bus'),
  decode: () => fail('positioned logs are written on the node, never read from the bus'),
};

/** Partition key: the envelope's (see `logKey`), so a container's lines keep their order. */
export function positionedLogKey(record: PositionedLog): string {
  return logKey(record.envelope);
}

/** The disk spill's line form of a positioned log, and back (undefined for a line that does not read back). */
export function serializePositionedLog(record: PositionedLog): string {
  return JSON.stringify(record);
}

export function deserializePositionedLog(line: string): PositionedLog | undefined {
  try {
    const raw = JSON.parse(line) as Partial<PositionedLog>;
    if (typeof raw.fileKey !== 'string' || typeof raw.resumeOffset !== 'number') return undefined;
    const envelope = logCodec.fromJson(raw.envelope);
    return envelope.ok ? { envelope: envelope.value, fileKey: raw.fileKey, resumeOffset: raw.resumeOffset } : undefined;
  } catch {
    return undefined;
  }
}
