import { describe, expect, it } from 'vitest';
import type { LogEnvelope } from '../core/envelope.js';
import { logKey } from './partitionKey.js';

const log = (dimensions: Record<string, string>): LogEnvelope => ({ log: { message: 'm', dimensions }, meta: { tenantId: 't', region: 'r' }, creation_time: 0 });

describe('logKey', () => {
  const cases: [string, Record<string, string>, string][] = [
    ['a container log: tenant, host, namespace, pod and container', { hostname: 'n1', namespace: 'shop', pod_name: 'web-1', container_name: 'nginx', stream: 'stdout' }, 't/n1/shop/web-1/nginx'],
    ['the other stream of the same container: the same key', { hostname: 'n1', namespace: 'shop', pod_name: 'web-1', container_name: 'nginx', stream: 'stderr' }, 't/n1/shop/web-1/nginx'],
    ['a log posted through the API: tenant and host', { hostname: 'app-1', service: 'ledger' }, 't/app-1'],
    ['no host at all', { service: 'ledger' }, 't/'],
  ];
  it.each(cases)('%s', (_name, dimensions, expected) => {
    expect(logKey(log(dimensions))).toBe(expected);
  });
});
