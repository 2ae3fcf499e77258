import { describe, expect, it } from 'vitest';
import { StaticClusterMetadata } from './clusterMetadata.js';
import type { NamespaceMetadata } from './podMetadata.js';
import { isValidTenantId, TenantResolver, type TenantResolverSettings } from './tenancy.js';

const KEY = 'kansoku.io/tenant';

function ns(name: string, labels: Record<string, string> = {}, annotations: Record<string, string> = {}): NamespaceMetadata {
  return { name, labels, annotations };
}

const namespaces = [
  ns('labelled', { [KEY]: 'project-label' }, { [KEY]: 'project-annotation' }),
  ns('annotated', {}, { [KEY]: 'project-annotation' }),
  ns('mapped-and-labelled', { [KEY]: 'project-label' }),
  ns('bad-label', { [KEY]: '' }, { [KEY]: 'project-annotation' }),
  ns('bad-annotation', {}, { [KEY]: 'evil\nproject' }),
  ns('too-long', { [KEY]: 'x'.repeat(256) }),
  ns('other-key', { team: 'a' }),
  ns('custom-key', { 'example.com/project': 'project-custom' }),
];

const settings: TenantResolverSettings = { map: { 'mapped-and-labelled': 'project-map', mapped: 'project-map', 'bad-annotation': 'project-map' }, unmapped: 'namespace' };

describe('TenantResolver order: label, annotation, map, unmapped policy', () => {
  it.each<[string, TenantResolverSettings, string, string | undefined]>([
    ['the label wins over the annotation', settings, 'labelled', 'project-label'],
    ['the annotation when no label', settings, 'annotated', 'project-annotation'],
    ['the label wins over the map', settings, 'mapped-and-labelled', 'project-label'],
    ['an invalid label falls through to the annotation', settings, 'bad-label', 'project-annotation'],
    ['an invalid annotation falls through to the map', settings, 'bad-annotation', 'project-map'],
    ['an over-long label falls through to the policy', settings, 'too-long', 'too-long'],
    ['a namespace without the key: the map', settings, 'mapped', 'project-map'],
    ['neither: the namespace itself', settings, 'other-key', 'other-key'],
    ['an unknown namespace: the policy', settings, 'not-in-cluster', 'not-in-cluster'],
    ['drop policy', { map: {}, unmapped: 'drop' }, 'other-key', undefined],
    ['fixed-tenant policy', { map: {}, unmapped: { tenant: 'ops' } }, 'other-key', 'ops'],
    ['a configured key', { ...settings, namespaceKey: 'example.com/project' }, 'custom-key', 'project-custom'],
    ['a configured key ignores the default one', { ...settings, namespaceKey: 'example.com/project' }, 'labelled', 'labelled'],
  ])('%s', (_name, resolverSettings, namespace, tenant) => {
    const resolver = new TenantResolver(resolverSettings, new StaticClusterMetadata([], namespaces));
    expect(resolver.tenantOf(namespace)).toBe(tenant);
  });

  it('works without cluster metadata: map and policy only', () => {
    const resolver = new TenantResolver(settings);
    expect(resolver.tenantOf('mapped')).toBe('project-map');
    expect(resolver.tenantOf('labelled')).toBe('labelled');
  });

  it('follows a relabel as soon as the metadata has it', () => {
    const metadata = new StaticClusterMetadata([], [ns('team-a', { [KEY]: 'project-1' })]);
    const resolver = new TenantResolver(settings, metadata);
    expect(resolver.tenantOf('team-a')).toBe('project-1');
    metadata.setNamespace(ns('team-a', { [KEY]: 'project-2' }));
    expect(resolver.tenantOf('team-a')).toBe('project-2');
    metadata.setNamespace(ns('team-a'));
    expect(resolver.tenantOf('team-a')).toBe('team-a');
    metadata.deleteNamespace('team-a');
    expect(resolver.tenantOf('team-a')).toBe('team-a');
  });

  it('counts an invalid value once per namespace until the metadata changes', () => {
    const invalid: string[] = [];
    const metadata = new StaticClusterMetadata([], namespaces);
    const resolver = new TenantResolver(settings, metadata, { onInvalidTenant: (namespace, source) => invalid.push(`${namespace}:${source}`) });
    for (let i = 0; i < 3; i++) {
      resolver.tenantOf('bad-label');
      resolver.tenantOf('bad-annotation');
    }
    expect(invalid).toEqual(['bad-label:label', 'bad-annotation:annotation']);
    metadata.setNamespace(ns('unrelated'));
    resolver.tenantOf('bad-label');
    expect(invalid).toHaveLength(3);
  });
});

describe('isValidTenantId', () => {
  it.each([
    ['a Keystone project id', '8c3c6b0a5e4f4a57b0b7d0e5f4c3b2a1', true],
    ['spaces and unicode are fine', 'Équipe Ops', true],
    ['255 characters', 'x'.repeat(255), true],
    ['empty', '', false],
    ['256 characters', 'x'.repeat(256), false],
    ['a newline', 'a\nb', false],
    ['NUL', 'a\u0000b', false],
    ['DEL', 'a\u007fb', false],
    ['C1 control', 'a\u0085b', false],
  ])('%s', (_name, value, valid) => {
    expect(isValidTenantId(value)).toBe(valid);
  });
});
