/** A loopback NDJSON receiver that can refuse (503) for a while, for delivery tests. */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export class HttpReceiver {
  refuse = false;
  /** Answers a body with this status instead of 200 when it returns one (e.g. 400, 413). */
  judge: ((lines: string[]) => number | undefined) | undefined;
  /** Answers 200 but sends the body one byte every `trickleMs` (a receiver that never quite finishes). */
  trickleMs = 0;
  /** Answers each accepted body after this delay (a slow receiver). */
  delayMs = 0;
  judged = 0;
  refused = 0;
  readonly lines: string[] = [];
  readonly headers: IncomingHttpHeaders[] = [];
  private server: Server | undefined;
  port = 0;

  /** Listens on `port` (0: any free port). */
  async start(port = 0): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (d: Buffer) => chunks.push(d));
      req.on('end', () => {
        if (this.refuse) {
          this.refused++;
          res.writeHead(503).end('busy');
          return;
        }
        const lines = Buffer.concat(chunks).toString('utf8').split('\n').filter(Boolean);
        const status = this.judge?.(lines);
        if (status !== undefined) {
          this.judged++;
          res.writeHead(status).end(`status ${status}`);
          return;
        }
        if (this.trickleMs > 0) {
          res.writeHead(200, { 'content-type': 'application/json' });
          const t = setInterval(() => (res.destroyed ? clearInterval(t) : res.write(' ')), this.trickleMs);
          res.on('close', () => clearInterval(t));
          return;
        }
        this.headers.push(req.headers);
        for (const l of lines) this.lines.push(l);
        if (this.delayMs > 0) {
          setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"text":"Success","code":0}'), this.delayMs);
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"text":"Success","code":0}');
      });
    });
    await new Promise<void>((r) => this.server!.listen(port, '127.0.0.1', r));
    this.port = (this.server!.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/ingest`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => this.server?.close(() => r()) ?? r());
  }
}

/** Checks that every number 0..n-1 arrived, first arrivals in order; returns the duplicate count. */
export function orderAndDuplicates(numbers: readonly number[], n: number): { missing: number[]; outOfOrder: number; duplicates: number } {
  const seen = new Set<number>();
  let outOfOrder = 0;
  let last = -1;
  for (const x of numbers) {
    if (seen.has(x)) continue;
    seen.add(x);
    if (x < last) outOfOrder++;
    last = x;
  }
  const missing: number[] = [];
  for (let i = 0; i < n; i++) if (!seen.has(i)) missing.push(i);
  return { missing, outOfOrder, duplicates: numbers.length - seen.size };
}
