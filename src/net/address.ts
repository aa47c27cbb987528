/**
 * IP addresses as the pipeline carries them: 16 bytes, IPv4 in bytes 0..3.
 * Text parsing goes through ipaddr.js; formatting is done here because it
 * runs once per alarm and must give RFC 5952 text (ipaddr.js writes
 * IPv4-mapped addresses in hex, RFC 5952 §5 wants the dotted tail).
 */
import ipaddr from 'ipaddr.js';

export type Family = 4 | 6;

export interface ParsedAddress {
  readonly family: Family;
  /** 4 or 16 bytes in network order. */
  readonly bytes: Uint8Array;
}

/** Parses an IPv4 or IPv6 address (no zone, no brackets); undefined when invalid. */
export function parseAddress(text: string): ParsedAddress | undefined {
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) {
    return { family: 4, bytes: Uint8Array.from(ipaddr.IPv4.parse(text).toByteArray()) };
  }
  if (!text.includes(':') || text.includes('%') || !ipaddr.IPv6.isValid(text)) return undefined;
  // ipaddr.js reads "::a.b.c.d" as ::ffff:a.b.c.d; it is ::a.b.c.d (RFC 4291 §2.2 form 3).
  if (text.startsWith('::') && text.indexOf(':', 2) < 0 && text.includes('.')) {
    const tail = text.slice(2);
    if (!ipaddr.IPv4.isValidFourPartDecimal(tail)) return undefined;
    const bytes = new Uint8Array(16);
    bytes.set(ipaddr.IPv4.parse(tail).toByteArray(), 12);
    return { family: 6, bytes };
  }
  return { family: 6, bytes: Uint8Array.from(ipaddr.IPv6.parse(text).toByteArray()) };
}

/** True when bytes 0..15 hold ::ffff:a.b.c.d. */
export function isIpv4Mapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

export function formatIpv4(b: Uint8Array, at = 0): string {
  return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
}

/** RFC 5952: lowercase, longest run (>1) of zero groups compressed, first on ties. */
export function formatIpv6(b: Uint8Array): string {
  if (isIpv4Mapped(b)) return `::ffff:${formatIpv4(b, 12)}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i]! << 8) | b[i + 1]!);
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = (from: number, to: number): string => groups.slice(from, to).map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
}

export function formatAddress(family: Family, b: Uint8Array): string {
  return family === 4 ? formatIpv4(b) : formatIpv6(b);
}
