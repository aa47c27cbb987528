/**
 * The shared packet decoder: one captured frame in, one TCP segment out,
 * written into `segment`. Used by every source so that live capture and
 * replay see the same probes.
 *
 * The common path (an unfragmented IPv4/IPv6 TCP packet) allocates nothing.
 * Fragmented TCP datagrams are reassembled in a bounded table; see
 * fragments.ts for the overlap policy. Input is attacker-controlled: nothing
 * here throws on bad bytes, everything is counted.
 *
 * Length rules: IP length fields decide the datagram's extent (Ethernet
 * padding is ignored); a capture shorter than that is counted `truncated`
 * but still yields the segment when the TCP flags were captured. A zero
 * IPv4 total length or IPv6 payload length (TSO / BIG TCP captures) means
 * "not stated": the captured bytes (or an IPv6 Jumbo Payload option) stand in.
 */
import { DecodeStatus, TcpSegment } from './segment.js';
import { Parse } from './verdict.js';
import { LinkInfo, Net, parseLink } from './link.js';
import { readTcp } from './tcp.js';
import { ChainInfo, mayLeadToTcp, walkChain } from './ipv6-chain.js';
import { Frag, FragmentTable, HEAD_KEEP, KEY_LEN, type Datagram } from './fragments.js';
import { newCounters, type DecodeCounters } from './counters.js';
import type { FrameBatch } from '../source/frame-batch.js';

export type { DecodeCounters } from './counters.js';

export interface DecoderOptions {
  /** Fragmented datagrams in progress at once; the oldest is evicted beyond. Default 4096. */
  maxFragmentDatagrams?: number;
  /** Packet-time age after which an incomplete datagram is dropped. Default 30 s. */
  fragmentTimeoutMicros?: number;
  /** Largest reassembled payload accepted, per datagram. Default 65535 + 40. */
  maxFragmentBytes?: number;
}

const IPPROTO_TCP = 6;
const LINKTYPE_ETHERNET = 1;
const FAMILY_V4 = 4;
const FAMILY_V6 = 6;

export class Decoder {
  readonly segment = new TcpSegment();
  readonly counters: DecodeCounters = newCounters();

  private readonly link = new LinkInfo();
  private readonly chain = new ChainInfo();
  private readonly fragments: FragmentTable;
  private readonly key = new Uint8Array(KEY_LEN);
  /** Set when this frame's capture stopped short; counted once per frame. */
  private cut = false;
  /**
   * The frame's timestamp, in a field rather than passed down: a double
   * argument to a call V8 does not inline is boxed (an allocation per frame).
   */
  private frameTs = 0;

  constructor(opts: DecoderOptions = {}) {
    const max = Math.max(1, Math.floor(opts.maxFragmentDatagrams ?? 4096));
    const timeout = opts.fragmentTimeoutMicros ?? 30_000_000;
    const maxBytes = opts.maxFragmentBytes ?? 65535 + 40;
    this.fragments = new FragmentTable(max, timeout, maxBytes, this.counters);
  }

  /** Fragmented datagrams currently held (for stats and tests). */
  get fragmentsInProgress(): number {
    return this.fragments.size;
  }

  /** Decode one frame. vlan: id already stripped by the capture layer (0 = none). */
  decode(
    data: Buffer,
    offset: number,
    caplen: number,
    linktype: number,
    tsMicros: number,
    vlan = 0,
  ): DecodeStatus {
    this.frameTs = tsMicros;
    return this.decodeFrame(data, offset, caplen, linktype, vlan);
  }

  /** decode() of frame `i` of a batch; the timestamp never travels as an argument (see frameTs). */
  decodeAt(b: FrameBatch, i: number): DecodeStatus {
    this.frameTs = b.tsMicros[i]!;
    return this.decodeFrame(b.data, b.offset[i]!, b.caplen[i]!, b.linktype[i]!, b.vlan[i]!);
  }

  private decodeFrame(data: Buffer, offset: number, caplen: number, linktype: number, vlan: number): DecodeStatus {
    const c = this.counters;
    c.frames++;
    this.cut = false;
    let end = offset + caplen;
    // A caller's caplen beyond the buffer would read undefined bytes.
    if (end > data.length) {
      end = data.length;
      this.cut = true;
    }
    const link = this.link;
    let net: Net;
    // Fast path for the common untagged Ethernet frame; everything else
    // (and any doubt) goes through the general link walk.
    if (linktype === LINKTYPE_ETHERNET && vlan === 0 && end - offset >= 14 && data[offset + 12] === 0x08 && data[offset + 13] === 0x00) {
      link.offset = offset + 14;
      link.tags = 0;
      link.vlanOuter = 0;
      link.vlanInner = 0;
      net = Net.Ipv4;
    } else {
      net = parseLink(data, offset, end, linktype, vlan, link);
    }
    let status: DecodeStatus;
    if (net === Net.Ipv4) status = this.ipv4(data, link.offset, end);
    else if (net === Net.Ipv6) status = this.ipv6(data, link.offset, end);
    else if (net === Net.NotIp) {
      c.notIp++;
      status = DecodeStatus.NotTcp;
    } else if (net === Net.UnknownLinktype) {
      c.unknownLinktype++;
      status = DecodeStatus.NotTcp;
    } else {
      if (net === Net.Truncated) this.cut = true;
      status = DecodeStatus.Malformed;
    }
    if (this.cut) c.truncated++;
    if (status === DecodeStatus.Malformed) c.malformed++;
    else if (status === DecodeStatus.Segment) {
      const seg = this.segment;
      seg.vlanOuter = link.vlanOuter;
      seg.vlanInner = link.vlanInner;
      seg.tsMicros = this.frameTs;
    }
    return status;
  }

  private verdict(p: Parse): DecodeStatus {
    if (p === Parse.Ok) return DecodeStatus.Segment;
    if (p === Parse.Truncated) this.cut = true;
    return DecodeStatus.Malformed;
  }

  private ipv4(d: Buffer, off: number, end: number): DecodeStatus {
    const avail = end - off;
    if (avail < 20) return this.verdict(Parse.Truncated);
    const vihl = d[off];
    if (vihl >> 4 !== 4) return DecodeStatus.Malformed;
    const ihl = (vihl & 0x0f) << 2;
    if (ihl < 20) return DecodeStatus.Malformed;
    if (avail < ihl) return this.verdict(Parse.Truncated);
    let total = (d[off + 2] << 8) | d[off + 3];
    if (total === 0) total = avail; // TSO capture: length not stated
    else if (total < ihl) return DecodeStatus.Malformed;
    let ipEnd = off + total;
    if (avail < total) {
      this.cut = true;
      ipEnd = end;
    }
    const proto = d[off + 9];
    const frag = ((d[off + 6] << 8) | d[off + 7]) & 0x3fff; // MF + offset
    if (frag !== 0) return this.ipv4Fragment(d, off, ihl, total, ipEnd, frag, proto);
    if (proto !== IPPROTO_TCP) return DecodeStatus.NotTcp;

    const seg = this.segment;
    const p = readTcp(d, off + ihl, ipEnd - off - ihl, total - ihl, seg);
    if (p !== Parse.Ok) return this.verdict(p);
    this.setV4(d, off);
    seg.ttl = d[off + 8];
    seg.reassembled = false;
    return DecodeStatus.Segment;
  }

  private setV4(d: Uint8Array, off: number): void {
    const seg = this.segment;
    const src = seg.src;
    const dst = seg.dst;
    if (seg.family !== FAMILY_V4) {
      src.fill(0);
      dst.fill(0);
      seg.family = FAMILY_V4;
    }
    src[0] = d[off + 12];
    src[1] = d[off + 13];
    src[2] = d[off + 14];
    src[3] = d[off + 15];
    dst[0] = d[off + 16];
    dst[1] = d[off + 17];
    dst[2] = d[off + 18];
    dst[3] = d[off + 19];
  }

  private setV6(d: Uint8Array, srcOff: number, dstOff: number): void {
    const seg = this.segment;
    seg.family = FAMILY_V6;
    const src = seg.src;
    const dst = seg.dst;
    for (let i = 0; i < 16; i++) {
      src[i] = d[srcOff + i];
      dst[i] = d[dstOff + i];
    }
  }

  private ipv4Fragment(
    d: Buffer,
    off: number,
    ihl: number,
    total: number,
    ipEnd: number,
    frag: number,
    proto: number,
  ): DecodeStatus {
    this.counters.ipv4Fragments++;
    if (proto !== IPPROTO_TCP) return DecodeStatus.NotTcp;
    const more = (frag & 0x2000) !== 0;
    const start = (frag & 0x1fff) << 3;
    let declLen = total - ihl;
    // Like Linux, a non-final fragment is cut to a multiple of 8 rather than
    // dropped: dropping it would hide a datagram the host still accepts.
    if (more) declLen &= ~7;
    if (declLen <= 0) return DecodeStatus.Malformed;
    const capLen = Math.min(ipEnd - off - ihl, declLen);
    const key = this.key;
    key[0] = FAMILY_V4;
    key[1] = proto;
    key[4] = 0;
    key[5] = 0;
    key[6] = d[off + 4];
    key[7] = d[off + 5];
    for (let i = 0; i < 4; i++) {
      key[8 + i] = d[off + 12 + i];
      key[24 + i] = d[off + 16 + i];
    }
    for (let i = 4; i < 16; i++) {
      key[8 + i] = 0;
      key[24 + i] = 0;
    }
    const r = this.fragments.add(key, this.frameTs, start, declLen, more, d, off + ihl, capLen, d[off + 8], proto);
    if (r === Frag.Pending) return DecodeStatus.Pending;
    if (r < 0) return DecodeStatus.Malformed;
    return this.finish(r, FAMILY_V4);
  }

  private ipv6(d: Buffer, off: number, end: number): DecodeStatus {
    const avail = end - off;
    if (avail < 40) return this.verdict(Parse.Truncated);
    if (d[off] >> 4 !== 6) return DecodeStatus.Malformed;
    const plen = (d[off + 4] << 8) | d[off + 5];
    const start = off + 40;
    let capEnd = end;
    let declEnd: number;
    if (plen === 0) {
      declEnd = end; // BIG TCP / jumbogram: refined below from the Jumbo option
    } else {
      declEnd = start + plen;
      if (declEnd > end) this.cut = true;
      else capEnd = declEnd;
    }
    const ch = this.chain;
    let p: Parse;
    if (d[off + 6] === IPPROTO_TCP) {
      // No extension headers (the common case): skip the chain walk.
      ch.proto = IPPROTO_TCP;
      ch.pos = start;
      ch.fragPos = -1;
      ch.jumbo = -1;
      p = Parse.Ok;
    } else {
      p = walkChain(d, start, capEnd, declEnd, d[off + 6], true, ch);
    }
    if (plen === 0 && ch.jumbo >= 0) {
      declEnd = start + ch.jumbo;
      if (declEnd > end) this.cut = true;
      else capEnd = declEnd;
      // Re-walk against the stated length (the chain is short; rare path).
      p = walkChain(d, start, capEnd, declEnd, d[off + 6], true, ch);
    }
    if (p !== Parse.Ok) return this.verdict(p);
    if (ch.fragPos >= 0) return this.ipv6Fragment(d, off, capEnd, declEnd);
    if (ch.proto !== IPPROTO_TCP) return DecodeStatus.NotTcp;

    const seg = this.segment;
    const tp = readTcp(d, ch.pos, capEnd - ch.pos, declEnd - ch.pos, seg);
    if (tp !== Parse.Ok) return this.verdict(tp);
    this.setV6(d, off + 8, off + 24);
    seg.ttl = d[off + 7];
    seg.reassembled = false;
    return DecodeStatus.Segment;
  }

  private ipv6Fragment(d: Buffer, off: number, capEnd: number, declEnd: number): DecodeStatus {
    this.counters.ipv6Fragments++;
    const ch = this.chain;
    const fp = ch.fragPos;
    if (!mayLeadToTcp(ch.proto)) return DecodeStatus.NotTcp;
    const fo = (d[fp + 2] << 8) | d[fp + 3];
    const more = (fo & 1) !== 0;
    const start = fo & 0xfff8;
    const declLen = declEnd - ch.pos;
    // RFC 8200: a non-final fragment must be a multiple of 8 long (Linux
    // answers with a parameter problem and drops it).
    if (declLen <= 0 || (more && (declLen & 7) !== 0)) return DecodeStatus.Malformed;
    const capLen = Math.max(0, capEnd - ch.pos);
    const key = this.key;
    key[0] = FAMILY_V6;
    key[1] = 0;
    key[4] = d[fp + 4];
    key[5] = d[fp + 5];
    key[6] = d[fp + 6];
    key[7] = d[fp + 7];
    for (let i = 0; i < 16; i++) {
      key[8 + i] = d[off + 8 + i];
      key[24 + i] = d[off + 24 + i];
    }
    const r = this.fragments.add(key, this.frameTs, start, declLen, more, d, ch.pos, capLen, d[off + 7], ch.proto);
    if (r === Frag.Pending) return DecodeStatus.Pending;
    if (r < 0) return DecodeStatus.Malformed;
    return this.finish(r, FAMILY_V6);
  }

  /** Decodes a completed datagram from its kept head bytes and frees it. */
  private finish(i: number, family: number): DecodeStatus {
    const table = this.fragments;
    const g: Datagram = table.get(i);
    const status = this.fromDatagram(g, family);
    table.release(i);
    if (status === DecodeStatus.Segment) this.counters.reassembled++;
    return status;
  }

  private fromDatagram(g: Datagram, family: number): DecodeStatus {
    const seg = this.segment;
    const total = g.total;
    const known = g.knownPrefix(total);
    let tcpOff = 0;
    if (family === FAMILY_V6) {
      const ch = this.chain;
      // The chain must lie in the kept head (RFC 7112 puts it in the first fragment).
      const declEnd = total > HEAD_KEEP ? HEAD_KEEP : total;
      const p = walkChain(g.head, 0, known, declEnd, g.proto, false, ch);
      if (p !== Parse.Ok) return this.verdict(p);
      if (ch.proto !== IPPROTO_TCP) return DecodeStatus.NotTcp;
      tcpOff = ch.pos;
    }
    const tp = readTcp(g.head, tcpOff, known - tcpOff, total - tcpOff, seg);
    if (tp !== Parse.Ok) return this.verdict(tp);
    const k = g.key;
    // The key holds both addresses zero-padded to 16 bytes (see fragments.ts).
    this.setV6(k, 8, 24);
    seg.family = family === FAMILY_V4 ? FAMILY_V4 : FAMILY_V6;
    seg.ttl = g.ttl;
    seg.reassembled = true;
    return DecodeStatus.Segment;
  }
}
