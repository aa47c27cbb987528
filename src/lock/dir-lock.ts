/**
 * An exclusive lock on a directory, held for the life of the process and
 * released by the kernel when the process dies — however it dies.
 *
 * Mechanism: a listening Unix socket in the abstract namespace named after
 * the directory's device and inode (`\0honeyport-lock:<dev>:<ino>`). Only one
 * socket can be bound to a name; the kernel unbinds it when the last file
 * descriptor closes, which includes SIGKILL and crashes. Unlike a pid file
 * there is no stale state (a reused pid cannot block a start), and unlike
 * flock(2) it needs no native code (Node has no flock). The holder answers
 * a connection with its pid, so a refusal can name the process.
 *
 * Limits: the abstract namespace belongs to a network namespace, so two
 * processes in different network namespaces sharing the directory (through
 * a shared mount) do not exclude each other. A directory removed and
 * recreated is a new inode, hence a new lock.
 */
import { stat } from 'node:fs/promises';
import { createConnection, createServer, type Server } from 'node:net';

export class DirectoryBusyError extends Error {}

export interface DirectoryLock {
  /** The abstract socket name (without the leading NUL), for diagnostics. */
  readonly name: string;
  release(): Promise<void>;
}

const ASK_TIMEOUT_MS = 500;

/** Takes the lock on `dir` (which must exist); DirectoryBusyError when another holder has it. */
export async function lockDirectory(dir: string): Promise<DirectoryLock> {
  const st = await stat(dir);
  const name = `honeyport-lock:${st.dev}:${st.ino}`;
  const server: Server = createServer((c) => c.end(`${process.pid}\n`));
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ path: `\0${name}` }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    const pid = await askHolder(name);
    throw new DirectoryBusyError(`${dir} is in use by ${pid ? `process ${pid}` : 'another process'}`);
  }
  // The lock must not keep the process alive on its own.
  server.unref();
  let released = false;
  return {
    name,
    release: async () => {
      if (released) return;
      released = true;
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** The holder's pid, or undefined when it does not answer in time. */
function askHolder(name: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const c = createConnection({ path: `\0${name}` });
    let text = '';
    const done = (): void => {
      clearTimeout(t);
      c.destroy();
      const pid = Number(text.trim());
      resolve(Number.isSafeInteger(pid) && pid > 0 ? pid : undefined);
    };
    const t = setTimeout(done, ASK_TIMEOUT_MS);
    c.setEncoding('utf8');
    c.on('data', (d: string) => {
      if (text.length < 32) text += d;
    });
    c.on('end', done);
    c.on('error', done);
  });
}
