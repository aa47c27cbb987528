/**
 * Whether this host may run the sensor: the policy's OS type must be the
 * host's, and a host with a globally routable address is refused unless the
 * operator insists (honeyport detects lateral movement inside a network; on
 * an internet-facing host every port gets scanned all day).
 */
import type { NetworkInterfaceInfo } from 'node:os';
import { networkInterfaces } from 'node:os';
import ipaddr from 'ipaddr.js';
import type { OsType, Policy } from '../policy/policy.js';

export interface EligibilityInput {
  readonly policy: Policy;
  readonly allowPublicAddress: boolean;
  /** os.networkInterfaces() shape; the host's own when absent. */
  readonly interfaces?: NodeJS.Dict<NetworkInterfaceInfo[]>;
  /** process.platform when absent. */
  readonly platform?: NodeJS.Platform;
}

export type Eligibility =
  | { readonly ok: true; readonly warnings: readonly string[] }
  | { readonly ok: false; readonly problems: readonly string[] };

const OS_OF_PLATFORM: Partial<Record<NodeJS.Platform, OsType>> = { linux: 'linux', win32: 'windows' };

export function checkEligibility(input: EligibilityInput): Eligibility {
  const problems: string[] = [];
  const warnings: string[] = [];
  const platform = input.platform ?? process.platform;
  const hostOs = OS_OF_PLATFORM[platform];
  if (hostOs === undefined) {
    problems.push(`this host runs ${platform}: honeyport supports linux and windows (win32) hosts only`);
  } else if (hostOs !== input.policy.os) {
    problems.push(
      `policy "${input.policy.name}" is for ${input.policy.os} hosts but this host runs ${hostOs}: choose a ${hostOs} policy`,
    );
  }
  for (const { name, address } of publicAddresses(input.interfaces ?? networkInterfaces())) {
    const text = `${name} has public address ${address}`;
    if (input.allowPublicAddress) {
      warnings.push(`${text}: running anyway because --allow-public-address was given`);
    } else {
      problems.push(
        `${text}: honeyport is for internal lateral-movement detection; pass --allow-public-address to run anyway`,
      );
    }
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, warnings };
}

/** Every (interface, address) pair whose address is globally routable. */
export function publicAddresses(
  interfaces: NodeJS.Dict<NetworkInterfaceInfo[]>,
): { readonly name: string; readonly address: string }[] {
  const found: { name: string; address: string }[] = [];
  for (const [name, infos] of Object.entries(interfaces)) {
    for (const info of infos ?? []) {
      if (isPublicAddress(info.address)) found.push({ name, address: stripZone(info.address) });
    }
  }
  return found;
}

/**
 * ipaddr.js names the special-purpose ranges; only plain `unicast` is global.
 * Everything else it names — private, loopback, link-local, CGNAT (100.64/10),
 * documentation and benchmarking ranges (both `reserved`), unique local
 * (fc00::/7) — is not. Addresses that embed an IPv4 address (mapped, 6to4,
 * Teredo, NAT64) reach the internet too, so they count as public (for mapped
 * ones: when the embedded address is).
 */
export function isPublicAddress(text: string): boolean {
  const bare = stripZone(text);
  // Interface tables give canonical text; anything else (such as '1.2.3') is not trusted to be an address.
  if (!ipaddr.IPv4.isValidFourPartDecimal(bare) && !(bare.includes(':') && ipaddr.IPv6.isValid(bare))) return false;
  const address = ipaddr.parse(bare);
  if (address.kind() === 'ipv4') return address.range() === 'unicast';
  const v6 = address as ipaddr.IPv6;
  switch (v6.range()) {
    case 'unicast':
    case '6to4':
    case 'teredo':
    case 'rfc6052':
    case 'rfc6145':
      return true;
    case 'ipv4Mapped':
      return v6.toIPv4Address().range() === 'unicast';
    default:
      return false;
  }
}

function stripZone(text: string): string {
  const percent = text.indexOf('%');
  return percent < 0 ? text : text.slice(0, percent);
}
