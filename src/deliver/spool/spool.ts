/** An ordered, bounded store of entries a sink could not deliver yet. */
import type { Entry } from '../entry.js';
import type { LossLedger } from './loss-ledger.js';

/** Where a peek ended; committing it removes everything before it. */
export interface SpoolCursor {
  readonly segment: number;
  readonly offset: number;
  readonly index: number;
}

export interface SpoolChunk {
  readonly entries: readonly Entry[];
  readonly cursor: SpoolCursor;
}

export interface Spool {
  /** Entries held (durable or not yet). */
  readonly count: number;
  readonly bytes: number;
  /**
   * What this spool (and its sink) lost: evicted when full, unwritable,
   * found damaged. Kept outside the bounded data, persisted with a disk spool.
   */
  readonly losses: LossLedger;
  /** The last write error, while writes fail (for status); undefined when writes work. */
  readonly writeError: string | undefined;
  /** Keeps order; never blocks. Durable after the next flush(). */
  append(entries: readonly Entry[]): void;
  /** Makes every appended entry durable (fsync for a disk spool), or counts it lost. */
  flush(): Promise<void>;
  /**
   * The oldest entries, at most `max`; undefined when the spool is empty.
   * One chunk is in flight at a time: peek again only after commit() or a failed send.
   */
  peek(max: number): Promise<SpoolChunk | undefined>;
  /**
   * Removes the entries up to the cursor (delivered). Entries of the chunk the
   * bound evicted while they were in flight count as delivered, not lost.
   */
  commit(cursor: SpoolCursor): void;
  /** Resolves once the head as of the last commit is on disk: a restart then re-sends nothing before it. */
  checkpoint(): Promise<void>;
  close(): Promise<void>;
}
