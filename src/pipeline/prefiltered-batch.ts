/**
 * What a replay worker thread sends the main thread for one batch of a
 * capture file: the frames the prefilter kept, copied into fresh buffers that
 * are transferred (not cloned), and what detection needs to know about the
 * batch as a whole — how many packets it held and the timestamp of its last
 * packet, kept or not — so that the main thread drives the detector with
 * exactly the calls a sequential replay makes (see replay.ts).
 *
 * The frames a message carries are at most one reader chunk (the reader's
 * frames point into its working buffer), so a message is bounded by the
 * reader's buffer size whatever the capture holds.
 *
 * Packing allocates per batch (once per few thousand packets), never per
 * packet; the main thread's side allocates one small FrameBatch per batch.
 */
import { FrameBatch } from '../source/frame-batch.js';
import type { FramePrefilter } from './frame-prefilter.js';

/**
 * Worker → main: one source batch, survivors only. Their columns and bytes
 * travel in one transferred buffer (one transfer per message costs both
 * threads about half of what eight did), laid out widest first so every
 * column is aligned: tsMicros, packet (f64) · offset, caplen, wirelen (u32),
 * iface (i32) · linktype (u16) · frame bytes.
 */
export interface BatchMessage {
  readonly type: 'batch';
  readonly file: number;
  /** Packets in the source batch (kept or not). */
  readonly count: number;
  /** Timestamp of the source batch's last packet, microseconds. */
  readonly lastTs: number;
  /** Bytes of the input consumed so far, for progress. */
  readonly bytesRead: number;
  readonly kept: number;
  readonly buffer: ArrayBuffer;
}

/** The typed-array columns of a message's buffer. */
interface Columns {
  readonly tsMicros: Float64Array;
  /** Index of each kept frame in its file (0-based), as a sequential replay numbers it. */
  readonly packet: Float64Array;
  readonly offset: Uint32Array;
  readonly caplen: Uint32Array;
  readonly wirelen: Uint32Array;
  readonly iface: Int32Array;
  readonly linktype: Uint16Array;
  /** Where the frame bytes start. */
  readonly dataAt: number;
}

const BYTES_PER_FRAME = 8 + 8 + 4 + 4 + 4 + 4 + 2;

function columns(buffer: ArrayBuffer, kept: number): Columns {
  const f64 = 8 * kept;
  const u32 = 4 * kept;
  return {
    tsMicros: new Float64Array(buffer, 0, kept),
    packet: new Float64Array(buffer, f64, kept),
    offset: new Uint32Array(buffer, 2 * f64, kept),
    caplen: new Uint32Array(buffer, 2 * f64 + u32, kept),
    wirelen: new Uint32Array(buffer, 2 * f64 + 2 * u32, kept),
    iface: new Int32Array(buffer, 2 * f64 + 3 * u32, kept),
    linktype: new Uint16Array(buffer, 2 * f64 + 4 * u32, kept),
    dataAt: BYTES_PER_FRAME * kept,
  };
}

/** Copies the frames of `b` that `pre` does not skip into a transferable message. */
export function packSurvivors(b: FrameBatch, pre: FramePrefilter, file: number, bytesRead: number, keep: Uint8Array): BatchMessage {
  const { data, offset, caplen, linktype } = b;
  let kept = 0;
  let bytes = 0;
  for (let i = 0; i < b.count; i++) {
    const k = pre.skip(data, offset[i]!, caplen[i]!, linktype[i]!) ? 0 : 1;
    keep[i] = k;
    if (k) {
      kept++;
      bytes += caplen[i]!;
    }
  }
  const buffer = new ArrayBuffer(BYTES_PER_FRAME * kept + bytes);
  const c = columns(buffer, kept);
  const out = new Uint8Array(buffer);
  let j = 0;
  let at = c.dataAt;
  for (let i = 0; i < b.count; i++) {
    if (!keep[i]) continue;
    const len = caplen[i]!;
    out.set(data.subarray(offset[i]!, offset[i]! + len), at);
    c.offset[j] = at;
    c.caplen[j] = len;
    c.wirelen[j] = b.wirelen[i]!;
    c.linktype[j] = linktype[i]!;
    c.iface[j] = b.iface[i]!;
    c.tsMicros[j] = b.tsMicros[i]!;
    c.packet[j] = b.firstIndex + i;
    at += len;
    j++;
  }
  return { type: 'batch', file, count: b.count, lastTs: b.count > 0 ? b.tsMicros[b.count - 1]! : 0, bytesRead, kept, buffer };
}

/** The kept frames of a message as a FrameBatch (vlan is 0: files keep their tags in the frame), and their packet indexes. */
export function unpackBatch(m: BatchMessage, zeros: Uint16Array): { batch: FrameBatch; packet: Float64Array } {
  const c = columns(m.buffer, m.kept);
  const b = new FrameBatch(0);
  b.count = m.kept;
  // Frame offsets count from the buffer's start, so data is the whole buffer.
  b.data = Buffer.from(m.buffer);
  b.offset = c.offset;
  b.caplen = c.caplen;
  b.wirelen = c.wirelen;
  b.linktype = c.linktype;
  b.iface = c.iface;
  b.tsMicros = c.tsMicros;
  b.vlan = zeros.length >= m.kept ? zeros : new Uint16Array(m.kept);
  return { batch: b, packet: c.packet };
}
