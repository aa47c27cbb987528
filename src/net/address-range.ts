/**
 * Whitelist entries: an address, a CIDR block or an inclusive range
 * `first-last`, normalised to [low, high] byte arrays of one family.
 */
import { parseAddress, type Family } from './address.js';
import { quoted } from '../validation/echo.js';

export interface AddressRange {
  readonly family: Family;
  readonly low: Uint8Array;
  readonly high: Uint8Array;
}

export type RangeParse = { ok: true; range: AddressRange } | { ok: false; error: string };

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

function cidr(text: string, slash: number): RangeParse {
  const addr = parseAddress(text.slice(0, slash));
  const lenText = text.slice(slash + 1);
  if (!addr) return { ok: false, error: `${quoted(text)} is not a valid CIDR (bad address)` };
  const maxLen = addr.bytes.length * 8;
  if (!/^\d{1,3}$/.test(lenText) || Number(lenText) > maxLen) {
    return { ok: false, error: `${quoted(text)} is not a valid CIDR (prefix length must be 0-${maxLen})` };
  }
  const prefix = Number(lenText);
  const low = Uint8Array.from(addr.bytes);
  const high = Uint8Array.from(addr.bytes);
  for (let bit = prefix; bit < maxLen; bit++) {
    const mask = 0x80 >> (bit & 7);
    low[bit >> 3]! &= ~mask;
    high[bit >> 3]! |= mask;
  }
  if (compareBytes(low, addr.bytes) !== 0) {
    return { ok: false, error: `${quoted(text)} has host bits set (the network address is the block's first address)` };
  }
  return { ok: true, range: { family: addr.family, low, high } };
}

export function parseAddressRange(input: string): RangeParse {
  const text = input.trim();
  const slash = text.indexOf('/');
  if (slash >= 0) return cidr(text, slash);
  const dash = text.indexOf('-');
  if (dash >= 0) {
    const first = parseAddress(text.slice(0, dash).trim());
    const last = parseAddress(text.slice(dash + 1).trim());
    if (!first || !last) return { ok: false, error: `${quoted(text)} is not a valid range (expected first-last addresses)` };
    if (first.family !== last.family) return { ok: false, error: `${quoted(text)} mixes IPv4 and IPv6` };
    if (compareBytes(first.bytes, last.bytes) > 0) return { ok: false, error: `${quoted(text)} ends before it starts` };
    return { ok: true, range: { family: first.family, low: first.bytes, high: last.bytes } };
  }
  const addr = parseAddress(text);
  if (!addr) return { ok: false, error: `${quoted(text)} is not an IPv4/IPv6 address, CIDR or range` };
  return { ok: true, range: { family: addr.family, low: addr.bytes, high: addr.bytes } };
}
