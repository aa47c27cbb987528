/** Binds one listener with exactly the policy's address family. */
import { createServer, type Server, type Socket } from 'node:net';
import type { ListenerKey } from './types.js';

export type ListenOutcome = { readonly ok: true; readonly server: Server } | { readonly ok: false; readonly error: unknown };

export function listen(key: ListenerKey, backlog: number, onSocket: (socket: Socket) => void): Promise<ListenOutcome> {
  // Paused so that refused connections are destroyed before a byte is read.
  const server = createServer({ allowHalfOpen: false, pauseOnConnect: true }, onSocket);
  return new Promise((resolve) => {
    const onError = (error: unknown): void => {
      server.removeListener('listening', onListening);
      server.close();
      resolve({ ok: false, error });
    };
    const onListening = (): void => {
      server.removeListener('error', onError);
      resolve({ ok: true, server });
    };
    server.once('error', onError);
    server.once('listening', onListening);
    // `tcp6` must not take the IPv4 port too: Node's '::' is dual-stack unless ipv6Only.
    server.listen({ port: key.port, host: key.address, ipv6Only: key.protocol === 'tcp6', backlog, exclusive: true });
  });
}

/** Closes a server; resolves once its handle is released (connections must already be gone). */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
  });
}
