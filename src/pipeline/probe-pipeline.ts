/**
 * The one decode → detect loop, shared by replay and the live sensor: frames
 * in, alarm decisions out, through one Decoder and one Detector built here
 * from DetectionSettings. Sources differ only in how a frame names its input
 * (a replay: the file being read; live: the capturing interface, through an
 * ifindex table) and in time (packet timestamps, or the clock). Counters live
 * as long as the pipeline: a policy reload reconfigures the detector in place.
 * `feed` allocates nothing per frame.
 */
import type { Alarm } from '../alarm/alarm.js';
import { Decoder, type DecodeCounters } from '../decode/decoder.js';
import { DecodeStatus } from '../decode/segment.js';
import { Detector } from '../detect/detector.js';
import type { FrameBatch } from '../source/frame-batch.js';
import type { DetectionSettings } from './detection-settings.js';
import { FramePrefilter } from './frame-prefilter.js';

export interface ProbePipelineOptions {
  readonly onAlarm: (alarm: Alarm) => void;
  /**
   * Replay: every policy port is a decoy (default). Live: none until the
   * sensor holds it (Detector.admit), so an occupied port never alarms.
   */
  readonly admitAll?: boolean;
  /**
   * Skip frames that cannot concern a decoy port before decoding (replay;
   * live, the kernel filter already did). Built from the first policy: a
   * pipeline that is reconfigured must not use it.
   */
  readonly prefilter?: boolean;
  readonly seed?: number;
}

export class ProbePipeline {
  readonly decoder = new Decoder();
  readonly detector: Detector;
  readonly #prefilter: FramePrefilter | undefined;

  constructor(settings: DetectionSettings, o: ProbePipelineOptions) {
    this.detector = new Detector({
      ...settings,
      onAlarm: o.onAlarm,
      admitAll: o.admitAll ?? true,
      ...(o.seed !== undefined ? { seed: o.seed } : {}),
    });
    this.#prefilter = o.prefilter ? new FramePrefilter(settings.policy) : undefined;
  }

  get decodeCounters(): DecodeCounters {
    return this.decoder.counters;
  }

  /**
   * Decodes every frame of `b` and gives each TCP segment to the detector.
   * `input` is the input index of all frames (a file), or a table from the
   * batch's per-frame ifindex to the input index, -1 for an unknown
   * interface (live).
   */
  feed(b: FrameBatch, input: number | Int32Array): void {
    const dec = this.decoder;
    const det = this.detector;
    const seg = dec.segment;
    const pre = this.#prefilter;
    const { data, offset, caplen, linktype, iface } = b;
    const table = typeof input === 'number' ? undefined : input;
    const fixed = typeof input === 'number' ? input : 0;
    for (let i = 0; i < b.count; i++) {
      if (pre !== undefined && pre.skip(data, offset[i]!, caplen[i]!, linktype[i]!)) continue;
      if (dec.decodeAt(b, i) === DecodeStatus.Segment) {
        det.observe(seg, table === undefined ? fixed : (table[iface[i]!] ?? -1), b.firstIndex + i);
      }
    }
  }
}
