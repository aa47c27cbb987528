/**
 * A 64-bit digest (two independent 32-bit FNV-1a style lanes) of a probe's
 * captured TCP header, kept per alarm so that replay ids tell apart alarms
 * that agree on key and timestamp but not on the packet (two different
 * captures, the same second, the same scanner). Sequence number, window and
 * options make two real probes differ here.
 *
 * Not a cryptographic hash: it only feeds the SHA-1 of the alarm id. Computed
 * once per alarm, when a probe opens one (first probe of a key, first probe of
 * a follow-up window), never per packet; writes into the caller's typed array
 * and allocates nothing.
 */
import type { TcpSegment } from '../decode/segment.js';

/** Writes the digest of `seg`'s TCP header into out[at] (lane 1) and out[at + 1] (lane 2). */
export function digestProbe(seg: TcpSegment, out: Uint32Array, at: number): void {
  const d = seg.header;
  let a = 0x811c9dc5;
  let b = 0x6b43a9b5;
  for (let i = seg.headerStart; i < seg.headerEnd; i++) {
    const x = d[i]!;
    a = Math.imul(a ^ x, 0x01000193);
    b = Math.imul(b ^ x, 0x5bd1e995);
    b ^= b >>> 13;
  }
  out[at] = a >>> 0;
  out[at + 1] = b >>> 0;
}

/** Two hex digits per byte value: digestText runs once per alarm, Number.toString(16) + padStart cost several times more. */
const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

function wordHex(w: number): string {
  return HEX[w >>> 24]! + HEX[(w >>> 16) & 0xff]! + HEX[(w >>> 8) & 0xff]! + HEX[w & 0xff]!;
}

/** The digest at out[at..at+2) as 16 hex digits (for the alarm, which is allocated anyway). */
export function digestText(out: Uint32Array, at: number): string {
  return wordHex(out[at]!) + wordHex(out[at + 1]!);
}
