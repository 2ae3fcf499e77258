/**
 * One GET of a JSON document from an endpoint (the kubelet's /stats/summary, cAdvisor's
 * REST API), over the same client as the metrics page: credentials read at every call,
 * the pieces gathered and parsed once the body is complete. Every failure, bad JSON
 * included, comes back as a failure of its kind, never as a rejection.
 */
import type { Endpoint } from './endpoint.js';
import { streamMetricsPage } from './streamMetricsPage.js';

export type JsonFailureKind = 'scrape' | 'payload';

export type JsonFetch = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly kind: JsonFailureKind; readonly error: string };

export async function fetchJson(endpoint: Endpoint, url: string, signal?: AbortSignal): Promise<JsonFetch> {
  const request = await endpoint.request({ accept: 'application/json' }, url);
  if (!request.ok) return { ok: false, kind: 'scrape', error: request.error };
  const pieces: string[] = [];
  const page = await streamMetricsPage(request.value, (text) => pieces.push(text), signal);
  if (!page.ok) return { ok: false, kind: 'scrape', error: page.error };
  try {
    return { ok: true, value: JSON.parse(pieces.join('')) as unknown };
  } catch (error) {
    return { ok: false, kind: 'payload', error: `the body is not JSON: ${(error as Error).message}` };
  }
}
