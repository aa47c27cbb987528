/**
 * Worker thread of a parallel replay (parallel-source.ts): reads the capture
 * files the main thread assigns, one at a time in the order assigned, runs
 * the frame prefilter over every batch and posts the survivors (see
 * prefiltered-batch.ts). It posts a batch only while fewer than `credits` of
 * its batches wait untaken (a counter in shared memory that the main thread
 * raises), so what waits between the threads is bounded whatever the files
 * hold.
 *
 * Every file ends with exactly one of: `end`, `damaged` (the reader's
 * CaptureDamagedError, as data), `failed` (any other error: a missing file,
 * a read error), after all the batches read before it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { CaptureDamagedError, readCapture } from '../source/capture-file.js';
import { FramePrefilter } from './frame-prefilter.js';
import { packSurvivors } from './prefiltered-batch.js';
import type { MainToWorker, ReplayWorkerData, WorkerToMain } from './parallel-messages.js';

const port = parentPort!;
const setup = workerData as ReplayWorkerData;
const prefilter = new FramePrefilter({ ports: setup.ports.map((p) => ({ port: p, protocol: 'tcp' as const })) });

const taken = new Int32Array(setup.taken);
let posted = 0;
const jobs: { file: number; path: string }[] = [];
let jobWaiter: (() => void) | undefined;

port.on('message', (m: MainToWorker) => {
  jobs.push({ file: m.file, path: m.path });
  jobWaiter?.();
});

const post = (m: WorkerToMain, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);

/**
 * Blocks this thread until the main thread has taken enough batches. The
 * bounded wait only guards against a missed wake-up; terminate() ends it too.
 */
function waitForCredit(): void {
  for (;;) {
    const seen = Atomics.load(taken, 0);
    if (posted - seen < setup.credits) break;
    Atomics.wait(taken, 0, seen, 100);
  }
  posted++;
}

async function readOne(file: number, path: string): Promise<void> {
  let bytesRead = 0;
  let keep = new Uint8Array(0);
  const reader = readCapture(path, {
    ...(setup.batchSize ? { batchSize: setup.batchSize } : {}),
    onProgress: (read) => {
      bytesRead = read;
    },
  });
  try {
    for (;;) {
      const next = await reader.next();
      if (next.done) {
        post({ type: 'end', file, bytes: next.value.bytes, bytesRead });
        return;
      }
      const b = next.value;
      if (keep.length < b.count) keep = new Uint8Array(b.capacity);
      // The batch is packed (copied) before waiting: the reader reuses its buffer only on the next pull.
      const m = packSurvivors(b, prefilter, file, bytesRead, keep);
      waitForCredit();
      post(m, [m.buffer]);
    }
  } catch (err) {
    if (err instanceof CaptureDamagedError) {
      post({ type: 'damaged', file, name: err.file, offset: err.offset, reason: err.reason });
      return;
    }
    const e = err as NodeJS.ErrnoException;
    post({
      type: 'failed',
      file,
      message: e instanceof Error ? e.message : String(err),
      ...(typeof e?.code === 'string' ? { code: e.code } : {}),
      ...(e instanceof Error ? { errorName: e.name, ...(e.stack ? { stack: e.stack } : {}) } : {}),
    });
  }
}

for (;;) {
  while (jobs.length === 0) await new Promise<void>((resolve) => (jobWaiter = resolve));
  jobWaiter = undefined;
  const job = jobs.shift()!;
  await readOne(job.file, job.path);
}
