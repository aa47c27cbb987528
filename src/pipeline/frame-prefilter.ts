/**
 * What the kernel filter does for live capture, done in JavaScript for files:
 * rejects, from a few header bytes, the frames that cannot concern a decoy
 * port (untagged Ethernet carrying unfragmented IPv4 or plain IPv6, whose
 * TCP destination port is not a policy port, or that is not TCP at all), so
 * that the full decoder only sees the rest. A frame *from* a decoy port is
 * kept too: a SYN the decoy's host sent from it makes the SYN-ACK answering
 * it no probe (detect/syn-memory.ts). Anything it cannot judge —
 * fragments, extension headers, VLAN tags, other link types, short frames —
 * goes to the decoder, exactly as the kernel filter passes it to user space.
 * On the benchmark capture this skips ~97% of frames before decoding.
 */
import type { Policy } from '../policy/policy.js';
import { LinkType } from '../source/frame-batch.js';

const ETH_HEADER = 14;
const TCP = 6;
const IPV6_HEADER = 40;
/** IPv6 next-header values that are neither TCP nor a header we must walk to find TCP. */
function isFinalNonTcp(nh: number): boolean {
  return nh === 17 || nh === 58 || nh === 59 || nh === 50; // UDP, ICMPv6, no next header, ESP
}

export class FramePrefilter {
  private readonly decoy = new Uint8Array(65536);

  /** Only the ports matter, so a worker thread can build one without the whole policy (whitelist tables). */
  constructor(policy: Pick<Policy, 'ports'>) {
    for (const p of policy.ports) this.decoy[p.port] = 1;
  }

  /** True when the frame certainly holds no probe and no handshake of a decoy port. */
  skip(d: Buffer, off: number, caplen: number, linktype: number): boolean {
    if (linktype !== LinkType.ETHERNET || caplen < ETH_HEADER + 20) return false;
    const type = (d[off + 12]! << 8) | d[off + 13]!;
    const ip = off + ETH_HEADER;
    const end = off + caplen;
    if (type === 0x0800) {
      const vihl = d[ip]!;
      if (vihl >> 4 !== 4) return false;
      if (((d[ip + 6]! & 0x3f) | d[ip + 7]!) !== 0) return false; // MF or an offset: a fragment
      if (d[ip + 9] !== TCP) return true;
      return this.noDecoyPort(d, ip + (vihl & 0x0f) * 4, end);
    }
    if (type === 0x86dd) {
      if (caplen < ETH_HEADER + IPV6_HEADER) return false;
      const nh = d[ip + 6]!;
      if (nh !== TCP) return isFinalNonTcp(nh);
      return this.noDecoyPort(d, ip + IPV6_HEADER, end);
    }
    return false;
  }

  /** Neither TCP port at `tcp` is a decoy port (a header cut before its ports is not judged here). */
  private noDecoyPort(d: Buffer, tcp: number, end: number): boolean {
    if (tcp + 4 > end) return false;
    return this.decoy[(d[tcp]! << 8) | d[tcp + 1]!] === 0 && this.decoy[(d[tcp + 2]! << 8) | d[tcp + 3]!] === 0;
  }
}
