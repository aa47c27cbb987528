/**
 * The losses of one sink, counted outside the bounded data they were evicted
 * from: a full spool, a full disk or a receiver's refusal can never evict or
 * drop this count. Persisted next to the spool (losses.json, written by
 * rename) so a restart still announces what the previous run lost.
 *
 * An episode runs from the first loss while nothing was pending until a
 * notice covering it is delivered: one notice per episode, however long the
 * receiver stays down. A notice is frozen (id, count, time range) for one
 * send attempt; losses during the attempt wait for the next notice. When the
 * attempt fails, the count goes back into the episode and the next attempt
 * gets a new id: an attempt that timed out may in fact have arrived, and a
 * SIEM de-duplicating by event.id must not then drop the larger, later count
 * (it may see both; the later one includes the earlier).
 */
import { randomUUID } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import type { LossInfo, LossReason } from '../entry.js';

export interface LossNotice extends LossInfo {
  /** event.id of the notice: the same on every retry. */
  readonly id: string;
}

interface Saved {
  readonly open?: LossInfo;
  readonly frozen?: LossNotice;
}


export function mergeLoss(a: LossInfo | undefined, b: LossInfo): LossInfo {
  if (!a) return b;
  const reasons: Partial<Record<LossReason, number>> = { ...a.reasons };
  for (const [k, v] of Object.entries(b.reasons) as [LossReason, number][]) reasons[k] = (reasons[k] ?? 0) + v;
  return { count: a.count + b.count, firstMicros: Math.min(a.firstMicros, b.firstMicros), lastMicros: Math.max(a.lastMicros, b.lastMicros), reasons };
}

/** One loss of `count` records of one reason over [first, last]. */
export const loss = (reason: LossReason, count: number, firstMicros: number, lastMicros: number = firstMicros): LossInfo => ({
  count,
  firstMicros,
  lastMicros,
  reasons: { [reason]: count },
});

export class LossLedger {
  private open: LossInfo | undefined;
  private frozen: LossNotice | undefined;
  /** Records lost by this process (what the stats and the exit code report). */
  lostThisRun = 0;
  /** Called once per episode, at its first loss. */
  onEpisode: ((first: LossInfo) => void) | undefined;
  /** Set while the file cannot be written (e.g. a full disk); retried at the next change. */
  persistError: string | undefined;
  private chain: Promise<void> = Promise.resolve();
  private dirty = false;

  private constructor(private readonly file: string | undefined) {}

  static inMemory(): LossLedger {
    return new LossLedger(undefined);
  }

  /** Loads the ledger a previous run left in `file` (missing or unreadable: empty). */
  static async load(file: string): Promise<LossLedger> {
    const l = new LossLedger(file);
    const saved = await readFile(file, 'utf8').then((t) => JSON.parse(t) as Saved, () => undefined);
    if (saved?.open && isLoss(saved.open)) l.open = saved.open;
    if (saved?.frozen && isLoss(saved.frozen) && typeof saved.frozen.id === 'string') l.frozen = saved.frozen;
    return l;
  }

  /** Records pending announcement (frozen notice included). */
  get pending(): number {
    return (this.open?.count ?? 0) + (this.frozen?.count ?? 0);
  }

  /** Everything pending announcement, merged (for messages). */
  get summary(): LossInfo | undefined {
    return this.frozen ? mergeLoss(this.open, this.frozen) : this.open;
  }

  add(l: LossInfo): void {
    if (l.count <= 0) return;
    const fresh = this.pending === 0;
    this.open = mergeLoss(this.open, l);
    this.lostThisRun += l.count;
    this.save();
    if (fresh) this.onEpisode?.(l);
  }

  /** The notice to send next, frozen until delivered(); undefined when nothing is pending. */
  take(): LossNotice | undefined {
    if (!this.frozen && this.open) {
      this.frozen = { ...this.open, id: randomUUID() };
      this.open = undefined;
      this.save();
    }
    return this.frozen;
  }

  /** The attempt with notice `id` failed: its count rejoins the episode. */
  failed(id: string): void {
    if (this.frozen?.id !== id) return;
    this.open = mergeLoss(this.frozen, this.open ?? { count: 0, firstMicros: this.frozen.firstMicros, lastMicros: this.frozen.lastMicros, reasons: {} });
    this.frozen = undefined;
    this.save();
  }

  /** The notice `id` reached the receiver. */
  delivered(id: string): void {
    if (this.frozen?.id !== id) return;
    this.frozen = undefined;
    this.save();
  }

  private save(): void {
    if (!this.file || this.dirty) return;
    this.dirty = true;
    const file = this.file;
    this.chain = this.chain.then(async () => {
      this.dirty = false;
      const saved: Saved = { ...(this.open ? { open: this.open } : {}), ...(this.frozen ? { frozen: this.frozen } : {}) };
      try {
        await writeFile(`${file}.tmp`, JSON.stringify(saved));
        await rename(`${file}.tmp`, file);
        this.persistError = undefined;
      } catch (err) {
        this.persistError = (err as Error).message;
      }
    });
  }

  /** Waits for the last write of the file. */
  async flush(): Promise<void> {
    if (this.persistError) this.save();
    await this.chain;
  }
}

function isLoss(x: LossInfo): boolean {
  return Number.isSafeInteger(x.count) && x.count > 0 && Number.isFinite(x.firstMicros) && Number.isFinite(x.lastMicros) && typeof x.reasons === 'object' && x.reasons !== null;
}
