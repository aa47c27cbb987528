/** The messages between a parallel replay's main thread and its worker threads (replay-worker.ts). */
import type { BatchMessage } from './prefiltered-batch.js';

export interface ReplayWorkerData {
  /** The policy's ports: all the prefilter needs (the whitelist stays on the main thread). */
  readonly ports: readonly number[];
  /** Batches the worker may post before the main thread has consumed any. */
  readonly credits: number;
  readonly batchSize?: number;
}

export type MainToWorker =
  | { readonly type: 'read'; readonly file: number; readonly path: string }
  | { readonly type: 'credit'; readonly n: number };

export type WorkerToMain =
  | BatchMessage
  | { readonly type: 'end'; readonly file: number; readonly bytes: number; readonly bytesRead: number }
  | { readonly type: 'damaged'; readonly file: number; readonly name: string; readonly offset: number; readonly reason: string }
  /** Any other error, as the sequential replay would have thrown it. */
  | { readonly type: 'failed'; readonly file: number; readonly message: string; readonly code?: string; readonly errorName?: string; readonly stack?: string };
