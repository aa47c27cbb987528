/** An ordered, bounded store of entries a sink could not deliver yet. */
import type { Entry, LossInfo } from '../entry.js';

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
  /** Keeps order; never blocks. Durable after the next flush(). */
  append(entries: readonly Entry[]): void;
  /** Makes every appended entry durable (fsync for a disk spool). */
  flush(): Promise<void>;
  /** The oldest entries, at most `max`; undefined when the spool is empty. */
  peek(max: number): Promise<SpoolChunk | undefined>;
  /** Removes the entries up to the cursor (delivered). A cursor overtaken by drops is ignored. */
  commit(cursor: SpoolCursor): void;
  close(): Promise<void>;
}

/** Called when a full spool drops its oldest entries. */
export type LossListener = (loss: LossInfo) => void;

export function mergeLoss(a: LossInfo | undefined, b: LossInfo): LossInfo {
  if (!a) return b;
  return { count: a.count + b.count, firstMicros: Math.min(a.firstMicros, b.firstMicros), lastMicros: Math.max(a.lastMicros, b.lastMicros) };
}
