/**
 * Test-only frame builder: crafts link/IP/TCP frames byte by byte, for unit
 * tests and for generating fixture captures.
 *
 * Build inside out, each layer taking the bytes of the one it carries:
 *
 * ```ts
 * const syn = tcp({ srcPort: 40000, dstPort: 445, flags: TcpFlag.SYN });
 * const pkt = ipv4({ src: '198.18.0.2', dst: '198.18.0.1', payload: syn });
 * const frame = ethernet(pkt, { vlans: [100, 200] });        // QinQ
 * const frags = fragmentIpv4(pkt, 8).map((f) => ethernet(f)); // nmap -f style
 * fs.writeFileSync('x.pcap', pcapFile(LinkType.ETHERNET, frames.map((data) => ({ data }))));
 * ```
 *
 * ipv4()/ipv6() fill the IPv4 header checksum and the TCP checksum (when the
 * payload is TCP), so tshark and real stacks see valid packets unless a test
 * asks otherwise. Every function returns a fresh Uint8Array.
 */

export const Proto = { HOPOPTS: 0, TCP: 6, UDP: 17, ROUTING: 43, FRAGMENT: 44, ESP: 50, AH: 51, ICMPV6: 58, NONE: 59, DSTOPTS: 60, MOBILITY: 135 } as const;

export const EtherType = { IPV4: 0x0800, IPV6: 0x86dd, ARP: 0x0806, VLAN: 0x8100, QINQ: 0x88a8, QINQ_OLD: 0x9100 } as const;

type Bytes = ArrayLike<number>;

function concat(...parts: Bytes[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 8) & 0xff;
  b[o + 1] = v & 0xff;
}

function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 24) & 0xff;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}

/** RFC 1071 ones' complement sum of `parts`, folded and complemented. */
export function internetChecksum(...parts: Bytes[]): number {
  let sum = 0;
  for (const p of concatForSum(parts)) sum += p;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function* concatForSum(parts: Bytes[]): Generator<number> {
  const all = concat(...parts);
  for (let i = 0; i < all.length; i += 2) yield (all[i] << 8) | (i + 1 < all.length ? all[i + 1] : 0);
}

/** Parses dotted-quad IPv4 text into 4 bytes. */
export function ip4(addr: string): Uint8Array {
  const parts = addr.split('.').map(Number);
  if (parts.length !== 4 || parts.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) {
    throw new Error(`bad IPv4 address: ${addr}`);
  }
  return Uint8Array.from(parts);
}

/** Parses IPv6 text (with `::`, without an embedded IPv4 tail) into 16 bytes. */
export function ip6(addr: string): Uint8Array {
  const [head, tail, extra] = addr.split('::');
  if (extra !== undefined) throw new Error(`bad IPv6 address: ${addr}`);
  const groups = (s: string | undefined): number[] => (s ? s.split(':').map((g) => parseInt(g, 16)) : []);
  const h = groups(head);
  const t = groups(tail);
  const fill = tail === undefined ? 0 : 8 - h.length - t.length;
  const all = [...h, ...new Array<number>(fill).fill(0), ...t];
  if (all.length !== 8 || all.some((g) => !Number.isInteger(g) || g < 0 || g > 0xffff)) {
    throw new Error(`bad IPv6 address: ${addr}`);
  }
  const out = new Uint8Array(16);
  all.forEach((g, i) => put16(out, 2 * i, g));
  return out;
}

// ───────────────────────────── TCP ─────────────────────────────

export interface TcpSpec {
  srcPort: number;
  dstPort: number;
  /** TCP flags byte (TcpFlag values OR-ed). Default SYN. */
  flags?: number;
  seq?: number;
  ack?: number;
  window?: number;
  urgent?: number;
  /** Raw option bytes, zero-padded (EOL) to a multiple of 4. */
  options?: Bytes;
  /** Payload bytes, or a length of zero bytes. */
  payload?: Bytes | number;
  /** Data offset in 32-bit words, overriding the computed one (for malformed headers). */
  dataOffset?: number;
}

/** A TCP header + payload, checksum 0 (ipv4()/ipv6() fill it). */
export function tcp(spec: TcpSpec): Uint8Array {
  const opts = spec.options ?? [];
  const optLen = (opts.length + 3) & ~3;
  const payload = typeof spec.payload === 'number' ? new Uint8Array(spec.payload) : (spec.payload ?? []);
  const h = new Uint8Array(20 + optLen);
  put16(h, 0, spec.srcPort);
  put16(h, 2, spec.dstPort);
  put32(h, 4, spec.seq ?? 1000);
  put32(h, 8, spec.ack ?? 0);
  h[12] = ((spec.dataOffset ?? (20 + optLen) / 4) & 0x0f) << 4;
  h[13] = spec.flags ?? 0x02;
  put16(h, 14, spec.window ?? 64240);
  put16(h, 18, spec.urgent ?? 0);
  h.set(opts, 20);
  return concat(h, payload);
}

/** TCP option bytes: MSS (kind 2). */
export function mssOption(mss: number): number[] {
  return [2, 4, (mss >>> 8) & 0xff, mss & 0xff];
}

function fillTcpChecksum(seg: Uint8Array, pseudo: Uint8Array): void {
  if (seg.length < 18) return;
  seg[16] = 0;
  seg[17] = 0;
  put16(seg, 16, internetChecksum(pseudo, seg));
}

// ───────────────────────────── IPv4 ─────────────────────────────

export interface Ipv4Spec {
  src: string;
  dst: string;
  payload: Bytes;
  /** Default 6 (TCP). */
  protocol?: number;
  ttl?: number;
  id?: number;
  /** Raw option bytes, zero-padded to a multiple of 4. */
  options?: Bytes;
  dontFragment?: boolean;
  moreFragments?: boolean;
  /** Fragment offset in bytes (multiple of 8). */
  fragmentOffset?: number;
  /** Overrides the Total Length field (e.g. 0 for TSO, or a lie). */
  totalLength?: number;
  /** Overrides the IHL nibble (header length in 32-bit words). */
  ihl?: number;
  /** Fill the TCP checksum when the payload is TCP. Default true. */
  tcpChecksum?: boolean;
}

export function ipv4(spec: Ipv4Spec): Uint8Array {
  const opts = spec.options ?? [];
  const hl = 20 + ((opts.length + 3) & ~3);
  const proto = spec.protocol ?? Proto.TCP;
  const payload = Uint8Array.from(spec.payload);
  const src = ip4(spec.src);
  const dst = ip4(spec.dst);
  const off = spec.fragmentOffset ?? 0;
  if (proto === Proto.TCP && off === 0 && !spec.moreFragments && spec.tcpChecksum !== false) {
    const pseudo = new Uint8Array(12);
    pseudo.set(src, 0);
    pseudo.set(dst, 4);
    pseudo[9] = proto;
    put16(pseudo, 10, payload.length);
    fillTcpChecksum(payload, pseudo);
  }
  const h = new Uint8Array(hl);
  h[0] = 0x40 | ((spec.ihl ?? hl / 4) & 0x0f);
  put16(h, 2, spec.totalLength ?? hl + payload.length);
  put16(h, 4, spec.id ?? 0x1234);
  put16(h, 6, (spec.dontFragment ? 0x4000 : 0) | (spec.moreFragments ? 0x2000 : 0) | ((off >>> 3) & 0x1fff));
  h[8] = spec.ttl ?? 64;
  h[9] = proto;
  h.set(src, 12);
  h.set(dst, 16);
  h.set(opts, 20);
  put16(h, 10, internetChecksum(h));
  return concat(h, payload);
}

/** One fragment to cut: `offset`/`length` in bytes of the original payload. */
export interface FragmentPiece {
  offset: number;
  length: number;
  /** More Fragments flag; default: set unless the piece reaches the payload's end. */
  more?: boolean;
  /** Replace the piece's bytes (for conflicting overlaps); length must match. */
  data?: Bytes;
}

function piecesOf(total: number, pieces: FragmentPiece[] | number): FragmentPiece[] {
  if (typeof pieces !== 'number') return pieces;
  if (pieces <= 0 || pieces % 8 !== 0) throw new Error('fragment size must be a positive multiple of 8');
  const out: FragmentPiece[] = [];
  for (let o = 0; o < total; o += pieces) out.push({ offset: o, length: Math.min(pieces, total - o) });
  return out;
}

function pieceBytes(payload: Uint8Array, p: FragmentPiece): Uint8Array {
  if (p.data !== undefined) {
    if (p.data.length !== p.length) throw new Error('piece data length must equal piece length');
    return Uint8Array.from(p.data);
  }
  return payload.slice(p.offset, p.offset + p.length);
}

/**
 * Splits a whole IPv4 packet (from ipv4()) into fragments, in the order given.
 * `pieces` is a fragment data size (multiple of 8) or an explicit list, which
 * may overlap, repeat, leave holes or come out of order. Options are kept on
 * the first fragment only.
 */
export function fragmentIpv4(packet: Uint8Array, pieces: FragmentPiece[] | number): Uint8Array[] {
  const hl = (packet[0] & 0x0f) * 4;
  const payload = packet.slice(hl);
  const src = Array.from(packet.subarray(12, 16)).join('.');
  const dst = Array.from(packet.subarray(16, 20)).join('.');
  return piecesOf(payload.length, pieces).map((p) =>
    ipv4({
      src,
      dst,
      payload: pieceBytes(payload, p),
      protocol: packet[9],
      ttl: packet[8],
      id: (packet[4] << 8) | packet[5],
      options: p.offset === 0 ? packet.subarray(20, hl) : [],
      moreFragments: p.more ?? p.offset + p.length < payload.length,
      fragmentOffset: p.offset,
    }),
  );
}

// ───────────────────────────── IPv6 ─────────────────────────────

export type Ipv6Extension =
  /** Hop-by-hop (0) or destination options (60); `jumbo` adds a Jumbo Payload option. */
  | { type: 'hopByHop' | 'destination'; options?: Bytes; jumbo?: number }
  /** Routing (43); type 0 carries `addresses`, other types an opaque body. */
  | { type: 'routing'; routingType?: number; segmentsLeft?: number; addresses?: string[] }
  /** Fragment (44): `offset` in bytes. offset 0 + more false = atomic fragment. */
  | { type: 'fragment'; offset?: number; more?: boolean; id?: number }
  /** Authentication header (51); `icvLength` bytes of ICV (multiple of 4). */
  | { type: 'ah'; spi?: number; icvLength?: number }
  /** Any header given raw: `code` is its Next Header value, `bytes` its body after the next-header byte. */
  | { type: 'raw'; code: number; bytes: Bytes };

function extCode(e: Ipv6Extension): number {
  switch (e.type) {
    case 'hopByHop':
      return Proto.HOPOPTS;
    case 'destination':
      return Proto.DSTOPTS;
    case 'routing':
      return Proto.ROUTING;
    case 'fragment':
      return Proto.FRAGMENT;
    case 'ah':
      return Proto.AH;
    case 'raw':
      return e.code;
  }
}

/** Options area padded with PadN/Pad1 so the header is a multiple of 8. */
function optionsHeader(nh: number, opts: Bytes): Uint8Array {
  const used = 2 + opts.length;
  const len = (used + 7) & ~7;
  const h = new Uint8Array(len);
  h[0] = nh;
  h[1] = len / 8 - 1;
  h.set(opts, 2);
  const pad = len - used;
  if (pad === 1) h[used] = 0;
  else if (pad > 1) {
    h[used] = 1;
    h[used + 1] = pad - 2;
  }
  return h;
}

function extBytes(e: Ipv6Extension, nh: number): Uint8Array {
  switch (e.type) {
    case 'hopByHop':
    case 'destination': {
      const opts = [...Array.from(e.options ?? [])];
      if (e.jumbo !== undefined) {
        // Jumbo option wants 4n+2 alignment: after the 2-byte header that holds.
        opts.unshift(0xc2, 4, (e.jumbo >>> 24) & 0xff, (e.jumbo >>> 16) & 0xff, (e.jumbo >>> 8) & 0xff, e.jumbo & 0xff);
      }
      return optionsHeader(nh, opts);
    }
    case 'routing': {
      const addrs = (e.addresses ?? []).map(ip6);
      const h = new Uint8Array(8 + 16 * addrs.length);
      h[0] = nh;
      h[1] = addrs.length * 2;
      h[2] = e.routingType ?? 0;
      h[3] = e.segmentsLeft ?? addrs.length;
      addrs.forEach((a, i) => h.set(a, 8 + 16 * i));
      return h;
    }
    case 'fragment': {
      const h = new Uint8Array(8);
      h[0] = nh;
      put16(h, 2, ((e.offset ?? 0) & 0xfff8) | (e.more ? 1 : 0));
      put32(h, 4, e.id ?? 0x01020304);
      return h;
    }
    case 'ah': {
      const icv = e.icvLength ?? 12;
      const h = new Uint8Array(12 + icv);
      h[0] = nh;
      h[1] = (12 + icv) / 4 - 2;
      put32(h, 4, e.spi ?? 0x100);
      put32(h, 8, 1);
      return h;
    }
    case 'raw':
      return concat([nh], e.bytes);
  }
}

export interface Ipv6Spec {
  src: string;
  dst: string;
  payload: Bytes;
  /** Upper-layer protocol behind the extension headers. Default 6 (TCP). */
  nextHeader?: number;
  hopLimit?: number;
  /** Extension headers in order, between the fixed header and the payload. */
  extensions?: Ipv6Extension[];
  /** Overrides the Payload Length field (0 for jumbograms / BIG TCP). */
  payloadLength?: number;
  tcpChecksum?: boolean;
}

export function ipv6(spec: Ipv6Spec): Uint8Array {
  const exts = spec.extensions ?? [];
  const upper = spec.nextHeader ?? Proto.TCP;
  const src = ip6(spec.src);
  const dst = ip6(spec.dst);
  const payload = Uint8Array.from(spec.payload);
  const fragmented = exts.some((e) => e.type === 'fragment' && ((e.offset ?? 0) !== 0 || e.more));
  if (upper === Proto.TCP && !fragmented && spec.tcpChecksum !== false) {
    const pseudo = new Uint8Array(40);
    pseudo.set(src, 0);
    pseudo.set(dst, 16);
    put32(pseudo, 32, payload.length);
    pseudo[39] = Proto.TCP;
    fillTcpChecksum(payload, pseudo);
  }
  const chain: Uint8Array[] = [];
  for (let i = exts.length - 1, nh = upper; i >= 0; i--) {
    chain.unshift(extBytes(exts[i], nh));
    nh = extCode(exts[i]);
  }
  const first = exts.length > 0 ? extCode(exts[0]) : upper;
  const body = concat(...chain, payload);
  const h = new Uint8Array(40);
  h[0] = 0x60;
  put16(h, 4, spec.payloadLength ?? body.length);
  h[6] = first;
  h[7] = spec.hopLimit ?? 64;
  h.set(src, 8);
  h.set(dst, 24);
  return concat(h, body);
}

/**
 * Splits a whole IPv6 packet (from ipv6(), no fragment header) into
 * fragments. The unfragmentable part is the fixed header plus any leading
 * hop-by-hop and routing headers (and a destination options header directly
 * before a routing header); a Fragment header is inserted after it.
 */
export function fragmentIpv6(
  packet: Uint8Array,
  pieces: FragmentPiece[] | number,
  id = 0x0badcafe,
): Uint8Array[] {
  let nh = packet[6];
  let p = 40;
  let nhPos = 6;
  for (;;) {
    const isRoutingNext = nh === Proto.DSTOPTS && packet[p] === Proto.ROUTING;
    if (nh !== Proto.HOPOPTS && nh !== Proto.ROUTING && !isRoutingNext) break;
    nhPos = p;
    const len = (packet[p + 1] + 1) * 8;
    nh = packet[p];
    p += len;
  }
  const unfrag = packet.slice(0, p);
  const payload = packet.slice(p);
  return piecesOf(payload.length, pieces).map((pc) => {
    const fh = new Uint8Array(8);
    fh[0] = nh;
    const more = pc.more ?? pc.offset + pc.length < payload.length;
    put16(fh, 2, (pc.offset & 0xfff8) | (more ? 1 : 0));
    put32(fh, 4, id);
    const out = concat(unfrag, fh, pieceBytes(payload, pc));
    out[nhPos] = Proto.FRAGMENT;
    put16(out, 4, out.length - 40);
    return out;
  });
}

// ───────────────────────────── link layers ─────────────────────────────

/** A VLAN tag: a bare number is an 802.1Q tag with that VLAN id. */
export type VlanTag = number | { id: number; tpid?: number; pcp?: number; dei?: boolean };

function tagBytes(tags: VlanTag[], innerType: number): Uint8Array {
  const out = new Uint8Array(tags.length * 4);
  tags.forEach((t, i) => {
    const tag = typeof t === 'number' ? { id: t } : t;
    // Each tag's TPID sits in the type field before it, so tag i carries
    // the TPID of tag i + 1 (or the inner EtherType after the last one).
    put16(out, 4 * i, ((tag.pcp ?? 0) << 13) | (tag.dei ? 0x1000 : 0) | (tag.id & 0x0fff));
    const next = i + 1 < tags.length ? tpidOf(tags[i + 1]) : innerType;
    put16(out, 4 * i + 2, next);
  });
  return out;
}

function tpidOf(t: VlanTag): number {
  return typeof t === 'number' ? EtherType.VLAN : (t.tpid ?? EtherType.VLAN);
}

/** EtherType for an IP packet from its version nibble. */
export function etherTypeOf(packet: Uint8Array): number {
  return packet.length > 0 && packet[0] >> 4 === 6 ? EtherType.IPV6 : EtherType.IPV4;
}

export interface EthernetSpec {
  /** Outermost first. */
  vlans?: VlanTag[];
  /** Default: from the packet's IP version. */
  etherType?: number;
  src?: Bytes;
  dst?: Bytes;
}

export function ethernet(packet: Bytes, spec: EthernetSpec = {}): Uint8Array {
  const pkt = Uint8Array.from(packet);
  const vlans = spec.vlans ?? [];
  const inner = spec.etherType ?? etherTypeOf(pkt);
  const h = new Uint8Array(14);
  h.set(spec.dst ?? [0x02, 0, 0, 0, 0, 0x01], 0);
  h.set(spec.src ?? [0x02, 0, 0, 0, 0, 0x02], 6);
  put16(h, 12, vlans.length > 0 ? tpidOf(vlans[0]) : inner);
  return concat(h, tagBytes(vlans, inner), pkt);
}

export interface SllSpec {
  /** Protocol field; default from the packet's IP version (0x8100 when vlans given). */
  protocol?: number;
  /** Tags placed after the header (the protocol field then says 0x8100). */
  vlans?: VlanTag[];
  /** 0 = to us, 4 = outgoing. */
  packetType?: number;
}

/** Linux cooked capture v1 (LINKTYPE_LINUX_SLL, 16-byte header). */
export function sll(packet: Bytes, spec: SllSpec = {}): Uint8Array {
  const pkt = Uint8Array.from(packet);
  const vlans = spec.vlans ?? [];
  const inner = etherTypeOf(pkt);
  const h = new Uint8Array(16);
  put16(h, 0, spec.packetType ?? 0);
  put16(h, 2, 1); // ARPHRD_ETHER
  put16(h, 4, 6);
  h.set([0x02, 0, 0, 0, 0, 0x02], 6);
  put16(h, 14, spec.protocol ?? (vlans.length > 0 ? tpidOf(vlans[0]) : inner));
  return concat(h, tagBytes(vlans, inner), pkt);
}

/** Linux cooked capture v2 (LINKTYPE_LINUX_SLL2, 20-byte header). */
export function sll2(packet: Bytes, spec: SllSpec & { ifindex?: number } = {}): Uint8Array {
  const pkt = Uint8Array.from(packet);
  const vlans = spec.vlans ?? [];
  const inner = etherTypeOf(pkt);
  const h = new Uint8Array(20);
  put16(h, 0, spec.protocol ?? (vlans.length > 0 ? tpidOf(vlans[0]) : inner));
  put32(h, 4, spec.ifindex ?? 2);
  put16(h, 8, 1);
  h[10] = spec.packetType ?? 0;
  h[11] = 6;
  h.set([0x02, 0, 0, 0, 0, 0x02], 12);
  return concat(h, tagBytes(vlans, inner), pkt);
}

export interface NullSpec {
  /** Address family value; default 2 for IPv4, 30 (macOS AF_INET6) for IPv6. */
  family?: number;
  /** Byte order of the family value (DLT_NULL: the capturing host's). Default true. */
  littleEndian?: boolean;
}

/** BSD loopback (LINKTYPE_NULL): 4-byte address family in host byte order. */
export function bsdNull(packet: Bytes, spec: NullSpec = {}): Uint8Array {
  const pkt = Uint8Array.from(packet);
  const af = spec.family ?? (etherTypeOf(pkt) === EtherType.IPV6 ? 30 : 2);
  const h = new Uint8Array(4);
  if (spec.littleEndian ?? true) {
    h[0] = af & 0xff;
    h[1] = (af >>> 8) & 0xff;
  } else put32(h, 0, af);
  return concat(h, pkt);
}

/** OpenBSD loopback (LINKTYPE_LOOP): 4-byte address family, network order. */
export function bsdLoop(packet: Bytes, spec: { family?: number } = {}): Uint8Array {
  return bsdNull(packet, { family: spec.family ?? (etherTypeOf(Uint8Array.from(packet)) === EtherType.IPV6 ? 24 : 2), littleEndian: false });
}

/** LINKTYPE_* values this builder can frame for (mirrors src/source/frame-batch.ts). */
export const Link = { NULL: 0, ETHERNET: 1, RAW: 101, LOOP: 108, LINUX_SLL: 113, IPV4: 228, IPV6: 229, LINUX_SLL2: 276 } as const;

/** Frames an IP packet for `linktype` with default link headers. */
export function frameFor(linktype: number, packet: Uint8Array, vlans: VlanTag[] = []): Uint8Array {
  switch (linktype) {
    case Link.ETHERNET:
      return ethernet(packet, { vlans });
    case Link.LINUX_SLL:
      return sll(packet, { vlans });
    case Link.LINUX_SLL2:
      return sll2(packet, { vlans });
    case Link.NULL:
      return bsdNull(packet);
    case Link.LOOP:
      return bsdLoop(packet);
    case Link.RAW:
    case Link.IPV4:
    case Link.IPV6:
      return Uint8Array.from(packet);
    default:
      throw new Error(`frame-builder: unsupported linktype ${linktype}`);
  }
}

// ───────────────────────────── pcap ─────────────────────────────

export interface PcapRecord {
  data: Bytes;
  /** Microseconds since the epoch. Default: 1 ms after the previous record. */
  tsMicros?: number;
  /** Original length on the wire; default data.length. */
  origLen?: number;
}

/** A classic little-endian microsecond pcap file holding `records`. */
export function pcapFile(linktype: number, records: PcapRecord[], snaplen = 262144): Buffer {
  const parts: Buffer[] = [];
  const gh = Buffer.alloc(24);
  gh.writeUInt32LE(0xa1b2c3d4, 0);
  gh.writeUInt16LE(2, 4);
  gh.writeUInt16LE(4, 6);
  gh.writeUInt32LE(snaplen, 16);
  gh.writeUInt32LE(linktype, 20);
  parts.push(gh);
  let ts = 1_700_000_000_000_000;
  for (const r of records) {
    ts = r.tsMicros ?? ts + 1000;
    const rh = Buffer.alloc(16);
    rh.writeUInt32LE(Math.floor(ts / 1e6), 0);
    rh.writeUInt32LE(ts % 1e6, 4);
    rh.writeUInt32LE(r.data.length, 8);
    rh.writeUInt32LE(r.origLen ?? r.data.length, 12);
    parts.push(rh, Buffer.from(Uint8Array.from(r.data)));
  }
  return Buffer.concat(parts);
}
