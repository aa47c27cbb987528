/**
 * Whitelist entries (addresses, CIDRs, `first-last` ranges) as intervals in
 * typed arrays: IPv4 as [low, high] word pairs, IPv6 as 8 words (low 4, high
 * 4). A million entries take ~16 MB instead of a million strings and byte
 * arrays. `addText` parses an entry straight from a span of the source text
 * (no substring, no allocation) for the common forms, and hands anything
 * else to `parseAddressRange` (ipaddr.js), whose verdict and message count:
 * the fast path only ever accepts what that parser accepts, with the same
 * value (checked by a differential test).
 */
import { parseAddressRange } from './address-range.js';

const D0 = 0x30;
const SLASH = 0x2f;
const DASH = 0x2d;
const COLON = 0x3a;
const DOT = 0x2e;

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

/** Scratch for one IPv6 value: 8 groups of 16 bits, and the groups as read. */
const g6 = new Uint16Array(8);
const scratchGroups = new Uint16Array(8);

export class AddressTable {
  private v4: Uint32Array = new Uint32Array(64);
  private v6: Uint32Array = new Uint32Array(64);
  private n4 = 0;
  private n6 = 0;
  /** Entries added (an IPv6 entry counts once). */
  length = 0;

  get count4(): number { return this.n4; }
  get count6(): number { return this.n6; }
  /** [low, high] of IPv4 interval i. */
  low4(i: number): number { return this.v4[2 * i]!; }
  high4(i: number): number { return this.v4[2 * i + 1]!; }
  /** Word k (0..3) of the low / high end of IPv6 interval i. */
  low6(i: number, k: number): number { return this.v6[8 * i + k]!; }
  high6(i: number, k: number): number { return this.v6[8 * i + 4 + k]!; }

  static fromStrings(entries: readonly string[]): AddressTable {
    const t = new AddressTable();
    for (const e of entries) {
      const problem = t.addText(e, 0, e.length);
      if (problem !== undefined) throw new Error(`whitelist: ${problem}`);
    }
    return t;
  }

  add4(low: number, high: number): void {
    if (2 * this.n4 + 2 > this.v4.length) this.v4 = grow(this.v4);
    this.v4[2 * this.n4] = low;
    this.v4[2 * this.n4 + 1] = high;
    this.n4++;
    this.length++;
  }

  /** `low` and `high` are 4 words each, from index `at`. */
  private add6(low: ArrayLike<number>, high: ArrayLike<number>): void {
    if (8 * this.n6 + 8 > this.v6.length) this.v6 = grow(this.v6);
    const base = 8 * this.n6;
    for (let k = 0; k < 4; k++) { this.v6[base + k] = low[k]!; this.v6[base + 4 + k] = high[k]!; }
    this.n6++;
    this.length++;
  }

  /**
   * Adds the entry text[start, end); returns the problem (one line, the entry
   * escaped) when it is not an address, CIDR or range. With `explain` false
   * the problem is only "invalid": a million bad entries are counted, and
   * worded only as far as they are shown.
   */
  addText(text: string, start: number, end: number, explain = true): string | undefined {
    while (start < end && isSpace(text.charCodeAt(start))) start++;
    while (end > start && isSpace(text.charCodeAt(end - 1))) end--;
    if (this.fast(text, start, end)) return undefined;
    if (!explain && !addressAlphabet(text, start, end)) return 'invalid';
    const parsed = parseAddressRange(text.slice(start, end));
    if (!parsed.ok) return parsed.error;
    const { family, low, high } = parsed.range;
    if (family === 4) this.add4(word(low, 0), word(high, 0));
    else this.add6([word(low, 0), word(low, 4), word(low, 8), word(low, 12)], [word(high, 0), word(high, 4), word(high, 8), word(high, 12)]);
    return undefined;
  }

  /** The common forms, parsed in place; false = let the full parser decide. */
  private fast(text: string, start: number, end: number): boolean {
    let colon = false;
    let slash = -1;
    let dash = -1;
    for (let i = start; i < end; i++) {
      const c = text.charCodeAt(i);
      if (c === COLON) colon = true;
      else if (c === SLASH) { if (slash >= 0) return false; slash = i; } else if (c === DASH) { if (dash >= 0) return false; dash = i; }
    }
    if (slash >= 0 && dash >= 0) return false;
    if (!colon) {
      if (slash >= 0) {
        const a = ipv4At(text, start, slash);
        const len = prefixAt(text, slash + 1, end, 32);
        if (a < 0 || len < 0) return false;
        const hostMask = len === 32 ? 0 : (0xffffffff >>> len);
        if ((a & hostMask) !== 0) return false; // host bits: the full parser words the problem
        this.add4(a, (a | hostMask) >>> 0);
        return true;
      }
      if (dash >= 0) {
        let e1 = dash;
        while (e1 > start && isSpace(text.charCodeAt(e1 - 1))) e1--;
        let s2 = dash + 1;
        while (s2 < end && isSpace(text.charCodeAt(s2))) s2++;
        const a = ipv4At(text, start, e1);
        const b = ipv4At(text, s2, end);
        if (a < 0 || b < 0 || a > b) return false;
        this.add4(a, b);
        return true;
      }
      const a = ipv4At(text, start, end);
      if (a < 0) return false;
      this.add4(a, a);
      return true;
    }
    if (dash >= 0) return false; // IPv6 ranges are rare: the full parser
    const addrEnd = slash >= 0 ? slash : end;
    if (!ipv6At(text, start, addrEnd)) return false;
    const lo = [(g6[0]! << 16 | g6[1]!) >>> 0, (g6[2]! << 16 | g6[3]!) >>> 0, (g6[4]! << 16 | g6[5]!) >>> 0, (g6[6]! << 16 | g6[7]!) >>> 0];
    if (slash < 0) { this.add6(lo, lo); return true; }
    const len = prefixAt(text, slash + 1, end, 128);
    if (len < 0) return false;
    const hi = lo.slice();
    for (let k = 0; k < 4; k++) {
      const bits = Math.min(32, Math.max(0, len - 32 * k)); // prefix bits inside word k
      const hostMask = bits === 32 ? 0 : (0xffffffff >>> bits);
      if ((lo[k]! & hostMask) !== 0) return false;
      hi[k] = (lo[k]! | hostMask) >>> 0;
    }
    this.add6(lo, hi);
    return true;
  }
}

/** Only characters an address, CIDR or range can hold (anything else: the full parser refuses it too). */
function addressAlphabet(text: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (!(hexValue(c) >= 0 || c === COLON || c === DOT || c === SLASH || c === DASH || isSpace(c))) return false;
  }
  return true;
}

function grow(a: Uint32Array): Uint32Array {
  const b = new Uint32Array(a.length * 2);
  b.set(a);
  return b;
}

function word(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

/** Strict dotted quad (no leading zeros, as ipaddr.js's four-part decimal) in [start, end); -1 if not. */
function ipv4At(text: string, start: number, end: number): number {
  let value = 0;
  let parts = 0;
  let i = start;
  while (parts < 4) {
    const first = i;
    let part = 0;
    while (i < end) {
      const c = text.charCodeAt(i);
      if (c < D0 || c > D0 + 9) break;
      part = part * 10 + (c - D0);
      i++;
      if (i - first > 3) return -1;
    }
    const digits = i - first;
    if (digits === 0 || part > 255 || (digits > 1 && text.charCodeAt(first) === D0)) return -1;
    value = value * 256 + part;
    parts++;
    if (parts < 4) {
      if (i >= end || text.charCodeAt(i) !== DOT) return -1;
      i++;
    }
  }
  return i === end ? value : -1;
}

/** A prefix length 0..max written with 1-3 digits; -1 if not. */
function prefixAt(text: string, start: number, end: number, max: number): number {
  if (end - start < 1 || end - start > 3) return -1;
  let v = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c < D0 || c > D0 + 9) return -1;
    v = v * 10 + (c - D0);
  }
  return v <= max ? v : -1;
}

/** RFC 4291 text (hex groups, one `::`, optional dotted-quad tail) into g6; false if not. */
function ipv6At(text: string, start: number, end: number): boolean {
  g6.fill(0);
  let gap = -1; // group index of `::`
  let i = start;
  if (end - start >= 2 && text.charCodeAt(i) === COLON && text.charCodeAt(i + 1) === COLON) {
    gap = 0;
    i += 2;
    if (i === end) return true;
  }
  const groups = scratchGroups;
  let count = 0;
  for (;;) {
    // One group: hex digits, or a dotted quad at the very end.
    const first = i;
    let v = 0;
    while (i < end) {
      const h = hexValue(text.charCodeAt(i));
      if (h < 0) break;
      v = v * 16 + h;
      i++;
    }
    const digits = i - first;
    if (i < end && text.charCodeAt(i) === DOT) {
      const q = ipv4At(text, first, end);
      if (q < 0 || count + 2 > 8) return false;
      groups[count++] = q >>> 16;
      groups[count++] = q & 0xffff;
      i = end;
      break;
    }
    if (digits === 0 || digits > 4) return false;
    if (count >= 8) return false;
    groups[count++] = v;
    if (i === end) break;
    if (text.charCodeAt(i) !== COLON) return false;
    i++;
    if (i < end && text.charCodeAt(i) === COLON) {
      if (gap >= 0) return false;
      gap = count;
      i++;
      if (i === end) break;
    } else if (i === end) return false; // a trailing single colon
  }
  if (gap < 0) {
    if (count !== 8) return false;
    for (let k = 0; k < 8; k++) g6[k] = groups[k]!;
    return true;
  }
  if (count > 7) return false; // `::` stands for at least one group
  for (let k = 0; k < gap; k++) g6[k] = groups[k]!;
  const after = count - gap;
  for (let k = 0; k < after; k++) g6[8 - after + k] = groups[gap + k]!;
  return true;
}
