/**
 * What the kernel filter does for live capture, done in JavaScript for files:
 * rejects, from a few header bytes, the frames that cannot concern a decoy
 * port (untagged Ethernet carrying unfragmented IPv4 or plain IPv6, whose
 * TCP destination port is not a policy port, or that is not TCP at all), so
 * that the full decoder only sees the rest. Anything it cannot judge —
 * fragments, extension headers, VLAN tags, other link types, short frames —
 * goes to the decoder, exactly as the kernel filter passes it to user space.
 * Tunnels (IP protocols 4, 41, 47 and UDP to the VXLAN/Geneve ports) go to
 * the decoder too: the probe is inside, behind headers this does not walk.
 * On the benchmark capture this skips ~97% of frames before decoding.
 */
import type { Policy } from '../policy/policy.js';
import { LinkType } from '../source/frame-batch.js';
import { IPPROTO_GRE, IPPROTO_IPIP, IPPROTO_IPV6, IPPROTO_UDP, UDP_PORT_GENEVE, UDP_PORT_VXLAN } from '../decode/encap.js';

const ETH_HEADER = 14;
const TCP = 6;
const IPV6_HEADER = 40;
/** IPv6 next-header values that are neither TCP nor a header we must walk to find TCP (UDP: see udpMayTunnel). */
function isFinalNonTcp(nh: number): boolean {
  return nh === 58 || nh === 59 || nh === 50; // ICMPv6, no next header, ESP
}

/** A UDP header at `udp` may start a tunnel the decoder walks (or its port was not captured). */
function udpMayTunnel(d: Buffer, udp: number, end: number): boolean {
  if (udp + 4 > end) return true;
  const port = (d[udp + 2]! << 8) | d[udp + 3]!;
  return port === UDP_PORT_VXLAN || port === UDP_PORT_GENEVE;
}

export class FramePrefilter {
  private readonly decoy = new Uint8Array(65536);

  constructor(policy: Policy) {
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
      const proto = d[ip + 9]!;
      if (proto !== TCP) {
        if (proto === IPPROTO_UDP) return !udpMayTunnel(d, ip + (vihl & 0x0f) * 4, end);
        return proto !== IPPROTO_GRE && proto !== IPPROTO_IPIP && proto !== IPPROTO_IPV6;
      }
      const port = ip + (vihl & 0x0f) * 4 + 2;
      return port + 2 <= end && this.decoy[(d[port]! << 8) | d[port + 1]!] === 0;
    }
    if (type === 0x86dd) {
      if (caplen < ETH_HEADER + IPV6_HEADER) return false;
      const nh = d[ip + 6]!;
      if (nh !== TCP) return nh === IPPROTO_UDP ? !udpMayTunnel(d, ip + IPV6_HEADER, end) : isFinalNonTcp(nh);
      const port = ip + IPV6_HEADER + 2;
      return port + 2 <= end && this.decoy[(d[port]! << 8) | d[port + 1]!] === 0;
    }
    return false;
  }
}
