import { readFileSync } from 'node:fs';
import { parsePeer } from '../prometheusPeer.js';

/** The real k8s 1.25 kubelet page the end-to-end tests serve (namespaces kube-system and scraper). */
export const KUBELET_PAGE = readFileSync(new URL('../fixtures/prometheus/nri-k8s__k8s-1.25.13-containerd1.6__kubelet_metrics_cadvisor.prom', import.meta.url), 'utf8');

/** A series as the tenant API returns it from /v2.0/metrics/measurements. */
export interface ApiSeries {
  name: string;
  dimensions: Record<string, string>;
  measurements: [string, number, Record<string, string>][];
}

/** What the page says, read by an independent parser: "pod/container" → value and timestamp, for one namespace. */
export function expectedFromPage(family: string, namespace: string, page = KUBELET_PAGE): Map<string, { value: number; timestampMs: number }> {
  const out = new Map<string, { value: number; timestampMs: number }>();
  for (const sample of parsePeer(page).find((f) => f.name === family)?.metrics ?? []) {
    const { namespace: ns, pod, container } = sample.labels ?? {};
    if (ns !== namespace || !pod || !container || container === 'POD') continue;
    out.set(`${pod}/${container}`, { value: Number(sample.value), timestampMs: Number(sample.timestamp_ms) });
  }
  return out;
}

/** The bus settings for a CLI process on the mock cluster: its first group join takes ~3 s, so timeouts are short. */
export function kafkaEnv(brokers: readonly string[]): Record<string, string> {
  return {
    KANSOKU_BUS__KIND: 'kafka',
    KANSOKU_KAFKA_BROKERS: brokers.join(','),
    KANSOKU_BUS__KAFKA__SESSION_TIMEOUT_MS: '4000',
    KANSOKU_BUS__KAFKA__HEARTBEAT_INTERVAL_MS: '300',
    KANSOKU_BUS__KAFKA__MAX_WAIT_TIME_MS: '100',
  };
}

/** Every topic Kansoku uses, as the end-to-end tests create them on the mock cluster. */
export const PIPELINE_TOPICS = { metrics: 4, logs: 2, 'kansoku-dead-letter': 1, 'alarm-state-transitions': 1 } as const;

/** `kansoku server` on Kafka and InfluxDB, with its API on `apiPort`. */
export function serverEnv(options: { brokers: readonly string[]; influxUrl: string; database: string; apiPort: number; tokens: string }): Record<string, string> {
  return {
    KANSOKU_LOG_LEVEL: 'info',
    KANSOKU_REGION: 'e2e-region',
    ...kafkaEnv(options.brokers),
    KANSOKU_SERVER__STORE: 'influxdb',
    KANSOKU_INFLUXDB_URL: options.influxUrl,
    KANSOKU_SERVER__INFLUXDB__DATABASE: options.database,
    KANSOKU_SERVER__API__PORT: String(options.apiPort),
    KANSOKU_AUTH_TOKENS: options.tokens,
  };
}
