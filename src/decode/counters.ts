/**
 * Decoder counters. Every decode() call counts one frame; every Malformed
 * status counts one `malformed`. The other counters describe what was seen
 * and may overlap with those (a snap-length-cut frame counts `truncated` and
 * may still yield a segment).
 */
export interface DecodeCounters {
  frames: number;
  /** Frames returned as Malformed (including those cut before the TCP flags). */
  malformed: number;
  /** Frames whose capture ended before the end of their IP datagram or headers. */
  truncated: number;
  /** Frames whose link layer carried something other than IPv4/IPv6 (ARP, LLC, ...). */
  notIp: number;
  /** Frames of a link type the decoder does not walk (returned as NotTcp). */
  unknownLinktype: number;
  /** IPv4 fragments seen (any protocol). */
  ipv4Fragments: number;
  /** IPv6 non-atomic fragments seen (any protocol). */
  ipv6Fragments: number;
  /** TCP datagrams completed from fragments. */
  reassembled: number;
  /** Datagrams discarded because fragments disagreed (bytes or total length). */
  fragmentOverlaps: number;
  /** Datagrams dropped incomplete after the fragment timeout. */
  fragmentTimeouts: number;
  /** Datagrams dropped to make room (table full, or too many holes). */
  fragmentEvictions: number;
  /** Frames decoded through at least one tunnel header (GRE, VXLAN, Geneve, IP-in-IP, ...). */
  tunnelled: number;
  /** Frames with tunnels nested deeper than MAX_TUNNEL_DEPTH (also counted malformed). */
  tunnelTooDeep: number;
}

export function newCounters(): DecodeCounters {
  return {
    frames: 0,
    malformed: 0,
    truncated: 0,
    notIp: 0,
    unknownLinktype: 0,
    ipv4Fragments: 0,
    ipv6Fragments: 0,
    reassembled: 0,
    fragmentOverlaps: 0,
    fragmentTimeouts: 0,
    fragmentEvictions: 0,
    tunnelled: 0,
    tunnelTooDeep: 0,
  };
}
