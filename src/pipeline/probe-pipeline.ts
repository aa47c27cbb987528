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
import { DecodeStatus, type TcpSegment } from '../decode/segment.js';
import { Detector } from '../detect/detector.js';
import type { FrameBatch } from '../source/frame-batch.js';
import type { DetectionSettings } from './detection-settings.js';
import { FramePrefilter } from './frame-prefilter.js';
import { ProbeTally } from './probe-tally.js';

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
  /** Decode probes inside tunnels (default true; the live sensor: false, see DecoderOptions). */
  readonly followTunnels?: boolean;
  readonly seed?: number;
  /**
   * Sees every decoded segment before the detector (the forensic summary's
   * whitelisted probes). A pipeline with a tap feeds through its own loop, so
   * the hot loop without one stays as small as V8 inlines it.
   */
  readonly tap?: (seg: TcpSegment) => void;
}

export class ProbePipeline {
  readonly decoder: Decoder;
  readonly detector: Detector;
  /** Probes by port, protocol and kind: every probe the detector counts, counted here once more. */
  readonly probeTally = new ProbeTally();
  readonly #prefilter: FramePrefilter | undefined;
  readonly #tap: ((seg: TcpSegment) => void) | undefined;

  constructor(settings: DetectionSettings, o: ProbePipelineOptions) {
    this.decoder = new Decoder({ followTunnels: o.followTunnels ?? true });
    this.detector = new Detector({
      ...settings,
      onAlarm: o.onAlarm,
      admitAll: o.admitAll ?? true,
      ...(o.seed !== undefined ? { seed: o.seed } : {}),
    });
    this.#prefilter = o.prefilter ? new FramePrefilter(settings.policy) : undefined;
    this.#tap = o.tap;
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
    if (this.#tap !== undefined) {
      this.#feedTapped(b, input, this.#tap);
      return;
    }
    const dec = this.decoder;
    const det = this.detector;
    const seg = dec.segment;
    const pre = this.#prefilter;
    const tally = this.probeTally;
    const counters = det.counters;
    const { data, offset, caplen, linktype, iface } = b;
    const table = typeof input === 'number' ? undefined : input;
    const fixed = typeof input === 'number' ? input : 0;
    for (let i = 0; i < b.count; i++) {
      if (pre !== undefined && pre.skip(data, offset[i]!, caplen[i]!, linktype[i]!)) continue;
      if (dec.decodeAt(b, i) === DecodeStatus.Segment) {
        const probes = counters.probes;
        det.observe(seg, table === undefined ? fixed : (table[iface[i]!] ?? -1), b.firstIndex + i);
        // The detector counts at most one probe per segment; which port and kind it was, the segment says.
        if (counters.probes !== probes) tally.count(seg.dstPort, seg.family, seg.flags);
      }
    }
  }

  /**
   * feed() for frames a worker already prefiltered (parallel replay): each
   * frame carries its own packet index, `input` is the file. The tap, when
   * set, sees each segment before the detector, as in feed().
   */
  feedKept(b: FrameBatch, packet: Float64Array, input: number): void {
    const dec = this.decoder;
    const det = this.detector;
    const seg = dec.segment;
    const tap = this.#tap;
    for (let i = 0; i < b.count; i++) {
      if (dec.decodeAt(b, i) !== DecodeStatus.Segment) continue;
      if (tap !== undefined) tap(seg);
      det.observe(seg, input, packet[i]!);
    }
  }

  /** feed() with the tap: the same loop, the tap called before the detector. */
  #feedTapped(b: FrameBatch, input: number | Int32Array, tap: (seg: TcpSegment) => void): void {
    const dec = this.decoder;
    const seg = dec.segment;
    const pre = this.#prefilter;
    const table = typeof input === 'number' ? undefined : input;
    const fixed = typeof input === 'number' ? input : 0;
    for (let i = 0; i < b.count; i++) {
      if (pre !== undefined && pre.skip(b.data, b.offset[i]!, b.caplen[i]!, b.linktype[i]!)) continue;
      if (dec.decodeAt(b, i) === DecodeStatus.Segment) {
        tap(seg);
        this.detector.observe(seg, table === undefined ? fixed : (table[b.iface[i]!] ?? -1), b.firstIndex + i);
      }
    }
  }
}
