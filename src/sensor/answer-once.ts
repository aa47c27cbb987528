/**
 * Serves one answer on a local stream socket and makes sure the socket goes
 * away, whatever the client does. Used by the status socket and the host
 * lock, which any local user can connect to.
 *
 * Contract: the answer is written at once (the client need not send
 * anything); whatever the client sends is read and discarded, up to
 * `maxRequestBytes` (more closes the connection); the socket is destroyed
 * when the client has closed its side after the answer, or at
 * `deadlineMs` after accepting, whichever is first. A client that sends a
 * byte and half-closes (`echo | nc -U`), one that never reads, and one
 * that never closes therefore each cost one descriptor for at most the
 * deadline. Reading to the client's end, rather than closing right after
 * writing, is deliberate: closing a Unix socket with unread input makes
 * the peer's read fail with ECONNRESET, which a well-behaved client that
 * sent a request would see instead of the answer.
 */
import type { Server, Socket } from 'node:net';

export interface AnswerLimits {
  readonly maxRequestBytes: number;
  readonly deadlineMs: number;
}

/** Answers `conn` with `answer()` under `limits`; never throws. */
export function answerOnce(conn: Socket, answer: () => string, limits: AnswerLimits): void {
  const timer = setTimeout(() => conn.destroy(), limits.deadlineMs);
  timer.unref();
  conn.once('close', () => clearTimeout(timer));
  conn.on('error', () => conn.destroy());
  let received = 0;
  conn.on('data', (chunk: Buffer) => {
    received += chunk.length;
    if (received > limits.maxRequestBytes) conn.destroy();
  });
  // After our answer is written and the client's side has ended, nothing is left to do.
  conn.on('end', () => {
    if (conn.writableFinished) conn.destroy();
    else conn.once('finish', () => conn.destroy());
  });
  let text: string;
  try {
    text = answer();
  } catch {
    conn.destroy();
    return;
  }
  conn.end(text);
}

/**
 * Tracks a server's open connections so that `destroyAll` can end them: a
 * stop must not wait for a client (server.close() waits for every one).
 */
export class ConnectionSet {
  readonly #open = new Set<Socket>();

  track(conn: Socket): void {
    this.#open.add(conn);
    conn.once('close', () => this.#open.delete(conn));
  }

  get size(): number {
    return this.#open.size;
  }

  destroyAll(): void {
    for (const c of this.#open) c.destroy();
    this.#open.clear();
  }
}

/** Stops accepting, ends every tracked connection, resolves when the server is closed. */
export function closeServerNow(server: Server, open: ConnectionSet): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  open.destroyAll();
  return closed;
}
