/**
 * Which tenant a namespace's data belongs to, read from the namespace itself when it says
 * so: a cluster admin labels (or annotates) a namespace with the Keystone project id, and
 * the agent follows a relabel as soon as the namespace informer has seen it. Namespaces
 * that say nothing fall back to the static map and the unmapped policy of core/tenant.ts.
 */
import { tenantOf, type TenantMapping } from '../../core/tenant.js';
import type { ClusterMetadata } from './clusterMetadata.js';

export const defaultTenantKey = 'kansoku.io/tenant';

export interface TenantResolverSettings extends TenantMapping {
  /** The namespace label, then annotation, naming the tenant; `kansoku.io/tenant` when absent. */
  readonly namespaceKey?: string;
}

export interface TenantResolverOptions {
  /** A namespace named a tenant that is not a valid tenant id; it was ignored. Called once per namespace and metadata version. */
  readonly onInvalidTenant?: (namespace: string, source: 'label' | 'annotation') => void;
}

const maxTenantLength = 255;

/** Non-empty, at most 255 characters, no control characters: what may become a tenant id. */
export function isValidTenantId(value: string): boolean {
  if (value.length === 0 || value.length > maxTenantLength) return false;
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return false;
  }
  return true;
}

export class TenantResolver {
  private readonly namespaceKey: string;
  private readonly mapping: TenantMapping;
  // Asked once per sample: answers are kept until the metadata changes.
  private readonly answers = new Map<string, string | undefined>();
  private answersVersion = -1;

  constructor(
    settings: TenantResolverSettings,
    private readonly metadata?: ClusterMetadata,
    private readonly options: TenantResolverOptions = {},
  ) {
    this.namespaceKey = settings.namespaceKey ?? defaultTenantKey;
    this.mapping = { map: settings.map, unmapped: settings.unmapped };
  }

  /** The tenant of a namespace's data, or undefined when it is to be dropped. */
  tenantOf(namespace: string): string | undefined {
    const version = this.metadata?.version ?? 0;
    if (version !== this.answersVersion) {
      this.answers.clear();
      this.answersVersion = version;
    }
    if (this.answers.has(namespace)) return this.answers.get(namespace);
    const tenant = this.resolve(namespace);
    this.answers.set(namespace, tenant);
    return tenant;
  }

  private resolve(namespace: string): string | undefined {
    const ns = this.metadata?.namespace(namespace);
    if (ns) {
      const label = ns.labels[this.namespaceKey];
      if (label !== undefined) {
        if (isValidTenantId(label)) return label;
        this.options.onInvalidTenant?.(namespace, 'label');
      }
      const annotation = ns.annotations[this.namespaceKey];
      if (annotation !== undefined) {
        if (isValidTenantId(annotation)) return annotation;
        this.options.onInvalidTenant?.(namespace, 'annotation');
      }
    }
    return tenantOf(namespace, this.mapping);
  }
}
