/**
 * `honeyport status` talks to the running sensor over a Unix socket in the
 * state directory: the answer is live (not a file that may be stale), access
 * is the socket's file mode (0600: the sensor's user and root), and a dead
 * sensor shows as "not running" rather than as old numbers.
 *
 * Any local user who can reach the socket may be hostile, and so may the
 * socket the status command reads from. Server side: the state directory is
 * checked first (state-dir.ts), the socket is created under umask 0177 —
 * never chmod'ed by path, which would follow a link planted in its place —
 * at most MAX_STATUS_CLIENTS are served at once (more are closed at
 * accept), each gets the answer at once and is closed when it has ended its
 * side or after STATUS_LIMITS.deadlineMs (answer-once.ts), and close() ends
 * every client rather than waiting for them. Client side: the reply is read
 * up to MAX_REPLY_BYTES within a deadline, and control characters in it are
 * shown escaped, never sent raw to a terminal.
 */
import { lstat, unlink } from 'node:fs/promises';
import { createConnection, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { answerOnce, closeServerNow, ConnectionSet } from './answer-once.js';
import { prepareStateDir } from './state-dir.js';

export const SOCKET_NAME = 'honeyport.sock';
/** Status clients served at once; more are closed unanswered. */
export const MAX_STATUS_CLIENTS = 16;
const STATUS_LIMITS = { maxRequestBytes: 4096, deadlineMs: 2000 } as const;
/** A real status is a few KiB; the policy is at most 10 ports. */
export const MAX_REPLY_BYTES = 1 << 20;

/**
 * A Unix socket in the state directory; on Windows a named pipe named after
 * it (pipes live in their own namespace, so the file mode check does not
 * apply there: untested, see the README).
 */
export function socketPath(stateDir: string, platform: NodeJS.Platform = process.platform): string {
  if (platform === 'win32') return `\\\\.\\pipe\\honeyport-${stateDir.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
  return join(stateDir, SOCKET_NAME);
}

/** The state directory is unfit; the message is the one line for the user. */
export class StateDirError extends Error {}

function probe(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection(path);
    const timer = setTimeout(() => { c.destroy(); resolve(true); }, 1000);
    c.once('connect', () => { clearTimeout(timer); c.destroy(); resolve(true); });
    c.once('error', () => { clearTimeout(timer); resolve(false); });
  });
}

/** Binds `server` at `path` with no permission for group or others from the first instant. */
function listenPrivately(server: Server, path: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // A Unix socket is bound synchronously inside listen(): the umask covers exactly that bind.
    const previous = process.umask(0o177);
    try {
      server.listen(path, () => { server.off('error', reject); resolve(); });
    } finally {
      process.umask(previous);
    }
  });
}

export class ControlSocket {
  private constructor(
    private readonly server: Server,
    private readonly clients: ConnectionSet,
    readonly path: string,
  ) {}

  /**
   * Checks the state directory, then listens at stateDir/honeyport.sock.
   * Rejects with StateDirError for an unfit directory or a sensor already
   * answering there.
   */
  static async open(stateDir: string, status: () => unknown): Promise<ControlSocket> {
    try {
      await prepareStateDir(stateDir);
    } catch (err) {
      throw new StateDirError(`state directory ${stateDir} ${(err as Error).message}`);
    }
    const path = socketPath(stateDir);
    if (await probe(path)) throw new StateDirError(`state directory ${stateDir}: another honeyport answers at ${path}`);
    await unlink(path).catch(() => undefined); // a stale socket of a sensor that died
    const clients = new ConnectionSet();
    const server = createServer((conn) => {
      clients.track(conn);
      answerOnce(conn, () => `${JSON.stringify(status(), null, 2)}\n`, STATUS_LIMITS);
    });
    server.maxConnections = MAX_STATUS_CLIENTS;
    await listenPrivately(server, path);
    // A named pipe has no file mode; its access is the pipe's default ACL (untested, see the README).
    const st = process.platform === 'win32' ? undefined : await lstat(path);
    if (st !== undefined && (!st.isSocket() || (st.mode & 0o077) !== 0)) {
      await closeServerNow(server, clients);
      throw new StateDirError(`state directory ${stateDir}: ${path} is not a private socket after bind (mode ${(st.mode & 0o777).toString(8)})`);
    }
    server.unref();
    return new ControlSocket(server, clients, path);
  }

  /** Stops answering at once: open clients are ended, not waited for. */
  async close(): Promise<void> {
    await closeServerNow(this.server, this.clients);
    await unlink(this.path).catch(() => undefined);
  }
}

/**
 * Control characters (C0 but tab and newline, DEL, C1) as visible `\u00XX`
 * escapes: the reply comes from whatever listens at the path and must not
 * drive the terminal it is printed on.
 */
export function escapeControls(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Asks a running sensor for its status (the JSON text, control characters escaped); bounded in size and time. */
export function queryStatus(stateDir: string, timeoutMs = 3000, maxBytes = MAX_REPLY_BYTES): Promise<string> {
  const path = socketPath(stateDir);
  return new Promise((resolve, reject) => {
    const c = createConnection(path);
    const chunks: Buffer[] = [];
    let size = 0;
    const fail = (message: string, code?: string): void => {
      clearTimeout(timer);
      c.destroy();
      reject(Object.assign(new Error(`${path}: ${message}`), { code }));
    };
    const timer = setTimeout(() => fail(`no complete answer within ${timeoutMs} ms`), timeoutMs);
    c.on('data', (d: Buffer) => {
      size += d.length;
      if (size > maxBytes) fail(`answer larger than ${maxBytes} bytes: not a honeyport status`);
      else chunks.push(d);
    });
    c.once('end', () => {
      clearTimeout(timer);
      c.destroy();
      resolve(escapeControls(Buffer.concat(chunks).toString('utf8')));
    });
    c.once('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? 'no sensor is running' : err.message;
      fail(why, err.code);
    });
  });
}
