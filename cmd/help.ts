const COMMON = `
Configuration: a YAML file (--config FILE), then KANSOKU_* environment variables, which
name a key path with __ between keys (KANSOKU_SERVER__API__PORT=8071). Short names:
KANSOKU_AUTH_TOKENS, KANSOKU_KAFKA_BROKERS, KANSOKU_INFLUXDB_URL, KANSOKU_REGION,
KANSOKU_LOG_LEVEL. Unknown keys are refused at start-up. See README.md, "Configuration".

Options:
  -c, --config FILE   the YAML configuration file
  -h, --help          this text
`;

export const HELP = {
  kansoku: `kansoku — a multi-tenant, Kubernetes-native monitoring collector (Monasca-compatible)

Usage: kansoku <command> [options]

Commands:
  agent        collect container metrics on this node and publish them to the bus
  server       consume the bus into InfluxDB or SQLite and serve the tenant API (Monasca v2.0)
  alerting     evaluate alarm definitions on the metric stream and send notifications
  all-in-one   everything in one process: in-process bus, SQLite under ./data, API on :8070

Run 'kansoku <command> --help' for a command's options.
`,
  agent: `Usage: kansoku agent [--once [--output stdout|bus]] [--kubelet-url URL] [--log-path GLOB] [--hostname NAME] [--config FILE]

Collects cAdvisor container metrics from the kubelet (/metrics/cadvisor) or from this
machine's cgroups, and container logs from /var/log/containers (agent.logs), maps each
namespace to its tenant and publishes Monasca envelopes on the bus topics 'metrics' and
'logs'. Log files are followed through rotation; their checkpoints move only past what
the bus acknowledged.

  --once               run one collection cycle, publish or print it, and exit
  --output stdout|bus  where envelopes go (stdout prints JSON lines; only with --once);
                       with --log-path, --once --output stdout reads the matching files
                       from their start and prints the log envelopes, to check parsing
  --kubelet-url URL    scrape this kubelet page (turns the kubelet source on)
  --log-path GLOB      follow these log files (turns container logs on)
  --hostname NAME      the node name put on every measurement (default: this host)
${COMMON}`,
  server: `Usage: kansoku server [--port N] [--config FILE]

Consumes the bus topic 'metrics' (consumer group server.group_id) into the configured store
(server.store: influxdb or sqlite), and the topic 'logs' (server.logs.group_id) into the log
store (server.logs.store: sqlite, elasticsearch or opensearch), committing offsets only after
the store accepted the batch; undecodable messages go to the topic 'kansoku-dead-letter'.
Serves the tenant API: Monasca v2.0 metrics and logs, and log search.

  --port N             the tenant API's port (default 8070)
${COMMON}`,
  alerting: `Usage: kansoku alerting [--config FILE]

Consumes the bus topic 'metrics' (consumer group alerting.group_id; replicas split its
partitions), evaluates the alarm definitions of the alarm store (alerting.store: SQLite, or
PostgreSQL for replicas; alerting.alarm_definitions are stored there at start-up), records
transitions and publishes them on 'alarm-state-transitions', and sends the notifications
of the definitions' actions (WEBHOOK, EMAIL, SLACK, PAGERDUTY) from the store's outbox.
${COMMON}`,
  'all-in-one': `Usage: kansoku all-in-one [--port N] [--config FILE]

Runs agent, server and alerting in one process on the in-process bus and the embedded
SQLite stores (server.sqlite.path, default ./data/kansoku.db; alarms in
alerting.store.sqlite_path, default ./data/alarms.db). Without a kubelet it measures
this machine's cgroups as tenant 'local'. Prints the API address and a token.

  --port N             the tenant API's port (default 8070)
${COMMON}`,
} as const;
