import type { LogEnvelope, MetricEnvelope } from '../core/envelope.js';

/**
 * The Kafka key of a metric envelope: its tenant and the host it was measured on.
 *
 * Every series carries its `hostname` dimension, so one series always hashes to one
 * partition and keeps its order (alarm windows need that), while a tenant present on
 * every node (kube-system) spreads over all partitions instead of loading one. Metrics
 * posted through the API without a hostname are keyed by tenant and metric name, which
 * keeps each of their series in order too. README.md ("Partition keys") has the numbers
 * for 5,000 nodes.
 */
export function metricKey(envelope: MetricEnvelope): string {
  const host = envelope.metric.dimensions['hostname'];
  return host !== undefined ? `${envelope.meta.tenantId}/${host}` : `${envelope.meta.tenantId}//${envelope.metric.name}`;
}

/**
 * The Kafka key of a log envelope: its tenant, host, pod and container. A container's
 * lines keep their order on one partition, while one busy node's logs spread over the
 * partitions by container instead of loading one (a node writes far more log bytes than
 * metric bytes). Logs without pod dimensions (posted through the API) are keyed by
 * tenant and host.
 */
export function logKey(envelope: LogEnvelope): string {
  const d = envelope.log.dimensions;
  const host = d['hostname'] ?? '';
  const pod = d['pod_name'];
  return pod === undefined ? `${envelope.meta.tenantId}/${host}` : `${envelope.meta.tenantId}/${host}/${d['namespace'] ?? ''}/${pod}/${d['container_name'] ?? ''}`;
}
