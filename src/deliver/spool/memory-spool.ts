/** The spool when no spool directory is configured: bounded, in memory, lost on restart. */
import type { Entry, LossInfo } from '../entry.js';
import { mergeLoss, type LossListener, type Spool, type SpoolChunk, type SpoolCursor } from './spool.js';

export class MemorySpool implements Spool {
  private items: Entry[] = [];
  private head = 0;
  /** Count of entries ever removed from the front: cursors are absolute indexes. */
  private base = 0;
  bytes = 0;

  constructor(private readonly maxBytes: number, private readonly onLoss: LossListener) {}

  get count(): number {
    return this.items.length - this.head;
  }

  append(entries: readonly Entry[]): void {
    for (const e of entries) {
      this.items.push(e);
      this.bytes += e.record.length + 24;
    }
    let loss: LossInfo | undefined;
    while (this.bytes > this.maxBytes && this.count > 1) {
      const e = this.items[this.head]!;
      this.removeFront(1);
      loss = mergeLoss(loss, { count: 1, firstMicros: e.timeMicros, lastMicros: e.timeMicros });
    }
    if (loss) this.onLoss(loss);
  }

  private removeFront(n: number): void {
    for (let i = 0; i < n; i++) this.bytes -= this.items[this.head + i]!.record.length + 24;
    this.head += n;
    this.base += n;
    // Compact now and then so removal stays amortised O(1).
    if (this.head > 4096 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }

  async flush(): Promise<void> {}

  async peek(max: number): Promise<SpoolChunk | undefined> {
    const n = Math.min(max, this.count);
    if (n === 0) return undefined;
    return { entries: this.items.slice(this.head, this.head + n), cursor: { segment: 0, offset: 0, index: this.base + n } };
  }

  commit(cursor: SpoolCursor): void {
    const n = cursor.index - this.base;
    if (n > 0) this.removeFront(Math.min(n, this.count));
  }

  async close(): Promise<void> {}
}
