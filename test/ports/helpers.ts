/** Loopback-only helpers for the port holder tests. */
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { Policy, PortProtocol } from '../../src/policy/policy.js';

export function policyOf(ports: readonly { port: number; protocol: PortProtocol }[]): Policy {
  return {
    name: 'test',
    os: 'linux',
    ports: [...ports].sort((a, b) => a.port - b.port),
    whitelist: [],
  };
}

export const LOOPBACK = { tcp: ['127.0.0.1'], tcp6: ['::1'] } as const;

/**
 * Ports that were free on both families a moment ago: a dual-stack probe on
 * '::' is bound to port 0 and released. `low` asks for one below 1024.
 */
export async function freePorts(count: number, low = false): Promise<number[]> {
  const ports: number[] = [];
  for (let attempt = 0; ports.length < count && attempt < 200; attempt++) {
    const wanted = low ? 900 + Math.floor(Math.random() * 120) : 0;
    const server = await listenOn({ host: '::', port: wanted }).catch(() => undefined);
    if (!server) continue;
    const port = (server.address() as { port: number }).port;
    await closeServer(server);
    if (!ports.includes(port)) ports.push(port);
  }
  if (ports.length < count) throw new Error('could not find free ports');
  return ports;
}

export function listenOn(options: { host: string; port: number; ipv6Only?: boolean }): Promise<Server> {
  const server = createServer((socket) => socket.destroy());
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options, () => resolve(server));
  });
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

export interface TestClient {
  readonly socket: Socket;
  /** Bytes the server sent us; must stay 0. */
  received(): number;
  /** Resolves when the socket closed (for any reason). */
  readonly closed: Promise<void>;
}

/** Connects; resolves once connected, rejects with the connect error (e.g. ECONNREFUSED). */
export function connectClient(host: string, port: number, localAddress?: string): Promise<TestClient> {
  return new Promise((resolve, reject) => {
    let received = 0;
    const socket = connect({ host, port, ...(localAddress ? { localAddress } : {}) });
    const closed = new Promise<void>((done) => socket.once('close', () => done()));
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
    });
    let connected = false;
    socket.once('connect', () => {
      connected = true;
      socket.on('error', () => undefined);
      resolve({ socket, received: () => received, closed });
    });
    socket.once('error', (error) => {
      if (!connected) reject(error);
    });
  });
}

/** Connect error code, or 'connected'. */
export async function tryConnect(host: string, port: number): Promise<string> {
  try {
    const client = await connectClient(host, port);
    client.socket.destroy();
    return 'connected';
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
}

/** Polls a condition; a bound on the wait, not an assertion about time. */
export async function waitFor(what: string, condition: () => boolean, limitMs = 5000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
