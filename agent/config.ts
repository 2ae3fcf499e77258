import { Type, type Static } from '@sinclair/typebox';
import { section, strictObject, telemetrySection } from '../core/config.js';
import { KubernetesSectionSchema } from './kubernetes/config.js';

/** An HTTP(S) endpoint the agent scrapes, with the pod's ServiceAccount credentials. */
function endpoint(url: string) {
  return {
    enabled: Type.Boolean({ default: false }),
    url: Type.String({ default: url }),
    bearer_token_file: Type.Optional(Type.String({ description: 'read at every scrape: projected tokens are rotated on disk' })),
    ca_file: Type.Optional(Type.String()),
    insecure_skip_tls_verify: Type.Boolean({ default: false }),
    timeout_ms: Type.Integer({ minimum: 1, default: 10_000 }),
  };
}

/** The `tenants` section: which tenant a namespace's records belong to (the agent maps them). */
export const TenantsSectionSchema = section(
  {
    namespace_key: Type.String({
      minLength: 1,
      default: 'kansoku.io/tenant',
      description: "the namespace label (or else annotation) naming its tenant, a Keystone project id say; it comes first, then `map`, then `unmapped`",
    }),
    node_tenant: Type.String({ minLength: 1, default: 'local', description: "the tenant of the node's own measurements, which belong to no namespace (the operators' project)" }),
    map: Type.Record(Type.String(), Type.String(), { default: {}, description: 'namespace → tenant id (a Keystone project id, say)' }),
    unmapped: Type.Union([Type.Literal('namespace'), Type.Literal('drop'), strictObject({ tenant: Type.String({ minLength: 1 }) })], {
      default: 'namespace',
      description: 'what a namespace missing from the map belongs to: itself, nobody (dropped), or a fixed tenant',
    }),
  },
  'which tenant a namespace belongs to',
);

/** The `agent` section. Every default of the node agent is here. */
export const AgentSectionSchema = section(
  {
    telemetry: telemetrySection(8071),
    hostname: Type.Optional(Type.String({ minLength: 1, description: 'the node name; defaults to the machine host name' })),
    interval_seconds: Type.Number({ exclusiveMinimum: 0, default: 30 }),
    kubernetes: KubernetesSectionSchema,
    kubelet: section(
      {
        ...endpoint('https://127.0.0.1:10250/metrics/cadvisor'),
        format: Type.Union([Type.Literal('protobuf'), Type.Literal('text')], { default: 'protobuf', description: 'the exposition format asked for; a kubelet that answers the other one is read as well' }),
      },
      "the kubelet's /metrics/cadvisor",
    ),
    summary: section(endpoint('https://127.0.0.1:10250/stats/summary'), "the kubelet's /stats/summary (node, pod and volume figures, for clusters that restrict /metrics/cadvisor)"),
    cadvisor: section(endpoint('http://127.0.0.1:8080'), "a standalone cAdvisor's REST API (/api/v2.0/stats and /spec under this base URL)"),
    rates: section(
      {
        enabled: Type.Boolean({ default: true, description: 'emit per-second rates and percentages of limits alongside the cumulative values' }),
        stale_after_seconds: Type.Integer({ minimum: 1, default: 300, description: 'a series unseen this long starts again (its next value gives no rate)' }),
        max_series: Type.Integer({ minimum: 1, default: 500_000, description: 'counters remembered at most; the oldest go first, counted' }),
      },
      'rates of the cumulative counters',
    ),
    cardinality: section(
      {
        max_series_per_tenant: Type.Integer({ minimum: 1, default: 20_000, description: 'distinct series one tenant may have on this node; more are dropped, counted' }),
        max_series_total: Type.Integer({ minimum: 1, default: 200_000, description: 'distinct series on this node, all tenants' }),
        window_seconds: Type.Integer({ minimum: 1, default: 600, description: 'a series unseen this long no longer counts' }),
        log_every_seconds: Type.Integer({ minimum: 1, default: 60, description: 'a tenant over its cap is named in the log at most this often' }),
      },
      'the cap on distinct series per tenant and per node',
    ),
    cgroup: section(
      {
        enabled: Type.Boolean({ default: false }),
        root: Type.String({ default: '/sys/fs/cgroup' }),
        tenant: Type.String({ minLength: 1, default: 'local' }),
      },
      'the local cgroup hierarchy (v2, hybrid or v1), each cgroup a container',
    ),
    logs: section(
      {
        enabled: Type.Boolean({ default: false }),
        include: Type.String({ minLength: 1, default: '/var/log/containers/*.log', description: "files to follow: the kubelet's symlinks; * and ? in any path segment" }),
        checkpoint_path: Type.String({ minLength: 1, default: './data/log-checkpoints.json', description: 'where file offsets are kept (moved only past what the bus took)' }),
        start_at: Type.Union([Type.Literal('end'), Type.Literal('beginning')], { default: 'end', description: 'where files found at the very first start are read from; later files are read from their start' }),
        format: Type.Union([Type.Literal('auto'), Type.Literal('cri'), Type.Literal('docker')], { default: 'auto', description: 'CRI (containerd, CRI-O) or Docker json-file; auto decides per line' }),
        multiline: Type.Boolean({ default: true, description: 'join stack traces (Java, Python, Go, Node.js, Ruby, .NET) into one record' }),
        multiline_flush_ms: Type.Integer({ minimum: 1, default: 1_000, description: 'a stack trace still open this long is sent as it is' }),
        max_message_bytes: Type.Integer({ minimum: 1024, default: 256 * 1024, description: 'a longer message is split into records marked split' }),
        max_line_bytes: Type.Integer({ minimum: 1024, default: 1024 * 1024, description: 'the tailer reads longer lines in pieces' }),
        poll_interval_ms: Type.Integer({ minimum: 10, default: 250 }),
        read_budget_bytes: Type.Integer({ minimum: 4096, default: 1024 * 1024, description: 'bytes read from the files per turn at most' }),
        default_tenant: Type.String({ minLength: 1, default: 'local', description: "the tenant of files whose names are not the kubelet's (no namespace in them)" }),
        max_queued: Type.Integer({ minimum: 1, default: 20_000, description: 'records held in memory while the bus is away; then reading stops (or spills)' }),
        batch_size: Type.Integer({ minimum: 1, default: 2_000 }),
      },
      'container logs: tailed, parsed and published on the topic logs',
    ),
    spill: section(
      {
        enabled: Type.Boolean({ default: false, description: 'hold what the bus cannot take on disk, past the memory queue' }),
        dir: Type.String({ minLength: 1, default: './data/spill', description: 'one subdirectory per topic' }),
        max_bytes: Type.Integer({ minimum: 1024 * 1024, default: 256 * 1024 * 1024, description: 'per topic; the oldest go first when full, counted' }),
      },
      'the disk spill shared by metrics and logs',
    ),
    publisher: section(
      {
        max_queued: Type.Integer({ minimum: 1, default: 100_000, description: 'envelopes held while the bus is away; the oldest go first when full, counted' }),
        batch_size: Type.Integer({ minimum: 1, default: 5_000, description: 'envelopes handed to the bus per publish call' }),
        shutdown_flush_ms: Type.Integer({ minimum: 0, default: 5_000, description: 'how long a stopping agent keeps trying to publish what it holds' }),
      },
      'what the agent holds until the bus took it',
    ),
  },
  'the node agent',
);

export type TenantsSection = Static<typeof TenantsSectionSchema>;
export type AgentSection = Static<typeof AgentSectionSchema>;
