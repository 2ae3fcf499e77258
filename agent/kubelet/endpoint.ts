/**
 * Where a source scrapes, and how it proves who it is: the kubelet's port 10250 with the
 * pod's ServiceAccount token and the cluster CA, or plain HTTP (a standalone cAdvisor, tests).
 */
import type http from 'node:http';
import { readFile } from 'node:fs/promises';
import type { Counters } from '../../core/counters.js';
import { fail, ok, type Checked } from '../../core/outcome.js';
import { keepAliveAgent, type PageRequest } from './streamMetricsPage.js';

export interface EndpointOptions {
  readonly url: string;
  /** Read at every scrape, because projected service-account tokens are rotated on disk. */
  readonly bearerTokenFile?: string;
  readonly caFile?: string;
  readonly insecureSkipTlsVerify?: boolean;
  readonly timeoutMs: number;
  /** Pages larger than this are refused; 64 MiB by default, some 70 times a busy node's page. */
  readonly maxBodyBytes?: number;
}

/** What every source that scrapes one node's endpoint is given besides the endpoint. */
export interface NodeSourceOptions extends EndpointOptions {
  /** The node's name: the `hostname` dimension. */
  readonly hostname: string;
  readonly now: () => number;
  readonly counters: Counters;
}

const DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024;

/** One endpoint's requests, over one kept-alive connection. */
export class Endpoint {
  private readonly connection: http.Agent;

  constructor(readonly options: EndpointOptions) {
    this.connection = keepAliveAgent(options.url);
  }

  /** The request for one scrape, with the credentials as they are on disk now. */
  async request(headers: Readonly<Record<string, string>>, url = this.options.url): Promise<Checked<PageRequest>> {
    const { options } = this;
    const all: Record<string, string> = { ...headers };
    let ca: string | undefined;
    try {
      if (options.bearerTokenFile !== undefined) all['authorization'] = `Bearer ${(await readFile(options.bearerTokenFile, 'utf8')).trim()}`;
      if (options.caFile !== undefined) ca = await readFile(options.caFile, 'utf8');
    } catch (error) {
      return fail(`cannot read a credential file: ${(error as Error).message}`);
    }
    return ok({
      url,
      headers: all,
      ...(ca === undefined ? {} : { ca }),
      rejectUnauthorized: options.insecureSkipTlsVerify !== true,
      timeoutMs: options.timeoutMs,
      maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
      agent: this.connection,
    });
  }
}
