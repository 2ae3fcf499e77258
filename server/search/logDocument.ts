/**
 * A log record as an Elasticsearch / OpenSearch document, in ECS names where ECS has one,
 * written straight into a `_bulk` body: the ndjson is built as a string, with
 * JSON.stringify only for the values, so that encoding stays cheap.
 *
 * Dimensions are kept three ways: `labels` exactly as written (not indexed, read back by
 * the store), `kansoku.dimensions` as `key=value` keywords (Monasca's `key:value` and
 * `key:v1|v2` filters) and `kansoku.dimension_keys` (the bare `key` filter). Keywords of a
 * fixed field, not one field per dimension name: a tenant's dimension names can neither
 * exhaust the mapping's field limit nor clash (`a` and `a.b`) in a shared data stream.
 * Monasca forbids `=` in dimension names, so `key=value` reads one way only.
 */
import type { LogEnvelope } from '../../core/envelope.js';

/** What the store reads back from `_source`. */
export interface LogDocumentSource {
  readonly '@timestamp'?: unknown;
  readonly message?: unknown;
  readonly log?: { readonly level?: unknown };
  readonly labels?: unknown;
  readonly kansoku?: { readonly id?: unknown; readonly truncated?: unknown; readonly split?: unknown; readonly parse_error?: unknown };
}

/** The `_source` fields the store asks for. */
export const SOURCE_FIELDS = ['@timestamp', 'message', 'log.level', 'labels', 'kansoku.id', 'kansoku.truncated', 'kansoku.split', 'kansoku.parse_error'] as const;

export function timestampMsOf(envelope: LogEnvelope): number {
  return envelope.log.timestamp ?? envelope.creation_time * 1000;
}

const str = JSON.stringify;

/** `{"kubernetes":{"pod":{"name":..}}}` and the like, from the ECS-mapped dimensions present. */
function ecsFields(dimensions: Readonly<Record<string, string>>): string {
  const kubernetes: string[] = [];
  const pod: string[] = [];
  const container: string[] = [];
  let out = '';
  const namespace = dimensions['namespace'];
  if (namespace !== undefined) kubernetes.push(`"namespace":${str(namespace)}`);
  const podName = dimensions['pod_name'];
  if (podName !== undefined) pod.push(`"name":${str(podName)}`);
  const containerName = dimensions['container_name'];
  if (containerName !== undefined) container.push(`"name":${str(containerName)}`);
  if (pod.length > 0) kubernetes.push(`"pod":{${pod.join(',')}}`);
  if (container.length > 0) kubernetes.push(`"container":{${container.join(',')}}`);
  if (kubernetes.length > 0) out += `,"kubernetes":{${kubernetes.join(',')}}`;
  const containerId = dimensions['container_id'];
  if (containerId !== undefined) out += `,"container":{"id":${str(containerId)}}`;
  const hostname = dimensions['hostname'];
  if (hostname !== undefined) out += `,"host":{"hostname":${str(hostname)}}`;
  const stream = dimensions['stream'];
  if (stream !== undefined) out += `,"stream":${str(stream)}`;
  return out;
}

/**
 * The two `_bulk` lines of one record (`create` action and document), each ending in a
 * newline; undefined when the record has no usable time (it could never be stored).
 */
export function bulkCreateLines(envelope: LogEnvelope, index: string, id: string): string | undefined {
  const { log, meta } = envelope;
  const timestampMs = timestampMsOf(envelope);
  if (!Number.isFinite(timestampMs)) return undefined;
  const pairs: string[] = [];
  const keys: string[] = [];
  for (const key in log.dimensions) {
    pairs.push(`${key}=${log.dimensions[key]}`);
    keys.push(key);
  }
  let doc = `{"@timestamp":${timestampMs},"message":${str(log.message)}`;
  if (log.level !== undefined) doc += `,"log":{"level":${str(log.level)}}`;
  doc += ecsFields(log.dimensions);
  doc += `,"tenant":{"id":${str(meta.tenantId)}},"labels":${str(log.dimensions)}`;
  doc += `,"kansoku":{"id":${str(id)},"region":${str(meta.region)},"dimensions":${str(pairs)},"dimension_keys":${str(keys)}`;
  if (log.truncated === true) doc += ',"truncated":true';
  if (log.split === true) doc += ',"split":true';
  if (log.parse_error !== undefined) doc += `,"parse_error":${str(log.parse_error)}`;
  doc += '}}\n';
  return `{"create":{"_index":${str(index)},"_id":${str(id)}}}\n${doc}`;
}
