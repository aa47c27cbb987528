/**
 * Community ID v1 flow hash (corelight/community-id-spec), so a SIEM can join
 * honeyport alarms with Zeek, Suricata or Elastic flow records of the same
 * flow; and from the same hash, an EVE `flow_id`.
 */
import { hash } from 'node:crypto';
import type { Family } from '../net/address.js';

const TCP = 6;

function lessThan(aAddr: Uint8Array, aPort: number, bAddr: Uint8Array, bPort: number, width: number): boolean {
  for (let i = 0; i < width; i++) {
    if (aAddr[i] !== bAddr[i]) return aAddr[i]! < bAddr[i]!;
  }
  return aPort < bPort;
}

/** The spec's canonical tuple (lower endpoint first), hashed by both ids: the same for both directions. */
function flowTuple(family: Family, src: Uint8Array, srcPort: number, dst: Uint8Array, dstPort: number, seed: number): Buffer {
  const width = family === 4 ? 4 : 16;
  const ordered = lessThan(src, srcPort, dst, dstPort, width);
  const [a, ap, b, bp] = ordered ? [src, srcPort, dst, dstPort] : [dst, dstPort, src, srcPort];
  const buf = Buffer.alloc(2 + width * 2 + 2 + 4);
  let o = buf.writeUInt16BE(seed, 0);
  buf.set(a.subarray(0, width), o); o += width;
  buf.set(b.subarray(0, width), o); o += width;
  o = buf.writeUInt8(TCP, o);
  o = buf.writeUInt8(0, o);
  o = buf.writeUInt16BE(ap, o);
  buf.writeUInt16BE(bp, o);
  return buf;
}

export function communityId(family: Family, src: Uint8Array, srcPort: number, dst: Uint8Array, dstPort: number, seed = 0): string {
  return `1:${hash('sha1', flowTuple(family, src, srcPort, dst, dstPort, seed), 'base64')}`;
}

/**
 * A stable flow id from the flow tuple (the Community ID hash): the top 53
 * bits of it, so it is a positive integer every JSON reader keeps exact (a
 * full 64-bit value would be rounded by JavaScript and jq).
 */
export function flowId(family: Family, src: Uint8Array, srcPort: number, dst: Uint8Array, dstPort: number): number {
  const h = hash('sha1', flowTuple(family, src, srcPort, dst, dstPort, 0), 'buffer') as unknown as Buffer;
  return h.readUIntBE(0, 6) * 32 + (h[6]! >>> 3);
}
