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

/** Worker → main: one source batch, survivors only. */
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
  readonly data: ArrayBuffer;
  readonly offset: Uint32Array;
  readonly caplen: Uint32Array;
  readonly wirelen: Uint32Array;
  readonly linktype: Uint16Array;
  readonly iface: Int32Array;
  readonly tsMicros: Float64Array;
  /** Index of each kept frame in its file (0-based), as a sequential replay numbers it. */
  readonly packet: Float64Array;
}

/** The buffers of a message, for postMessage's transfer list. */
export function transferList(m: BatchMessage): ArrayBuffer[] {
  return [m.data, m.offset.buffer, m.caplen.buffer, m.wirelen.buffer, m.linktype.buffer, m.iface.buffer, m.tsMicros.buffer, m.packet.buffer] as ArrayBuffer[];
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
  const out = new Uint8Array(bytes);
  const m: BatchMessage = {
    type: 'batch',
    file,
    count: b.count,
    lastTs: b.count > 0 ? b.tsMicros[b.count - 1]! : 0,
    bytesRead,
    kept,
    data: out.buffer,
    offset: new Uint32Array(kept),
    caplen: new Uint32Array(kept),
    wirelen: new Uint32Array(kept),
    linktype: new Uint16Array(kept),
    iface: new Int32Array(kept),
    tsMicros: new Float64Array(kept),
    packet: new Float64Array(kept),
  };
  let j = 0;
  let at = 0;
  for (let i = 0; i < b.count; i++) {
    if (!keep[i]) continue;
    const len = caplen[i]!;
    out.set(data.subarray(offset[i]!, offset[i]! + len), at);
    m.offset[j] = at;
    m.caplen[j] = len;
    m.wirelen[j] = b.wirelen[i]!;
    m.linktype[j] = linktype[i]!;
    m.iface[j] = b.iface[i]!;
    m.tsMicros[j] = b.tsMicros[i]!;
    m.packet[j] = b.firstIndex + i;
    at += len;
    j++;
  }
  return m;
}

/** The kept frames of a message as a FrameBatch (vlan is 0: files keep their tags in the frame). */
export function unpackBatch(m: BatchMessage, zeros: Uint16Array): FrameBatch {
  const b = new FrameBatch(0);
  b.count = m.kept;
  b.data = Buffer.from(m.data);
  b.offset = m.offset;
  b.caplen = m.caplen;
  b.wirelen = m.wirelen;
  b.linktype = m.linktype;
  b.iface = m.iface;
  b.tsMicros = m.tsMicros;
  b.vlan = zeros.length >= m.kept ? zeros : new Uint16Array(m.kept);
  return b;
}
