/**
 * The main thread's side of a parallel replay: worker threads
 * (replay-worker.ts) read and prefilter capture files ahead, and this hands
 * their batches out file by file, in file order, so that detection on the
 * main thread sees one timeline exactly as a sequential replay would.
 *
 * Files are assigned in order, each to the next worker that is free, so a
 * worker's files are increasing and the file being consumed always belongs
 * to a worker whose earlier files are done: credits (batches a worker may
 * have posted and not yet had consumed) can never deadlock. Memory between
 * the threads is bounded by workers × credits × one reader chunk, however
 * far ahead the workers are and however many files there are.
 *
 * A worker that dies (an uncaught exception, an exit) fails the replay with
 * one error naming it; close() terminates every worker, so no thread
 * outlives the replay.
 */
import { Worker } from 'node:worker_threads';
import { CaptureDamagedError } from '../source/capture-file.js';
import type { FrameBatch } from '../source/frame-batch.js';
import type { MainToWorker, ReplayWorkerData, WorkerToMain } from './parallel-messages.js';
import { unpackBatch } from './prefiltered-batch.js';

/** One source batch of a file: its surviving frames and what the whole batch was. */
export interface FilePart {
  readonly batch: FrameBatch;
  /** Index in the file of each frame of `batch`. */
  readonly packet: Float64Array;
  /** Packets in the source batch, kept or not. */
  readonly count: number;
  /** Timestamp of the source batch's last packet. */
  readonly lastTs: number;
  readonly bytesRead: number;
}

export interface FileEnd {
  readonly bytes: number;
  readonly bytesRead: number;
}

export interface ParallelSourceOptions {
  readonly workers: number;
  /** Batches each worker may have waiting; default 4. */
  readonly credits?: number;
  readonly ports: readonly number[];
  readonly batchSize?: number;
  /** Old-generation heap of each worker, MiB (default 128: a worker holds one reader buffer and a few batches). */
  readonly workerHeapMiB?: number;
}

const DEFAULT_CREDITS = 4;
const DEFAULT_WORKER_HEAP_MIB = 128;

export class ParallelSource {
  readonly #paths: readonly string[];
  readonly #workers: Worker[] = [];
  /** Per worker: batches taken (shared with it; see ReplayWorkerData.taken). */
  readonly #taken: Int32Array[] = [];
  readonly #queues: WorkerToMain[][];
  readonly #owner: number[];
  #waiter: (() => void) | undefined;
  #nextFile = 0;
  #fatal: Error | undefined;
  #closing = false;
  #queued = 0;
  /** The vlan column of every unpacked batch: all zero (files keep their tags in the frame). */
  readonly #zeros = new Uint16Array(4096);
  /** Most batches ever waiting on the main thread at once (tests check the bound). */
  peakQueued = 0;
  readonly credits: number;

  constructor(paths: readonly string[], o: ParallelSourceOptions) {
    this.#paths = paths;
    this.#queues = paths.map(() => []);
    this.#owner = paths.map(() => -1);
    this.credits = o.credits ?? DEFAULT_CREDITS;
    const n = Math.max(1, Math.min(o.workers, paths.length));
    for (let w = 0; w < n; w++) {
      const taken = new SharedArrayBuffer(4);
      this.#taken.push(new Int32Array(taken));
      const data: ReplayWorkerData = { ports: o.ports, credits: this.credits, taken, ...(o.batchSize ? { batchSize: o.batchSize } : {}) };
      const worker = new Worker(new URL('./replay-worker.js', import.meta.url), {
        workerData: data,
        resourceLimits: { maxOldGenerationSizeMb: o.workerHeapMiB ?? DEFAULT_WORKER_HEAP_MIB },
      });
      worker.on('message', (m: WorkerToMain) => this.#received(w, m));
      worker.on('error', (err) => this.#fail(`replay worker ${w} failed: ${err.message}`));
      worker.on('exit', (code) => this.#fail(`replay worker ${w} stopped (exit code ${code})`));
      this.#workers.push(worker);
      this.#assign(w);
    }
  }

  get workers(): number {
    return this.#workers.length;
  }

  #assign(w: number): void {
    if (this.#nextFile >= this.#paths.length) return;
    const file = this.#nextFile++;
    this.#owner[file] = w;
    this.#send(w, { type: 'read', file, path: this.#paths[file]! });
  }

  #send(w: number, m: MainToWorker): void {
    this.#workers[w]!.postMessage(m);
  }

  #received(w: number, m: WorkerToMain): void {
    this.#queues[m.file]!.push(m);
    if (m.type === 'batch') {
      this.#queued++;
      if (this.#queued > this.peakQueued) this.peakQueued = this.#queued;
    } else {
      this.#assign(w);
    }
    this.#wake();
  }

  #fail(why: string): void {
    if (this.#closing) return;
    this.#fatal ??= new Error(why);
    this.#wake();
  }

  #wake(): void {
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.();
  }

  /**
   * The batches of file `file`, in order; ends with the file's summary, or
   * throws what a sequential read would have: CaptureDamagedError after
   * every batch before the damage, or the OS error of an unreadable file.
   * Files must be taken in order, each to its end.
   */
  async *parts(file: number): AsyncGenerator<FilePart, FileEnd> {
    const queue = this.#queues[file]!;
    for (;;) {
      while (queue.length === 0) {
        if (this.#fatal) throw this.#fatal;
        await new Promise<void>((resolve) => (this.#waiter = resolve));
      }
      const m = queue.shift()!;
      switch (m.type) {
        case 'batch': {
          this.#queued--;
          // Counted on taking: the worker reads on while this batch is detected.
          const taken = this.#taken[this.#owner[file]!]!;
          Atomics.add(taken, 0, 1);
          Atomics.notify(taken, 0);
          const { batch, packet } = unpackBatch(m, this.#zeros);
          yield { batch, packet, count: m.count, lastTs: m.lastTs, bytesRead: m.bytesRead };
          break;
        }
        case 'end':
          return { bytes: m.bytes, bytesRead: m.bytesRead };
        case 'damaged':
          throw new CaptureDamagedError(m.name, m.offset, m.reason);
        case 'failed':
          throw rebuildError(m);
      }
    }
  }

  /** Stops every worker; safe to call more than once. */
  async close(): Promise<void> {
    this.#closing = true;
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }
}

function rebuildError(m: Extract<WorkerToMain, { type: 'failed' }>): Error {
  const err: Error & { code?: string } = new Error(m.message);
  if (m.errorName) err.name = m.errorName;
  if (m.stack) err.stack = m.stack;
  if (m.code !== undefined) err.code = m.code;
  return err;
}
