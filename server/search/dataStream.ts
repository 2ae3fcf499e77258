/**
 * Which data stream a tenant's logs go into. Tenant ids are made safe for an index name
 * (lower case, only `a-z 0-9 _ . -`, bounded), so two tenants may share a data stream:
 * every search filters on the exact `tenant.id` as well, the index is never what keeps
 * tenants apart.
 */
const TENANT = '{tenant}';
/** Index names are bounded at 255 bytes, and backing indices add `.ds-` and `-yyyy.mm.dd-000001`. */
const MAX_TENANT_CHARS = 100;
const MAX_NAME_CHARS = 200;

export function sanitiseTenant(tenantId: string): string {
  const safe = tenantId
    .toLowerCase()
    .replace(/[^a-z0-9_.-]+/g, '_')
    .slice(0, MAX_TENANT_CHARS);
  return safe.length === 0 ? '_' : safe;
}

export function dataStreamName(pattern: string, tenantId: string): string {
  const name = pattern.replace(TENANT, sanitiseTenant(tenantId)).replace(/^[-_+.]+/, '');
  return (name.length === 0 ? 'logs' : name).slice(0, MAX_NAME_CHARS);
}

/** Every data stream of the pattern (`logs-kansoku-*`): the index template's pattern. */
export function dataStreamWildcard(pattern: string): string {
  return pattern.replace(TENANT, '*');
}
