import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

/**
 * A webhook receiver on 127.0.0.1 for tests: records every request and answers from a
 * script (200 once the script runs out). `hold` answers only when the test calls
 * `release`, or never (a timeout).
 */
export type ScriptedResponse = { readonly status: number; readonly headers?: Record<string, string> } | 'hold';

export interface ReceivedRequest {
  readonly method: string;
  readonly path: string;
  readonly contentType: string | undefined;
  readonly body: unknown;
}

export interface WebhookServer {
  readonly url: string;
  readonly received: readonly ReceivedRequest[];
  /** Answers the next requests with these, in order. */
  script(...responses: ScriptedResponse[]): void;
  /** Answers every held request with 200. */
  release(): void;
  close(): Promise<void>;
}

export async function startWebhookServer(): Promise<WebhookServer> {
  const received: ReceivedRequest[] = [];
  const script: ScriptedResponse[] = [];
  const held: ServerResponse[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = text;
      try {
        body = JSON.parse(text) as unknown;
      } catch {
        // Recorded as text: the test then fails on the shape, which says more than a crash here.
      }
      received.push({ method: req.method ?? '', path: req.url ?? '', contentType: req.headers['content-type'], body });
      const next = script.shift() ?? { status: 200 };
      if (next === 'hold') held.push(res);
      else res.writeHead(next.status, next.headers).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    script: (...responses) => script.push(...responses),
    release: () => {
      for (const res of held.splice(0)) res.writeHead(200).end();
    },
    close: () =>
      new Promise((resolve) => {
        for (const res of held.splice(0)) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
