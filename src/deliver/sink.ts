/**
 * One sink: a transport behind a memory queue, a p-queue (bounded concurrency
 * and rate), retries with backoff, and a spool.
 *
 * Two modes. `direct`: the spool is empty and batches go from memory to the
 * transport. `spool`: after a failed batch, or when memory would exceed
 * maxQueued, everything (batches in flight first, then the queue, then every
 * later push) goes to the spool in order and a single drain loop sends from
 * the spool head with backoff until it is empty, then returns to `direct`.
 * Batches in flight when the spool took over are sent again from the spool
 * (at-least-once), which keeps alarms in order.
 */
import PQueue from 'p-queue';
import type { QueueConfig } from '../config/sensor-config.js';
import { backoffMs } from './backoff.js';
import { PermanentError, type Entry, type Formatted, type LossInfo, type Transport } from './entry.js';
import type { Spool } from './spool/spool.js';

export interface DeliveryStats {
  readonly sink: string;
  /** Records the receiver accepted. */
  readonly delivered: number;
  /** Records sent again after a failed attempt. */
  readonly retried: number;
  /** Records written to the spool. */
  readonly spooled: number;
  /** Records lost: spool overflow, receiver rejection for good, or undelivered at close without a disk spool. */
  readonly dropped: number;
  /** Records waiting: in memory, in flight and in the spool. */
  readonly queued: number;
}

export interface SinkOptions {
  readonly name: string;
  readonly queue: QueueConfig;
  readonly transport: Transport;
  readonly spool: Spool;
  /** Whether what the spool holds survives a restart. */
  readonly durable: boolean;
  readonly formatLoss: (loss: LossInfo) => Formatted;
  readonly notice: (message: string) => void;
}

const POLL_MS = 5;

export class Sink {
  readonly name: string;
  private mode: 'direct' | 'spool' = 'direct';
  private pending: Entry[] = [];
  /** Batches being sent from memory, oldest first; removal marks a batch as taken over by the spool. */
  private readonly inflight = new Set<Entry[]>();
  private readonly queue: PQueue;
  private pumpScheduled = false;
  private draining = false;
  private stopping = false;
  private closed = false;
  private wake: (() => void) | undefined;
  private roomWaiters: { limit: number; resolve: () => void }[] = [];
  private delivered = 0;
  private retried = 0;
  private spooled = 0;
  private dropped = 0;

  constructor(private readonly o: SinkOptions) {
    this.name = o.name;
    this.queue = new PQueue({
      concurrency: o.queue.concurrency,
      ...(o.queue.batchesPerSecond ? { intervalCap: o.queue.batchesPerSecond, interval: 1000 } : {}),
    });
  }

  /** Starts draining what a previous run left in the spool. */
  start(): void {
    if (this.o.spool.count > 0) {
      this.mode = 'spool';
      this.o.notice(`sink ${this.name}: ${this.o.spool.count} alarms left in the spool by a previous run; sending them first`);
      void this.drain(0);
    }
  }

  /** O(1), never blocks, never throws. */
  push(entry: Entry): void {
    if (this.closed) {
      this.dropped++;
      return;
    }
    if (this.mode === 'spool') {
      this.toSpool([entry]);
      return;
    }
    this.pending.push(entry);
    if (this.pending.length > this.o.queue.maxQueued) this.enterSpool(`more than ${this.o.queue.maxQueued} alarms waiting (receiver too slow)`);
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
    return {
      sink: this.name,
      delivered: this.delivered,
      retried: this.retried,
      spooled: this.spooled,
      dropped: this.dropped,
      queued: this.pending.length + inflight + this.o.spool.count,
    };
  }

  reopen(): void {
    this.o.transport.reopen?.();
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    // setImmediate lets a burst of pushes collect into one batch.
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

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
    this.checkRoom();
    this.inflight.add(batch);
    try {
      const rejected = await this.o.transport.send(batch.map((e) => e.record));
      if (this.inflight.has(batch)) this.accepted(batch.length, rejected);
    } catch (err) {
      if (!this.inflight.has(batch)) return; // the spool owns it now
      if (err instanceof PermanentError) this.rejected(batch.length, err);
      else this.enterSpool((err as Error).message);
    } finally {
      this.inflight.delete(batch);
      if (this.pending.length > 0) this.schedulePump();
    }
  }

  private accepted(n: number, rejected: number | void): void {
    const r = rejected ?? 0;
    this.delivered += n - r;
    if (r > 0) {
      this.dropped += r;
      this.o.notice(`sink ${this.name}: receiver rejected ${r} alarms for good`);
    }
  }

  private rejected(n: number, err: Error): void {
    this.dropped += n;
    this.o.notice(`sink ${this.name}: receiver rejected a batch of ${n} alarms for good: ${err.message}`);
  }

  /** `failures`: 1 when these entries just failed, so the drain waits before the retry. */
  private toSpool(entries: readonly Entry[], failures = 0): void {
    try {
      this.o.spool.append(entries);
      this.spooled += entries.length;
    } catch {
      this.dropped += entries.length;
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
    this.o.notice(`sink ${this.name}: ${reason}; spooling${this.o.durable ? ' to disk' : ' in memory'}`);
    this.toSpool(entries, reason === 'closing' ? 0 : 1);
  }

  /** A full spool dropped alarms: count them and queue an alert saying so. */
  onLoss(loss: LossInfo): void {
    this.dropped += loss.count;
    this.o.notice(`sink ${this.name}: spool full, dropped the ${loss.count} oldest alarms`);
    const f = this.o.formatLoss(loss);
    // Appended after the current call returns: the spool is in the middle of an append or flush.
    queueMicrotask(() => {
      if (!this.closed) this.toSpool([{ record: this.o.transport.encode(f), timeMicros: f.timeMicros }]);
    });
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
      while (!this.stopping) {
        let chunk;
        try {
          chunk = await this.o.spool.peek(q.batchRecords);
        } catch (err) {
          if (this.stopping) return;
          this.o.notice(`sink ${this.name}: cannot read the spool: ${(err as Error).message}`);
          await this.sleep(backoffMs(++failures, q.retryInitialMs, q.retryMaxMs));
          continue;
        }
        if (!chunk) {
          if (this.o.spool.count > 0) continue;
          this.mode = 'direct';
          if (failures > 0 || this.spooled > 0) this.o.notice(`sink ${this.name}: spool drained, delivering directly again`);
          this.schedulePump();
          return;
        }
        const n = chunk.entries.length;
        if (failures > 0) this.retried += n;
        try {
          const rejected = await this.queue.add(() => this.o.transport.send(chunk.entries.map((e) => e.record)));
          this.o.spool.commit(chunk.cursor);
          this.accepted(n, rejected);
          failures = 0;
        } catch (err) {
          if (err instanceof PermanentError) {
            this.o.spool.commit(chunk.cursor);
            this.rejected(n, err);
            continue;
          }
          failures++;
          if (failures === 1 || failures % 10 === 0) this.o.notice(`sink ${this.name}: still failing (${(err as Error).message}); ${this.o.spool.count} alarms spooled`);
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
  }

  /** Delivers what it can within the timeout, spools the rest, closes. */
  async close(timeoutMs: number): Promise<void> {
    if (this.closed) return;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const empty = this.pending.length === 0 && this.inflight.size === 0 && this.o.spool.count === 0;
      if (empty || Date.now() >= deadline) break;
      await delay(POLL_MS);
    }
    this.stopping = true;
    this.wake?.();
    if (this.pending.length > 0 || this.inflight.size > 0) this.enterSpool('closing');
    this.closed = true;
    this.checkRoom();
    const left = this.o.spool.count;
    await this.o.spool.close().catch((err: Error) => this.o.notice(`sink ${this.name}: closing the spool: ${err.message}`));
    if (left > 0 && !this.o.durable) {
      this.dropped += left;
      this.o.notice(`sink ${this.name}: ${left} alarms undelivered at exit (no spool directory configured)`);
    } else if (left > 0) this.o.notice(`sink ${this.name}: ${left} alarms left in the spool for the next run`);
    this.queue.clear();
    // The timer must not outlive the race: it would hold the process up to the deadline.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.queue.onIdle(), new Promise<void>((r) => { timer = setTimeout(r, Math.max(0, deadline - Date.now()) + 100); })]);
    clearTimeout(timer);
    await this.o.transport.close().catch(() => undefined);
  }

  /** Nothing waiting anywhere. */
  get idle(): boolean {
    return this.pending.length === 0 && this.inflight.size === 0 && this.o.spool.count === 0;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
