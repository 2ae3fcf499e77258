import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';

/**
 * Stand-ins for the endpoints a source scrapes (the kubelet, cAdvisor), on 127.0.0.1, for
 * the tests of the sources built on `Endpoint`. `testEndpoints` is called once at the top
 * of a test file: the servers it starts and the token files it writes are closed and
 * removed after each test.
 */
export type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

const TLS = new URL('../../test/fixtures/tls/', import.meta.url);
/** The self-signed certificate the HTTPS stand-ins present: the CA file that trusts them. */
export const TEST_CERT_FILE = new URL('kubelet-test.crt', TLS).pathname;
const TEST_KEY_FILE = new URL('kubelet-test.key', TLS).pathname;

export interface TestEndpoints {
  /** Starts a server (HTTPS with the test certificate when `tls`); returns the URL of `path` on it. */
  readonly serve: (handler: Handler, tls?: boolean) => Promise<string>;
  /** Closes the server started last, so that its URL refuses connections. */
  readonly closeLast: () => Promise<void>;
  /** A file holding `content` in a directory of its own, e.g. a bearer token to rotate. */
  readonly tokenFile: (content: string) => string;
}

export function testEndpoints(path: string): TestEndpoints {
  const servers: http.Server[] = [];
  const tempDirs: string[] = [];
  afterEach(async () => {
    for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
    for (const server of servers.splice(0)) await close(server);
  });
  return {
    serve: async (handler, tls = false) => {
      const server = tls ? https.createServer({ cert: readFileSync(TEST_CERT_FILE), key: readFileSync(TEST_KEY_FILE) }, handler) : http.createServer(handler);
      servers.push(server);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as AddressInfo;
      return `${tls ? 'https' : 'http'}://127.0.0.1:${port}${path}`;
    },
    closeLast: async () => {
      const server = servers.pop();
      if (server !== undefined) await close(server);
    },
    tokenFile: (content) => {
      const dir = mkdtempSync(join(tmpdir(), 'kansoku-endpoint-'));
      tempDirs.push(dir);
      const file = join(dir, 'token');
      writeFileSync(file, content);
      return file;
    },
  };
}

/** A handler that answers every request with 200 and `body`. */
export const answerWith =
  (contentType: string, body: string): Handler =>
  (_req, res) => {
    res.writeHead(200, { 'content-type': contentType }).end(body);
  };

async function close(server: http.Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}
