/** The messages between a parallel replay's main thread and its worker threads (replay-worker.ts). */
import type { BatchMessage } from './prefiltered-batch.js';

export interface ReplayWorkerData {
  /** The policy's ports: all the prefilter needs (the whitelist stays on the main thread). */
  readonly ports: readonly number[];
  /** Batches the worker may have posted and the main thread not yet taken. */
  readonly credits: number;
  /**
   * Int32 [0]: batches the main thread has taken from this worker. Shared
   * memory rather than a message per batch: a message wakes the worker's
   * event loop every time (measured: 1,200 credit messages cost the main
   * thread 130–240 ms of a 1.5 s replay on this loaded 2-core VM), where an
   * atomic add costs nothing and wakes the worker only when it waits.
   */
  readonly taken: SharedArrayBuffer;
  readonly batchSize?: number;
}

export type MainToWorker = { readonly type: 'read'; readonly file: number; readonly path: string };

export type WorkerToMain =
  | BatchMessage
  | { readonly type: 'end'; readonly file: number; readonly bytes: number; readonly bytesRead: number }
  | { readonly type: 'damaged'; readonly file: number; readonly name: string; readonly offset: number; readonly reason: string }
  /** Any other error, as the sequential replay would have thrown it. */
  | { readonly type: 'failed'; readonly file: number; readonly message: string; readonly code?: string; readonly errorName?: string; readonly stack?: string };
