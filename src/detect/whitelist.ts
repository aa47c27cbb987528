/**
 * Source whitelist: sorted, merged address intervals per family, searched by
 * bisection, so thousands of entries cost ~12 comparisons and no allocation.
 * An IPv4-mapped IPv6 source (::ffff:a.b.c.d) is matched against IPv4 entries,
 * and an IPv6 entry's part inside ::ffff:0:0/96 is an IPv4 entry as well.
 */
import { isIpv4Mapped } from '../net/address.js';
import { parseAddressRange } from '../net/address-range.js';

const WORDS6 = 4;
/** ::ffff:0.0.0.0 and ::ffff:255.255.255.255 as four 32-bit words. */
const MAPPED_LO = Uint32Array.of(0, 0, 0xffff, 0);
const MAPPED_HI = Uint32Array.of(0, 0, 0xffff, 0xffffffff);

function word(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

/** Lexicographic compare of 4-word IPv6 values stored at a[ai..] and b[bi..]. */
function cmp6(a: Uint32Array, ai: number, b: Uint32Array, bi: number): number {
  for (let k = 0; k < WORDS6; k++) {
    const d = a[ai + k]! - b[bi + k]!;
    if (d !== 0) return d;
  }
  return 0;
}

export class Whitelist {
  private readonly lo4: Uint32Array;
  private readonly hi4: Uint32Array;
  private readonly lo6: Uint32Array;
  private readonly hi6: Uint32Array;
  private readonly probe6 = new Uint32Array(WORDS6);
  readonly size: number;

  constructor(entries: readonly string[]) {
    const v4: Array<[number, number]> = [];
    const v6: Array<[Uint32Array, Uint32Array]> = [];
    for (const entry of entries) {
      const parsed = parseAddressRange(entry);
      if (!parsed.ok) throw new Error(`whitelist: ${parsed.error}`);
      const { family, low, high } = parsed.range;
      if (family === 4) v4.push([word(low, 0), word(high, 0)]);
      else {
        const l = new Uint32Array(WORDS6);
        const h = new Uint32Array(WORDS6);
        for (let k = 0; k < WORDS6; k++) { l[k] = word(low, k * 4); h[k] = word(high, k * 4); }
        v6.push([l, h]);
        // Sources in ::ffff:0:0/96 are looked up as IPv4, so the part of an
        // IPv6 entry inside that block becomes an IPv4 interval too (else
        // "::ffff:198.18.0.1" would pass the policy check and match nothing).
        if (cmp6(l, 0, MAPPED_HI, 0) <= 0 && cmp6(h, 0, MAPPED_LO, 0) >= 0) {
          v4.push([cmp6(l, 0, MAPPED_LO, 0) < 0 ? 0 : l[3]!, cmp6(h, 0, MAPPED_HI, 0) > 0 ? 0xffffffff : h[3]!]);
        }
      }
    }
    this.size = entries.length;
    // Merge overlapping/adjacent IPv4 intervals so bisection finds one candidate.
    v4.sort((a, b) => a[0] - b[0]);
    const m4: Array<[number, number]> = [];
    for (const [l, h] of v4) {
      const last = m4[m4.length - 1];
      if (last && l <= last[1] + 1) last[1] = Math.max(last[1], h);
      else m4.push([l, h]);
    }
    this.lo4 = Uint32Array.from(m4, (x) => x[0]);
    this.hi4 = Uint32Array.from(m4, (x) => x[1]);
    v6.sort((a, b) => cmp6(a[0], 0, b[0], 0));
    const m6: Array<[Uint32Array, Uint32Array]> = [];
    for (const [l, h] of v6) {
      const last = m6[m6.length - 1];
      if (last && cmp6(l, 0, last[1], 0) <= 0) {
        if (cmp6(h, 0, last[1], 0) > 0) last[1] = h;
      } else m6.push([l, h]);
    }
    this.lo6 = new Uint32Array(m6.length * WORDS6);
    this.hi6 = new Uint32Array(m6.length * WORDS6);
    m6.forEach(([l, h], i) => { this.lo6.set(l, i * WORDS6); this.hi6.set(h, i * WORDS6); });
  }

  /** `addr` holds IPv4 in bytes 0..3 (family 4) or 16 IPv6 bytes (family 6). */
  contains(family: 4 | 6, addr: Uint8Array): boolean {
    if (family === 4) return this.contains4(word(addr, 0));
    if (isIpv4Mapped(addr)) return this.contains4(word(addr, 12));
    const p = this.probe6;
    for (let k = 0; k < WORDS6; k++) p[k] = word(addr, k * 4);
    let lo = 0;
    let hi = this.lo6.length / WORDS6 - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (cmp6(this.lo6, mid * WORDS6, p, 0) <= 0) { found = mid; lo = mid + 1; } else hi = mid - 1;
    }
    return found >= 0 && cmp6(p, 0, this.hi6, found * WORDS6) <= 0;
  }

  private contains4(v: number): boolean {
    let lo = 0;
    let hi = this.lo4.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.lo4[mid]! <= v) { found = mid; lo = mid + 1; } else hi = mid - 1;
    }
    return found >= 0 && v <= this.hi4[found]!;
  }
}
