/**
 * A stand-in InfluxDB HTTP server for unit tests: records every request and answers
 * from a script (204 when the script is empty), so that tests can show the sinks the
 * answers a healthy local influxd never gives: 429, 5xx, Retry-After, auth failures,
 * InfluxDB 2.x/3.x error bodies, a server that never answers.
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export type ScriptedAnswer = { readonly status: number; readonly body?: string; readonly headers?: Record<string, string> } | 'hang';

export interface RecordingInfluxdb {
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** Answers for the next requests, in order. */
  answer(...answers: ScriptedAnswer[]): void;
  close(): Promise<void>;
}

export async function startRecordingInfluxdb(): Promise<RecordingInfluxdb> {
  const requests: RecordedRequest[] = [];
  const script: ScriptedAnswer[] = [];
  const hanging = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      requests.push({ method: req.method ?? '', path: url.pathname, query: url.searchParams, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const next = script.shift() ?? { status: 204 };
      if (next === 'hang') {
        hanging.add(res);
        return;
      }
      res.writeHead(next.status, { 'content-type': 'application/json', ...next.headers });
      res.end(next.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    answer: (...answers) => script.push(...answers),
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
