/**
 * One sensor per host — precisely, per network namespace, which is what
 * owns the decoy ports: the sensor binds the abstract Unix socket
 * `@honeyport-sensor` before it opens anything else. The kernel releases an
 * abstract name when its last holder dies, so there is no stale lock after
 * a crash or SIGKILL, no path to create, own or chmod, and `--state-dir`
 * plays no part. A sensor that finds the name taken connects to it and
 * reads the holder's answer (one line, `honeyport <pid>`; at most
 * ANSWER_MAX_BYTES within QUERY_TIMEOUT_MS) to name it in the refusal.
 *
 * Limit, written down in the README: abstract names have no permissions,
 * so any local user of the namespace can bind the name first and keep the
 * sensor from starting. That is a denial of service only — the refusal
 * names the squatter as the kernel sees it (pid, command, uid; as root),
 * also one that answers like a sensor with another pid, and
 * a user who can run code here could as well occupy the decoy ports
 * themselves — and it never makes a second sensor start.
 */
import { createConnection, createServer, type Server } from 'node:net';
import { abstractSocketHolders, type SocketHolder } from './abstract-holder.js';
import { answerOnce, closeServerNow, ConnectionSet } from './answer-once.js';

export const HOST_LOCK_NAME = '\0honeyport-sensor';
const ANSWER_MAX_BYTES = 64;
const QUERY_TIMEOUT_MS = 1000;
const LOCK_LIMITS = { maxRequestBytes: 64, deadlineMs: 1000 } as const;

/** The lock is held by someone else; `message` is the one line for the user. */
export class HostLockError extends Error {}

function describeHolder(h: SocketHolder): string {
  return `pid ${h.pid} (${h.command}, uid ${h.uid})`;
}

type Holder = { kind: 'honeyport'; pid: number } | { kind: 'other'; said: string } | { kind: 'gone' };

function printable(name: string): string {
  return name.startsWith('\0') ? `@${name.slice(1)}` : name;
}

/** Asks whoever holds `name` who they are: bounded in size and time. */
function askHolder(name: string): Promise<Holder> {
  return new Promise((resolve) => {
    const c = createConnection(name);
    let text = '';
    const done = (h: Holder): void => {
      clearTimeout(timer);
      c.destroy();
      resolve(h);
    };
    const judge = (): void => {
      const m = /^honeyport (\d{1,10})\n/.exec(text);
      done(m ? { kind: 'honeyport', pid: Number(m[1]) } : { kind: 'other', said: text === '' ? 'no answer' : `answered ${JSON.stringify(text.slice(0, 32))}` });
    };
    const timer = setTimeout(judge, QUERY_TIMEOUT_MS);
    c.setEncoding('latin1');
    c.on('data', (d: string) => {
      text += d;
      if (text.length >= ANSWER_MAX_BYTES || text.includes('\n')) judge();
    });
    c.once('end', judge);
    c.once('error', (err: NodeJS.ErrnoException) => {
      // Refused: the name is bound by a socket that does not listen — a squatter too.
      if (err.code === 'ECONNREFUSED') done({ kind: 'other', said: 'it does not accept connections' });
      else done({ kind: 'gone' });
    });
  });
}

function listenOn(server: Server, name: string): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    server.once('error', resolve);
    server.listen(name, () => {
      server.off('error', resolve);
      resolve(undefined);
    });
  });
}

export class HostLock {
  private constructor(
    private readonly server: Server,
    private readonly clients: ConnectionSet,
  ) {}

  /** Takes the lock or rejects with HostLockError naming the holder. */
  static async acquire(name = HOST_LOCK_NAME): Promise<HostLock> {
    const clients = new ConnectionSet();
    // The holder may exit between our bind and our question: try twice.
    for (let attempt = 0; attempt < 2; attempt++) {
      const server = createServer((conn) => {
        clients.track(conn);
        answerOnce(conn, () => `honeyport ${process.pid}\n`, LOCK_LIMITS);
      });
      server.maxConnections = 16;
      const err = await listenOn(server, name);
      if (!err) {
        server.unref();
        return new HostLock(server, clients);
      }
      if (err.code !== 'EADDRINUSE') throw new HostLockError(`cannot take the sensor lock ${printable(name)}: ${err.message}`);
      const holder = await askHolder(name);
      if (holder.kind === 'gone') continue;
      // The kernel's view; empty when /proc does not tell (not root), then the answer is all we have.
      const seen = await abstractSocketHolders(name.slice(1));
      const claimed = holder.kind === 'honeyport' ? holder.pid : undefined;
      if (claimed !== undefined && (seen.length === 0 || seen.some((h) => h.pid === claimed))) {
        throw new HostLockError(`another honeyport sensor is running in this network namespace (pid ${claimed})`);
      }
      const said = holder.kind === 'honeyport' ? `it claims to be honeyport pid ${holder.pid}` : holder.said;
      const who = seen.length > 0 ? `${seen.map(describeHolder).join(', ')}, which is` : 'a process that is';
      throw new HostLockError(`the sensor lock ${printable(name)} is held by ${who} not a honeyport sensor (${said}); find it with: ss -xlp | grep ${printable(name)}`);
    }
    throw new HostLockError(`the sensor lock ${printable(name)} is taken and released repeatedly; try again`);
  }

  /** Releases the name (the kernel does too when the process ends). */
  release(): Promise<void> {
    return closeServerNow(this.server, this.clients);
  }
}
