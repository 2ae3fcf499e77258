import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKafkaMockCluster, type KafkaMockCluster } from '../kafka/mockCluster.js';
import { startElasticsearch, type RunningSearchEngine } from '../search/searchEngine.js';
import { eventually, freePort, runKansoku, type KansokuProcess } from '../support/kansokuProcess.js';
import { kafkaEnv, PIPELINE_TOPICS } from '../support/pipelineFixtures.js';

/**
 * Container logs end to end on real processes and services: files in the kubelet's layout
 * → `kansoku agent` → Kafka (mock cluster) → `kansoku server` → Elasticsearch 8 → the
 * tenant API's log search and live tail, per tenant.
 */
const ID = (n: number): string => String(n).repeat(64).slice(0, 64);
const TOKENS = { shop: 'tok-shop', bank: 'tok-bank' } as const;

interface Element {
  id: string;
  timestamp: string;
  message: string;
  dimensions: Record<string, string>;
  level?: string;
}

const cri = (iso: string, stream: 'stdout' | 'stderr', tag: 'F' | 'P', text: string): string => `${iso} ${stream} ${tag} ${text}\n`;

describe('logs: agent → Kafka → server → Elasticsearch → tenant API', () => {
  let kafka: KafkaMockCluster;
  let es: RunningSearchEngine;
  let api: string;
  let logDir: string;
  const processes: KansokuProcess[] = [];

  const shopFile = (): string => join(logDir, `web-1_shop_nginx-${ID(1)}.log`);
  const bankFile = (): string => join(logDir, `ledger-0_bank_app-${ID(2)}.log`);

  beforeAll(async () => {
    [kafka, es] = await Promise.all([startKafkaMockCluster({ brokers: 1, topics: PIPELINE_TOPICS }), startElasticsearch()]);
    logDir = mkdtempSync(join(tmpdir(), 'kansoku-logs-e2e-'));
    mkdirSync(logDir, { recursive: true });
    writeFileSync(
      shopFile(),
      [
        cri('2026-11-26T06:00:00.000000001Z', 'stdout', 'F', '10.0.0.1 - - "GET /cart HTTP/1.1" 200 512'),
        cri('2026-11-26T06:00:01.000000000Z', 'stderr', 'F', 'java.lang.IllegalStateException: cart is gone'),
        cri('2026-11-26T06:00:01.000000100Z', 'stderr', 'F', '\tat shop.Cart.add(Cart.java:42)'),
        cri('2026-11-26T06:00:01.000000200Z', 'stderr', 'F', '\tat shop.Api.post(Api.java:7)'),
        cri('2026-11-26T06:00:02.000000000Z', 'stdout', 'P', 'partial line one '),
        cri('2026-11-26T06:00:02.000000100Z', 'stdout', 'F', 'and its end'),
        cri('2026-11-26T06:00:03.000000000Z', 'stdout', 'F', 'E1126 06:00:03.000000       1 reflector.go:138] shop watch failed'),
        'this is not a CRI line\n',
      ].join(''),
    );
    writeFileSync(bankFile(), cri('2026-11-26T06:00:00.500000000Z', 'stdout', 'F', 'ledger balanced: account secret-4242 total 1000'));

    const port = await freePort();
    api = `http://127.0.0.1:${port}`;
    const server = runKansoku(['server'], {
      ...kafkaEnv(kafka.brokers),
      KANSOKU_LOG_LEVEL: 'info',
      KANSOKU_SERVER__API__PORT: String(port),
      KANSOKU_AUTH_TOKENS: `${TOKENS.shop}:shop:monasca-user,${TOKENS.bank}:bank:monasca-user`,
      KANSOKU_SERVER__SQLITE__PATH: join(logDir, 'metrics.db'),
      KANSOKU_SERVER__LOGS__STORE: 'elasticsearch',
      KANSOKU_SERVER__LOGS__ELASTICSEARCH__URLS: es.url,
      KANSOKU_SERVER__LOGS__ELASTICSEARCH__NUMBER_OF_REPLICAS: '0',
    });
    processes.push(server);
    await server.waitFor(/tenant API listening/, 60_000);
    const agent = runKansoku(['agent'], {
      ...kafkaEnv(kafka.brokers),
      KANSOKU_LOG_LEVEL: 'warn',
      KANSOKU_AGENT__HOSTNAME: 'node-logs',
      KANSOKU_AGENT__TELEMETRY__ENABLED: 'false',
      KANSOKU_AGENT__LOGS__ENABLED: 'true',
      KANSOKU_AGENT__LOGS__INCLUDE: join(logDir, '*.log'),
      KANSOKU_AGENT__LOGS__START_AT: 'beginning',
      KANSOKU_AGENT__LOGS__CHECKPOINT_PATH: join(logDir, 'checkpoints.json'),
      KANSOKU_AGENT__LOGS__POLL_INTERVAL_MS: '100',
      KANSOKU_AGENT__LOGS__MULTILINE_FLUSH_MS: '300',
    });
    processes.push(agent);
  }, 240_000);

  afterAll(async () => {
    await Promise.allSettled(processes.map((p) => p.stop()));
    await Promise.allSettled([kafka?.stop(), es?.stop()]);
    if (logDir) rmSync(logDir, { recursive: true, force: true });
  });

  async function search(token: string, query: Record<string, string> = {}): Promise<{ status: number; elements: Element[]; body: unknown }> {
    const params = new URLSearchParams({ start_time: '2026-01-01T00:00:00Z', ...query });
    const res = await fetch(`${api}/v2.0/logs?${params.toString()}`, { headers: { 'x-auth-token': token } });
    const body = (await res.json()) as { elements?: Element[] };
    return { status: res.status, elements: body.elements ?? [], body };
  }

  const messages = (elements: readonly Element[]): string[] => elements.map((e) => e.message);

  it("delivers each tenant's lines, parsed, joined and levelled, newest first", async () => {
    const shop = await eventually(() => search(TOKENS.shop), (r) => r.elements.length >= 5, 90_000, 500);
    expect(shop.status, JSON.stringify(shop.body)).toBe(200);
    expect(messages(shop.elements)).toEqual([
      'this is not a CRI line',
      'E1126 06:00:03.000000       1 reflector.go:138] shop watch failed',
      'partial line one and its end',
      'java.lang.IllegalStateException: cart is gone\n\tat shop.Cart.add(Cart.java:42)\n\tat shop.Api.post(Api.java:7)',
      '10.0.0.1 - - "GET /cart HTTP/1.1" 200 512',
    ]);
    const [malformed, klog, , trace, access] = shop.elements as [Element, Element, Element, Element, Element];
    expect(trace.dimensions).toEqual({ hostname: 'node-logs', namespace: 'shop', pod_name: 'web-1', container_name: 'nginx', container_id: ID(1), stream: 'stderr' });
    expect(trace.level).toBe('error');
    expect(klog.level).toBe('error');
    expect(trace.timestamp).toBe('2026-11-26T06:00:01.000Z');
    expect(access.dimensions['stream']).toBe('stdout');
    expect(malformed).toMatchObject({ parse_error: expect.any(String) as string });

    const bank = await eventually(() => search(TOKENS.bank), (r) => r.elements.length >= 1, 30_000, 500);
    expect(messages(bank.elements)).toEqual(['ledger balanced: account secret-4242 total 1000']);
  }, 120_000);

  it('searches by words, phrase, level and dimensions', async () => {
    expect(messages((await search(TOKENS.shop, { q: 'CART gone' })).elements)).toEqual(['java.lang.IllegalStateException: cart is gone\n\tat shop.Cart.add(Cart.java:42)\n\tat shop.Api.post(Api.java:7)']);
    expect(messages((await search(TOKENS.shop, { q: '"watch failed"' })).elements)).toHaveLength(1);
    expect(messages((await search(TOKENS.shop, { level: 'error' })).elements)).toHaveLength(2);
    expect((await search(TOKENS.shop, { dimensions: 'stream:stdout' })).elements.every((e) => e.dimensions['stream'] === 'stdout')).toBe(true);
    expect((await search(TOKENS.shop, { limit: '2' })).elements).toHaveLength(2);
  });

  it("keeps tenants apart: bank's token finds nothing of shop, whatever it asks", async () => {
    // The shop's lines are there (proved above); bank asks for them every way it can.
    const crafted: Record<string, string>[] = [
      { q: 'cart' },
      { q: 'tenant.id:shop' },
      { q: '* OR cart' },
      { q: '{"match_all":{}}' },
      { dimensions: 'namespace:shop' },
      { dimensions: 'tenant.id:shop' },
      { dimensions: 'pod_name:web-1' },
      { q: 'cart', dimensions: 'namespace:shop|bank' },
    ];
    for (const query of crafted) {
      const found = await search(TOKENS.bank, query);
      expect([200, 422, 400], JSON.stringify(query)).toContain(found.status);
      expect(found.elements.filter((e) => e.dimensions['namespace'] !== 'bank'), JSON.stringify(query)).toEqual([]);
    }
    expect(messages((await search(TOKENS.bank, { q: 'secret' })).elements)).toEqual(['ledger balanced: account secret-4242 total 1000']);
    expect((await search('not-a-token', {})).status).toBe(401);
  });

  it("live tail: a tenant sees its new lines as they come, and never another's", async () => {
    const controller = new AbortController();
    const res = await fetch(`${api}/v2.0/logs/tail`, { headers: { 'x-auth-token': TOKENS.bank, accept: 'text/event-stream' }, signal: controller.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    // Both tenants write; bank must get its own line, and none of shop's.
    appendFileSync(shopFile(), cri('2026-11-26T06:10:00.000000000Z', 'stdout', 'F', 'shop tail line cart-77'));
    appendFileSync(bankFile(), cri('2026-11-26T06:10:00.000000000Z', 'stdout', 'F', 'bank tail line ledger-88'));
    const deadline = Date.now() + 60_000;
    while (!text.includes('ledger-88') && Date.now() < deadline) {
      const { value, done } = await Promise.race([reader.read(), new Promise<{ value: undefined; done: true }>((resolve) => setTimeout(() => resolve({ value: undefined, done: true }), deadline - Date.now()))]);
      if (done) break;
      text += Buffer.from(value).toString('utf8');
    }
    controller.abort();
    expect(text).toContain('ledger-88');
    // The shop's line was written first and is in its own search by now: bank's tail never had it.
    expect(messages((await eventually(() => search(TOKENS.shop, { q: 'cart-77' }), (r) => r.elements.length > 0, 30_000, 500)).elements)).toHaveLength(1);
    expect(text).not.toContain('cart-77');
    expect(text).not.toContain('cart is gone');
  }, 90_000);

  it('takes logs posted the Monasca way (POST /v3.0/logs) into the same search', async () => {
    const res = await fetch(`${api}/v3.0/logs`, {
      method: 'POST',
      headers: { 'x-auth-token': TOKENS.bank, 'content-type': 'application/json' },
      body: JSON.stringify({ dimensions: { service: 'ledger', hostname: 'app-1' }, logs: [{ message: 'posted through the API: audit-99', dimensions: { component: 'audit' } }] }),
    });
    expect(res.status).toBe(204);
    const found = await eventually(() => search(TOKENS.bank, { q: 'audit' }), (r) => r.elements.length > 0, 30_000, 500);
    expect(found.elements[0]).toMatchObject({ message: 'posted through the API: audit-99', dimensions: { service: 'ledger', hostname: 'app-1', component: 'audit' } });
    expect((await search(TOKENS.shop, { q: 'audit' })).elements).toEqual([]);
  });
});
