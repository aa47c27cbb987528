/**
 * pcapng: a sequence of sections, each a Section Header Block (which fixes the
 * byte order) followed by Interface Description Blocks and packet blocks.
 * Blocks are walked in place; only interface descriptions are kept.
 */
import type { FrameBatch } from './frame-batch.js';
import { MAX_BLOCK, MAX_RECORD, u16, u32, type CaptureFormat, type RecordWalker, type WalkResult } from './pcap-walk.js';
import { ticksToMicros, timestampScale, type TimestampScale } from './pcapng-timestamp.js';
import { isAlarmTime } from '../alarm/timestamp.js';

export const PCAPNG_SHB = 0x0a0d0d0a;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

const BLOCK_IDB = 0x00000001;
const BLOCK_PB = 0x00000002; // obsolete Packet Block, still written by old tools
const BLOCK_SPB = 0x00000003;
const BLOCK_EPB = 0x00000006;

/**
 * Interface descriptions kept per section. pcapng ids are 32-bit, but real
 * captures have a few interfaces, a few thousand at the very most; without a
 * cap, 40 million tiny IDBs (1.9 MB gzipped) grew the table to 5 GB.
 */
export const MAX_INTERFACES_PER_SECTION = 65_536;

const OPT_END = 0;
const OPT_IF_TSRESOL = 9;
const OPT_IF_TSOFFSET = 14;

const BLOCK_HEADER = 12; // type, length, ..., trailing length
const SHB_MIN = 28;
const IDB_MIN = 20;
const EPB_MIN = 32;
const SPB_MIN = 16;

/** A timestamp no Date can hold, in words: "1.8e+19 s since 1970". */
function describeSeconds(micros: number): string {
  return `${(micros / 1e6).toPrecision(3)} s since 1970`;
}

interface Interface {
  readonly linktype: number;
  readonly snaplen: number;
  readonly scale: TimestampScale;
}

type InterfaceOrDamage = Interface | string;

export class PcapngWalker implements RecordWalker {
  readonly format: CaptureFormat = 'pcapng';
  /** Byte order of the current section. */
  private le = true;
  private interfaces: Interface[] = [];
  /** SPBs carry no timestamp; they get the last one seen, keeping time monotonic. */
  private lastMicros = 0;

  truncation(buf: Buffer, pos: number, end: number): string {
    const have = end - pos;
    if (have < 8) return `truncated block header (${have} of 8 bytes)`;
    return `truncated block (${have} of ${this.blockLength(buf, pos, end)} bytes)`;
  }

  private blockLength(buf: Buffer, pos: number, end: number): number {
    let le = this.le;
    if (u32(buf, pos, true) === PCAPNG_SHB && end - pos >= 12) le = u32(buf, pos + 8, true) === BYTE_ORDER_MAGIC;
    return u32(buf, pos + 4, le);
  }

  walk(buf: Buffer, pos: number, end: number, batch: FrameBatch): WalkResult {
    const capacity = batch.capacity;
    const { offset, caplen, wirelen, tsMicros, iface, vlan } = batch;
    const lt = batch.linktype;
    let n = batch.count;
    let result: WalkResult;
    for (;;) {
      if (n === capacity) {
        result = { kind: 'full', pos };
        break;
      }
      const avail = end - pos;
      if (avail < BLOCK_HEADER) {
        result = { kind: 'need', pos };
        break;
      }
      // The SHB type reads the same in both byte orders; its body says which one follows.
      const typeLE = u32(buf, pos, true);
      if (typeLE === PCAPNG_SHB) {
        const bom = u32(buf, pos + 8, true);
        if (bom === BYTE_ORDER_MAGIC) this.le = true;
        else if (u32(buf, pos + 8, false) === BYTE_ORDER_MAGIC) this.le = false;
        else {
          result = { kind: 'damaged', pos, reason: 'section header has no valid byte-order magic' };
          break;
        }
      }
      const le = this.le;
      const type = le ? typeLE : u32(buf, pos, false);
      const len = u32(buf, pos + 4, le);
      if (len < BLOCK_HEADER || (len & 3) !== 0) {
        result = { kind: 'damaged', pos, reason: `block length ${len} is not a multiple of 4 of at least 12` };
        break;
      }
      const carriesState =
        type === PCAPNG_SHB || type === BLOCK_IDB || type === BLOCK_EPB || type === BLOCK_SPB || type === BLOCK_PB;
      if (len > MAX_BLOCK) {
        if (carriesState) {
          result = { kind: 'damaged', pos, reason: `block length ${len} exceeds the limit of ${MAX_BLOCK}` };
        } else {
          result = { kind: 'skip', pos, bytes: len };
        }
        break;
      }
      if (avail < len) {
        result = { kind: 'need', pos };
        break;
      }
      const trailer = u32(buf, pos + len - 4, le);
      if (trailer !== len) {
        result = { kind: 'damaged', pos, reason: `trailing block length ${trailer} does not match ${len}` };
        break;
      }

      if (type === BLOCK_EPB || type === BLOCK_PB) {
        if (len < EPB_MIN) {
          result = { kind: 'damaged', pos, reason: `packet block of ${len} bytes is too short` };
          break;
        }
        // EPB and the old PB share the layout, except PB's 16-bit interface id.
        const id = type === BLOCK_EPB ? u32(buf, pos + 8, le) : u16(buf, pos + 8, le);
        const incl = u32(buf, pos + 20, le);
        if (id >= this.interfaces.length) {
          result = { kind: 'damaged', pos, reason: `packet for undeclared interface ${id}` };
          break;
        }
        if (incl > MAX_RECORD || incl > len - EPB_MIN) {
          result = { kind: 'damaged', pos, reason: `captured length ${incl} does not fit the block of ${len} bytes` };
          break;
        }
        const ifc = this.interfaces[id];
        const micros = ticksToMicros(ifc.scale, u32(buf, pos + 12, le), u32(buf, pos + 16, le));
        if (!isAlarmTime(micros)) {
          result = { kind: 'damaged', pos, reason: `packet timestamp (${describeSeconds(micros)}) is outside the years 1684-2255` };
          break;
        }
        this.lastMicros = micros;
        tsMicros[n] = micros;
        offset[n] = pos + 28;
        caplen[n] = incl;
        wirelen[n] = u32(buf, pos + 24, le);
        lt[n] = ifc.linktype;
        iface[n] = id;
        vlan[n] = 0;
        n++;
      } else if (type === BLOCK_SPB) {
        if (len < SPB_MIN) {
          result = { kind: 'damaged', pos, reason: `simple packet block of ${len} bytes is too short` };
          break;
        }
        if (this.interfaces.length === 0) {
          result = { kind: 'damaged', pos, reason: 'packet for undeclared interface 0' };
          break;
        }
        const ifc = this.interfaces[0];
        const orig = u32(buf, pos + 8, le);
        // The captured length is implied: the original length, cut by the block and the snap length.
        let incl = Math.min(orig, len - SPB_MIN);
        if (ifc.snaplen !== 0 && incl > ifc.snaplen) incl = ifc.snaplen;
        if (incl > MAX_RECORD) {
          result = { kind: 'damaged', pos, reason: `captured length ${incl} exceeds the limit of ${MAX_RECORD}` };
          break;
        }
        tsMicros[n] = this.lastMicros;
        offset[n] = pos + 12;
        caplen[n] = incl;
        wirelen[n] = orig;
        lt[n] = ifc.linktype;
        iface[n] = 0;
        vlan[n] = 0;
        n++;
      } else if (type === BLOCK_IDB) {
        if (this.interfaces.length >= MAX_INTERFACES_PER_SECTION) {
          result = { kind: 'damaged', pos, reason: `more than ${MAX_INTERFACES_PER_SECTION} interfaces in one section` };
          break;
        }
        const described = this.describeInterface(buf, pos, len, le);
        if (typeof described === 'string') {
          result = { kind: 'damaged', pos, reason: described };
          break;
        }
        this.interfaces.push(described);
      } else if (type === PCAPNG_SHB) {
        const problem = this.checkSection(buf, pos, len, le);
        if (problem !== undefined) {
          result = { kind: 'damaged', pos, reason: problem };
          break;
        }
        this.interfaces = [];
      }
      // Every other block type (name resolution, statistics, custom, ...) is skipped.
      pos += len;
    }
    batch.count = n;
    return result;
  }

  private checkSection(buf: Buffer, pos: number, len: number, le: boolean): string | undefined {
    if (len < SHB_MIN) return `section header of ${len} bytes is too short`;
    const major = u16(buf, pos + 12, le);
    if (major !== 1) return `unsupported pcapng major version ${major}`;
    return undefined;
  }

  private describeInterface(buf: Buffer, pos: number, len: number, le: boolean): InterfaceOrDamage {
    if (len < IDB_MIN) return `interface description of ${len} bytes is too short`;
    const linktype = u16(buf, pos + 8, le);
    const snaplen = u32(buf, pos + 12, le);
    let tsresol: number | undefined;
    let offsetSeconds = 0;
    const optEnd = pos + len - 4;
    let p = pos + 16;
    while (optEnd - p >= 4) {
      const code = u16(buf, p, le);
      const olen = u16(buf, p + 2, le);
      if (code === OPT_END) break;
      const value = p + 4;
      if (olen > optEnd - value) return `interface option ${code} runs past its block`;
      if (code === OPT_IF_TSRESOL && olen >= 1) tsresol = buf[value];
      else if (code === OPT_IF_TSOFFSET && olen >= 8) {
        const lo = u32(buf, le ? value : value + 4, le);
        const hi = u32(buf, le ? value + 4 : value, le) | 0; // signed seconds
        offsetSeconds = hi * 4294967296 + lo;
      }
      p = value + ((olen + 3) & ~3);
    }
    return { linktype, snaplen, scale: timestampScale(tsresol, offsetSeconds) };
  }
}
