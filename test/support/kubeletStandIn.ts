import { createServer, type Server } from 'node:http';
import { textToProtobuf } from './protobufExposition.js';

export const PROTOBUF_CONTENT_TYPE = 'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited';

export interface KubeletStandIn {
  readonly url: string;
  readonly requests: () => number;
  /** Pages served in each format: a kubelet answers protobuf to whoever asks for it. */
  readonly served: (format: 'text' | 'protobuf') => number;
  readonly close: () => Promise<void>;
}

/**
 * A kubelet stand-in: serves a recorded /metrics/cadvisor page on 127.0.0.1, as text or,
 * when the Accept header asks for it (and `protobuf` is not false), as the delimited
 * protobuf encoding of the same page, the way client_golang's promhttp negotiates.
 */
export async function serveKubeletPage(page: string, options: { protobuf?: boolean } = {}): Promise<KubeletStandIn> {
  let requests = 0;
  const served = { text: 0, protobuf: 0 };
  let encoded: Buffer | undefined;
  const server: Server = createServer((req, res) => {
    requests++;
    if (req.url !== '/metrics/cadvisor') {
      res.writeHead(404).end();
      return;
    }
    if (options.protobuf !== false && (req.headers.accept ?? '').includes('application/vnd.google.protobuf')) {
      served.protobuf++;
      res.writeHead(200, { 'content-type': PROTOBUF_CONTENT_TYPE }).end((encoded ??= textToProtobuf(page)));
      return;
    }
    served.text++;
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(page);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/metrics/cadvisor`,
    requests: () => requests,
    served: (format) => served[format],
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
