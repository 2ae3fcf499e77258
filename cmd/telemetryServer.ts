import { createServer, type Server } from 'node:http';
import type { Counters } from '../core/counters.js';

/**
 * What a daemon without the tenant API (the agent, alerting alone) still owes its
 * operator: `/metrics` in Prometheus text for a scraper, `/healthz` for a liveness probe.
 * Bound to loopback by default; nothing here is tenant data.
 */
export interface TelemetryServer {
  readonly url: string;
  close(): Promise<void>;
}

export async function startTelemetryServer(counters: Counters, host: string, port: number): Promise<TelemetryServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (path === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(counters.render());
    } else if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics or /healthz\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
