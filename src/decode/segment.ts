/**
 * The decoder's output: one TCP segment, written in place into a single
 * reusable object (no allocation per packet). Valid until the next decode().
 */
import { TunnelInfo } from './tunnel.js';

export const TcpFlag = {
  FIN: 0x01,
  SYN: 0x02,
  RST: 0x04,
  PSH: 0x08,
  ACK: 0x10,
  URG: 0x20,
  ECE: 0x40,
  CWR: 0x80,
} as const;

export const enum DecodeStatus {
  /** `segment` holds a TCP segment (possibly from a reassembled datagram). */
  Segment = 1,
  /** Well-formed, but not TCP (or not IP). */
  NotTcp = 0,
  /** A fragment was stored; the datagram is not complete yet. */
  Pending = 2,
  /** Malformed or truncated before the TCP flags; counted and skipped. */
  Malformed = -1,
}

export class TcpSegment {
  /** 4 or 6: the IP version that carried the segment. */
  family: 4 | 6 = 4;
  /** Source address: IPv4 in bytes 0..3 (rest zero), IPv6 in 0..15. */
  readonly src = new Uint8Array(16);
  readonly dst = new Uint8Array(16);
  srcPort = 0;
  dstPort = 0;
  /** TCP flags byte (FIN..CWR). */
  flags = 0;
  /** TCP payload bytes present in the datagram (from IP lengths, not caplen). */
  payloadLength = 0;
  /** IPv4 TTL or IPv6 hop limit. */
  ttl = 0;
  /** True when the segment came from a reassembled fragmented datagram. */
  reassembled = false;
  /** Outer and inner 802.1Q/802.1ad VLAN ids seen in the frame (0 = none). */
  vlanOuter = 0;
  vlanInner = 0;
  /** The tunnels the segment came through (depth 0: none); see tunnel.ts. */
  readonly tunnel = new TunnelInfo();
  /** Timestamp (µs) of the frame that completed the segment. */
  tsMicros = 0;
  /**
   * The TCP header as captured (options included, payload not):
   * `header[headerStart..headerEnd)`. A view of the decoder's input or
   * reassembly buffer, so it is as short-lived as the segment; the detector
   * digests it to tell apart alarms that agree on every other field.
   */
  header: Uint8Array = new Uint8Array(0);
  headerStart = 0;
  headerEnd = 0;
  /**
   * Where the IP header that carried the TCP header starts in `header`, or -1
   * when it is not there (a reassembled datagram): the fingerprinter reads it.
   */
  ipStart = -1;
}
