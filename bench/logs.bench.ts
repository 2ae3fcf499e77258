/**
 * The logs path against its peers, in the same run: container log lines from a file to
 * Kafka, `kansoku agent` against rsyslog (logsToKafka.ts); then log records from Kafka
 * into Elasticsearch, `kansoku server` against bulk-indexing the same documents straight
 * into the same Elasticsearch (logsToElasticsearch.ts).
 */
import type { BenchResult } from './harness.js';
import { measureLogsToElasticsearch } from './logsToElasticsearch.js';
import { measureLogsToKafka } from './logsToKafka.js';

export async function run(): Promise<BenchResult[]> {
  const toKafka = await measureLogsToKafka();
  const toElasticsearch = await measureLogsToElasticsearch();
  return [...toKafka, ...toElasticsearch];
}
