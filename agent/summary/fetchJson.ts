/**
 * One GET of a JSON document, over the kubelet source's HTTP client (`streamMetricsPage`):
 * credentials read at every call (projected service-account tokens are rotated on disk),
 * the pieces gathered and parsed once the body is complete. Every failure, bad JSON
 * included, comes back as a `fail`, never as a rejection.
 */
import { readFile } from 'node:fs/promises';
import type http from 'node:http';
import { fail, ok, type Checked } from '../../core/outcome.js';
import { streamMetricsPage } from '../kubelet/streamMetricsPage.js';

export interface JsonEndpoint {
  readonly bearerTokenFile?: string;
  readonly caFile?: string;
  readonly insecureSkipTlsVerify?: boolean;
  readonly timeoutMs: number;
  readonly maxBodyBytes: number;
}

export type JsonFailureKind = 'scrape' | 'payload';

export type JsonFetch = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly kind: JsonFailureKind; readonly error: string };

export async function fetchJson(url: string, endpoint: JsonEndpoint, agent: http.Agent, signal?: AbortSignal): Promise<JsonFetch> {
  const credentials = await readCredentials(endpoint);
  if (!credentials.ok) return { ok: false, kind: 'scrape', error: credentials.error };
  const pieces: string[] = [];
  const page = await streamMetricsPage(
    {
      url,
      headers: credentials.value.headers,
      ...(credentials.value.ca === undefined ? {} : { ca: credentials.value.ca }),
      rejectUnauthorized: endpoint.insecureSkipTlsVerify !== true,
      timeoutMs: endpoint.timeoutMs,
      maxBodyBytes: endpoint.maxBodyBytes,
      agent,
    },
    (text) => pieces.push(text),
    signal,
  );
  if (!page.ok) return { ok: false, kind: 'scrape', error: page.error };
  try {
    return { ok: true, value: JSON.parse(pieces.join('')) as unknown };
  } catch (error) {
    return { ok: false, kind: 'payload', error: `the body is not JSON: ${(error as Error).message}` };
  }
}

async function readCredentials(endpoint: JsonEndpoint): Promise<Checked<{ headers: Record<string, string>; ca?: string }>> {
  const headers: Record<string, string> = { accept: 'application/json' };
  try {
    if (endpoint.bearerTokenFile !== undefined) headers['authorization'] = `Bearer ${(await readFile(endpoint.bearerTokenFile, 'utf8')).trim()}`;
    if (endpoint.caFile === undefined) return ok({ headers });
    return ok({ headers, ca: await readFile(endpoint.caFile, 'utf8') });
  } catch (error) {
    return fail(`cannot read a credential file: ${(error as Error).message}`);
  }
}
