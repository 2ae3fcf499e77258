import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startHttpReceiver, type HttpReceiver } from './httpReceiver.testkit.js';
import type { SendOutcome } from './sender.js';
import { refusedAddressReason, SafeHttpClient, sendOutcomeOf, validateNotificationAddress, type HttpResult, type ResolvedAddress, type SafeHttpOptions } from './safeHttp.js';

const base: SafeHttpOptions = { timeoutMs: 2_000, maxRequestBytes: 1024, maxResponseBytes: 64 * 1024, allowPrivateAddresses: false };

function client(overrides: Partial<SafeHttpOptions> = {}): SafeHttpClient {
  return new SafeHttpClient({ ...base, ...overrides });
}

/** A resolver that answers from a table and counts lookups, standing in for DNS. */
function fakeDns(table: Record<string, readonly ResolvedAddress[]>) {
  const calls: string[] = [];
  const resolve = async (hostname: string): Promise<readonly ResolvedAddress[]> => {
    calls.push(hostname);
    const found = table[hostname];
    if (!found) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return found;
  };
  return { resolve, calls };
}

describe('refusedAddressReason', () => {
  it.each([
    ['0.0.0.0', '"this network"'],
    ['0.1.2.3', '"this network"'],
    ['10.0.0.1', 'private (10/8)'],
    ['10.255.255.255', 'private (10/8)'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['100.127.255.254', 'carrier-grade NAT'],
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['169.254.169.254', 'link-local'],
    ['172.16.0.1', 'private (172.16/12)'],
    ['172.31.255.255', 'private (172.16/12)'],
    ['192.168.1.1', 'private (192.168/16)'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['fe80::1', 'link-local'],
    ['febf:ffff::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['fc00::1', 'unique-local'],
    ['fd12:3456:789a::1', 'unique-local'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'IPv4-mapped'],
    ['::ffff:7f00:1', 'IPv4-mapped'],
    ['::ffff:8.8.8.8', 'IPv4-mapped'],
    ['0:0:0:0:0:ffff:a00:1', 'IPv4-mapped'],
    ['::127.0.0.1', 'IPv4-compatible'],
    ['64:ff9b::10.0.0.1', 'private (10/8) via NAT64'],
    ['2002:a9fe:a9fe::1', 'link-local (169.254/16) via 6to4'],
  ])('%s is refused as %s', (address, reason) => {
    expect(refusedAddressReason(address)).toContain(reason);
  });

  it.each(['8.8.8.8', '1.1.1.1', '100.63.255.255', '100.128.0.0', '172.15.255.255', '172.32.0.0', '192.167.255.255', '169.253.0.1', '2606:4700:4700::1111', '2001:4860:4860::8888', '64:ff9b::8.8.8.8', '2002:808:808::1', 'fbff::1'])(
    '%s is public',
    (address) => {
      expect(refusedAddressReason(address)).toBeNull();
    },
  );
});

describe('validateNotificationAddress', () => {
  const strict = { allowPrivateAddresses: false };
  it.each([
    ['EMAIL', 'ops@example.com'],
    ['EMAIL', 'first.last+alerts@mail.example.co.uk'],
    ['WEBHOOK', 'https://hooks.example.com/kansoku?token=x'],
    ['WEBHOOK', 'http://203.0.113.10:8080/hook'],
    ['SLACK', 'https://hooks.slack.com/services/T000/B000/XXXX'],
    ['PAGERDUTY', 'a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4'],
  ])('%s %s is accepted', (type, address) => {
    expect(validateNotificationAddress(type, address, strict)).toEqual({ ok: true, value: address });
  });

  it.each([
    ['EMAIL', 'not-an-address', 'is not an email address'],
    ['EMAIL', 'ops@example', 'is not an email address'],
    ['EMAIL', 'ops@example.com\r\nBcc: victim@example.com', 'is not an email address'],
    ['EMAIL', 'two@@example.com', 'is not an email address'],
    ['WEBHOOK', 'not a url', 'is not a URL'],
    ['WEBHOOK', 'ftp://example.com/x', 'scheme "ftp" is not allowed'],
    ['WEBHOOK', 'file:///etc/passwd', 'scheme "file" is not allowed'],
    ['WEBHOOK', 'http://127.0.0.1:8080/hook', 'loopback'],
    ['WEBHOOK', 'http://localhost/hook', 'loopback'],
    ['WEBHOOK', 'http://api.localhost/hook', 'loopback'],
    ['WEBHOOK', 'http://169.254.169.254/latest/meta-data', 'link-local'],
    ['WEBHOOK', 'http://[::ffff:127.0.0.1]/', 'IPv4-mapped'],
    ['WEBHOOK', 'http://[fd00::1]/', 'unique-local'],
    ['WEBHOOK', 'http://2130706433/', 'loopback'],
    ['SLACK', 'http://10.1.2.3/hook', 'private'],
    ['PAGERDUTY', '', 'must not be empty'],
    ['PAGERDUTY', '   ', 'must not be empty'],
    ['PAGERDUTY', 'key with blanks', 'no blanks'],
    ['EVICT', 'x', 'no address rules'],
    ['WEBHOOK', `https://example.com/${'a'.repeat(600)}`, 'at most 512'],
  ])('%s %j fails: %s', (type, address, message) => {
    const result = validateNotificationAddress(type, address, strict);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toContain(message);
  });

  it('accepts internal URLs when private addresses are allowed', () => {
    expect(validateNotificationAddress('WEBHOOK', 'http://127.0.0.1:8080/hook', { allowPrivateAddresses: true }).ok).toBe(true);
    expect(validateNotificationAddress('WEBHOOK', 'ftp://127.0.0.1/', { allowPrivateAddresses: true }).ok).toBe(false);
  });
});

describe('sendOutcomeOf', () => {
  const response = (status: number, headers: Record<string, string> = {}): HttpResult => ({ kind: 'response', status, headers, responseBytesRead: 0, responseTruncated: false });
  it.each<[string, HttpResult, SendOutcome]>([
    ['200', response(200), { kind: 'sent' }],
    ['202', response(202), { kind: 'sent' }],
    ['204', response(204), { kind: 'sent' }],
    ['400', response(400), { kind: 'rejected', error: 'HTTP 400' }],
    ['401', response(401), { kind: 'rejected', error: 'HTTP 401' }],
    ['404', response(404), { kind: 'rejected', error: 'HTTP 404' }],
    ['408', response(408), { kind: 'retryable', error: 'HTTP 408' }],
    ['429 with Retry-After seconds', response(429, { 'retry-after': '7' }), { kind: 'retryable', error: 'HTTP 429', delayMs: 7_000 }],
    ['500', response(500), { kind: 'retryable', error: 'HTTP 500' }],
    ['503 with an HTTP-date', response(503, { 'retry-after': 'Thu, 01 Jan 1970 00:00:30 GMT' }), { kind: 'retryable', error: 'HTTP 503', delayMs: 20_000 }],
    ['a network failure', { kind: 'failed', retryable: true, error: 'connection failed' }, { kind: 'retryable', error: 'connection failed' }],
    ['a refusal', { kind: 'failed', retryable: false, error: 'refused: x' }, { kind: 'rejected', error: 'refused: x' }],
  ])('%s', (_name, result, expected) => {
    expect(sendOutcomeOf(result, 10_000)).toEqual(expected);
  });

  it('a redirect is rejected with where it pointed', () => {
    expect(sendOutcomeOf(response(302, { location: 'http://10.0.0.1/' }), 0)).toEqual({ kind: 'rejected', error: 'HTTP 302: redirect to "http://10.0.0.1/" not followed' });
  });
});

describe('SafeHttpClient against a local server', () => {
  let receiver: HttpReceiver;
  beforeAll(async () => {
    receiver = await startHttpReceiver();
  });
  afterAll(() => receiver.close());
  beforeEach(() => {
    (receiver.received as unknown[]).length = 0;
  });

  it('refuses 127.0.0.1 unless private addresses are allowed', async () => {
    const refused = await client().post(`${receiver.origin}/hook`, '{}', {});
    expect(refused).toEqual({ kind: 'failed', retryable: false, error: expect.stringContaining('127.0.0.1, a loopback (127/8) address') as unknown });
    expect(receiver.received).toHaveLength(0);
    const allowed = await client({ allowPrivateAddresses: true }).post(`${receiver.origin}/hook`, '{"a":1}', { 'content-type': 'application/json' });
    expect(allowed).toMatchObject({ kind: 'response', status: 200 });
    expect(receiver.received[0]).toMatchObject({ method: 'POST', path: '/hook' });
    expect(receiver.received[0]?.body.toString()).toBe('{"a":1}');
  });

  it.each([
    ['loopback', [{ address: '127.0.0.1', family: 4 }], 'loopback'],
    ['an IPv4-mapped loopback', [{ address: '::ffff:127.0.0.1', family: 6 }], 'IPv4-mapped'],
    ['a public and a private address', [{ address: '93.184.216.34', family: 4 }, { address: '10.0.0.5', family: 4 }], 'private (10/8)'],
    ['the metadata service', [{ address: '169.254.169.254', family: 4 }], 'link-local'],
  ] as const)('refuses a hostname that resolves to %s, checking every address', async (_name, addresses, reason) => {
    const dns = fakeDns({ 'hooks.example.test': addresses });
    const result = await client({ resolve: dns.resolve }).post(`http://hooks.example.test:${receiver.port}/hook`, '{}', {});
    expect(result.kind).toBe('failed');
    if (result.kind === 'failed') {
      expect(result.retryable).toBe(false);
      expect(result.error).toContain(reason);
      expect(result.error).toContain('allow_private_addresses');
    }
    expect(receiver.received).toHaveLength(0);
  });

  it('refuses localhost through the real resolver', async () => {
    const result = await client().postForOutcome(`http://localhost:${receiver.port}/hook`, '{}', {});
    expect(result).toMatchObject({ kind: 'rejected', error: expect.stringMatching(/localhost resolves to .*(loopback|IPv4-mapped)/) as unknown });
  });

  it('resolves once and connects to the checked address, keeping the hostname in Host', async () => {
    const dns = fakeDns({ 'hooks.example.test': [{ address: '127.0.0.1', family: 4 }] });
    const result = await client({ allowPrivateAddresses: true, resolve: dns.resolve }).post(`http://hooks.example.test:${receiver.port}/hook?x=1`, '{}', {});
    expect(result).toMatchObject({ kind: 'response', status: 200 });
    expect(dns.calls).toEqual(['hooks.example.test']);
    expect(receiver.received[0]?.headers.host).toBe(`hooks.example.test:${receiver.port}`);
    expect(receiver.received[0]?.path).toBe('/hook?x=1');
  });

  it.each(['ftp://127.0.0.1/x', 'file:///etc/passwd', 'gopher://127.0.0.1:70/', 'javascript:alert(1)', 'not a url'])('refuses %s before any connection', async (url) => {
    const result = await client({ allowPrivateAddresses: true }).postForOutcome(url, '{}', {});
    expect(result.kind).toBe('rejected');
    expect(receiver.received).toHaveLength(0);
  });

  it('does not follow a redirect', async () => {
    receiver.reply({ status: 302, headers: { location: `${receiver.origin}/elsewhere` } });
    const result = await client({ allowPrivateAddresses: true }).postForOutcome(`${receiver.origin}/hook`, '{}', {});
    expect(result).toEqual({ kind: 'rejected', error: `HTTP 302: redirect to "${receiver.origin}/elsewhere" not followed` });
    expect(receiver.received.map((r) => r.path)).toEqual(['/hook']);
  });

  it('reads at most max_response_bytes of a large response and still reports its status', async () => {
    receiver.reply({ status: 200, bodyBytes: 8 * 1024 * 1024 });
    const result = await client({ allowPrivateAddresses: true, maxResponseBytes: 64 * 1024 }).post(`${receiver.origin}/hook`, '{}', {});
    expect(result).toMatchObject({ kind: 'response', status: 200, responseBytesRead: 64 * 1024, responseTruncated: true });
  });

  it('reads a small response to its end', async () => {
    receiver.reply({ status: 500, bodyBytes: 100 });
    const result = await client({ allowPrivateAddresses: true }).post(`${receiver.origin}/hook`, '{}', {});
    expect(result).toMatchObject({ kind: 'response', status: 500, responseBytesRead: 100, responseTruncated: false });
  });

  it('gives up at the total timeout as retryable', async () => {
    receiver.reply({ status: 200, hang: true });
    const startedMs = Date.now();
    const result = await client({ allowPrivateAddresses: true, timeoutMs: 200 }).postForOutcome(`${receiver.origin}/hook`, '{}', {});
    expect(result).toEqual({ kind: 'retryable', error: 'no response within 200 ms' });
    expect(Date.now() - startedMs).toBeLessThan(2_000);
  });

  it('stops when the caller aborts, as retryable', async () => {
    receiver.reply({ status: 200, hang: true });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const result = await client({ allowPrivateAddresses: true, timeoutMs: 5_000 }).postForOutcome(`${receiver.origin}/hook`, '{}', {}, controller.signal);
    expect(result).toMatchObject({ kind: 'retryable', error: expect.stringContaining('aborted') as unknown });
  });

  it('rejects a body over max_request_bytes without sending it', async () => {
    const result = await client({ allowPrivateAddresses: true, maxRequestBytes: 10 }).postForOutcome(`${receiver.origin}/hook`, 'x'.repeat(11), {});
    expect(result).toEqual({ kind: 'rejected', error: 'refused: request body of 11 bytes is over max_request_bytes (10)' });
    expect(receiver.received).toHaveLength(0);
  });

  it('a refused connection and an unknown host are retryable', async () => {
    const closed = await startHttpReceiver();
    await closed.close();
    const refused = await client({ allowPrivateAddresses: true }).postForOutcome(`${closed.origin}/hook`, '{}', {});
    expect(refused).toMatchObject({ kind: 'retryable', error: expect.stringContaining('ECONNREFUSED') as unknown });
    const unknown = await client({ resolve: fakeDns({}).resolve }).postForOutcome('https://nowhere.example.test/hook', '{}', {});
    expect(unknown).toEqual({ kind: 'retryable', error: 'DNS lookup of nowhere.example.test failed: ENOTFOUND' });
  });
});
