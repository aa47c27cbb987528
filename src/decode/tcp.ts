/** TCP header fields into the output segment. */
import type { TcpSegment } from './segment.js';
import { Parse } from './verdict.js';

/** Bytes needed to see ports, data offset and flags. */
export const TCP_FLAGS_END = 14;
export const TCP_MIN_HEADER = 20;

/**
 * @param captured bytes present in `d` from `off` (never more than declared)
 * @param declared TCP length (header + payload) according to the IP lengths
 *
 * A header that the IP lengths say cannot exist is malformed; one that the
 * capture cut after the flags is still reported (snap length 68 captures).
 */
export function readTcp(
  d: Uint8Array,
  off: number,
  captured: number,
  declared: number,
  seg: TcpSegment,
): Parse {
  if (declared < TCP_MIN_HEADER) return Parse.Malformed;
  if (captured < TCP_FLAGS_END) return Parse.Truncated;
  const doff = d[off + 12] >> 4;
  if (doff < 5) return Parse.Malformed;
  const hlen = doff << 2;
  if (hlen > declared) return Parse.Malformed;
  seg.srcPort = (d[off] << 8) | d[off + 1];
  seg.dstPort = (d[off + 2] << 8) | d[off + 3];
  seg.flags = d[off + 13];
  seg.payloadLength = declared - hlen;
  seg.header = d;
  seg.headerStart = off;
  seg.headerEnd = off + Math.min(hlen, captured);
  return Parse.Ok;
}
