/**
 * Test-only capture writer: builds classic pcap and pcapng files in memory so
 * tests can craft exactly the captures (and the damage) they need.
 *
 *   writePcap([{ data, tsMicros: 1_700_000_000_000_000 }], { linktype: LinkType.ETHERNET })
 *   writePcapng([{ blocks: [{ type: 'idb', linktype: 1 }, { type: 'epb', iface: 0, ticks: 5n, data }] }])
 *
 * Written with plain Buffer calls, independently of the reader it tests.
 */

export interface PcapFrame {
  data: Uint8Array;
  /** Microseconds since the epoch (default 0). */
  tsMicros?: number;
  /** Nanoseconds since the epoch; overrides tsMicros in nanosecond files. */
  tsNanos?: bigint;
  /** Length on the wire (default data.length). */
  wirelen?: number;
  /** Captured length written in the record header (default data.length) — set it to lie. */
  caplen?: number;
}

export interface PcapOptions {
  /** Link type (default 1, Ethernet). */
  linktype?: number;
  /** Nanosecond magic (a1b23c4d) instead of microsecond (a1b2c3d4). */
  nano?: boolean;
  bigEndian?: boolean;
  /** Default 262144. */
  snaplen?: number;
  /** Bits OR'd into the link-type field above the link type (FCS length and flag). */
  linktypeHighBits?: number;
}

export function writePcap(frames: readonly PcapFrame[], opts: PcapOptions = {}): Buffer {
  const be = opts.bigEndian === true;
  const parts: Buffer[] = [];
  const header = Buffer.alloc(24);
  const w32 = (b: Buffer, v: number, at: number): void => {
    if (be) b.writeUInt32BE(v >>> 0, at);
    else b.writeUInt32LE(v >>> 0, at);
  };
  const w16 = (b: Buffer, v: number, at: number): void => {
    if (be) b.writeUInt16BE(v, at);
    else b.writeUInt16LE(v, at);
  };
  w32(header, opts.nano ? 0xa1b23c4d : 0xa1b2c3d4, 0);
  w16(header, 2, 4);
  w16(header, 4, 6);
  w32(header, opts.snaplen ?? 262144, 16);
  w32(header, ((opts.linktypeHighBits ?? 0) | (opts.linktype ?? 1)) >>> 0, 20);
  parts.push(header);
  for (const f of frames) {
    const rec = Buffer.alloc(16);
    let sec: number;
    let frac: number;
    if (opts.nano) {
      const ns = f.tsNanos ?? BigInt(f.tsMicros ?? 0) * 1000n;
      sec = Number(ns / 1_000_000_000n);
      frac = Number(ns % 1_000_000_000n);
    } else {
      const us = f.tsMicros ?? 0;
      sec = Math.floor(us / 1e6);
      frac = us - sec * 1e6;
    }
    w32(rec, sec, 0);
    w32(rec, frac, 4);
    w32(rec, f.caplen ?? f.data.length, 8);
    w32(rec, f.wirelen ?? f.data.length, 12);
    parts.push(rec, Buffer.from(f.data));
  }
  return Buffer.concat(parts);
}

export interface PcapngOption {
  code: number;
  value: Uint8Array;
}

export type PcapngBlock =
  | {
      type: 'idb';
      linktype: number;
      /** Default 0 (no limit). */
      snaplen?: number;
      /** if_tsresol byte: 6 = µs (what readers assume without it), 9 = ns, 0x80|k = 2^-k. */
      tsresol?: number;
      /** if_tsoffset, seconds. */
      tsoffset?: bigint;
      options?: PcapngOption[];
    }
  | {
      type: 'epb';
      iface: number;
      /** Timestamp in ticks of the interface's resolution (see ticksFor). */
      ticks: bigint;
      data: Uint8Array;
      wirelen?: number;
      options?: PcapngOption[];
    }
  /** The obsolete Packet Block (16-bit interface id). */
  | { type: 'pb'; iface: number; ticks: bigint; data: Uint8Array; wirelen?: number }
  /**
   * Simple Packet Block (interface 0, no timestamp). Its captured length is
   * implied by the block length, so with wirelen > data.length a reader sees
   * the padding as data too.
   */
  | { type: 'spb'; data: Uint8Array; wirelen?: number }
  /** Any other block, written with proper lengths: the body is padded to 4 bytes. */
  | { type: 'other'; blockType: number; body: Uint8Array }
  /** Bytes written verbatim, for damaged blocks. */
  | { type: 'raw'; bytes: Uint8Array };

export interface PcapngSection {
  bigEndian?: boolean;
  /** Default 1. */
  majorVersion?: number;
  blocks: PcapngBlock[];
}

/** The tick count for `tsMicros` at an if_tsresol byte (whole ticks, truncated). */
export function ticksFor(tsMicros: number | bigint, tsresol = 6): bigint {
  const us = BigInt(tsMicros);
  const k = BigInt(tsresol & 0x7f);
  if ((tsresol & 0x80) !== 0) return (us << k) / 1_000_000n;
  return (us * 10n ** k) / 1_000_000n;
}

function pad4(n: number): number {
  return (n + 3) & ~3;
}

class BlockWriter {
  constructor(private readonly be: boolean) {}

  u16(v: number): Buffer {
    const b = Buffer.alloc(2);
    if (this.be) b.writeUInt16BE(v);
    else b.writeUInt16LE(v);
    return b;
  }

  u32(v: number): Buffer {
    const b = Buffer.alloc(4);
    if (this.be) b.writeUInt32BE(v >>> 0);
    else b.writeUInt32LE(v >>> 0);
    return b;
  }

  u64(v: bigint): Buffer {
    const b = Buffer.alloc(8);
    if (this.be) b.writeBigUInt64BE(BigInt.asUintN(64, v));
    else b.writeBigUInt64LE(BigInt.asUintN(64, v));
    return b;
  }

  padded(data: Uint8Array): Buffer {
    const b = Buffer.alloc(pad4(data.length));
    b.set(data);
    return b;
  }

  options(opts: readonly PcapngOption[]): Buffer {
    if (opts.length === 0) return Buffer.alloc(0);
    const parts: Buffer[] = [];
    for (const o of opts) parts.push(this.u16(o.code), this.u16(o.value.length), this.padded(o.value));
    parts.push(this.u16(0), this.u16(0));
    return Buffer.concat(parts);
  }

  block(type: number, body: Buffer): Buffer {
    const len = 12 + body.length;
    return Buffer.concat([this.u32(type), this.u32(len), body, this.u32(len)]);
  }

  timestamp(ticks: bigint): Buffer {
    const hi = Number((ticks >> 32n) & 0xffffffffn);
    const lo = Number(ticks & 0xffffffffn);
    return Buffer.concat([this.u32(hi), this.u32(lo)]);
  }
}

export function writePcapng(sections: readonly PcapngSection[]): Buffer {
  const out: Buffer[] = [];
  for (const section of sections) {
    const w = new BlockWriter(section.bigEndian === true);
    const shbBody = Buffer.concat([
      w.u32(0x1a2b3c4d),
      w.u16(section.majorVersion ?? 1),
      w.u16(0),
      w.u64(-1n), // section length unknown
    ]);
    out.push(w.block(0x0a0d0d0a, shbBody));
    for (const b of section.blocks) {
      switch (b.type) {
        case 'idb': {
          const opts = [...(b.options ?? [])];
          if (b.tsresol !== undefined) opts.push({ code: 9, value: Uint8Array.of(b.tsresol) });
          if (b.tsoffset !== undefined) opts.push({ code: 14, value: w.u64(b.tsoffset) });
          const body = Buffer.concat([w.u16(b.linktype), w.u16(0), w.u32(b.snaplen ?? 0), w.options(opts)]);
          out.push(w.block(1, body));
          break;
        }
        case 'epb': {
          const body = Buffer.concat([
            w.u32(b.iface),
            w.timestamp(b.ticks),
            w.u32(b.data.length),
            w.u32(b.wirelen ?? b.data.length),
            w.padded(b.data),
            w.options(b.options ?? []),
          ]);
          out.push(w.block(6, body));
          break;
        }
        case 'pb': {
          const body = Buffer.concat([
            w.u16(b.iface),
            w.u16(0),
            w.timestamp(b.ticks),
            w.u32(b.data.length),
            w.u32(b.wirelen ?? b.data.length),
            w.padded(b.data),
          ]);
          out.push(w.block(2, body));
          break;
        }
        case 'spb': {
          const body = Buffer.concat([w.u32(b.wirelen ?? b.data.length), w.padded(b.data)]);
          out.push(w.block(3, body));
          break;
        }
        case 'other':
          out.push(w.block(b.blockType, w.padded(b.body)));
          break;
        case 'raw':
          out.push(Buffer.from(b.bytes));
          break;
      }
    }
  }
  return Buffer.concat(out);
}
