/**
 * JSON lines to a stream (stdout by default), honouring back-pressure. A
 * stream that errors (EPIPE: the reader went away) or is closed never comes
 * back: every send after that throws BrokenOutputError, which stops this
 * sink alone.
 */
import type { Writable } from 'node:stream';
import { BrokenOutputError, type Formatted, type Transport } from '../../entry.js';

export class StreamTransport implements Transport {
  private broken: string | undefined;
  private readonly failWaiters = new Set<(err: Error) => void>();

  constructor(private readonly out: Writable) {}

  encode(f: Formatted): string {
    return f.json;
  }

  async open(): Promise<void> {
    // Without a listener an EPIPE would be thrown from the stream and end the process.
    this.out.on('error', (err: NodeJS.ErrnoException) => this.fail(err.code ?? err.message));
    this.out.once('close', () => this.fail('closed'));
  }

  private fail(why: string): void {
    this.broken ??= why;
    const err = new BrokenOutputError(this.broken);
    for (const w of this.failWaiters) w(err);
    this.failWaiters.clear();
  }

  send(records: readonly string[]): Promise<void> {
    if (this.broken || this.out.destroyed || this.out.writableEnded) return Promise.reject(new BrokenOutputError(this.broken ?? 'closed'));
    return new Promise((resolve, reject) => {
      const done = (err?: Error): void => {
        this.failWaiters.delete(done);
        this.out.off('drain', onDrain);
        if (err) reject(err instanceof BrokenOutputError ? err : new BrokenOutputError((err as NodeJS.ErrnoException).code ?? err.message));
        else resolve();
      };
      const onDrain = (): void => done();
      this.failWaiters.add(done);
      const ok = this.out.write(`${records.join('\n')}\n`, (err) => {
        if (err) done(err);
        else if (ok) done();
      });
      if (!ok) this.out.once('drain', onDrain);
    });
  }

  async close(): Promise<void> {}
}
