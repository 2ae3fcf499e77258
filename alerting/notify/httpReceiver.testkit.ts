import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';

/**
 * An HTTP receiver on 127.0.0.1 for the URL senders' tests: records each request's raw
 * body bytes and headers (signatures are checked against the exact bytes) and answers
 * from a script, 200 once it runs out.
 */
export interface ScriptedReply {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** Bytes of filler sent as the body. */
  readonly bodyBytes?: number;
  /** Never answers (until the receiver closes): a timeout. */
  readonly hang?: boolean;
}

export interface ReceivedHttpRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  json(): unknown;
}

export interface HttpReceiver {
  /** http://127.0.0.1:<port> (no trailing slash). */
  readonly origin: string;
  readonly port: number;
  readonly received: readonly ReceivedHttpRequest[];
  reply(...replies: ScriptedReply[]): void;
  /** Bytes of response body the receiver managed to write before the client went away. */
  readonly bytesWritten: () => number;
  close(): Promise<void>;
}

export async function startHttpReceiver(): Promise<HttpReceiver> {
  const received: ReceivedHttpRequest[] = [];
  const script: ScriptedReply[] = [];
  let bytesWritten = 0;
  const server = createServer((req, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      received.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, json: () => JSON.parse(body.toString('utf8')) as unknown });
      const reply = script.shift() ?? { status: 200 };
      if (reply.hang) return;
      res.writeHead(reply.status, reply.headers);
      if (!reply.bodyBytes) return void res.end();
      // Written in 16 KiB pieces, each when the last drained, so `bytesWritten` shows how much the client took.
      let left = reply.bodyBytes;
      const piece = Buffer.alloc(16 * 1024, 0x61);
      const writeMore = (): void => {
        while (left > 0 && !res.destroyed) {
          const size = Math.min(left, piece.length);
          left -= size;
          bytesWritten += size;
          if (!res.write(piece.subarray(0, size))) return void res.once('drain', writeMore);
        }
        if (!res.destroyed) res.end();
      };
      writeMore();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    received,
    reply: (...replies) => script.push(...replies),
    bytesWritten: () => bytesWritten,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
