/**
 * One entry of a fleet policy's `servers:` list: which hosts the policy is for.
 *
 * An entry made only of digits, dots and dashes, or holding a `:` or `/`, is
 * an address selector: an IPv4/IPv6 address, CIDR (host bits zero) or range,
 * matched against the host's addresses (an IPv4-mapped address counts as its
 * IPv4 address). Host names and globs never hold those characters alone, so
 * `10.0.0.300` is a bad address, not a glob that matches no host. Anything
 * else is a host name glob (host-glob.ts), matched against the host's name.
 */
import { parseAddressRange, type AddressRange } from '../net/address-range.js';
import { isIpv4Mapped, type ParsedAddress } from '../net/address.js';
import { compileHostGlob, type HostGlob } from './host-glob.js';

export type ServerSelector =
  | { readonly kind: 'name'; readonly text: string; readonly glob: HostGlob }
  | { readonly kind: 'addresses'; readonly text: string; readonly range: AddressRange };

/** The host a policy is chosen for. */
export interface HostIdentity {
  /** undefined: unknown (a replay given only addresses); it then matches no glob. */
  readonly name: string | undefined;
  readonly addresses: readonly ParsedAddress[];
}

export type SelectorParse = { readonly ok: true; readonly selector: ServerSelector } | { readonly ok: false; readonly error: string };

const ADDRESS_LIKE = /^[0-9.-]+$|[:/]/;

export function parseServerSelector(text: string): SelectorParse {
  const trimmed = text.trim();
  if (ADDRESS_LIKE.test(trimmed)) {
    const r = parseAddressRange(trimmed);
    return r.ok ? { ok: true, selector: { kind: 'addresses', text: trimmed, range: r.range } } : { ok: false, error: r.error };
  }
  const glob = compileHostGlob(trimmed);
  if (typeof glob === 'string') return { ok: false, error: `host name glob: ${glob}` };
  return { ok: true, selector: { kind: 'name', text: trimmed, glob } };
}

function within(bytes: Uint8Array, at: number, range: AddressRange): boolean {
  const { low, high } = range;
  let aboveLow = false; // bytes > low decided on an earlier byte
  let belowHigh = false;
  for (let i = 0; i < low.length; i++) {
    const b = bytes[at + i]!;
    if (!aboveLow) { if (b < low[i]!) return false; if (b > low[i]!) aboveLow = true; }
    if (!belowHigh) { if (b > high[i]!) return false; if (b < high[i]!) belowHigh = true; }
  }
  return true;
}

/** An IPv4 address in its IPv4-mapped IPv6 form (for an IPv6 selector such as ::ffff:198.18.0.0/120). */
function mapped(a: ParsedAddress): Uint8Array {
  const b = new Uint8Array(16);
  b[10] = 0xff;
  b[11] = 0xff;
  b.set(a.bytes, 12);
  return b;
}

// IPv4-mapped IPv6 is one address space with IPv4, as in the whitelist.
function addressIn(a: ParsedAddress, range: AddressRange): boolean {
  if (range.family === 4) {
    if (a.family === 4) return within(a.bytes, 0, range);
    return isIpv4Mapped(a.bytes) && within(a.bytes, 12, range);
  }
  return within(a.family === 6 ? a.bytes : mapped(a), 0, range);
}

export function selectorMatches(s: ServerSelector, host: HostIdentity): boolean {
  if (s.kind === 'name') return host.name !== undefined && s.glob.matches(host.name);
  return host.addresses.some((a) => addressIn(a, s.range));
}
