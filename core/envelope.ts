/**
 * The records Kansoku carries, in Monasca's own envelope so that the bus stays
 * readable by Monasca components (persister, thresholding engine, transform).
 */

/** A Monasca measurement: one value of one metric at one instant. */
export interface Metric {
  readonly name: string;
  readonly dimensions: Readonly<Record<string, string>>;
  /** Milliseconds since the Unix epoch, as Monasca puts it on the wire. */
  readonly timestamp: number;
  readonly value: number;
  readonly value_meta: Readonly<Record<string, string>> | null;
}

/** Who a record belongs to; it travels with every record from source to sink. */
export interface Meta {
  readonly tenantId: string;
  readonly region: string;
}

/** Topic `metrics`: Monasca's metric envelope; `creation_time` is in whole seconds. */
export interface MetricEnvelope {
  readonly metric: Metric;
  readonly meta: Meta;
  readonly creation_time: number;
}

/**
 * A log line as monasca-log-api puts it on the bus (`message`, `dimensions`, `timestamp`),
 * with optional fields of Kansoku's own that Monasca's consumers pass over.
 *
 * The agent's records carry, as dimensions: `hostname`, `namespace`, `pod_name`,
 * `container_name`, `container_id` and `stream` (stdout | stderr).
 */
export interface LogRecord {
  readonly message: string;
  readonly dimensions: Readonly<Record<string, string>>;
  /** Milliseconds since the Unix epoch at which the line was written, when known. */
  readonly timestamp?: number;
  /** Lower-case severity where the line says it: fatal, error, warn, info, debug, trace. */
  readonly level?: string;
  /**
   * Where the record was read, unique per record: the agent's `<host>|<file identity>|<offset>`,
   * or the API's `api|<request id>|<index>`. Sinks derive the document id from it (see
   * `logRecordId`), so a redelivered record is stored once.
   */
  readonly origin?: string;
  /** The message was cut at the size limit (one record holds at most that much). */
  readonly truncated?: boolean;
  /** One of several records a line too long for one record was split into. */
  readonly split?: boolean;
  /** The raw line did not parse as CRI or Docker json-file; `message` is the raw text. */
  readonly parse_error?: string;
}

/** Topic `logs`: Monasca's log envelope. */
export interface LogEnvelope {
  readonly log: LogRecord;
  readonly meta: Meta;
  readonly creation_time: number;
}

export const TOPICS = { metrics: 'metrics', logs: 'logs', deadLetter: 'kansoku-dead-letter', alarmTransitions: 'alarm-state-transitions' } as const;
export type Topic = (typeof TOPICS)[keyof typeof TOPICS];

export function metricEnvelope(metric: Metric, meta: Meta, nowMs: number): MetricEnvelope {
  return { metric, meta, creation_time: Math.floor(nowMs / 1000) };
}

export function logEnvelope(log: LogRecord, meta: Meta, nowMs: number): LogEnvelope {
  return { log, meta, creation_time: Math.floor(nowMs / 1000) };
}
