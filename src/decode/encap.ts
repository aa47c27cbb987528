/**
 * Tunnel headers: from the payload of an outer IP datagram to the packet it
 * carries. One function per encapsulation, each bounded by the outer
 * datagram and writing into a caller-owned EncapInfo (no allocation).
 *
 * What is walked: IP protocol 4 and 41 (nothing to parse), GRE version 0
 * with checksum/key/sequence fields carrying IPv4, IPv6, Ethernet (0x6558)
 * or ERSPAN I/II/III, VXLAN on UDP 4789 and Geneve on UDP 6081 (options
 * skipped by their stated length). What is not: GRE version 1 (PPTP, which
 * carries PPP), GRE source routing (RFC 1701, obsolete; Linux drops it),
 * VXLAN on other ports (Linux's legacy 8472 included: no standard says a
 * datagram there is VXLAN), VXLAN-GPE. Checksums are never verified.
 *
 * A header cut by the capture is Truncated; one the outer datagram's length
 * says cannot be whole, or with values its standard forbids (VXLAN without
 * the I flag, a Geneve version other than 0), is Malformed — both counted
 * like any other damaged frame.
 */
import { TunnelType } from './tunnel.js';
import { Parse } from './verdict.js';

/** What a tunnel header carries. */
export const enum Inner {
  Ipv4 = 4,
  Ipv6 = 6,
  Ethernet = 1,
  /** A tunnel, but carrying neither IP nor Ethernet (PPP, MPLS, ...). */
  NotIp = 0,
  /** Not a tunnel at all (UDP to another port, GRE version 1). */
  None = -3,
  Malformed = Parse.Malformed,
  Truncated = Parse.Truncated,
}

export const IPPROTO_IPIP = 4;
export const IPPROTO_IPV6 = 41;
export const IPPROTO_GRE = 47;
export const IPPROTO_UDP = 17;
export const UDP_PORT_VXLAN = 4789;
export const UDP_PORT_GENEVE = 6081;

const ETH_IPV4 = 0x0800;
const ETH_IPV6 = 0x86dd;
const ETH_TEB = 0x6558;
const ETH_ERSPAN_1_2 = 0x88be;
const ETH_ERSPAN_3 = 0x22eb;

export class EncapInfo {
  type: TunnelType = TunnelType.Gre;
  /** VNI, GRE key or ERSPAN session; -1: none. */
  id = -1;
  /** Offset of the carried packet or frame. */
  pos = 0;
}

/** Needs `n` bytes at `p`: Malformed when the datagram cannot hold them, Truncated when the capture does not. */
function need(p: number, n: number, capEnd: number, declEnd: number): Parse {
  if (p + n > declEnd) return Parse.Malformed;
  if (p + n > capEnd) return Parse.Truncated;
  return Parse.Ok;
}

function fromEthertype(et: number): Inner {
  if (et === ETH_IPV4) return Inner.Ipv4;
  if (et === ETH_IPV6) return Inner.Ipv6;
  if (et === ETH_TEB) return Inner.Ethernet;
  return Inner.NotIp;
}

/** GRE (RFC 2784, key and sequence RFC 2890) and ERSPAN inside it, at `p`. */
export function parseGre(d: Uint8Array, p: number, capEnd: number, declEnd: number, out: EncapInfo): Inner {
  let r = need(p, 4, capEnd, declEnd);
  if (r !== Parse.Ok) return r as number as Inner;
  const flags = (d[p]! << 8) | d[p + 1]!;
  if ((flags & 7) !== 0) return Inner.None; // version 1 is PPTP's enhanced GRE
  if (flags & 0x4000) return Inner.Malformed; // RFC 1701 routing present
  const hasSeq = (flags & 0x1000) !== 0;
  let len = 4;
  if (flags & 0x8000) len += 4;
  let key = -1;
  if (flags & 0x2000) {
    r = need(p, len + 4, capEnd, declEnd);
    if (r !== Parse.Ok) return r as number as Inner;
    key = ((d[p + len]! << 24) | (d[p + len + 1]! << 16) | (d[p + len + 2]! << 8) | d[p + len + 3]!) >>> 0;
    len += 4;
  }
  if (hasSeq) len += 4;
  r = need(p, len, capEnd, declEnd);
  if (r !== Parse.Ok) return r as number as Inner;
  const proto = (d[p + 2]! << 8) | d[p + 3]!;
  const q = p + len;
  if (proto === ETH_ERSPAN_1_2 || proto === ETH_ERSPAN_3) return parseErspan(d, q, capEnd, declEnd, proto, hasSeq, out);
  out.type = TunnelType.Gre;
  out.id = key;
  out.pos = q;
  return fromEthertype(proto);
}

/**
 * ERSPAN (draft-foschiano-erspan): type I has no header of its own (and no
 * GRE sequence number); type II an 8-byte header, version 1; type III a
 * 12-byte header, version 2, plus an 8-byte platform subheader when its O
 * flag is set. All carry a mirrored Ethernet frame.
 */
function parseErspan(d: Uint8Array, q: number, capEnd: number, declEnd: number, proto: number, hasSeq: boolean, out: EncapInfo): Inner {
  out.type = TunnelType.Erspan;
  if (proto === ETH_ERSPAN_1_2 && !hasSeq) {
    out.id = -1;
    out.pos = q;
    return Inner.Ethernet;
  }
  const v3 = proto === ETH_ERSPAN_3;
  let len = v3 ? 12 : 8;
  const r = need(q, len, capEnd, declEnd);
  if (r !== Parse.Ok) return r as number as Inner;
  const version = d[q]! >> 4;
  if (version !== (v3 ? 2 : 1)) return Inner.Malformed;
  out.id = ((d[q + 2]! & 0x03) << 8) | d[q + 3]!;
  if (v3 && (d[q + 11]! & 0x01) !== 0) len += 8;
  if (q + len > declEnd) return Inner.Malformed;
  out.pos = q + len;
  return Inner.Ethernet;
}

/** A UDP datagram at `p`: VXLAN or Geneve by destination port, else not a tunnel. */
export function parseUdpTunnel(d: Uint8Array, p: number, capEnd: number, declEnd: number, out: EncapInfo): Inner {
  if (p + 8 > declEnd) return Inner.Malformed;
  if (p + 4 > capEnd) return Inner.Truncated;
  const port = (d[p + 2]! << 8) | d[p + 3]!;
  if (port !== UDP_PORT_VXLAN && port !== UDP_PORT_GENEVE) return Inner.None;
  const q = p + 8;
  const r = need(q, 8, capEnd, declEnd);
  if (r !== Parse.Ok) return r as number as Inner;
  out.id = (d[q + 4]! << 16) | (d[q + 5]! << 8) | d[q + 6]!;
  if (port === UDP_PORT_VXLAN) {
    if ((d[q]! & 0x08) === 0) return Inner.Malformed; // RFC 7348: the I flag must be set
    out.type = TunnelType.Vxlan;
    out.pos = q + 8;
    return Inner.Ethernet;
  }
  // Geneve: version (2 bits) must be 0; options length in 4-byte words.
  if (d[q]! >> 6 !== 0) return Inner.Malformed;
  const len = 8 + (d[q]! & 0x3f) * 4;
  const rr = need(q, len, capEnd, declEnd);
  if (rr !== Parse.Ok) return rr as number as Inner;
  out.type = TunnelType.Geneve;
  out.pos = q + len;
  return fromEthertype((d[q + 2]! << 8) | d[q + 3]!);
}
