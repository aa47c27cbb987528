/**
 * Replay: capture files → the probe pipeline → alarm lines. Windows follow
 * packet timestamps, so the same input always gives the same alarms.
 * Several files form one timeline, in the order given.
 *
 * With `workers` > 0 (and more than one file, none of them standard input),
 * worker threads read and prefilter the files ahead (parallel-source.ts)
 * while this thread runs detection over the same timeline. The detector gets
 * exactly the calls of a sequential replay — the same frames in the same
 * order with the same packet indexes, `advance` with the last timestamp of
 * each source batch whether its last frame was kept or not, a damaged file
 * ending its part of the timeline at the same packet — so the alarms are the
 * same, byte for byte.
 */
import { statSync } from 'node:fs';
import type { Alarm } from '../alarm/alarm.js';
import type { DecodeCounters } from '../decode/decoder.js';
import type { TcpSegment } from '../decode/segment.js';
import type { DetectorCounters } from '../detect/detector.js';
import { CaptureDamagedError, readCapture } from '../source/capture-file.js';
import type { DetectionSettings } from './detection-settings.js';
import { ProbePipeline } from './probe-pipeline.js';

/** Where a replay is, over all its files. */
export interface ReplayProgress {
  /** The file being replayed, as given. */
  readonly file: string;
  /** Its position among the files (0-based). */
  readonly fileIndex: number;
  readonly files: number;
  /** Bytes read of all files so far (compressed bytes for gzip). */
  readonly bytesRead: number;
  /** Size of all files together; undefined when one is standard input or not a regular file. */
  readonly totalBytes: number | undefined;
  readonly packets: number;
}

export interface ReplayOptions {
  readonly files: readonly string[];
  readonly detection: DetectionSettings;
  readonly onAlarm: (alarm: Alarm) => void;
  /** Called between batches so the caller can flush output (back-pressure). */
  readonly afterBatch?: () => Promise<void> | void;
  readonly onProgress?: (p: ReplayProgress) => void;
  readonly seed?: number;
  /** Worker threads that read and prefilter files (0 or absent: this thread reads). */
  readonly workers?: number;
  /** Tests: batches per worker that may wait, frames per batch, a worker's heap limit (MiB). */
  readonly credits?: number;
  readonly batchSize?: number;
  readonly workerHeapMiB?: number;
  /** Sees every decoded segment (see ProbePipelineOptions.tap). */
  readonly tap?: (seg: TcpSegment) => void;
}

export interface ReplayResult {
  packets: number;
  bytes: number;
  files: number;
  decode: DecodeCounters;
  detect: DetectorCounters;
  damaged: CaptureDamagedError[];
  seconds: number;
  /** Worker threads that read the files (0: read on this thread). */
  workers: number;
  /** Most prefiltered batches ever waiting for detection at once (parallel only). */
  peakQueuedBatches: number;
}

/** Whether a replay of `files` can read them on worker threads. */
export function canReadInParallel(files: readonly string[]): boolean {
  return files.length > 1 && !files.includes('-');
}

function sizesOf(files: readonly string[]): (number | undefined)[] {
  return files.map((f) => {
    if (f === '-') return undefined;
    try {
      const st = statSync(f);
      return st.isFile() ? st.size : undefined;
    } catch {
      return undefined; // the read reports the error, at this file's turn
    }
  });
}

export async function replay(opts: ReplayOptions): Promise<ReplayResult> {
  const started = process.hrtime.bigint();
  const parallel = (opts.workers ?? 0) > 0 && canReadInParallel(opts.files);
  const pipeline = new ProbePipeline(opts.detection, { onAlarm: opts.onAlarm, prefilter: !parallel, ...(opts.seed !== undefined ? { seed: opts.seed } : {}), ...(opts.tap ? { tap: opts.tap } : {}) });
  const detector = pipeline.detector;
  const result: ReplayResult = { packets: 0, bytes: 0, files: 0, decode: pipeline.decodeCounters, detect: detector.counters, damaged: [], seconds: 0, workers: 0, peakQueuedBatches: 0 };
  const sizes = sizesOf(opts.files);
  const totalBytes = sizes.every((s) => s !== undefined) ? sizes.reduce((a: number, s) => a + s!, 0) : undefined;
  let before = 0; // bytes of the files already replayed
  const progress = opts.onProgress;
  const report = (input: number, read: number): void =>
    progress?.({ file: opts.files[input]!, fileIndex: input, files: opts.files.length, bytesRead: before + read, totalBytes, packets: result.packets });

  /** One source batch: what the sequential loop did for it, in the same order. */
  const afterSourceBatch = async (count: number, lastTs: number): Promise<void> => {
    result.packets += count;
    if (count > 0) detector.advance(lastTs);
    if (opts.afterBatch) await opts.afterBatch();
  };

  const source = parallel
    ? new (await import('./parallel-source.js')).ParallelSource(opts.files, {
        workers: opts.workers!,
        ports: opts.detection.policy.ports.map((p) => p.port),
        ...(opts.credits ? { credits: opts.credits } : {}),
        ...(opts.batchSize ? { batchSize: opts.batchSize } : {}),
        ...(opts.workerHeapMiB ? { workerHeapMiB: opts.workerHeapMiB } : {}),
      })
    : undefined;
  try {
    for (let input = 0; input < opts.files.length; input++) {
      try {
        if (source) {
          const parts = source.parts(input);
          for (;;) {
            const next = await parts.next();
            if (next.done) {
              result.bytes += next.value.bytes;
              break;
            }
            const p = next.value;
            pipeline.feedKept(p.batch, p.packet, input);
            report(input, p.bytesRead);
            await afterSourceBatch(p.count, p.lastTs);
          }
        } else {
          const reader = readCapture(opts.files[input]!, {
            ...(opts.batchSize ? { batchSize: opts.batchSize } : {}),
            ...(progress ? { onProgress: (read: number) => report(input, read) } : {}),
          });
          for (;;) {
            const next = await reader.next();
            if (next.done) {
              result.bytes += next.value.bytes;
              break;
            }
            const b = next.value;
            pipeline.feed(b, input);
            await afterSourceBatch(b.count, b.count > 0 ? b.tsMicros[b.count - 1]! : 0);
          }
        }
      } catch (err) {
        if (!(err instanceof CaptureDamagedError)) throw err;
        result.damaged.push(err);
      }
      before += sizes[input] ?? 0;
      result.files++;
    }
  } catch (err) {
    // A file that cannot be read ends the run: the windows open so far still close, so
    // every alarm up to that file is raised (the caller writes them, then reports the error).
    try {
      detector.flush();
    } catch {
      // the first error is the one to report
    }
    throw err;
  } finally {
    if (source) {
      result.workers = source.workers;
      result.peakQueuedBatches = source.peakQueued;
      await source.close();
    }
  }
  detector.flush();
  result.seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return result;
}
