/**
 * Structure-aware capture generation for fuzzing: pcapng sections with
 * random byte orders, interface counts, if_tsresol / if_tsoffset values,
 * options (some overrunning their block), packet blocks of every kind with
 * timestamps from ordinary to absurd, lengths that lie; classic pcap with
 * every magic; frames built from real protocol headers (so the decoder's deep
 * paths are reached) or random; then byte mutations and gzip. Byte flips alone
 * rarely reach "40 million interfaces" or "if_tsresol 0 with a large high word".
 */
import { gzipSync } from 'node:zlib';
import { ethernet, fragmentIpv4, ipv4, ipv6, tcp } from '../helpers/frame-builder.js';
import { Rng, mutateBytes } from './rng.js';

const DECOY_PORTS = [445, 135, 139, 3389, 5985, 22, 80];
const TcpFlags = [0x02, 0x12, 0x01, 0x00, 0x29, 0x10, 0xc2, 0x03];

function frame(rng: Rng): Uint8Array {
  const k = rng.int(10);
  if (k === 0) return rng.bytes(rng.int(120));
  const src4 = `198.18.${rng.int(4)}.${rng.int(256)}`;
  const seg = tcp({ srcPort: 1024 + rng.int(60000), dstPort: rng.pick(DECOY_PORTS), flags: rng.pick(TcpFlags), payload: rng.chance(0.2) ? rng.int(40) : 0 });
  if (k <= 5) return ethernet(ipv4({ src: src4, dst: '198.18.0.1', payload: seg }), rng.chance(0.2) ? { vlans: [rng.int(4095), ...(rng.chance(0.3) ? [rng.int(4095)] : [])] } : {});
  if (k <= 7) return ethernet(ipv6({ src: rng.chance(0.3) ? `::ffff:${src4}` : `fd00:18::${rng.int(65536).toString(16)}`, dst: 'fd00:18::1', payload: seg }));
  const pieces = fragmentIpv4(ipv4({ src: src4, dst: '198.18.0.1', payload: seg, id: rng.int(65536) }), 8);
  return ethernet(rng.pick(pieces));
}

function pad4(n: number): number { return (n + 3) & ~3; }

class Writer {
  constructor(private readonly le: boolean) {}
  u16(v: number): Buffer { const b = Buffer.alloc(2); if (this.le) b.writeUInt16LE(v & 0xffff); else b.writeUInt16BE(v & 0xffff); return b; }
  u32(v: number): Buffer { const b = Buffer.alloc(4); if (this.le) b.writeUInt32LE(v >>> 0); else b.writeUInt32BE(v >>> 0); return b; }
  /** A block with its two length fields; `lie` replaces one of them. */
  block(rng: Rng, type: number, body: Buffer): Buffer {
    const padded = Buffer.concat([body, Buffer.alloc(pad4(body.length) - body.length)]);
    let len = 12 + padded.length;
    let trailer = len;
    if (rng.chance(0.02)) len = rng.pick([0, 8, 13, len + 4, len - 4, 0x7ffffff0, rng.u32()]);
    if (rng.chance(0.01)) trailer = rng.u32();
    return Buffer.concat([this.u32(type), this.u32(len), padded, this.u32(trailer)]);
  }
  option(code: number, value: Buffer, lie = false): Buffer {
    return Buffer.concat([this.u16(code), this.u16(lie ? value.length + 200 : value.length), value, Buffer.alloc(pad4(value.length) - value.length)]);
  }
}

function tsresol(rng: Rng): number | undefined {
  switch (rng.int(6)) {
    case 0: return undefined;
    case 1: return rng.pick([6, 9, 3, 0]);
    case 2: return rng.int(20);
    case 3: return 0x80 | rng.int(70);
    case 4: return rng.int(256);
    default: return 9;
  }
}

function ticks(rng: Rng, resol: number | undefined): [number, number] {
  const r = resol ?? 6;
  if (rng.chance(0.1)) return [rng.u32(), rng.u32()];
  if (rng.chance(0.05)) return [rng.pick([0, 0xffffffff, 0x7fffffff, 0x80000000]), rng.u32()];
  // Around 2023 in the interface's resolution, as a double (approximate is fine).
  const seconds = 1_700_000_000 + rng.int(100_000);
  const perSecond = (r & 0x80) ? 2 ** (r & 0x7f) : 10 ** (r & 0x7f);
  const t = seconds * perSecond + rng.int(1000);
  if (!Number.isFinite(t) || t >= 2 ** 64) return [rng.u32(), rng.u32()];
  return [Math.floor(t / 4294967296) >>> 0, (t % 4294967296) >>> 0];
}

function pcapng(rng: Rng): Buffer {
  const parts: Buffer[] = [];
  const sections = 1 + (rng.chance(0.2) ? rng.int(3) : 0);
  for (let s = 0; s < sections; s++) {
    const le = !rng.chance(0.3);
    const w = new Writer(le);
    const shbBody = Buffer.concat([w.u32(0x1a2b3c4d), w.u16(rng.chance(0.03) ? 2 : 1), w.u16(0), w.u32(0xffffffff), w.u32(0xffffffff)]);
    parts.push(w.block(rng, 0x0a0d0d0a, shbBody));
    const resols: Array<number | undefined> = [];
    const interfaces = rng.chance(0.005) ? 60_000 + rng.int(10_000) : rng.chance(0.05) ? 0 : 1 + rng.int(4);
    const addIdb = (): void => {
      const r = tsresol(rng);
      resols.push(r);
      const opts: Buffer[] = [];
      if (r !== undefined) opts.push(w.option(9, Buffer.of(r), rng.chance(0.02)));
      if (rng.chance(0.2)) {
        const off = Buffer.alloc(8);
        const v = rng.pick([0n, 100n, -100n, 1n << 40n, -(1n << 40n), 1n << 62n, BigInt(rng.u32()) << 31n]);
        if (le) off.writeBigInt64LE(v); else off.writeBigInt64BE(v);
        opts.push(w.option(14, off));
      }
      if (rng.chance(0.1)) opts.push(w.option(2, rng.bytes(rng.int(20))));
      if (opts.length) opts.push(w.option(0, Buffer.alloc(0)));
      parts.push(w.block(rng, 1, Buffer.concat([w.u16(rng.pick([1, 1, 1, 113, 276, 101, 228, 229, 0, 108, rng.int(300)])), w.u16(0), w.u32(rng.pick([0, 65535, 96, rng.int(200)])), ...opts])));
    };
    for (let i = 0; i < interfaces; i++) addIdb();
    const packets = rng.int(40);
    for (let p = 0; p < packets; p++) {
      const k = rng.int(20);
      const data = Buffer.from(frame(rng));
      if (k < 14) {
        const iface = resols.length === 0 || rng.chance(0.02) ? rng.int(resols.length + 2) : rng.int(resols.length);
        const [hi, lo] = ticks(rng, resols[iface]);
        const incl = rng.chance(0.02) ? rng.u32() : data.length;
        parts.push(w.block(rng, 6, Buffer.concat([w.u32(iface), w.u32(hi), w.u32(lo), w.u32(incl), w.u32(data.length + rng.int(3) * 100), data])));
      } else if (k < 16) {
        parts.push(w.block(rng, 3, Buffer.concat([w.u32(data.length), data])));
      } else if (k < 17) {
        const [hi, lo] = ticks(rng, resols[0]);
        parts.push(w.block(rng, 2, Buffer.concat([w.u16(rng.int(resols.length + 1)), w.u16(0), w.u32(hi), w.u32(lo), w.u32(data.length), w.u32(data.length), data])));
      } else if (k < 18) {
        addIdb();
      } else {
        parts.push(w.block(rng, rng.pick([4, 5, 0x0bad, 0x40000bad, rng.u32()]), rng.bytes(rng.int(64))));
      }
    }
  }
  return Buffer.concat(parts);
}

function classic(rng: Rng): Buffer {
  const le = !rng.chance(0.3);
  const nano = rng.chance(0.3);
  const w = new Writer(le);
  const parts = [w.u32(nano ? 0xa1b23c4d : 0xa1b2c3d4), w.u16(2), w.u16(4), w.u32(0), w.u32(0), w.u32(rng.pick([65535, 96, 0, 262144])), w.u32(rng.pick([1, 1, 113, 276, 101, 228, 229, 0, 108, 1 | 0x10000000, rng.int(300)]))];
  const packets = rng.int(40);
  for (let p = 0; p < packets; p++) {
    const data = Buffer.from(frame(rng));
    const incl = rng.chance(0.02) ? rng.u32() : data.length;
    parts.push(w.u32(rng.chance(0.05) ? rng.u32() : 1_700_000_000 + p), w.u32(rng.chance(0.05) ? rng.u32() : rng.int(nano ? 1e9 : 1e6)), w.u32(incl), w.u32(data.length), data);
  }
  return Buffer.concat(parts);
}

/** One capture file's bytes (maybe gzip-compressed), derived from the generator's state. */
export function generateCapture(rng: Rng): Buffer {
  let bytes: Buffer = rng.chance(0.7) ? pcapng(rng) : classic(rng);
  if (rng.chance(0.3)) bytes = mutateBytes(rng, bytes);
  if (rng.chance(0.1)) {
    bytes = gzipSync(bytes);
    if (rng.chance(0.3)) bytes = bytes.subarray(0, rng.int(bytes.length));
  }
  return bytes;
}
