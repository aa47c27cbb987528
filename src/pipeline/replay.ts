/**
 * Replay: capture files → decoder → detector → alarm lines. Windows follow
 * packet timestamps, so the same input always gives the same alarms.
 * Several files form one timeline, in the order given.
 */
import type { Alarm } from '../alarm/alarm.js';
import { Decoder, type DecodeCounters } from '../decode/decoder.js';
import { DecodeStatus } from '../decode/segment.js';
import { Detector, type DetectorCounters } from '../detect/detector.js';
import type { ParsedAddress } from '../net/address.js';
import type { Policy } from '../policy/policy.js';
import { CaptureDamagedError, readCapture } from '../source/capture-file.js';
import { FramePrefilter } from './frame-prefilter.js';

export interface ReplayOptions {
  readonly files: readonly string[];
  readonly policy: Policy;
  readonly windowMicros: number;
  readonly maxTrackedKeys: number;
  readonly newSourceRate: number;
  readonly serverAddresses: readonly ParsedAddress[];
  readonly onAlarm: (alarm: Alarm) => void;
  /** Called between batches so the caller can flush output (back-pressure). */
  readonly afterBatch?: () => Promise<void> | void;
  readonly onProgress?: (file: string, bytesRead: number, totalBytes: number | undefined, packets: number) => void;
  readonly seed?: number;
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
  const decoder = new Decoder();
  const detector = new Detector({
    policy: opts.policy,
    windowMicros: opts.windowMicros,
    maxTrackedKeys: opts.maxTrackedKeys,
    newSourceRate: opts.newSourceRate,
    serverAddresses: opts.serverAddresses,
    onAlarm: opts.onAlarm,
    ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
  });
  const seg = decoder.segment;
  const prefilter = new FramePrefilter(opts.policy);
  const result: ReplayResult = { packets: 0, bytes: 0, files: 0, decode: decoder.counters, detect: detector.counters, damaged: [], seconds: 0 };

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
        const { data, offset, caplen, linktype, tsMicros, vlan } = b;
        for (let i = 0; i < b.count; i++) {
          if (prefilter.skip(data, offset[i]!, caplen[i]!, linktype[i]!)) continue;
          if (decoder.decode(data, offset[i]!, caplen[i]!, linktype[i]!, tsMicros[i]!, vlan[i]!) === DecodeStatus.Segment) {
            detector.observe(seg, input, b.firstIndex + i);
          }
        }
        result.packets += b.count;
        if (b.count > 0) detector.advance(tsMicros[b.count - 1]!);
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
