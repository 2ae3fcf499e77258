/**
 * The alarm store's tables, one text for SQLite and PostgreSQL alike: ids are TEXT, times
 * BIGINT epoch milliseconds, lists and objects JSON in TEXT (the stores only ever read them
 * whole), booleans INTEGER 0/1 (a JS boolean does not bind to an integer column in pg).
 *
 * Every index a tenant-facing query uses starts with tenant_id, so one tenant's query never
 * scans another's rows. The engine's and the notifier's own reads (a partition's alarms, the
 * due deliveries) cross tenants by design and have indexes of their own.
 *
 * Sub-alarms with their windows live in a JSON column of their alarm: the engine upserts an
 * alarm whole and reads a partition whole, so a child table would only add joins.
 */
export const ALARM_STORE_SCHEMA: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS alarm_definitions (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    expression TEXT NOT NULL,
    match_by TEXT NOT NULL,
    severity TEXT NOT NULL,
    alarm_actions TEXT NOT NULL,
    ok_actions TEXT NOT NULL,
    undetermined_actions TEXT NOT NULL,
    actions_enabled INTEGER NOT NULL,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
  )`,
  'CREATE INDEX IF NOT EXISTS alarm_definitions_by_tenant_name ON alarm_definitions (tenant_id, name)',
  // One row: bumped in the transaction of every definition change, so the engine polls one number.
  `CREATE TABLE IF NOT EXISTS definitions_revision (
    id INTEGER PRIMARY KEY,
    revision BIGINT NOT NULL
  )`,
  'INSERT INTO definitions_revision (id, revision) VALUES (1, 0) ON CONFLICT (id) DO NOTHING',
  `CREATE TABLE IF NOT EXISTS alarms (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    definition_id TEXT NOT NULL,
    match_by TEXT NOT NULL,
    metrics TEXT NOT NULL,
    state TEXT NOT NULL,
    lifecycle_state TEXT,
    link TEXT,
    partition_id INTEGER NOT NULL,
    sub_alarms TEXT NOT NULL,
    state_updated_at_ms BIGINT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
  )`,
  'CREATE INDEX IF NOT EXISTS alarms_by_tenant_definition ON alarms (tenant_id, definition_id)',
  'CREATE INDEX IF NOT EXISTS alarms_by_tenant_state ON alarms (tenant_id, state)',
  'CREATE INDEX IF NOT EXISTS alarms_by_partition ON alarms (partition_id)',
  `CREATE TABLE IF NOT EXISTS alarm_history (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    alarm_id TEXT NOT NULL,
    definition_id TEXT NOT NULL,
    old_state TEXT NOT NULL,
    new_state TEXT NOT NULL,
    reason TEXT NOT NULL,
    reason_data TEXT NOT NULL,
    sub_alarms TEXT NOT NULL,
    metrics TEXT NOT NULL,
    timestamp_ms BIGINT NOT NULL
  )`,
  'CREATE INDEX IF NOT EXISTS alarm_history_by_tenant_time ON alarm_history (tenant_id, timestamp_ms)',
  'CREATE INDEX IF NOT EXISTS alarm_history_by_tenant_alarm ON alarm_history (tenant_id, alarm_id, timestamp_ms)',
  `CREATE TABLE IF NOT EXISTS notification_methods (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    address TEXT NOT NULL,
    period_seconds INTEGER NOT NULL,
    secret TEXT,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
  )`,
  'CREATE INDEX IF NOT EXISTS notification_methods_by_tenant_name ON notification_methods (tenant_id, name)',
  // The outbox. A row is leased (leased_by, lease_until_ms) while one notifier sends it; an
  // expired lease makes it claimable again, so a notifier that died does not lose it. Its
  // outcome is written only by the lease holder; claims counts the leases, so a delivery
  // whose holders keep dying is seen (and given up).
  `CREATE TABLE IF NOT EXISTS deliveries (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    transition_id TEXT NOT NULL,
    alarm_id TEXT NOT NULL,
    method_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    due_at_ms BIGINT NOT NULL,
    attempts INTEGER NOT NULL,
    claims INTEGER NOT NULL,
    last_error TEXT,
    leased_by TEXT,
    lease_until_ms BIGINT
  )`,
  'CREATE INDEX IF NOT EXISTS deliveries_by_due ON deliveries (due_at_ms)',
  'CREATE INDEX IF NOT EXISTS deliveries_by_tenant_alarm ON deliveries (tenant_id, alarm_id)',
  'CREATE INDEX IF NOT EXISTS deliveries_by_tenant_method ON deliveries (tenant_id, method_id)',
  // Kafka offsets are 64-bit: kept as text so no dialect rounds them through a double.
  `CREATE TABLE IF NOT EXISTS engine_offsets (
    partition_id INTEGER PRIMARY KEY,
    next_offset TEXT NOT NULL
  )`,
];

/** The tables that hold records (the revision counter aside): what a test empties between cases. */
export const ALARM_STORE_TABLES = ['alarm_definitions', 'alarms', 'alarm_history', 'notification_methods', 'deliveries', 'engine_offsets'] as const;

/**
 * The store's SQL is written with `?` placeholders; PostgreSQL numbers them (`$1`, `$2`…).
 * A `?` inside a quoted literal is left alone.
 */
export function toPostgresPlaceholders(sql: string): string {
  let next = 0;
  let quoted = false;
  let out = '';
  for (const char of sql) {
    if (char === "'") quoted = !quoted;
    if (char === '?' && !quoted) out += `$${++next}`;
    else out += char;
  }
  return out;
}
