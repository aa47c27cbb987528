/**
 * Classic pcap (libpcap 2.4): a 24-byte file header, then 16-byte record
 * headers each followed by the captured bytes. Records are walked in place.
 */
import type { FrameBatch } from './frame-batch.js';
import { MAX_RECORD, u32, type CaptureFormat, type RecordWalker, type WalkResult } from './pcap-walk.js';

const FILE_HEADER = 24;
const RECORD_HEADER = 16;

/** Magic numbers as read big-endian from the first four bytes. */
export const PCAP_MAGIC = {
  MICRO_BE: 0xa1b2c3d4,
  MICRO_LE: 0xd4c3b2a1,
  NANO_BE: 0xa1b23c4d,
  NANO_LE: 0x4d3cb2a1,
} as const;

/** The pcap variant a magic number announces, or undefined for another magic. */
export function classifyPcapMagic(
  magicBE: number,
): { readonly le: boolean; readonly nano: boolean } | undefined {
  switch (magicBE) {
    case PCAP_MAGIC.MICRO_BE:
      return { le: false, nano: false };
    case PCAP_MAGIC.MICRO_LE:
      return { le: true, nano: false };
    case PCAP_MAGIC.NANO_BE:
      return { le: false, nano: true };
    case PCAP_MAGIC.NANO_LE:
      return { le: true, nano: true };
    default:
      return undefined;
  }
}

export class PcapWalker implements RecordWalker {
  readonly format: CaptureFormat;
  private headerDone = false;
  private linktype = 0;

  constructor(
    private readonly le: boolean,
    private readonly nano: boolean,
  ) {
    this.format = nano ? 'pcap-ns' : 'pcap';
  }

  truncation(_buf: Buffer, pos: number, end: number): string {
    const have = end - pos;
    if (!this.headerDone) return `truncated file header (${have} of ${FILE_HEADER} bytes)`;
    if (have < RECORD_HEADER) return `truncated record header (${have} of ${RECORD_HEADER} bytes)`;
    const caplen = u32(_buf, pos + 8, this.le);
    return `truncated packet data (${have - RECORD_HEADER} of ${caplen} bytes)`;
  }

  walk(buf: Buffer, pos: number, end: number, batch: FrameBatch): WalkResult {
    const le = this.le;
    if (!this.headerDone) {
      if (end - pos < FILE_HEADER) return { kind: 'need', pos };
      // The upper bits of the link-type field carry FCS length and flags.
      this.linktype = u32(buf, pos + 20, le) & 0xffff;
      this.headerDone = true;
      pos += FILE_HEADER;
    }
    const nano = this.nano;
    const linktype = this.linktype;
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
      if (end - pos < RECORD_HEADER) {
        result = { kind: 'need', pos };
        break;
      }
      const incl = u32(buf, pos + 8, le);
      if (incl > MAX_RECORD) {
        result = {
          kind: 'damaged',
          pos,
          reason: `record claims ${incl} captured bytes (limit ${MAX_RECORD})`,
        };
        break;
      }
      if (end - pos - RECORD_HEADER < incl) {
        result = { kind: 'need', pos };
        break;
      }
      const sec = u32(buf, pos, le);
      const frac = u32(buf, pos + 4, le);
      // sec * 1e6 < 2^53 for every 32-bit sec, so this is exact.
      tsMicros[n] = nano ? sec * 1e6 + Math.floor(frac / 1000) : sec * 1e6 + frac;
      offset[n] = pos + RECORD_HEADER;
      caplen[n] = incl;
      wirelen[n] = u32(buf, pos + 12, le);
      lt[n] = linktype;
      iface[n] = 0;
      vlan[n] = 0;
      n++;
      pos += RECORD_HEADER + incl;
    }
    batch.count = n;
    return result;
  }
}
