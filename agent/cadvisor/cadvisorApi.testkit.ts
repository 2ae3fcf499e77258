/** Test helpers for the cAdvisor API source: the real v1.3 fixtures, and v2.0 responses made from them. */
import { readFileSync } from 'node:fs';
import type { CadvisorV2Payloads } from './cadvisorApiMetrics.js';

export type Json = Record<string, unknown>;

export function subcontainersFixture(version: '1.1' | '1.2'): Json[] {
  return JSON.parse(readFileSync(new URL(`../../test/fixtures/cadvisor-api/dd-agent__cadvisor_api_v1.3_subcontainers__k8s-${version}.json`, import.meta.url), 'utf8')) as Json[];
}

/**
 * The v2.0 responses cAdvisor would have given for the containers of a v1.3 fixture. No real
 * v2.0 response was available, so this follows cAdvisor's own conversion (`cmd/internal/api/
 * versions.go` statsAPI and specAPI, `info/v2/conversion.go` DeprecatedStatsFromV1 and
 * ContainerSpecFromV1): stats entries carry the spec's `has_*` flags and only
 * `network.interfaces`; specs carry aliases, namespace, labels and image; `count=1` keeps the
 * last entry; `type=docker` keeps Docker containers, the root comes from its own request.
 */
export function toV2(subcontainers: readonly Json[]): Required<CadvisorV2Payloads> & { readonly stats: Json; readonly specs: Json; readonly root: Json } {
  const stats: Json = {};
  const specs: Json = {};
  const root: Json = {};
  for (const info of subcontainers) {
    const name = info['name'] as string;
    const spec = info['spec'] as Json;
    const entries = info['stats'] as Json[];
    const last = entries[entries.length - 1] as Json;
    const flags = Object.fromEntries(Object.entries(spec).filter(([key]) => key.startsWith('has_')));
    const network = last['network'] as Json | undefined;
    const entry: Json = { ...flags, timestamp: last['timestamp'], cpu: last['cpu'], memory: last['memory'], diskio: last['diskio'], filesystem: last['filesystem'] };
    if (spec['has_network'] === true && network?.['interfaces'] !== undefined) entry['network'] = { interfaces: network['interfaces'] };
    if (name === '/') root[name] = [entry];
    if (info['namespace'] !== 'docker') continue;
    stats[name] = [entry];
    specs[name] = { ...spec, aliases: info['aliases'], namespace: info['namespace'] };
  }
  return { stats, specs, root };
}

