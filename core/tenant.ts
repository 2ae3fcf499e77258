/**
 * Namespace → tenant. In OpenStack a Keystone project maps to a Kubernetes namespace;
 * by default the tenant id is the namespace's name, and an explicit map can give the
 * Keystone project id instead. Namespaces that map to nothing are dropped when
 * `unmapped` is `drop` (system namespaces of a shared cluster, say).
 */
export interface TenantMapping {
  readonly map: Readonly<Record<string, string>>;
  readonly unmapped: 'namespace' | 'drop' | { readonly tenant: string };
}

export const defaultTenantMapping: TenantMapping = { map: {}, unmapped: 'namespace' };

/** The tenant a namespace's data belongs to, or undefined when it is to be dropped. */
export function tenantOf(namespace: string, mapping: TenantMapping): string | undefined {
  const mapped = mapping.map[namespace];
  if (mapped !== undefined) return mapped;
  if (mapping.unmapped === 'namespace') return namespace;
  if (mapping.unmapped === 'drop') return undefined;
  return mapping.unmapped.tenant;
}
