import type { MetricEnvelope } from '../core/envelope.js';

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
