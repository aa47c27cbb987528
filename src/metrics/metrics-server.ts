/**
 * The HTTP endpoint a Prometheus server scrapes: `GET /metrics` (HEAD too)
 * answers the exposition text; other paths 404, other methods 405, a
 * request before the sensor is up 503. Every answer closes the connection.
 *
 * Any host that reaches the address is a client, so every client is treated
 * as hostile, and a scraper must still be answered while others misbehave:
 *  - a connection lives at most `deadlineMs` from accept to close, whatever
 *    it does (trickled headers, an endless body, an answer it never reads):
 *    one timer per connection, no reliance on the peer;
 *  - request line and headers larger than `maxHeaderBytes` get Node's 431
 *    and a close;
 *  - at most `maxPerSource` connections per source address and
 *    `maxConnections` in all; when all are taken, a new connection takes the
 *    place of the oldest one that has not completed a request yet (a
 *    scraper sends its request within milliseconds of connecting, so it is
 *    not the one that goes; a slow-loris client is), and is refused only
 *    when every slot is busy answering.
 * Limits: a flood from more than maxConnections / maxPerSource addresses of
 * clients that request an answer and never read it can hold every slot for
 * up to `deadlineMs` at a time. There is no authentication: bind it to
 * loopback or a management network.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { ListenAddress } from './listen-address.js';

export interface MetricsServerLimits {
  readonly maxConnections: number;
  readonly maxPerSource: number;
  readonly deadlineMs: number;
  readonly maxHeaderBytes: number;
}

export const DEFAULT_METRICS_LIMITS: MetricsServerLimits = {
  maxConnections: 64,
  maxPerSource: 8,
  deadlineMs: 10_000,
  maxHeaderBytes: 8192,
};

export interface Exposition {
  readonly contentType: string;
  /** The text of one scrape. */
  render(): Promise<string>;
}

/** How connections ended other than by being answered; for tests and status. */
export interface MetricsServerCounters {
  /** Connections open now. */
  open: number;
  answered: number;
  /** Closed at accept: their source, or every slot, was taken. */
  refused: number;
  /** Closed to make room for a new connection before completing a request. */
  evicted: number;
  /** Closed by the deadline. */
  timedOut: number;
}

interface Slot {
  readonly source: string;
  readonly timer: NodeJS.Timeout;
  /** A complete request arrived: the connection is being answered. */
  requested: boolean;
}

export class MetricsServer {
  readonly counters: MetricsServerCounters = { open: 0, answered: 0, refused: 0, evicted: 0, timedOut: 0 };
  /** Open connections, oldest first (Map keeps insertion order). */
  private readonly slots = new Map<Socket, Slot>();
  private readonly perSource = new Map<string, number>();
  /** Until serve(): 503. */
  private exposition: Exposition | undefined;

  private constructor(
    private readonly server: Server,
    private readonly limits: MetricsServerLimits,
  ) {}

  /**
   * Listens (answering 503 until serve()); rejects with the listen error
   * (EADDRINUSE, EADDRNOTAVAIL, EACCES) as Node gives it. Neither the
   * server nor its connections keep the process alive: a sensor that fails
   * to start exits without closing it.
   */
  static async open(address: Pick<ListenAddress, 'host' | 'port'>, limits: MetricsServerLimits = DEFAULT_METRICS_LIMITS): Promise<MetricsServer> {
    const server = createServer({
      maxHeaderSize: limits.maxHeaderBytes,
      // Backstops; the per-connection deadline below is what bounds a connection.
      headersTimeout: limits.deadlineMs,
      requestTimeout: limits.deadlineMs,
      keepAlive: false,
      // HTTP/1.0 scrapers send no Host; the answer does not depend on it.
      requireHostHeader: false,
    });
    const m = new MetricsServer(server, limits);
    server.on('connection', (socket: Socket) => m.admit(socket));
    server.on('request', (req: IncomingMessage, res: ServerResponse) => void m.answer(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: address.host, port: address.port, exclusive: true }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    // After listening, an error is a failed accept (EMFILE): the server keeps listening.
    server.on('error', () => undefined);
    server.unref();
    return m;
  }

  /** From now on scrapes are answered from `exposition`. */
  serve(exposition: Exposition): void {
    this.exposition = exposition;
  }

  /** The port listened on (the given one, or the kernel's choice for port 0). */
  get port(): number {
    const a = this.server.address();
    return typeof a === 'object' && a !== null ? a.port : 0;
  }

  private admit(socket: Socket): void {
    const source = socket.remoteAddress ?? '';
    if ((this.perSource.get(source) ?? 0) >= this.limits.maxPerSource || !this.makeRoom()) {
      this.counters.refused++;
      socket.destroy();
      return;
    }
    const timer = setTimeout(() => {
      this.counters.timedOut++;
      // Freed now, as an eviction is: the socket's 'close' comes a turn or more later, and the slot is free already.
      this.release(socket);
      socket.destroy();
    }, this.limits.deadlineMs).unref();
    socket.unref();
    this.slots.set(socket, { source, timer, requested: false });
    this.perSource.set(source, (this.perSource.get(source) ?? 0) + 1);
    this.counters.open++;
    socket.once('close', () => this.release(socket));
  }

  /** True when a slot is free, after evicting the oldest connection still without a request if need be. */
  private makeRoom(): boolean {
    if (this.slots.size < this.limits.maxConnections) return true;
    for (const [socket, slot] of this.slots) {
      if (slot.requested) continue;
      this.counters.evicted++;
      this.release(socket);
      socket.destroy();
      return true;
    }
    return false;
  }

  private release(socket: Socket): void {
    const slot = this.slots.get(socket);
    if (!slot) return;
    clearTimeout(slot.timer);
    this.slots.delete(socket);
    const n = (this.perSource.get(slot.source) ?? 1) - 1;
    if (n > 0) this.perSource.set(slot.source, n);
    else this.perSource.delete(slot.source);
    this.counters.open--;
  }

  private async answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const slot = this.slots.get(req.socket);
    if (slot) slot.requested = true;
    res.shouldKeepAlive = false;
    const path = (req.url ?? '').split('?', 1)[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      this.reply(res, 405, 'only GET and HEAD\n', { Allow: 'GET, HEAD' });
      return;
    }
    if (path !== '/metrics') {
      this.reply(res, 404, 'not found: the metrics are at /metrics\n');
      return;
    }
    const exposition = this.exposition;
    if (exposition === undefined) {
      this.reply(res, 503, 'the sensor is starting\n', { 'Retry-After': '1' });
      return;
    }
    let text: string;
    try {
      text = await exposition.render();
    } catch {
      this.reply(res, 500, 'the metrics could not be rendered\n');
      return;
    }
    this.reply(res, 200, text, { 'Content-Type': exposition.contentType }, req.method === 'HEAD');
  }

  private reply(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}, headOnly = false): void {
    if (res.destroyed) return;
    const bytes = Buffer.from(body, 'utf8');
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...headers, 'Content-Length': bytes.length, Connection: 'close' });
    res.end(headOnly ? undefined : bytes);
    if (status === 200) this.counters.answered++;
  }

  /** Stops listening and closes every connection now. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of [...this.slots.keys()]) {
      this.release(socket);
      socket.destroy();
    }
    await closed;
  }
}
