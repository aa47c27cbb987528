/**
 * IPv6 extension header chain walk (RFC 8200 §4), bounded, allocation-free.
 */
import { Parse } from './verdict.js';

export const IPPROTO_HOPOPTS = 0;
export const IPPROTO_TCP = 6;
export const IPPROTO_ROUTING = 43;
export const IPPROTO_FRAGMENT = 44;
export const IPPROTO_AH = 51;
export const IPPROTO_DSTOPTS = 60;

/**
 * Real packets carry a handful of extension headers; the bound keeps a chain
 * of thousands of empty options headers from costing more than a few steps.
 */
export const MAX_EXT_HEADERS = 16;

const JUMBO_OPTION = 0xc2;

export class ChainInfo {
  /**
   * Where the walk stopped: the upper-layer protocol (6 = TCP; anything else
   * is not TCP: 59 no next header, 50 ESP, 135 mobility, UDP, ...). For a
   * non-atomic fragment, the fragment header's Next Header instead.
   */
  proto = 0;
  /** Offset of that upper-layer header (for a fragment: of the fragment data). */
  pos = 0;
  /** Offset of a non-atomic fragment header, or -1. */
  fragPos = -1;
  /** Value of a Hop-by-Hop Jumbo Payload option (RFC 2675), or -1. */
  jumbo = -1;
}

function findJumbo(d: Uint8Array, q: number, end: number): number {
  while (q < end) {
    const type = d[q];
    if (type === 0) {
      q++; // Pad1 has no length byte
      continue;
    }
    if (q + 2 > end) return -1;
    const len = d[q + 1];
    if (type === JUMBO_OPTION && len === 4 && q + 6 <= end) {
      return ((d[q + 2] << 24) | (d[q + 3] << 16) | (d[q + 4] << 8) | d[q + 5]) >>> 0;
    }
    q += 2 + len;
  }
  return -1;
}

/**
 * Walks from the header at `p` whose type is `nh`.
 * @param capEnd end of the captured bytes; running past it is Truncated
 * @param declEnd end of the datagram per its length fields; past it is Malformed
 * @param allowFragment false inside a reassembled datagram (nested fragments
 *   are malformed)
 */
export function walkChain(
  d: Uint8Array,
  p: number,
  capEnd: number,
  declEnd: number,
  nh: number,
  allowFragment: boolean,
  out: ChainInfo,
): Parse {
  out.fragPos = -1;
  out.jumbo = -1;
  // MAX_EXT_HEADERS extension headers plus the upper-layer header itself.
  for (let i = 0; i <= MAX_EXT_HEADERS; i++) {
    let len: number;
    switch (nh) {
      case IPPROTO_TCP:
        out.proto = nh;
        out.pos = p;
        return Parse.Ok;
      // Hop-by-hop belongs first only; accepted anywhere so that a stack
      // more lenient than Linux cannot be handed a probe we do not see.
      case IPPROTO_HOPOPTS:
      case IPPROTO_ROUTING:
      case IPPROTO_DSTOPTS:
      case IPPROTO_AH:
        if (p + 2 > declEnd) return Parse.Malformed;
        if (p + 2 > capEnd) return Parse.Truncated;
        len = nh === IPPROTO_AH ? (d[p + 1] + 2) << 2 : (d[p + 1] + 1) << 3;
        if (p + len > declEnd) return Parse.Malformed;
        if (p + len > capEnd) return Parse.Truncated;
        if (nh === IPPROTO_HOPOPTS && i === 0) out.jumbo = findJumbo(d, p + 2, p + len);
        nh = d[p];
        p += len;
        break;
      case IPPROTO_FRAGMENT: {
        if (p + 8 > declEnd) return Parse.Malformed;
        if (p + 8 > capEnd) return Parse.Truncated;
        const fo = (d[p + 2] << 8) | d[p + 3];
        if ((fo & 0xfff9) === 0) {
          // Atomic fragment (RFC 6946): offset 0 and M clear, just payload.
          nh = d[p];
          p += 8;
          break;
        }
        if (!allowFragment) return Parse.Malformed;
        out.fragPos = p;
        out.proto = d[p];
        out.pos = p + 8;
        return Parse.Ok;
      }
      default:
        out.proto = nh;
        out.pos = p;
        return Parse.Ok;
    }
  }
  return Parse.Malformed;
}

/** Next Header values behind which a TCP header may still follow. */
export function mayLeadToTcp(nh: number): boolean {
  return (
    nh === IPPROTO_TCP ||
    nh === IPPROTO_HOPOPTS ||
    nh === IPPROTO_ROUTING ||
    nh === IPPROTO_DSTOPTS ||
    nh === IPPROTO_AH
  );
}
