/**
 * One sink: a transport behind a memory queue, a p-queue (bounded concurrency
 * and rate), retries with backoff, a spool and a loss ledger.
 *
 * Two modes. `direct`: the spool is empty and batches go from memory to the
 * transport. `spool`: after a failed batch, or when memory would exceed
 * maxQueued, everything (batches in flight first, then the queue, then every
 * later push) goes to the spool in order and a single drain loop sends from
 * the spool head with backoff until it is empty, then returns to `direct`.
 * Batches in flight when the spool took over are sent again from the spool
 * (at-least-once), which keeps alarms in order.
 *
 * Accounting, exact for the life of the process:
 *   recovered + produced = delivered + dropped + left
 * (left: in memory, in flight or in the spool at the time of asking). Every
 * drop goes into the spool's loss ledger, never into the bounded data, and
 * is announced by one notice per episode, sent before anything else when the
 * receiver takes records again, and by one stderr line.
 *
 * A batch the receiver refuses for good (PermanentError: HTTP 400/413/422)
 * is split in halves and retried, down to single records, so only the records
 * it refuses are dropped. A transport whose destination is gone for good
 * (BrokenOutputError: stdout's reader left) stops the sink: one stderr line,
 * everything it holds and everything later counts as dropped; the other
 * sinks carry on.
 */
import PQueue from 'p-queue';
import type { QueueConfig } from '../config/sensor-config.js';
import { backoffMs } from './backoff.js';
import { BrokenOutputError, PermanentError, type Entry, type Formatted, type LossInfo, type Transport } from './entry.js';
import { lossCauses, lossReasons, type RecordNoun } from './format-loss.js';
import { loss, mergeLoss, type LossNotice } from './spool/loss-ledger.js';
import type { Spool } from './spool/spool.js';

export interface DeliveryStats {
  readonly sink: string;
  /** Records pushed by this process. */
  readonly produced: number;
  /** Records a previous run left in the spool, found at start. */
  readonly recovered: number;
  /** Records the receiver accepted. */
  readonly delivered: number;
  /** Records sent again after a failed attempt. */
  readonly retried: number;
  /** Records written to the spool. */
  readonly spooled: number;
  /** Records this process lost (each counted in the loss ledger and announced). */
  readonly dropped: number;
  /** Records waiting: in memory, in flight and in the spool. */
  readonly queued: number;
  /** Bytes the spool holds now (on disk, or in memory without --spool-dir). */
  readonly spoolBytes: number;
  /** Lost records not yet announced to the receiver by a notice. */
  readonly lossUnannounced: number;
  /** Loss notices the receiver accepted. */
  readonly notices: number;
  /** Why the sink is not delivering, while that is so (spool write error, broken output). */
  readonly error?: string;
}

export interface SinkOptions {
  readonly name: string;
  readonly queue: QueueConfig;
  readonly transport: Transport;
  readonly spool: Spool;
  /** Whether what the spool holds survives a restart. */
  readonly durable: boolean;
  readonly formatLoss: (loss: LossNotice) => Formatted;
  readonly notice: (message: string) => void;
  /** What its records are, in its stderr lines (default alarms). */
  readonly noun?: RecordNoun;
}

const POLL_MS = 5;
/**
 * After a batch leaves memory, the next one waits at least this long unless
 * it is full: under a flood the detector raises about one alarm per ring
 * block, and one pump turn, queue task and write per alarm cost ~60 µs each
 * (live profile); gathered per interval they cost that once. A lone alarm
 * after a quiet spell (longer than the linger) goes at once, so idle latency
 * is unchanged.
 */
export const SEND_LINGER_MS = 5;
/**
 * The linger doubles, up to this, each time a small batch had to wait for it
 * (the alarms keep coming, a few at a time), and falls back to
 * SEND_LINGER_MS when a batch finds the sink quiet or has gathered
 * LINGER_ENOUGH records. The tail of a spoofed flood raises an alarm every
 * ~4 ms: at 5 ms that was nearly a write (~100-150 µs of cold code: timer,
 * queue task, promises, stream) per alarm, at 20 ms one per ~5 alarms.
 * Under load an alarm waits at most this long for its write.
 */
export const SEND_LINGER_MAX_MS = 20;
/**
 * A batch this large already spreads its write thinly: the linger does not
 * grow for it (a dense trickle lingering 20 ms made batches of ~1 MB, large
 * objects for V8, and cost the trickle bench's file sink a third more).
 */
export const LINGER_ENOUGH = 32;

export class Sink {
  readonly name: string;
  private readonly noun: RecordNoun;
  /** How its stderr lines name it: `sink NAME`, or `sink NAME (state documents)` beside the alarm sink of the same name. */
  private readonly who: string;
  private mode: 'direct' | 'spool' = 'direct';
  private pending: Entry[] = [];
  /** Batches being sent from memory, oldest first; removal marks a batch as taken over by the spool. */
  private readonly inflight = new Set<Entry[]>();
  private readonly queue: PQueue;
  private pumpScheduled = false;
  /** The linger timer of a scheduled pump (undefined when it runs in the next check phase). */
  private pumpTimer: NodeJS.Timeout | undefined;
  /** Date.now() when the last batch was taken from memory (see SEND_LINGER_MS). */
  private lastTakenMs = -Infinity;
  /** How long the next batch waits after the last one (SEND_LINGER_MS .. SEND_LINGER_MAX_MS). */
  private lingerMs = SEND_LINGER_MS;
  /** Whether the scheduled pump waits for the linger (a trickle) rather than the next turn. */
  private pumpLingers = false;
  private draining = false;
  private stopping = false;
  private closed = false;
  /** Set when the destination is gone for good. */
  private broken: string | undefined;
  private wake: (() => void) | undefined;
  private roomWaiters: { limit: number; resolve: () => void }[] = [];
  private produced = 0;
  private recovered = 0;
  private delivered = 0;
  private retried = 0;
  private spooled = 0;
  private notices = 0;
  private sendingNotice: Promise<void> | undefined;

  constructor(private readonly o: SinkOptions) {
    this.name = o.name;
    this.noun = o.noun ?? 'alarms';
    this.who = this.noun === 'alarms' ? `sink ${o.name}` : `sink ${o.name} (${this.noun})`;
    this.queue = new PQueue({
      concurrency: o.queue.concurrency,
      ...(o.queue.batchesPerSecond ? { intervalCap: o.queue.batchesPerSecond, interval: 1000 } : {}),
    });
    o.spool.losses.onEpisode = (l) => this.announceEpisode(l);
  }

  private get ledger(): Spool['losses'] {
    return this.o.spool.losses;
  }

  /** Starts draining what a previous run left in the spool, and announcing what it lost. */
  start(): void {
    this.recovered = this.o.spool.count;
    const lost = this.ledger.pending;
    if (lost > 0) this.o.notice(`${this.who}: ${lost} ${this.noun} lost before this start (${lossReasons(this.ledger.summary!.reasons)}); a notice goes to the receiver first`);
    if (this.o.spool.count > 0) {
      this.mode = 'spool';
      this.o.notice(`${this.who}: ${this.o.spool.count} ${this.noun} left in the spool by a previous run; sending them first`);
    }
    if (this.o.spool.count > 0 || lost > 0) void this.drain(0);
  }

  /** The one stderr line of a loss episode. */
  private announceEpisode(l: LossInfo): void {
    // A broken output said so in its own line; at close one line sums up.
    if (this.broken || this.closed) return;
    const why = l.detail ?? lossCauses(l.reasons);
    const tell = this.broken ? 'counted in the stats' : 'a notice with the exact count goes to the receiver when it takes records again';
    this.o.notice(`${this.who}: losing ${this.noun} (${why}); ${tell}`);
  }

  /** O(1), never blocks, never throws. */
  push(entry: Entry): void {
    this.produced++;
    if (this.closed || this.broken) {
      this.ledger.add(loss('undeliverable', 1, entry.timeMicros));
      return;
    }
    if (this.mode === 'spool') {
      this.toSpool([entry]);
      return;
    }
    this.pending.push(entry);
    if (this.pending.length > this.o.queue.maxQueued) this.enterSpool(`more than ${this.o.queue.maxQueued} ${this.noun} waiting (receiver too slow)`);
    else this.schedulePump();
  }

  /**
   * For callers that can wait (replay): resolves once at most `limit` records
   * wait in memory; undefined when that is already so.
   */
  roomBelow(limit: number): Promise<void> | undefined {
    if (this.pending.length <= limit || this.closed) return undefined;
    return new Promise((resolve) => this.roomWaiters.push({ limit, resolve }));
  }

  private checkRoom(): void {
    if (this.roomWaiters.length === 0) return;
    const n = this.closed ? 0 : this.pending.length;
    this.roomWaiters = this.roomWaiters.filter((w) => (n <= w.limit ? (w.resolve(), false) : true));
  }

  stats(): DeliveryStats {
    let inflight = 0;
    for (const b of this.inflight) inflight += b.length;
    // A spool write error matters while the spool holds something; a drained spool writes afresh next time.
    const error = this.broken ?? (this.o.spool.count > 0 ? this.o.spool.writeError : undefined);
    return {
      sink: this.name,
      produced: this.produced,
      recovered: this.recovered,
      delivered: this.delivered,
      retried: this.retried,
      spooled: this.spooled,
      dropped: this.ledger.lostThisRun,
      queued: this.pending.length + inflight + this.o.spool.count,
      spoolBytes: this.o.spool.bytes,
      lossUnannounced: this.ledger.pending,
      notices: this.notices,
      ...(error ? { error } : {}),
    };
  }

  reopen(): void {
    this.o.transport.reopen?.();
  }

  private schedulePump(): void {
    const full = this.pending.length >= this.o.queue.batchRecords;
    if (this.pumpScheduled) {
      // A full batch does not wait for the linger (replay pushes thousands in a turn).
      if (full && this.pumpTimer !== undefined) {
        clearTimeout(this.pumpTimer);
        this.pumpTimer = undefined;
        this.pumpLingers = false;
        setImmediate(this.runPump);
      }
      return;
    }
    this.pumpScheduled = true;
    const wait = full ? 0 : this.lastTakenMs + this.lingerMs - Date.now();
    // setImmediate lets a burst of pushes collect into one batch; the linger, a trickle.
    this.pumpLingers = wait > 0;
    if (wait > 0) this.pumpTimer = setTimeout(this.runPump, wait);
    else setImmediate(this.runPump);
  }

  private readonly runPump = (): void => {
    if (!this.pumpScheduled) return;
    this.pumpScheduled = false;
    this.pumpTimer = undefined;
    // A small batch that waited means a thin trickle: the next waits longer; a quiet sink or a large batch resets it.
    this.lingerMs = this.pumpLingers && this.pending.length < LINGER_ENOUGH ? Math.min(this.lingerMs * 2, SEND_LINGER_MAX_MS) : SEND_LINGER_MS;
    this.pump();
  };

  private pump(): void {
    while (this.mode === 'direct' && this.pending.length > 0 && this.queue.size + this.queue.pending < this.o.queue.concurrency) {
      void this.queue.add(() => this.sendDirect());
    }
  }

  private async sendDirect(): Promise<void> {
    if (this.mode !== 'direct' || this.pending.length === 0) return;
    // Taken when the task starts, so batches grow while the receiver is busy.
    const n = Math.min(this.o.queue.batchRecords, this.pending.length);
    const batch = n === this.pending.length ? this.pending : this.pending.slice(0, n);
    this.pending = n === this.pending.length ? [] : this.pending.slice(n);
    this.lastTakenMs = Date.now();
    this.checkRoom();
    this.inflight.add(batch);
    try {
      // Asked here, not inside: a send with nothing to announce (nearly all) skips a promise and a turn of the microtask queue.
      if (this.ledger.pending > 0) await this.announceLosses();
      const outcome = await this.sendSplitting(batch);
      if (this.inflight.has(batch)) this.settle(outcome);
    } catch (err) {
      if (!this.inflight.has(batch)) return; // the spool owns it now
      if (err instanceof BrokenOutputError) this.breakDown(err);
      else this.enterSpool((err as Error).message);
    } finally {
      this.inflight.delete(batch);
      if (this.pending.length > 0) this.schedulePump();
    }
  }

  /** Sends the pending loss notice, if any, before anything else. Throws like send(). */
  private async announceLosses(): Promise<void> {
    if (this.ledger.pending === 0) return;
    // With concurrency > 1 the batches wait for the one notice in flight.
    if (!this.sendingNotice) {
      this.sendingNotice = (async () => {
        const n = this.ledger.take();
        if (!n) return;
        try {
          await this.o.transport.send([this.o.transport.encode(this.o.formatLoss(n))]);
        } catch (err) {
          if (!(err instanceof PermanentError)) {
            this.ledger.failed(n.id);
            throw err;
          }
          // A receiver that refuses the notice itself: the stderr line is all that can be said.
          this.o.notice(`${this.who}: the receiver refused the notice of ${n.count} lost ${this.noun}: ${err.message}`);
          this.ledger.delivered(n.id);
          return;
        }
        this.ledger.delivered(n.id);
        this.notices++;
      })().finally(() => (this.sendingNotice = undefined));
    }
    await this.sendingNotice;
  }

  /**
   * Sends `entries`; a batch refused for good is split in halves and each
   * half sent again, down to single records. Throws on a failure worth
   * retrying (nothing of the batch counts as delivered then).
   */
  private async sendSplitting(entries: readonly Entry[]): Promise<{ delivered: number; rejected: Entry[]; why?: string }> {
    try {
      const refused = (await this.o.transport.send(entries.map((e) => e.record))) ?? 0;
      // Refused items inside an accepted batch (Elasticsearch _bulk): which ones is not said; the last ones stand for them.
      return { delivered: entries.length - refused, rejected: refused ? entries.slice(entries.length - refused) : [] };
    } catch (err) {
      if (!(err instanceof PermanentError)) throw err;
      if (entries.length === 1) return { delivered: 0, rejected: [...entries], why: err.message };
      const mid = entries.length >> 1;
      const a = await this.sendSplitting(entries.slice(0, mid));
      const b = await this.sendSplitting(entries.slice(mid));
      return { delivered: a.delivered + b.delivered, rejected: [...a.rejected, ...b.rejected], why: a.why ?? b.why ?? err.message };
    }
  }

  private settle(outcome: { delivered: number; rejected: Entry[]; why?: string }): void {
    this.delivered += outcome.delivered;
    const r = outcome.rejected;
    if (r.length === 0) return;
    let l: LossInfo | undefined;
    for (const e of r) l = mergeLoss(l, loss('rejected', 1, e.timeMicros));
    this.o.notice(`${this.who}: the receiver rejected ${r.length} ${r.length === 1 ? this.noun.replace(/s$/, '') : this.noun} for good${outcome.why ? ` (${outcome.why})` : ''}; ${outcome.delivered} of the batch delivered`);
    this.ledger.add(l!);
    this.kick();
  }

  /** Makes sure a pending notice goes out even when no alarm follows. */
  private kick(): void {
    if (!this.draining && !this.stopping && !this.broken) void this.drain(0);
  }

  /** The destination is gone for good: drop everything held, and everything later. */
  private breakDown(err: Error): void {
    if (this.broken) return;
    this.broken = `output closed (${err.message})`;
    // One line per output: the alarm sink of the same output says it; state documents dropped show in their stop line.
    if (this.noun === 'alarms') this.o.notice(`${this.who}: ${this.broken}; its ${this.noun} are dropped from now on (the other sinks carry on)`);
    const held: Entry[] = [];
    for (const b of this.inflight) held.push(...b);
    this.inflight.clear();
    held.push(...this.pending);
    this.pending = [];
    this.checkRoom();
    this.dropAll(held);
  }

  private dropAll(entries: readonly Entry[]): void {
    let l: LossInfo | undefined;
    for (const e of entries) l = mergeLoss(l, loss('undeliverable', 1, e.timeMicros));
    if (l) this.ledger.add(l);
  }

  /** `failures`: 1 when these entries just failed, so the drain waits before the retry. */
  private toSpool(entries: readonly Entry[], failures = 0): void {
    try {
      this.o.spool.append(entries);
      this.spooled += entries.length;
    } catch {
      this.dropAll(entries);
    }
    if (!this.draining && !this.stopping) void this.drain(failures);
  }

  private enterSpool(reason: string): void {
    if (this.mode === 'spool') return;
    this.mode = 'spool';
    const entries: Entry[] = [];
    for (const b of this.inflight) entries.push(...b);
    this.inflight.clear();
    entries.push(...this.pending);
    this.pending = [];
    this.checkRoom();
    this.o.notice(`${this.who}: ${reason}; spooling${this.o.durable ? ' to disk' : ' in memory'}`);
    this.toSpool(entries, reason === 'closing' ? 0 : 1);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        this.wake = undefined;
        resolve();
      };
    });
  }

  private async drain(failures: number): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    const q = this.o.queue;
    try {
      if (failures > 0) await this.sleep(backoffMs(failures, q.retryInitialMs, q.retryMaxMs));
      while (!this.stopping && !this.broken) {
        let chunk;
        try {
          chunk = await this.o.spool.peek(q.batchRecords);
        } catch (err) {
          if (this.stopping) return;
          this.o.notice(`${this.who}: cannot read the spool: ${(err as Error).message}`);
          await this.sleep(backoffMs(++failures, q.retryInitialMs, q.retryMaxMs));
          continue;
        }
        // After the peek: it settles the fate of a chunk the bound evicted in flight, which may add to the loss.
        try {
          await this.queue.add(() => this.announceLosses());
        } catch (err) {
          if (err instanceof BrokenOutputError) return this.breakDown(err);
          failures++;
          if (failures === 1 || failures % 10 === 0) this.o.notice(`${this.who}: still failing (${(err as Error).message}); ${this.o.spool.count} ${this.noun} spooled`);
          if (!this.stopping) await this.sleep(backoffMs(failures, q.retryInitialMs, q.retryMaxMs));
          continue;
        }
        if (!chunk) {
          if (this.o.spool.count > 0) continue;
          if (this.ledger.pending > 0) continue; // a loss while the spool emptied: announce it first
          if (this.mode === 'spool' && (failures > 0 || this.spooled > 0)) this.o.notice(`${this.who}: spool drained, delivering directly again`);
          this.mode = 'direct';
          this.schedulePump();
          return;
        }
        const n = chunk.entries.length;
        if (failures > 0) this.retried += n;
        try {
          const outcome = await this.queue.add(() => this.sendSplitting(chunk.entries));
          this.o.spool.commit(chunk.cursor);
          this.settle(outcome!);
          failures = 0;
          // The next batch goes out only once this one is off the spool's head on disk: a kill re-sends at most one batch.
          await this.o.spool.checkpoint();
        } catch (err) {
          if (err instanceof BrokenOutputError) return this.breakDown(err);
          failures++;
          if (failures === 1 || failures % 10 === 0) this.o.notice(`${this.who}: still failing (${(err as Error).message}); ${this.o.spool.count} ${this.noun} spooled`);
          if (!this.stopping) await this.sleep(backoffMs(failures, q.retryInitialMs, q.retryMaxMs));
        }
      }
    } finally {
      this.draining = false;
    }
  }

  /**
   * Resolves when everything pushed so far is delivered or spooled (and the
   * spool flushed): what a caller awaits before it may be killed.
   */
  async sync(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.mode === 'direct' && (this.pending.length > 0 || this.inflight.size > 0) && Date.now() < deadline) await delay(POLL_MS);
    if (this.mode === 'direct' && (this.pending.length > 0 || this.inflight.size > 0)) this.enterSpool(`not delivered within ${timeoutMs} ms`);
    await this.o.spool.flush();
    await this.ledger.flush();
  }

  /** Delivers what it can within the timeout, spools the rest, closes. */
  async close(timeoutMs: number): Promise<void> {
    if (this.closed) return;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const empty = this.pending.length === 0 && this.inflight.size === 0 && this.o.spool.count === 0 && (this.ledger.pending === 0 || !!this.broken);
      if (empty || this.broken || Date.now() >= deadline) break;
      await delay(POLL_MS);
    }
    this.stopping = true;
    this.wake?.();
    if (this.pending.length > 0 || this.inflight.size > 0) {
      if (this.broken) this.breakDown(new BrokenOutputError(this.broken));
      else this.enterSpool('closing');
    }
    this.closed = true;
    this.checkRoom();
    this.queue.clear();
    // The timer must not outlive the race: it would hold the process up to the deadline.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.queue.onIdle(), new Promise<void>((r) => { timer = setTimeout(r, Math.max(0, deadline - Date.now()) + 100); })]);
    clearTimeout(timer);
    if (!this.o.durable) {
      // Nothing will send what the spool holds: count it lost now, so the stats add up.
      const left: Entry[] = [];
      for (let c = await this.o.spool.peek(100_000); c; c = await this.o.spool.peek(100_000)) {
        left.push(...c.entries);
        this.o.spool.commit(c.cursor);
      }
      this.dropAll(left);
    }
    const left = this.o.spool.count;
    await this.o.spool.close().catch((err: Error) => this.o.notice(`${this.who}: closing the spool: ${err.message}`));
    if (left > 0) this.o.notice(`${this.who}: ${left} ${this.noun} left in the spool for the next run`);
    const unannounced = this.ledger.summary;
    if (unannounced && !this.broken) {
      const where = this.o.durable ? '; the next run announces them' : ' (no spool directory: nothing keeps them)';
      this.o.notice(`${this.who}: ${unannounced.count} lost ${this.noun} not announced to the receiver: ${lossReasons(unannounced.reasons)}${where}`);
    }
    await this.o.transport.close().catch(() => undefined);
  }

  /** Nothing waiting anywhere (a broken sink holds nothing: it drops). */
  get idle(): boolean {
    if (this.broken) return true;
    return this.pending.length === 0 && this.inflight.size === 0 && this.o.spool.count === 0 && this.ledger.pending === 0;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

