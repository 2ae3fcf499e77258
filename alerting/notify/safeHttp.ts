import { lookup as dnsLookup } from 'node:dns/promises';
import type { LookupAddress, LookupOneOptions, LookupAllOptions } from 'node:dns';
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { fail, ok, type Checked } from '../../core/outcome.js';
import { retryAfterMs } from '../../core/retryAfter.js';
import { rejectedOutcome, retryableOutcome, sent, type SendOutcome } from './sender.js';

/**
 * The one HTTP client every URL sender (WEBHOOK, SLACK, PAGERDUTY) goes through. A
 * notification URL is chosen by a tenant, so it must not become a way into the network
 * Kansoku runs in (SSRF): the host is resolved once, every address it resolves to is
 * checked, and the connection goes to the checked address (a pinned `lookup`), so a DNS
 * answer that changes between check and connect cannot swap in an internal one. No
 * redirects are followed (a 3xx could point anywhere), the whole request has one
 * deadline, and the response body is read only up to a bound and thrown away.
 */

export interface SafeHttpOptions {
  /** DNS, connect, send and response together. */
  readonly timeoutMs: number;
  readonly maxRequestBytes: number;
  readonly maxResponseBytes: number;
  /** Off by default; tests turn it on to reach 127.0.0.1. */
  readonly allowPrivateAddresses: boolean;
  /** Resolves a hostname to every address it has; tests replace it. */
  readonly resolve?: (hostname: string) => Promise<readonly ResolvedAddress[]>;
}

export interface ResolvedAddress {
  readonly address: string;
  readonly family: 4 | 6;
}

/** What one request came to: an HTTP status, or a failure before one arrived (refusals are not retryable). */
export type HttpResult =
  | { readonly kind: 'response'; readonly status: number; readonly headers: IncomingHttpHeaders; readonly responseBytesRead: number; readonly responseTruncated: boolean }
  | { readonly kind: 'failed'; readonly retryable: boolean; readonly error: string };

const USER_AGENT = 'kansoku-notifier';
const PRIVATE_HINT = 'set notification.http.allow_private_addresses to allow internal addresses';

export class SafeHttpClient {
  constructor(private readonly options: SafeHttpOptions) {}

  /** POSTs `body`; the outcome says whether to complete, retry (Retry-After honoured) or give up. */
  async postForOutcome(url: string, body: string | Uint8Array, headers: Readonly<Record<string, string>>, signal?: AbortSignal): Promise<SendOutcome> {
    return sendOutcomeOf(await this.post(url, body, headers, signal), Date.now());
  }

  async post(url: string, body: string | Uint8Array, headers: Readonly<Record<string, string>>, signal?: AbortSignal): Promise<HttpResult> {
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    if (bytes.length > this.options.maxRequestBytes) return refused(`request body of ${bytes.length} bytes is over max_request_bytes (${this.options.maxRequestBytes})`);
    const checkedUrl = checkHttpUrl(url);
    if (!checkedUrl.ok) return refused(checkedUrl.error);
    const target = checkedUrl.value;
    if (signal?.aborted) return { kind: 'failed', retryable: true, error: 'aborted before sending' };

    const timeout = AbortSignal.timeout(this.options.timeoutMs);
    const deadline = signal ? AbortSignal.any([timeout, signal]) : timeout;
    const describeAbort = (): HttpResult => ({
      kind: 'failed',
      retryable: true,
      error: signal?.aborted ? 'aborted (shutdown or lease deadline)' : `no response within ${this.options.timeoutMs} ms`,
    });

    const hostname = bareHostname(target.hostname);
    let addresses: readonly ResolvedAddress[];
    const literalFamily = isIP(hostname);
    if (literalFamily === 4 || literalFamily === 6) {
      addresses = [{ address: hostname, family: literalFamily }];
    } else {
      try {
        addresses = await untilAborted((this.options.resolve ?? resolveAll)(hostname), deadline);
      } catch (error) {
        if (deadline.aborted) return describeAbort();
        return { kind: 'failed', retryable: true, error: `DNS lookup of ${hostname} failed: ${errorCode(error)}` };
      }
      if (addresses.length === 0) return { kind: 'failed', retryable: true, error: `DNS lookup of ${hostname} returned no address` };
    }
    if (!this.options.allowPrivateAddresses) {
      for (const { address } of addresses) {
        const reason = refusedAddressReason(address);
        if (reason !== null) return refused(`${hostname} resolves to ${address}, a ${reason} address; ${PRIVATE_HINT}`);
      }
    }
    const pinned = addresses[0] as ResolvedAddress;
    return this.send(target, hostname, pinned, bytes, headers, deadline, describeAbort);
  }

  private send(target: URL, hostname: string, pinned: ResolvedAddress, bytes: Buffer, headers: Readonly<Record<string, string>>, deadline: AbortSignal, describeAbort: () => HttpResult): Promise<HttpResult> {
    const { maxResponseBytes } = this.options;
    return new Promise<HttpResult>((resolve) => {
      let settled = false;
      const settle = (result: HttpResult): void => {
        if (settled) return;
        settled = true;
        resolve(result);
      };
      const isHttps = target.protocol === 'https:';
      const request = (isHttps ? httpsRequest : httpRequest)({
        protocol: target.protocol,
        hostname,
        port: target.port === '' ? undefined : Number(target.port),
        path: `${target.pathname}${target.search}`,
        method: 'POST',
        auth: target.username === '' ? undefined : `${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}`,
        headers: { 'user-agent': USER_AGENT, ...headers, 'content-length': String(bytes.length) },
        // One connection per request: a pooled socket would outlive the address check it was made under.
        agent: false,
        // The connection goes to the address that was checked, whatever DNS says now.
        lookup: pinnedLookup(pinned),
        signal: deadline,
        ...(isHttps && isIP(hostname) === 0 ? { servername: hostname } : {}),
      });
      request.on('response', (response: IncomingMessage) => {
        let bytesRead = 0;
        const finish = (truncated: boolean): void =>
          settle({ kind: 'response', status: response.statusCode ?? 0, headers: response.headers, responseBytesRead: bytesRead, responseTruncated: truncated });
        response.on('data', (chunk: Buffer) => {
          bytesRead += chunk.length;
          // The body only ever explains a failure we do not log; past the bound it is cut off, not buffered.
          if (bytesRead > maxResponseBytes) {
            bytesRead = maxResponseBytes;
            finish(true);
            response.destroy();
          }
        });
        response.on('end', () => finish(false));
        // The status already arrived: a body cut short (or aborted at the deadline) does not change what it said.
        response.on('error', () => finish(true));
        response.on('close', () => finish(!response.complete));
      });
      request.on('error', (error) => {
        if (deadline.aborted) settle(describeAbort());
        else settle({ kind: 'failed', retryable: true, error: `connection to ${hostname} (${pinned.address}) failed: ${errorCode(error)}` });
      });
      request.end(bytes);
    });
  }
}

/** 2xx sent; 408, 429 and 5xx retryable with their Retry-After; 3xx and every other 4xx rejected. */
export function sendOutcomeOf(result: HttpResult, nowMs: number): SendOutcome {
  if (result.kind === 'failed') return result.retryable ? retryableOutcome(result.error) : rejectedOutcome(result.error);
  const { status } = result;
  if (status >= 200 && status < 300) return sent;
  if (status === 408 || status === 429 || status >= 500) {
    const retryAfter = retryAfterMs(headerText(result.headers['retry-after']), nowMs);
    return retryableOutcome(`HTTP ${status}`, retryAfter);
  }
  if (status >= 300 && status < 400) {
    const location = headerText(result.headers.location);
    return rejectedOutcome(`HTTP ${status}: redirect${location ? ` to ${JSON.stringify(location.slice(0, 200))}` : ''} not followed`);
  }
  return rejectedOutcome(`HTTP ${status}`);
}

export interface AddressRules {
  readonly allowPrivateAddresses: boolean;
}

/**
 * For the API on create and update: is this a usable address for a method of this type?
 * URLs are checked without DNS (the send checks what the name resolves to then).
 */
export function validateNotificationAddress(type: string, address: string, options: AddressRules): Checked<string> {
  if (address.length > 512) return fail(`address is ${address.length} characters; at most 512`);
  switch (type) {
    case 'EMAIL':
      return EMAIL_ADDRESS.test(address) && address.split('@')[0]!.length <= 64 ? ok(address) : fail(`${JSON.stringify(address)} is not an email address (name@domain.tld)`);
    case 'WEBHOOK':
    case 'SLACK': {
      const checked = checkHttpUrl(address);
      if (!checked.ok) return checked;
      if (!options.allowPrivateAddresses) {
        const hostname = bareHostname(checked.value.hostname);
        const reason = isIP(hostname) !== 0 ? refusedAddressReason(hostname) : isLocalhostName(hostname) ? 'loopback' : null;
        if (reason !== null) return fail(`${JSON.stringify(address)} points at a ${reason} address; notification URLs must be public`);
      }
      return ok(address);
    }
    case 'PAGERDUTY':
      if (address.trim() === '') return fail('a PagerDuty routing key must not be empty');
      // eslint-disable-next-line no-control-regex
      if (/[\s\u0000-\u001f\u007f]/.test(address)) return fail('a PagerDuty routing key has no blanks or control characters');
      return ok(address);
    default:
      return fail(`no address rules for notification type ${JSON.stringify(type)}; known: EMAIL, WEBHOOK, SLACK, PAGERDUTY`);
  }
}

// Printable ASCII local part as RFC 5322's dot-atom allows it, a domain of LDH labels; no blanks, so no header injection.
const EMAIL_ADDRESS = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$/;

function checkHttpUrl(url: string): Checked<URL> {
  if (!URL.canParse(url)) return fail(`${JSON.stringify(url.slice(0, 200))} is not a URL`);
  const parsed = new URL(url);
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return fail(`URL scheme ${JSON.stringify(parsed.protocol.slice(0, -1))} is not allowed; only http and https`);
  if (parsed.hostname === '') return fail('URL has no host');
  return ok(parsed);
}

function isLocalhostName(hostname: string): boolean {
  const name = hostname.toLowerCase().replace(/\.$/, '');
  return name === 'localhost' || name.endsWith('.localhost');
}

/** `[::1]` as URL.hostname gives it → `::1`. */
function bareHostname(hostname: string): string {
  return hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
}

// Ranges a tenant's URL may not reach: [network, prefix length, what it is].
const REFUSED_V4: readonly (readonly [string, number, string])[] = [
  ['0.0.0.0', 8, '"this network" (0.0.0.0/8)'],
  ['10.0.0.0', 8, 'private (10/8)'],
  ['100.64.0.0', 10, 'carrier-grade NAT (100.64/10)'],
  ['127.0.0.0', 8, 'loopback (127/8)'],
  ['169.254.0.0', 16, 'link-local (169.254/16)'],
  ['172.16.0.0', 12, 'private (172.16/12)'],
  ['192.0.0.0', 24, 'IETF protocol assignment (192.0.0/24)'],
  ['192.168.0.0', 16, 'private (192.168/16)'],
  ['198.18.0.0', 15, 'benchmarking (198.18/15)'],
  ['224.0.0.0', 4, 'multicast (224/4)'],
  ['240.0.0.0', 4, 'reserved or broadcast (240/4)'],
];

const REFUSED_V6: readonly (readonly [string, number, string])[] = [
  ['::', 128, 'unspecified (::)'],
  ['::1', 128, 'loopback (::1)'],
  // Mapped addresses reach IPv4 hosts through a v6 socket: refused whatever they map to.
  ['::ffff:0:0', 96, 'IPv4-mapped IPv6 (::ffff:0:0/96)'],
  ['::', 96, 'IPv4-compatible IPv6 (::/96)'],
  ['100::', 64, 'discard-only (100::/64)'],
  ['fc00::', 7, 'unique-local (fc00::/7)'],
  ['fe80::', 10, 'link-local (fe80::/10)'],
  ['fec0::', 10, 'site-local (fec0::/10)'],
  ['ff00::', 8, 'multicast (ff00::/8)'],
];

/** Why this IP may not be reached, or null when it is a public address. */
export function refusedAddressReason(address: string): string | null {
  const family = isIP(address);
  if (family === 4) return refusedV4(ipv4ToNumber(address));
  if (family !== 6) return 'unparseable';
  const value = ipv6ToBigInt(address.split('%')[0] as string);
  for (const [network, prefix, reason] of REFUSED_V6) {
    if (inPrefix(value, ipv6ToBigInt(network), prefix, 128)) return reason;
  }
  // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) carry an IPv4 address inside: judged by it.
  if (inPrefix(value, ipv6ToBigInt('64:ff9b::'), 96, 128)) return embedded(Number(value & 0xffffffffn), 'NAT64');
  if (inPrefix(value, ipv6ToBigInt('2002::'), 16, 128)) return embedded(Number((value >> 80n) & 0xffffffffn), '6to4');
  return null;
}

function embedded(v4: number, via: string): string | null {
  const reason = refusedV4(v4);
  return reason === null ? null : `${reason} via ${via}`;
}

function refusedV4(value: number): string | null {
  for (const [network, prefix, reason] of REFUSED_V4) {
    if (inPrefix(BigInt(value), BigInt(ipv4ToNumber(network)), prefix, 32)) return reason;
  }
  return null;
}

function inPrefix(value: bigint, network: bigint, prefix: number, bits: number): boolean {
  const shift = BigInt(bits - prefix);
  return value >> shift === network >> shift;
}

function ipv4ToNumber(address: string): number {
  return address.split('.').reduce((sum, part) => sum * 256 + Number(part), 0);
}

/** A valid IPv6 text (isIP said so) as 128 bits; a dotted IPv4 tail is read as the last two groups. */
function ipv6ToBigInt(address: string): bigint {
  let text = address;
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    const v4 = ipv4ToNumber(text.slice(lastColon + 1));
    text = `${text.slice(0, lastColon + 1)}${((v4 >>> 16) & 0xffff).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const [head = '', rest] = text.split('::') as [string, string | undefined];
  const headGroups = head === '' ? [] : head.split(':');
  const restGroups = rest === undefined || rest === '' ? [] : rest.split(':');
  const zeros = Array<string>(8 - headGroups.length - restGroups.length).fill('0');
  return [...headGroups, ...zeros, ...restGroups].reduce((sum, group) => (sum << 16n) | BigInt(parseInt(group, 16)), 0n);
}

async function resolveAll(hostname: string): Promise<readonly ResolvedAddress[]> {
  const found = await dnsLookup(hostname, { all: true, verbatim: true });
  return found.map(({ address, family }) => ({ address, family: family === 6 ? 6 : 4 }));
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** A `lookup` that answers every query with the one address already checked. */
function pinnedLookup(pinned: ResolvedAddress) {
  return (_hostname: string, options: LookupOneOptions | LookupAllOptions, callback: LookupCallback): void => {
    // Node 20 asks for every address (`all`) when it races IPv4 and IPv6; it gets the one.
    if ((options as LookupAllOptions).all) callback(null, [{ address: pinned.address, family: pinned.family }]);
    else callback(null, pinned.address, pinned.family);
  };
}

function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new Error('aborted'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

function refused(error: string): HttpResult {
  return { kind: 'failed', retryable: false, error: `refused: ${error}` };
}

function errorCode(error: unknown): string {
  const { code, message } = error as { code?: unknown; message?: unknown };
  return typeof code === 'string' ? code : typeof message === 'string' ? message : String(error);
}

function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
