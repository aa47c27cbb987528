/**
 * The kernel filter of filter-builder.ts as a libpcap filter expression, for
 * the libpcap backend (`cap` compiles an expression string, not cBPF bytes).
 *
 * Same decisions, link by link where libpcap can express them:
 * - TCP over IPv4 to a `tcp` port, TCP right behind the fixed IPv6 header to
 *   a `tcp6` port, with the probe flag rule (detect/flag-rule.ts);
 * - passed whole because the filter cannot judge them: IPv4 fragments of TCP
 *   (MF or an offset) and IPv6 whose next header is one Linux walks before
 *   TCP (IPV6_UNDECIDED_NEXT_HEADERS);
 * - our own transmissions are told by their source address, not by
 *   direction: frames from one of `ownAddresses` are dropped.
 *
 * Limits, and why: libpcap's `tcp[...]` offsets are IPv4-only, so IPv6 uses
 * `ip6[40 + n]`; IPv4 options are honoured by `tcp[...]` (libpcap adds the
 * IHL). Stacked VLAN tags are not walked: the OS strips one tag before the
 * filter runs on Linux, a second tag hides the frame from this filter (the
 * AF_PACKET filter walks two). The snap length is libpcap's (cap asks for
 * 65535), so every passed frame is kept whole. Not `inbound`: on Linux,
 * libpcap runs the first frame after setting a filter through its userland
 * interpreter (frames already in the ring were judged by the old filter),
 * which cannot load the packet type and drops that frame, i.e. the first
 * probe after every open was missed; Npcap has no direction qualifier at all.
 * The source address works on every OS. Its cost: a probe whose source is
 * spoofed as one of ours is dropped (its answer would come back to us, so it
 * tells the scanner nothing), and traffic over loopback (both copies carry
 * a local source) is not seen.
 */
import { isIP } from 'node:net';
import type { Policy } from '../policy/policy.js';
import { FLAG_RULE, type FlagRow } from '../detect/flag-rule.js';
import { IPV6_UNDECIDED_NEXT_HEADERS } from './filter-builder.js';

/**
 * The flag rule (detect/flag-rule.ts) over the flags byte `at` (e.g.
 * `tcp[13]`): a segment passes when its first matching row is a probe kind.
 * First match wins, so a probe row is guarded by every earlier non-probe row.
 */
function flagRule(at: string): string {
  const hex = (v: number): string => `0x${v.toString(16).padStart(2, '0')}`;
  const matches = (r: FlagRow, op = '=='): string => `(${at} & ${hex(r.mask)}) ${op} ${hex(r.value)}`;
  const refused: string[] = [];
  const passes: string[] = [];
  for (const row of FLAG_RULE) {
    if (row.kind === 0) {
      if (row.mask === 0) break; // everything later is refused
      refused.push(matches(row, '!='));
      continue;
    }
    const parts = [...refused, ...(row.mask === 0 ? [] : [matches(row)])];
    // A catch-all probe row with nothing refused before it: every flags byte passes.
    passes.push(parts.length === 0 ? `(${at} & 0x00) == 0x00` : `(${parts.join(' and ')})`);
  }
  return passes.length === 0 ? `(${at} & 0x00) != 0x00` : `(${passes.join(' or ')})`;
}

const anyOf = (parts: readonly string[]): string => (parts.length === 1 ? parts[0]! : `(${parts.join(' or ')})`);

export interface PcapExpressionOptions {
  /** This host's addresses (IPv4/IPv6, a `%scope` suffix ignored): frames from them are ours. */
  readonly ownAddresses?: readonly string[];
}

/** `src host A or src host B …` over valid, distinct addresses; throws on anything else. */
function fromAny(addresses: readonly string[]): string {
  const hosts = [...new Set(addresses.map((a) => a.split('%')[0]!))];
  for (const h of hosts) if (isIP(h) === 0) throw new RangeError(`own address ${JSON.stringify(h)} is not an IP address`);
  return hosts.map((h) => `src host ${h}`).join(' or ');
}

/**
 * The expression for the policy's ports; for a policy without ports one that
 * matches nothing (`less 1`: no frame is shorter than one byte).
 */
export function buildPcapExpression(policy: Pick<Policy, 'ports'>, opts: PcapExpressionOptions = {}): string {
  const v4Ports = [...new Set(policy.ports.filter((p) => p.protocol === 'tcp').map((p) => p.port))];
  const v6Ports = [...new Set(policy.ports.filter((p) => p.protocol === 'tcp6').map((p) => p.port))];
  for (const p of [...v4Ports, ...v6Ports]) {
    if (!Number.isInteger(p) || p < 1 || p > 65535) throw new RangeError(`port ${p} is not 1-65535`);
  }
  const branches: string[] = [];
  if (v4Ports.length > 0) {
    const ports = anyOf(v4Ports.map((p) => `tcp[2:2] == ${p}`));
    branches.push(`(ip and ip[9] == 6 and ((ip[6:2] & 0x3fff) != 0 or (${ports} and ${flagRule('tcp[13]')})))`);
  }
  if (v6Ports.length > 0) {
    const ports = anyOf(v6Ports.map((p) => `ip6[42:2] == ${p}`));
    const undecided = IPV6_UNDECIDED_NEXT_HEADERS.map((nh) => `ip6[6] == ${nh}`);
    branches.push(`(ip6 and ((ip6[6] == 6 and ${ports} and ${flagRule('ip6[53]')}) or ${undecided.join(' or ')}))`);
  }
  if (branches.length === 0) return 'less 1';
  const all = anyOf(branches);
  const own = opts.ownAddresses ?? [];
  return own.length === 0 ? all : `not (${fromAny(own)}) and ${all}`;
}
