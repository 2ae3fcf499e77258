import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import type { LogEnvelope } from '../../core/envelope.js';
import { logRecordId } from '../../core/logRecordId.js';
import { encodeBatch, splitIntoRequests } from './bulkRequests.js';
import { LogSearchSectionSchema } from './config.js';
import { dataStreamName, dataStreamWildcard, sanitiseTenant } from './dataStream.js';
import { bulkCreateLines } from './logDocument.js';

const T0 = Date.UTC(2026, 0, 2, 3, 4, 5, 678);

function envelope(log: Partial<LogEnvelope['log']> = {}, tenantId = 'tenant-a'): LogEnvelope {
  return {
    log: { message: 'GET /cart 200', dimensions: {}, timestamp: T0, ...log },
    meta: { tenantId, region: 'eu-1' },
    creation_time: Math.floor(T0 / 1000),
  };
}

function parse(lines: string | undefined): { action: unknown; doc: Record<string, unknown> } {
  expect(lines).toBeDefined();
  const [action, doc, rest] = (lines as string).split('\n');
  expect(rest).toBe('');
  return { action: JSON.parse(action as string), doc: JSON.parse(doc as string) as Record<string, unknown> };
}

describe('bulkCreateLines', () => {
  it('writes a create action with the record id and an ECS document', () => {
    const e = envelope({
      level: 'error',
      origin: 'n1|f1|0',
      dimensions: { namespace: 'shop', pod_name: 'web-1', container_name: 'app', container_id: 'cri-o://abc', hostname: 'node-1', stream: 'stderr', 'app.kubernetes.io/name': 'web' },
    });
    const id = logRecordId(e);
    const { action, doc } = parse(bulkCreateLines(e, 'logs-kansoku-tenant-a', id));
    expect(action).toEqual({ create: { _index: 'logs-kansoku-tenant-a', _id: id } });
    expect(doc).toEqual({
      '@timestamp': T0,
      message: 'GET /cart 200',
      log: { level: 'error' },
      kubernetes: { namespace: 'shop', pod: { name: 'web-1' }, container: { name: 'app' } },
      container: { id: 'cri-o://abc' },
      host: { hostname: 'node-1' },
      stream: 'stderr',
      tenant: { id: 'tenant-a' },
      labels: e.log.dimensions,
      kansoku: {
        id,
        region: 'eu-1',
        dimensions: ['namespace=shop', 'pod_name=web-1', 'container_name=app', 'container_id=cri-o://abc', 'hostname=node-1', 'stream=stderr', 'app.kubernetes.io/name=web'],
        dimension_keys: ['namespace', 'pod_name', 'container_name', 'container_id', 'hostname', 'stream', 'app.kubernetes.io/name'],
      },
    });
  });

  const cases: { name: string; log: Partial<LogEnvelope['log']>; expected: Record<string, unknown> }[] = [
    { name: 'marks only when set', log: { truncated: true, split: true, parse_error: 'not CRI' }, expected: { truncated: true, split: true, parse_error: 'not CRI' } },
    { name: 'false marks are left out', log: { truncated: false, split: false }, expected: {} },
  ];
  for (const { name, log, expected } of cases) {
    it(name, () => {
      const { doc } = parse(bulkCreateLines(envelope(log), 'i', 'x'));
      expect(doc['kansoku']).toEqual({ id: 'x', region: 'eu-1', dimensions: [], dimension_keys: [], ...expected });
      expect(doc).not.toHaveProperty('log');
      expect(doc).not.toHaveProperty('kubernetes');
    });
  }

  it('takes the creation time when the line has none, and refuses a time that is not a number', () => {
    const { timestamp: _drop, ...noTime } = envelope().log;
    const { doc } = parse(bulkCreateLines({ ...envelope(), log: noTime }, 'i', 'x'));
    expect(doc['@timestamp']).toBe(Math.floor(T0 / 1000) * 1000);
    expect(bulkCreateLines(envelope({ timestamp: Number.NaN }), 'i', 'x')).toBeUndefined();
  });

  it('keeps hostile text as data: quotes, newlines, unicode and a __proto__ dimension', () => {
    const e = envelope({ message: '"}\n{"create":{}}\n\u2028 ünïcødé', dimensions: { __proto__x: 'a', ['__proto__']: '"b"' } });
    const { doc } = parse(bulkCreateLines(e, 'i', 'x'));
    expect(doc['message']).toBe(e.log.message);
    expect(Object.entries(doc['labels'] as object)).toEqual(Object.entries(e.log.dimensions));
  });
});

describe('dataStreamName', () => {
  const cases: { name: string; tenant: string; expected: string }[] = [
    { name: 'a Keystone project id stays as it is', tenant: '0a4b5c6d7e8f90a1b2c3d4e5f6a7b8c9', expected: 'logs-kansoku-0a4b5c6d7e8f90a1b2c3d4e5f6a7b8c9' },
    { name: 'lower case', tenant: 'Tenant-A', expected: 'logs-kansoku-tenant-a' },
    { name: 'characters an index name may not hold', tenant: 'a\\b/c*d?e"f<g>h|i,j#k:l m', expected: 'logs-kansoku-a_b_c_d_e_f_g_h_i_j_k_l_m' },
    { name: 'anything beyond a-z 0-9 _ . -', tenant: 'ünï+cødé', expected: 'logs-kansoku-_n_c_d_' },
    { name: 'an empty tenant', tenant: '', expected: 'logs-kansoku-_' },
    { name: 'bounded', tenant: 'x'.repeat(500), expected: `logs-kansoku-${'x'.repeat(100)}` },
  ];
  for (const { name, tenant, expected } of cases) it(name, () => expect(dataStreamName('logs-kansoku-{tenant}', tenant)).toBe(expected));

  it('strips what an index name may not start with when the tenant comes first', () => {
    expect(dataStreamName('{tenant}-logs', '-_+x')).toBe('x-logs');
    expect(sanitiseTenant('+')).toBe('_');
  });

  it('two tenants may share a stream (the search filters on the tenant id as well)', () => {
    expect(dataStreamName('logs-kansoku-{tenant}', 'A')).toBe(dataStreamName('logs-kansoku-{tenant}', 'a'));
  });

  it('the wildcard covers every tenant', () => {
    expect(dataStreamWildcard('logs-kansoku-{tenant}')).toBe('logs-kansoku-*');
  });
});

describe('config', () => {
  it('defaults pass, unknown keys and unsafe patterns do not', () => {
    const defaults = Value.Default(LogSearchSectionSchema, {});
    expect(Value.Check(LogSearchSectionSchema, defaults)).toBe(true);
    expect(Value.Check(LogSearchSectionSchema, { ...(defaults as object), nope: 1 })).toBe(false);
    for (const data_stream of ['Logs-{tenant}', 'logs-kansoku', 'logs/{tenant}', '-logs-{tenant}', 'logs-{tenant}-{tenant}']) {
      expect(Value.Check(LogSearchSectionSchema, { ...(defaults as object), data_stream }), data_stream).toBe(false);
    }
  });
});

describe('encodeBatch and splitIntoRequests', () => {
  it('encodes each record once with its tenant stream, and sets aside what cannot be stored', () => {
    const good = envelope({ origin: 'a' });
    const bad = envelope({ origin: 'b', timestamp: Number.POSITIVE_INFINITY });
    const { items, unencodable } = encodeBatch([good, bad], (tenant) => `s-${tenant}`);
    expect(items.map((i) => i.item)).toEqual([good]);
    expect(items[0]?.sizeBytes).toBe(Buffer.byteLength(items[0]?.lines ?? ''));
    expect(items[0]?.lines).toContain('"_index":"s-tenant-a"');
    expect(unencodable).toEqual([{ item: bad, reason: 'timestamp is not a finite number' }]);
  });

  const sized = (...sizes: number[]) => sizes.map((sizeBytes, i) => ({ sizeBytes, i }));
  const cases: { name: string; sizes: number[]; maxDocs: number; maxBytes: number; expected: number[][] }[] = [
    { name: 'by documents', sizes: [1, 1, 1, 1, 1], maxDocs: 2, maxBytes: 100, expected: [[0, 1], [2, 3], [4]] },
    { name: 'by bytes', sizes: [40, 40, 40, 10], maxDocs: 100, maxBytes: 90, expected: [[0, 1], [2, 3]] },
    { name: 'exactly at the byte limit', sizes: [45, 45, 45], maxDocs: 100, maxBytes: 90, expected: [[0, 1], [2]] },
    { name: 'an item bigger than the limit goes alone', sizes: [10, 200, 10], maxDocs: 100, maxBytes: 90, expected: [[0], [1], [2]] },
    { name: 'nothing', sizes: [], maxDocs: 10, maxBytes: 10, expected: [] },
  ];
  for (const { name, sizes, maxDocs, maxBytes, expected } of cases) {
    it(`splits ${name}`, () => expect(splitIntoRequests(sized(...sizes), maxDocs, maxBytes).map((r) => r.map((x) => x.i))).toEqual(expected));
  }
});
