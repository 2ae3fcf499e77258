/**
 * Per-tenant copies of kansoku-logs.ndjson: each tenant's data view reads only its own data
 * stream, logs-kansoku-<tenant>, and its searches and dashboard point at that data view.
 *
 *   npx tsx dashboards/kibana/perTenant.ts t1 t2 > kansoku-logs-per-tenant.ndjson
 *
 * Ids and titles get the tenant as a suffix, so the copies can be imported into one Kibana
 * space side by side (or each into the tenant's own space).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface SavedObjectReference {
  id: string;
  name: string;
  type: string;
}

export interface SavedObject {
  id: string;
  type: string;
  attributes: Record<string, unknown>;
  references: SavedObjectReference[];
  [key: string]: unknown;
}

export const BASE_NDJSON_PATH = fileURLToPath(new URL('./kansoku-logs.ndjson', import.meta.url));

// A data stream name part: lowercase, and none of the characters Elasticsearch forbids in index names.
const TENANT_ID = /^[a-z0-9][a-z0-9_.]*$/;

export function parseNdjson(text: string): SavedObject[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as SavedObject);
}

function forTenant(object: SavedObject, tenantId: string): SavedObject {
  const copy = structuredClone(object);
  copy.id = `${object.id}-${tenantId}`;
  copy.references = object.references.map((reference) => ({ ...reference, id: `${reference.id}-${tenantId}` }));
  if (object.type === 'index-pattern') {
    copy.attributes.title = `logs-kansoku-${tenantId}`;
    copy.attributes.name = `${String(object.attributes.name)} (${tenantId})`;
  } else {
    copy.attributes.title = `${String(object.attributes.title)} (${tenantId})`;
  }
  return copy;
}

/** The base saved objects once per tenant, as ndjson. */
export function perTenantNdjson(baseNdjson: string, tenantIds: readonly string[]): string {
  const objects = parseNdjson(baseNdjson);
  const lines: string[] = [];
  for (const tenantId of tenantIds) {
    if (!TENANT_ID.test(tenantId)) throw new Error(`tenant id ${JSON.stringify(tenantId)} cannot name a data stream: use lowercase letters, digits, "_" and "."`);
    for (const object of objects) lines.push(JSON.stringify(forTenant(object, tenantId)));
  }
  return lines.map((line) => `${line}\n`).join('');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const tenantIds = process.argv.slice(2);
  if (tenantIds.length === 0) {
    console.error('usage: perTenant.ts TENANT_ID...');
    process.exit(2);
  }
  process.stdout.write(perTenantNdjson(readFileSync(BASE_NDJSON_PATH, 'utf8'), tenantIds));
}
