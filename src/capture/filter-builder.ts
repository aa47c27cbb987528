/**
 * Builds the kernel filter for the live capture from the policy.
 *
 * What passes (everything else stays in the kernel):
 * 1. inbound only: frames with pkttype OUTGOING are dropped first (this also
 *    drops the second, outgoing copy every packet has on `lo`);
 * 2. TCP to a `tcp` port over IPv4 or to a `tcp6` port over IPv6 (TCP right
 *    after the fixed header) whose flags the flag rule (detect/flag-rule.ts)
 *    calls a probe, see `passesKernelFlagRule`; kept to `snapLength` bytes;
 * 3. what the filter cannot judge, kept whole so user space can reassemble
 *    or walk it:
 *    - every IPv4 fragment of TCP (MF set or offset != 0: first and later
 *      fragments alike), when the policy has a `tcp` port;
 *    - IPv6 whose next header is an extension header that Linux's own input
 *      path walks before TCP — hop-by-hop (0), routing (43), fragment (44),
 *      destination options (60), AH (51) — when the policy has a `tcp6` port.
 *      Not passed: ESP (50: encrypted, user space could not read the TCP
 *      header either), No Next Header (59), Mobility (135), HIP (139) and
 *      Shim6 (140) (no TCP can follow them in a packet the host would
 *      answer), and plain ICMPv6 / UDP / anything else, so that a flood of
 *      ordinary non-TCP IPv6 traffic never leaves the kernel;
 *    - frames with more stacked VLAN tags than `maxVlanTags`.
 *    Passing them whole matters: a probe padded behind a long extension
 *    header or split into fragments must not lose its TCP header to the snap
 *    length.
 *
 * Devices without a link header: with the live `ethernet` layout the filter
 * first reads the device type (SKF_AD_HATYPE); on the types the native core
 * delivers as raw IP (tun and WireGuard are ARPHRD_NONE; also RAWIP and the
 * kernel's IP-in-IP / SIT tunnels) the network header is at offset 0 and the
 * EtherType comes from skb->protocol, so a probe over a tunnel is judged like
 * any other instead of being read as a broken Ethernet frame.
 *
 * VLAN tags: AF_PACKET removes one 802.1Q tag before the filter runs (it is
 * in the ring's metadata), but further tags (QinQ 0x8100 / 802.1ad 0x88a8 /
 * 0x9100) stay in the frame; up to `maxVlanTags` of them are walked.
 */

import { FLAG_RULE, flagRuleKind } from '../detect/flag-rule.js';
import type { Policy } from '../policy/policy.js';
import {
  BPF_ADD, BPF_AND, BPF_B, BPF_H, BPF_LSH, BpfAssembler, BpfProgram, PacketType, SKF_AD_HATYPE, SKF_AD_PKTTYPE,
  SKF_AD_PROTOCOL,
} from './bpf-program.js';

/**
 * ARPHRD_* types whose AF_PACKET SOCK_RAW frames start at the IP header: the
 * same list the native core maps to LINKTYPE_RAW (native/src/block_walker.cc).
 */
export const RAW_IP_HATYPES: readonly number[] = [
  0xfffe, // ARPHRD_NONE: tun, WireGuard
  519, // ARPHRD_RAWIP
  768, // ARPHRD_TUNNEL (ipip)
  769, // ARPHRD_TUNNEL6
  776, // ARPHRD_SIT
];

/**
 * Where offset 0 of what the filter sees is:
 * - `ethernet`: an Ethernet header (AF_PACKET SOCK_RAW on an Ethernet-like
 *   device; also pcap LINKTYPE_ETHERNET) — the live default;
 * - `network`: the network header, EtherType only in skb->protocol
 *   (AF_PACKET SOCK_DGRAM, which is how the `any` device must be opened;
 *   in-frame VLAN tags then start at offset 0 as TCI + EtherType);
 * - `linux-sll` / `linux-sll2`: a 16 / 20 byte cooked header (pcap
 *   LINKTYPE_LINUX_SLL / _SLL2 files; the kernel never shows these, they are
 *   for running the same filter over replays in the interpreter).
 */
export type CaptureLink = 'ethernet' | 'network' | 'linux-sll' | 'linux-sll2';

export interface CaptureFilterOptions {
  readonly link?: CaptureLink;
  /** Bytes kept of a judged probe. Default DEFAULT_SNAP_LENGTH. */
  readonly snapLength?: number;
  /** Bytes kept of a packet the filter cannot judge (fragments, extension headers). Default 65535. */
  readonly undecidedSnapLength?: number;
  /** In-frame VLAN tags walked (after the one AF_PACKET strips). Default 3. */
  readonly maxVlanTags?: number;
  /** Drop PACKET_OUTGOING frames. Default true. */
  readonly inboundOnly?: boolean;
}

/**
 * Ethernet 14 + 3 tags 12 + IPv4 with the longest options 60 + TCP with the
 * longest options 60 = 146: a judged probe is never cut inside its headers.
 */
export const DEFAULT_SNAP_LENGTH = 160;
export const DEFAULT_UNDECIDED_SNAP_LENGTH = 65535;
export const DEFAULT_MAX_VLAN_TAGS = 3;
const MAX_VLAN_TAGS_LIMIT = 8;

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
/** 802.1Q, 802.1ad (QinQ service tag), and the pre-standard QinQ TPID. */
export const VLAN_TPIDS: readonly number[] = [0x8100, 0x88a8, 0x9100];

const IPPROTO_TCP = 6;
/** IPv6 next-header values passed whole for user space to walk (see module comment). */
export const IPV6_UNDECIDED_NEXT_HEADERS: readonly number[] = [0, 43, 44, 60, 51];

/**
 * The flag rule the kernel filter applies, as a plain function (the tests'
 * oracle, and what detection can rely on having been let through): every
 * flag combination the flag rule (detect/flag-rule.ts) calls a probe of some
 * kind. That includes every ACK-class segment (ACK set, RST clear): whether
 * one belongs to a connection is for user space's SYN memory to say, and the
 * bare ACK ending a handshake tells it that a connection completed even when
 * the peer resets it before accept() (nmap -sT does, within milliseconds).
 */
export function passesKernelFlagRule(flags: number): boolean {
  return flagRuleKind(flags) !== 0;
}

interface LinkLayout {
  /** Offset of the EtherType, or null when it comes from skb->protocol. */
  readonly typeAt: number | null;
  /** Offset of the network header (or of the first in-frame VLAN tag's TCI). */
  readonly payloadAt: number;
}

const LAYOUTS: Record<CaptureLink, LinkLayout> = {
  ethernet: { typeAt: 12, payloadAt: 14 },
  network: { typeAt: null, payloadAt: 0 },
  'linux-sll': { typeAt: 14, payloadAt: 16 },
  'linux-sll2': { typeAt: 0, payloadAt: 20 },
};

function checkInt(name: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`${name} must be an integer in ${min}..${max}, got ${v}`);
  return v;
}

export function buildCaptureFilter(policy: Pick<Policy, 'ports'>, opts: CaptureFilterOptions = {}): BpfProgram {
  const link = opts.link ?? 'ethernet';
  const layout = LAYOUTS[link];
  if (layout === undefined) throw new RangeError(`unknown link ${String(link)}`);
  const snap = checkInt('snapLength', opts.snapLength ?? DEFAULT_SNAP_LENGTH, 64, 0x40000);
  const undecidedSnap = checkInt('undecidedSnapLength', opts.undecidedSnapLength ?? DEFAULT_UNDECIDED_SNAP_LENGTH, snap, 0x40000);
  const maxTags = checkInt('maxVlanTags', opts.maxVlanTags ?? DEFAULT_MAX_VLAN_TAGS, 0, MAX_VLAN_TAGS_LIMIT);

  const v4Ports = policy.ports.filter((p) => p.protocol === 'tcp').map((p) => p.port);
  const v6Ports = policy.ports.filter((p) => p.protocol === 'tcp6').map((p) => p.port);
  for (const p of [...v4Ports, ...v6Ports]) checkInt('port', p, 1, 65535);

  const asm = new BpfAssembler();
  const accept = asm.label('accept');
  const undecided = asm.label('undecided');
  const reject = asm.label('reject');
  const l3 = asm.label('l3');
  const ipv4 = asm.label('ipv4');
  const ipv6 = asm.label('ipv6');
  const tcpFlags = asm.label('tcp-flags');

  if (v4Ports.length === 0 && v6Ports.length === 0) return asm.ret(0).assemble();

  if (opts.inboundOnly ?? true) {
    asm.ldAncillary(SKF_AD_PKTTYPE).jeq(PacketType.OUTGOING, reject);
  }

  // Link layer: leave A = EtherType and X = offset of the network header, then go to l3.
  if (link === 'ethernet') {
    const raw = asm.label('raw-ip');
    const ether = asm.label('ether');
    asm.ldAncillary(SKF_AD_HATYPE);
    RAW_IP_HATYPES.forEach((t, i) => asm.jeq(t, raw, i === RAW_IP_HATYPES.length - 1 ? ether : null));
    asm.place(raw).ldAncillary(SKF_AD_PROTOCOL).ldxImm(0).ja(l3);
    asm.place(ether);
  }
  if (layout.typeAt === null) asm.ldAncillary(SKF_AD_PROTOCOL);
  else asm.ldAbs(BPF_H, layout.typeAt);
  for (let depth = 0; depth <= maxTags; depth++) {
    const tagged = asm.label(`tag${depth + 1}`);
    for (const tpid of VLAN_TPIDS) asm.jeq(tpid, tagged);
    asm.ldxImm(layout.payloadAt + 4 * depth).ja(l3);
    asm.place(tagged);
    if (depth === maxTags) {
      asm.ja(undecided); // deeper than we walk: let user space decide
    } else {
      // A tag is TPID (already read) + TCI; the next EtherType follows the TCI.
      asm.ldAbs(BPF_H, layout.payloadAt + 4 * depth + 2);
    }
  }

  asm.place(l3);
  if (v4Ports.length > 0) asm.jeq(ETHERTYPE_IPV4, ipv4);
  if (v6Ports.length > 0) asm.jeq(ETHERTYPE_IPV6, ipv6);
  asm.ja(reject);

  const portCheck = (ports: readonly number[]): void => {
    asm.ldInd(BPF_H, 2); // destination port
    ports.forEach((port, i) => asm.jeq(port, tcpFlags, i === ports.length - 1 ? reject : null));
  };

  if (v4Ports.length > 0) {
    asm.place(ipv4);
    asm.ldInd(BPF_B, 9).jeq(IPPROTO_TCP, null, reject);
    // MF or a fragment offset: the TCP header may be elsewhere or split.
    asm.ldInd(BPF_H, 6).jset(0x3fff, undecided);
    // X = X + 4 * IHL (ldx msh only takes constant offsets, the tags make ours variable).
    asm.ldInd(BPF_B, 0).alu(BPF_AND, 0x0f).alu(BPF_LSH, 2).aluX(BPF_ADD).tax();
    portCheck(v4Ports);
  }

  if (v6Ports.length > 0) {
    const extension = asm.label('ipv6-ext');
    asm.place(ipv6);
    asm.ldInd(BPF_B, 6).jeq(IPPROTO_TCP, null, extension);
    asm.txa().alu(BPF_ADD, 40).tax();
    portCheck(v6Ports);
    asm.place(extension);
    for (const nh of IPV6_UNDECIDED_NEXT_HEADERS) asm.jeq(nh, undecided);
    asm.ja(reject);
  }

  // The flag rule's rows in order, first match wins (see passesKernelFlagRule);
  // consecutive rows with one mask share the load and the AND.
  asm.place(tcpFlags);
  FLAG_RULE.forEach((row, i) => {
    const target = row.kind !== 0 ? accept : reject;
    if (row.mask === 0) {
      asm.ja(target);
      return;
    }
    if (i === 0 || FLAG_RULE[i - 1]!.mask !== row.mask) asm.ldInd(BPF_B, 13).alu(BPF_AND, row.mask);
    asm.jeq(row.value, target);
  });
  if (FLAG_RULE[FLAG_RULE.length - 1]!.mask !== 0) asm.ja(reject);

  asm.place(accept).ret(snap);
  asm.place(undecided).ret(undecidedSnap);
  asm.place(reject).ret(0);
  return asm.assemble();
}
