/**
 * The spool when no spool directory is configured: bounded, in memory, lost
 * on restart. The bound is checked per entry: the oldest entries go first,
 * counted in the loss ledger, never replaced by anything else.
 */
import type { Entry, LossInfo } from '../entry.js';
import { loss, LossLedger, mergeLoss } from './loss-ledger.js';
import type { Spool, SpoolChunk, SpoolCursor } from './spool.js';

/** Memory cost per entry beyond its record. */
const OVERHEAD = 24;

export class MemorySpool implements Spool {
  private items: Entry[] = [];
  private head = 0;
  /** Count of entries ever removed from the front: cursors are absolute indexes. */
  private base = 0;
  /** Absolute index just after the chunk in flight. */
  private peekedEnd = 0;
  /** Entries of the chunk in flight that the bound evicted: delivered if it succeeds, lost if not. */
  private orphan: LossInfo | undefined;
  bytes = 0;
  readonly losses = LossLedger.inMemory();
  readonly writeError = undefined;

  constructor(private readonly maxBytes: number) {}

  get count(): number {
    return this.items.length - this.head;
  }

  append(entries: readonly Entry[]): void {
    for (const e of entries) {
      const size = e.record.length + OVERHEAD;
      let lost: LossInfo | undefined;
      while (this.count > 0 && this.bytes + size > this.maxBytes) {
        const old = this.items[this.head]!;
        const abs = this.base;
        this.removeFront(1);
        const l = loss('spool_full', 1, old.timeMicros);
        if (abs < this.peekedEnd) this.orphan = mergeLoss(this.orphan, l);
        else lost = mergeLoss(lost, l);
      }
      if (lost) this.losses.add(lost);
      this.items.push(e);
      this.bytes += size;
    }
  }

  private removeFront(n: number): void {
    for (let i = 0; i < n; i++) this.bytes -= this.items[this.head + i]!.record.length + OVERHEAD;
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
    this.abandonOrphan();
    const n = Math.min(max, this.count);
    if (n === 0) return undefined;
    this.peekedEnd = this.base + n;
    return { entries: this.items.slice(this.head, this.head + n), cursor: { segment: 0, offset: 0, index: this.base + n } };
  }

  /** A chunk in flight failed: what the bound evicted from it is lost now. */
  private abandonOrphan(): void {
    if (this.orphan) this.losses.add(this.orphan);
    this.orphan = undefined;
  }

  commit(cursor: SpoolCursor): void {
    this.orphan = undefined;
    const n = cursor.index - this.base;
    if (n > 0) this.removeFront(Math.min(n, this.count));
  }

  async checkpoint(): Promise<void> {}

  async close(): Promise<void> {
    this.abandonOrphan();
  }
}
