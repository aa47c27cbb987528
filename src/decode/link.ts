/**
 * Link layer walk: from the start of a captured frame to the IP header.
 * Allocation-free: results are written into a caller-owned LinkInfo.
 */
import { LinkType } from '../source/frame-batch.js';
import { Parse } from './verdict.js';

/** What the link layer carried (returned by parseLink). */
export const enum Net {
  Ipv4 = 4,
  Ipv6 = 6,
  NotIp = 0,
  Malformed = Parse.Malformed,
  Truncated = Parse.Truncated,
  UnknownLinktype = -3,
}

/**
 * Stacked tags are bounded so a frame full of 0x8100 cannot make us loop
 * long; 8 is far beyond anything real (QinQinQ is 3).
 */
export const MAX_VLAN_TAGS = 8;

const ETH_IPV4 = 0x0800;
const ETH_IPV6 = 0x86dd;

/** BSD address-family values for IPv6 differ per OS (NetBSD/OpenBSD 24, FreeBSD 28, macOS 30). */
const AF_INET = 2;

export class LinkInfo {
  /** Offset of the IP header in the frame buffer. */
  offset = 0;
  /** Number of VLAN tags seen, including one the capture layer stripped. */
  tags = 0;
  vlanOuter = 0;
  vlanInner = 0;
}

function isAfInet6(v: number): boolean {
  return v === 24 || v === 28 || v === 30;
}

function recordTag(out: LinkInfo, vid: number): void {
  if (out.tags === 0) out.vlanOuter = vid;
  else if (out.tags === 1) out.vlanInner = vid;
  out.tags++;
}

/** Ethertype (after any tags) to Net; `p` is the offset just past it. */
function fromEthertype(d: Uint8Array, p: number, end: number, et: number, out: LinkInfo): Net {
  // 802.1Q, 802.1ad, and the pre-standard 0x9100 QinQ tag.
  while (et === 0x8100 || et === 0x88a8 || et === 0x9100) {
    if (out.tags >= MAX_VLAN_TAGS) return Net.Malformed;
    if (end - p < 4) return Net.Truncated;
    recordTag(out, ((d[p] << 8) | d[p + 1]) & 0x0fff);
    et = (d[p + 2] << 8) | d[p + 3];
    p += 4;
  }
  out.offset = p;
  if (et === ETH_IPV4) return Net.Ipv4;
  if (et === ETH_IPV6) return Net.Ipv6;
  return Net.NotIp;
}

/** Raw IP: the version nibble decides (LINKTYPE_RAW). */
function fromVersion(d: Uint8Array, p: number, end: number, out: LinkInfo): Net {
  if (end - p < 1) return Net.Truncated;
  out.offset = p;
  const v = d[p] >> 4;
  if (v === 4) return Net.Ipv4;
  if (v === 6) return Net.Ipv6;
  return Net.NotIp;
}

/**
 * @param vlan id the capture layer already stripped (0 = none); it is the
 *   outermost tag, so tags still in the frame come after it.
 */
export function parseLink(
  d: Uint8Array,
  off: number,
  end: number,
  linktype: number,
  vlan: number,
  out: LinkInfo,
): Net {
  out.tags = 0;
  out.vlanOuter = 0;
  out.vlanInner = 0;
  if (vlan !== 0) recordTag(out, vlan & 0x0fff);
  switch (linktype) {
    case LinkType.ETHERNET:
      if (end - off < 14) return Net.Truncated;
      return fromEthertype(d, off + 14, end, (d[off + 12] << 8) | d[off + 13], out);
    case LinkType.LINUX_SLL:
      if (end - off < 16) return Net.Truncated;
      return fromEthertype(d, off + 16, end, (d[off + 14] << 8) | d[off + 15], out);
    case LinkType.LINUX_SLL2:
      if (end - off < 20) return Net.Truncated;
      return fromEthertype(d, off + 20, end, (d[off] << 8) | d[off + 1], out);
    case LinkType.RAW:
      return fromVersion(d, off, end, out);
    case LinkType.IPV4:
      if (end - off < 1) return Net.Truncated;
      out.offset = off;
      return d[off] >> 4 === 4 ? Net.Ipv4 : Net.Malformed;
    case LinkType.IPV6:
      if (end - off < 1) return Net.Truncated;
      out.offset = off;
      return d[off] >> 4 === 6 ? Net.Ipv6 : Net.Malformed;
    case LinkType.NULL:
    case LinkType.LOOP: {
      if (end - off < 4) return Net.Truncated;
      const be = ((d[off] << 24) | (d[off + 1] << 16) | (d[off + 2] << 8) | d[off + 3]) >>> 0;
      // DLT_NULL is in the capturing host's byte order, which the file does
      // not record: accept either. LOOP is always network order.
      const le =
        linktype === LinkType.NULL
          ? ((d[off + 3] << 24) | (d[off + 2] << 16) | (d[off + 1] << 8) | d[off]) >>> 0
          : be;
      out.offset = off + 4;
      if (be === AF_INET || le === AF_INET) return Net.Ipv4;
      if (isAfInet6(be) || isAfInet6(le)) return Net.Ipv6;
      return Net.NotIp;
    }
    default:
      return Net.UnknownLinktype;
  }
}
