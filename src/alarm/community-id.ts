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

/**
 * One buffer per family, each exactly a tuple long: every id hashes one of
 * them at once, whole, so no view is made per alarm (~1 µs of a cold alarm's
 * formatting).
 */
const tupleV4 = Buffer.alloc(2 + 4 * 2 + 2 + 4);
const tupleV6 = Buffer.alloc(2 + 16 * 2 + 2 + 4);

/**
 * The spec's canonical tuple (lower endpoint first), hashed by both ids: the
 * same for both directions. A buffer shared by every call: valid until the next one.
 */
function flowTuple(family: Family, src: Uint8Array, srcPort: number, dst: Uint8Array, dstPort: number, seed: number): Buffer {
  const width = family === 4 ? 4 : 16;
  const ordered = lessThan(src, srcPort, dst, dstPort, width);
  const a = ordered ? src : dst;
  const b = ordered ? dst : src;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffff) throw new RangeError(`Community ID seed must be 0..65535: ${seed}`);
  const buf = family === 4 ? tupleV4 : tupleV6;
  buf[0] = (seed >>> 8) & 0xff;
  buf[1] = seed & 0xff;
  let o = 2;
  for (let i = 0; i < width; i++) buf[o + i] = a[i]!;
  o += width;
  for (let i = 0; i < width; i++) buf[o + i] = b[i]!;
  o += width;
  const ap = ordered ? srcPort : dstPort;
  const bp = ordered ? dstPort : srcPort;
  buf[o] = TCP;
  buf[o + 1] = 0;
  buf[o + 2] = ap >>> 8;
  buf[o + 3] = ap & 0xff;
  buf[o + 4] = bp >>> 8;
  buf[o + 5] = bp & 0xff;
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
