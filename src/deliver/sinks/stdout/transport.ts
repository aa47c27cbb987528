/** JSON lines to a stream (stdout by default), honouring back-pressure. */
import type { Writable } from 'node:stream';
import type { Formatted, Transport } from '../../entry.js';

export class StreamTransport implements Transport {
  constructor(private readonly out: Writable) {}

  encode(f: Formatted): string {
    return f.json;
  }

  async open(): Promise<void> {}

  send(records: readonly string[]): Promise<void> {
    return new Promise((resolve, reject) => {
      const ok = this.out.write(`${records.join('\n')}\n`, (err) => {
        if (err) reject(err);
        else if (ok) resolve();
      });
      if (!ok) this.out.once('drain', resolve);
    });
  }

  async close(): Promise<void> {}
}
