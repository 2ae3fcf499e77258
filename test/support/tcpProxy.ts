import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 between a client under test and a real service, so that a test
 * can take the service "down" for that client alone and bring it back, without touching
 * the service itself (whose data the test then inspects directly).
 */
export interface TcpProxy {
  /** The port the proxy listens on; it stays the same across refuse() and forward(). */
  readonly port: number;
  /** `http://127.0.0.1:PORT`, for clients that take a base URL. */
  readonly url: string;
  /** Connections accepted and forwarded so far. */
  forwarded(): number;
  /** Stops listening (new connections get ECONNREFUSED, as from a stopped service) and cuts every open one. */
  refuse(): Promise<void>;
  /** Listens again on the same port and forwards to the target. */
  forward(): Promise<void>;
  close(): Promise<void>;
}

export interface TcpProxyOptions {
  /** Start in the refusing state: the port is reserved and then closed at once. */
  readonly refusing?: boolean;
}

export async function startTcpProxy(target: { host: string; port: number }, options: TcpProxyOptions = {}): Promise<TcpProxy> {
  const open = new Set<Socket>();
  let forwarded = 0;

  const server: Server = createServer((client) => {
    forwarded++;
    const upstream = connect(target.port, target.host);
    open.add(client);
    open.add(upstream);
    // Either side going away takes the other with it, as a real connection through a proxy would.
    const cut = (): void => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', cut).on('close', cut);
    upstream.on('error', cut).on('close', cut);
    client.pipe(upstream);
    upstream.pipe(client);
  });

  const listen = (port: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const onError = (error: Error): void => reject(new Error(`tcp proxy cannot listen on 127.0.0.1:${port}: ${error.message}`, { cause: error }));
      server.once('error', onError);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', onError);
        resolve();
      });
    });

  const stopListening = (): Promise<void> =>
    new Promise((resolve) => {
      for (const socket of open) socket.destroy();
      open.clear();
      if (!server.listening) return resolve();
      server.close(() => resolve());
    });

  await listen(0);
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('tcp proxy: no TCP port was assigned');
  const port = address.port;
  if (options.refusing) await stopListening();

  return {
    port,
    url: `http://127.0.0.1:${port}`,
    forwarded: () => forwarded,
    refuse: stopListening,
    forward: () => (server.listening ? Promise.resolve() : listen(port)),
    close: stopListening,
  };
}
