import { describe, expect, it } from 'vitest';
import { Counters } from '../../core/counters.js';
import type { LogEnvelope, Metric } from '../../core/envelope.js';
import { StaticClusterMetadata } from '../kubernetes/clusterMetadata.js';
import type { PodMetadata } from '../kubernetes/podMetadata.js';
import { TenantResolver } from '../kubernetes/tenancy.js';
import { ENRICHMENT_COUNTERS, enrichWithPodMetadata, ownerDimension, type EnrichmentSettings } from './enrichWithPodMetadata.js';

const NOW_MS = 1_764_140_000_000;

function pod(name: string, overrides: Partial<PodMetadata> = {}): PodMetadata {
  return {
    uid: `uid-${name}`,
    namespace: 'shop',
    name,
    nodeName: 'node-1',
    labels: { app: 'cart', 'pod-template-hash': '59b6859788', team: 'payments' },
    annotations: { 'kansoku.io/cost-centre': 'cc-42', note: 'has {braces}' },
    owner: { kind: 'Deployment', name: 'cart' },
    containers: new Map([['cart', { name: 'cart', image: 'cart:1.2', imageId: 'sha256:abc', cpuLimitCores: 0.5, memoryLimitBytes: 268_435_456 }]]),
    ...overrides,
  };
}

function metric(dimensions: Record<string, string>, name = 'container.mem.used_bytes'): Metric {
  return { name, dimensions, timestamp: NOW_MS, value: 1, value_meta: null };
}

const SETTINGS: EnrichmentSettings = { podLabels: ['app', 'team'], podAnnotations: ['kansoku.io/cost-centre', 'note'], waitForMetadataMs: 0 };

function setUp(options: { settings?: Partial<EnrichmentSettings>; pods?: PodMetadata[]; map?: Record<string, string>; unmapped?: 'namespace' | 'drop' } = {}) {
  const counters = new Counters();
  const metadata = new StaticClusterMetadata(options.pods ?? [pod('cart-59b6859788-wskjx')], [
    { name: 'shop', labels: { 'kansoku.io/tenant': 'project-shop' }, annotations: {} },
    { name: 'ops', labels: {}, annotations: {} },
  ]);
  const tenants = new TenantResolver({ map: options.map ?? {}, unmapped: options.unmapped ?? 'namespace' }, metadata);
  const enrichment = enrichWithPodMetadata({ settings: { ...SETTINGS, ...options.settings }, tenants, metadata, region: 'region-1', counters, now: () => NOW_MS });
  return { counters, metadata, enrichment };
}

const CART = { namespace: 'shop', pod_name: 'cart-59b6859788-wskjx', container_name: 'cart', hostname: 'node-1' };

describe('enrichWithPodMetadata: metrics', () => {
  it('gives a container measurement its tenant (namespace label), owner, uid, allow-listed labels and annotations, image and image id', async () => {
    const { enrichment, counters } = setUp();
    const [envelope] = await enrichment.metrics([metric(CART)], 'operators');
    expect(envelope?.meta).toEqual({ tenantId: 'project-shop', region: 'region-1' });
    expect(envelope?.metric.dimensions).toEqual({
      ...CART,
      pod_uid: 'uid-cart-59b6859788-wskjx',
      deployment: 'cart',
      app: 'cart',
      team: 'payments',
      'kansoku.io/cost-centre': 'cc-42',
      image: 'cart:1.2',
      image_id: 'sha256:abc',
    });
    // The annotation with braces is not a valid Monasca dimension value: left out, counted.
    expect(counters.get(ENRICHMENT_COUNTERS.invalidValues)).toBe(1);
    expect(envelope?.creation_time).toBe(Math.floor(NOW_MS / 1000));
  });

  it('never overwrites a dimension the source gave', async () => {
    const { enrichment } = setUp();
    const [envelope] = await enrichment.metrics([metric({ ...CART, image: 'from-the-page:1' })], 'operators');
    expect(envelope?.metric.dimensions['image']).toBe('from-the-page:1');
  });

  it('gives a pod-level measurement (no container) the pod dimensions only', async () => {
    const { enrichment } = setUp();
    const [envelope] = await enrichment.metrics([metric({ namespace: 'shop', pod_name: 'cart-59b6859788-wskjx', interface: 'eth0', hostname: 'node-1' }, 'pod.net.in_bytes')], 'operators');
    expect(envelope?.metric.dimensions).toMatchObject({ deployment: 'cart', pod_uid: 'uid-cart-59b6859788-wskjx' });
    expect(envelope?.metric.dimensions['image']).toBeUndefined();
  });

  it('gives the fallback tenant to a measurement of no namespace, and leaves its dimensions alone', async () => {
    const { enrichment } = setUp();
    const node = metric({ hostname: 'node-1' }, 'node.cpu.total_time');
    const [envelope] = await enrichment.metrics([node], 'operators');
    expect(envelope?.meta.tenantId).toBe('operators');
    expect(envelope?.metric).toBe(node);
  });

  it.each<{ name: string; namespace: string; map: Record<string, string>; unmapped: 'namespace' | 'drop'; tenant: string | undefined }>([
    { name: 'namespace label first', namespace: 'shop', map: { shop: 'from-map' }, unmapped: 'namespace', tenant: 'project-shop' },
    { name: 'then the static map', namespace: 'ops', map: { ops: 'project-ops' }, unmapped: 'drop', tenant: 'project-ops' },
    { name: 'then the namespace itself', namespace: 'ops', map: {}, unmapped: 'namespace', tenant: 'ops' },
    { name: 'or dropped', namespace: 'ops', map: {}, unmapped: 'drop', tenant: undefined },
  ])('tenancy: $name', async ({ namespace, map, unmapped, tenant }) => {
    const { enrichment, counters } = setUp({ map, unmapped });
    const out = await enrichment.metrics([metric({ namespace, pod_name: 'p', hostname: 'node-1' }), metric({ hostname: 'node-1' })], 'operators');
    // The namespace-less one always passes: proof the batch was processed.
    expect(out.at(-1)?.meta.tenantId).toBe('operators');
    if (tenant === undefined) {
      expect(out).toHaveLength(1);
      expect(counters.get(ENRICHMENT_COUNTERS.unmapped, { kind: 'metrics' })).toBe(1);
    } else expect(out[0]?.meta.tenantId).toBe(tenant);
  });

  it('hands a series the same enriched dimensions object batch after batch, and a new one when its pod changes', async () => {
    const { enrichment, metadata } = setUp();
    const source = metric(CART);
    const [first] = await enrichment.metrics([source], 'x');
    const [second] = await enrichment.metrics([{ ...source, value: 2 }], 'x');
    expect(second?.metric.dimensions).toBe(first?.metric.dimensions);
    metadata.setPod(pod('cart-59b6859788-wskjx', { owner: { kind: 'StatefulSet', name: 'cart' } }));
    const [third] = await enrichment.metrics([source], 'x');
    expect(third?.metric.dimensions).not.toBe(first?.metric.dimensions);
    expect(third?.metric.dimensions['stateful_set']).toBe('cart');
  });

  it('follows a relabelled namespace on the next batch', async () => {
    const { enrichment, metadata } = setUp();
    expect((await enrichment.metrics([metric(CART)], 'x'))[0]?.meta.tenantId).toBe('project-shop');
    metadata.setNamespace({ name: 'shop', labels: { 'kansoku.io/tenant': 'project-new' }, annotations: {} });
    expect((await enrichment.metrics([metric(CART)], 'x'))[0]?.meta.tenantId).toBe('project-new');
  });

  it('waits a bounded time for a pod the informer does not know yet, once, then sends what it knows and counts it', async () => {
    const { enrichment, metadata, counters } = setUp({ pods: [], settings: { waitForMetadataMs: 200 } });
    const fresh = { namespace: 'shop', pod_name: 'cart-new', container_name: 'cart', hostname: 'node-1' };
    // Arrives while the batch waits: the batch goes out enriched.
    setTimeout(() => metadata.setPod(pod('cart-new')), 30);
    const started = Date.now();
    const [enriched] = await enrichment.metrics([metric(fresh)], 'x');
    expect(Date.now() - started).toBeLessThan(200);
    expect(enriched?.metric.dimensions['deployment']).toBe('cart');
    expect(counters.get(ENRICHMENT_COUNTERS.missing, { kind: 'metrics' })).toBe(0);

    // Never arrives: waits once, then goes out bare and counted.
    const ghost = { namespace: 'shop', pod_name: 'ghost', container_name: 'c', hostname: 'node-1' };
    const t0 = Date.now();
    const [bare] = await enrichment.metrics([metric(ghost)], 'x');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(150);
    expect(bare?.metric.dimensions).toEqual(ghost);
    expect(bare?.meta.tenantId).toBe('project-shop');
    expect(counters.get(ENRICHMENT_COUNTERS.missing, { kind: 'metrics' })).toBe(1);
    const t1 = Date.now();
    await enrichment.metrics([metric(ghost)], 'x');
    expect(Date.now() - t1).toBeLessThan(100);
    expect(counters.get(ENRICHMENT_COUNTERS.waits)).toBe(2);
  });

  it('gives a container’s limits from its pod spec', () => {
    const { enrichment } = setUp();
    expect(enrichment.limitsOf('shop', 'cart-59b6859788-wskjx', 'cart')).toMatchObject({ cpuLimitCores: 0.5, memoryLimitBytes: 268_435_456 });
    expect(enrichment.limitsOf('shop', 'nope', 'cart')).toBeUndefined();
  });
});

describe('enrichWithPodMetadata: logs', () => {
  const log = (dimensions: Record<string, string>, message: string): { envelope: LogEnvelope; fileKey: string } => ({
    envelope: { log: { message, dimensions }, meta: { tenantId: 'local', region: 'region-1' }, creation_time: 1 },
    fileKey: 'f',
  });

  it('re-homes a container’s lines to its namespace’s tenant with pod metadata, sharing one dimensions object per stream', async () => {
    const { enrichment } = setUp();
    const stream = { ...CART, stream: 'stdout', container_id: 'abc' };
    const { kept, dropped } = await enrichment.logs([log(stream, 'a'), log(stream, 'b'), log({ hostname: 'node-1', path: '/var/log/x.log' }, 'c')]);
    expect(dropped).toEqual([]);
    expect(kept.map((r) => r.envelope.meta.tenantId)).toEqual(['project-shop', 'project-shop', 'local']);
    expect(kept[0]?.envelope.log.dimensions).toMatchObject({ deployment: 'cart', app: 'cart', image: 'cart:1.2', pod_uid: 'uid-cart-59b6859788-wskjx', stream: 'stdout' });
    expect(kept[0]?.envelope.log.dimensions).toBe(kept[1]?.envelope.log.dimensions);
    expect(kept[0]?.fileKey).toBe('f');
  });

  it('drops (and counts) the lines of a namespace that maps to nobody, after keeping the others', async () => {
    const { enrichment, counters } = setUp({ unmapped: 'drop' });
    const { kept, dropped } = await enrichment.logs([log(CART, 'kept'), log({ namespace: 'ops', pod_name: 'p', container_name: 'c', hostname: 'node-1' }, 'dropped')]);
    expect(kept.map((r) => r.envelope.log.message)).toEqual(['kept']);
    expect(dropped.map((r) => r.envelope.log.message)).toEqual(['dropped']);
    expect(counters.get(ENRICHMENT_COUNTERS.unmapped, { kind: 'logs' })).toBe(1);
  });
});

describe('ownerDimension', () => {
  it.each([
    ['Deployment', 'deployment'],
    ['StatefulSet', 'stateful_set'],
    ['DaemonSet', 'daemon_set'],
    ['ReplicaSet', 'replica_set'],
    ['CronJob', 'cron_job'],
    ['Job', 'job'],
    ['ReplicationController', 'replication_controller'],
  ])('%s → %s', (kind, dimension) => expect(ownerDimension(kind)).toBe(dimension));
});
