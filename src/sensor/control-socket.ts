/**
 * `honeyport status` talks to the running sensor over a Unix socket in the
 * state directory: the answer is live (not a file that may be stale), access
 * is the socket's file mode (0600: the sensor's user and root), and a dead
 * sensor shows as "not running" rather than as old numbers.
 */
import { chmod, mkdir, unlink } from 'node:fs/promises';
import { createConnection, createServer, type Server } from 'node:net';
import { join } from 'node:path';

export const SOCKET_NAME = 'honeyport.sock';

/**
 * A Unix socket in the state directory; on Windows a named pipe named after
 * it (pipes live in their own namespace, so the file mode check does not
 * apply there: untested, see the README).
 */
export function socketPath(stateDir: string, platform: NodeJS.Platform = process.platform): string {
  if (platform === 'win32') return `\\\\.\\pipe\\honeyport-${stateDir.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
  return join(stateDir, SOCKET_NAME);
}

function probe(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection(path);
    c.once('connect', () => { c.destroy(); resolve(true); });
    c.once('error', () => resolve(false));
  });
}

export class ControlSocket {
  private constructor(private readonly server: Server, readonly path: string) {}

  /** Listens at stateDir/honeyport.sock; refuses when another sensor answers there. */
  static async open(stateDir: string, status: () => unknown): Promise<ControlSocket> {
    await mkdir(stateDir, { recursive: true, mode: 0o750 });
    const path = socketPath(stateDir);
    if (await probe(path)) throw new Error(`another honeyport is running (it answers at ${path})`);
    await unlink(path).catch(() => undefined); // a stale socket of a sensor that died
    const server = createServer((conn) => {
      conn.on('error', () => undefined);
      conn.end(`${JSON.stringify(status(), null, 2)}\n`);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => { server.off('error', reject); resolve(); });
    });
    // A named pipe has no file mode; its access is the pipe's default ACL (untested).
    if (process.platform !== 'win32') await chmod(path, 0o600);
    server.unref();
    return new ControlSocket(server, path);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await unlink(this.path).catch(() => undefined);
  }
}

/** Asks a running sensor for its status (the raw JSON text). */
export function queryStatus(stateDir: string, timeoutMs = 3000): Promise<string> {
  const path = socketPath(stateDir);
  return new Promise((resolve, reject) => {
    const c = createConnection(path);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => { c.destroy(); reject(new Error(`${path}: no answer within ${timeoutMs} ms`)); }, timeoutMs);
    c.on('data', (d: Buffer) => chunks.push(d));
    c.once('end', () => { clearTimeout(timer); resolve(Buffer.concat(chunks).toString('utf8')); });
    c.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const why = err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? 'no sensor is running' : err.message;
      reject(Object.assign(new Error(`${path}: ${why}`), { code: err.code }));
    });
  });
}
