/**
 * Replay: capture files → the probe pipeline → alarm lines. Windows follow
 * packet timestamps, so the same input always gives the same alarms.
 * Several files form one timeline, in the order given.
 */
import type { Alarm } from '../alarm/alarm.js';
import type { DecodeCounters } from '../decode/decoder.js';
import type { TcpSegment } from '../decode/segment.js';
import type { DetectorCounters } from '../detect/detector.js';
import { CaptureDamagedError, readCapture } from '../source/capture-file.js';
import type { DetectionSettings } from './detection-settings.js';
import { ProbePipeline } from './probe-pipeline.js';

export interface ReplayOptions {
  readonly files: readonly string[];
  readonly detection: DetectionSettings;
  readonly onAlarm: (alarm: Alarm) => void;
  /** Called between batches so the caller can flush output (back-pressure). */
  readonly afterBatch?: () => Promise<void> | void;
  readonly onProgress?: (file: string, bytesRead: number, totalBytes: number | undefined, packets: number) => void;
  readonly seed?: number;
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
}

export async function replay(opts: ReplayOptions): Promise<ReplayResult> {
  const started = process.hrtime.bigint();
  const pipeline = new ProbePipeline(opts.detection, { onAlarm: opts.onAlarm, prefilter: true, ...(opts.seed !== undefined ? { seed: opts.seed } : {}), ...(opts.tap ? { tap: opts.tap } : {}) });
  const detector = pipeline.detector;
  const result: ReplayResult = { packets: 0, bytes: 0, files: 0, decode: pipeline.decodeCounters, detect: detector.counters, damaged: [], seconds: 0 };

  for (let input = 0; input < opts.files.length; input++) {
    const file = opts.files[input]!;
    const progress = opts.onProgress;
    const reader = readCapture(file, progress ? { onProgress: (read, total) => progress(file, read, total, result.packets) } : {});
    try {
      for (;;) {
        const next = await reader.next();
        if (next.done) {
          result.bytes += next.value.bytes;
          break;
        }
        const b = next.value;
        pipeline.feed(b, input);
        result.packets += b.count;
        if (b.count > 0) detector.advance(b.tsMicros[b.count - 1]!);
        if (opts.afterBatch) await opts.afterBatch();
      }
    } catch (err) {
      if (!(err instanceof CaptureDamagedError)) throw err;
      result.damaged.push(err);
    }
    result.files++;
  }
  detector.flush();
  result.seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return result;
}
