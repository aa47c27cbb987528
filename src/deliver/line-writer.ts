/**
 * Buffers JSON lines and writes them to a stream in large chunks, honouring
 * back-pressure: a fast replay must not queue gigabytes in memory when the
 * reader of stdout is slow.
 */
import type { Writable } from 'node:stream';

const FLUSH_BYTES = 64 * 1024;

export class LineWriter {
  private parts: string[] = [];
  private bytes = 0;
  lines = 0;

  constructor(private readonly out: Writable) {}

  write(line: string): void {
    this.parts.push(line, '\n');
    this.bytes += line.length + 1;
    this.lines++;
  }

  get shouldFlush(): boolean {
    return this.bytes >= FLUSH_BYTES;
  }

  async flush(): Promise<void> {
    if (this.parts.length === 0) return;
    const chunk = this.parts.join('');
    this.parts = [];
    this.bytes = 0;
    if (!this.out.write(chunk)) {
      await new Promise<void>((resolve, reject) => {
        const onDrain = (): void => { this.out.off('error', onError); resolve(); };
        const onError = (err: Error): void => { this.out.off('drain', onDrain); reject(err); };
        this.out.once('drain', onDrain);
        this.out.once('error', onError);
      });
    }
  }
}
