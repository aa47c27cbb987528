/**
 * Community ID v1 flow hash (corelight/community-id-spec), so a SIEM can join
 * honeyport alarms with Zeek, Suricata or Elastic flow records of the same flow.
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

export function communityId(family: Family, src: Uint8Array, srcPort: number, dst: Uint8Array, dstPort: number, seed = 0): string {
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
  return `1:${hash('sha1', buf, 'base64')}`;
}
