/**
 * Source whitelist: sorted, merged address intervals per family, searched by
 * bisection, so a million entries cost ~20 comparisons and no allocation per
 * lookup. An IPv4-mapped IPv6 source (::ffff:a.b.c.d) is matched against
 * IPv4 entries, and an IPv6 entry's part inside ::ffff:0:0/96 is an IPv4
 * entry as well.
 *
 * Built from an AddressTable (typed arrays, as the policy loader parses a
 * large whitelist) without per-entry objects: IPv4 intervals are merged by
 * sorting their starts and ends as two numeric arrays (native sort) and
 * sweeping; IPv6 intervals, usually few, by an index sort.
 */
import { isIpv4Mapped } from '../net/address.js';
import { AddressTable } from '../net/address-table.js';

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

/** Union of closed intervals [starts[i], ends[i]], adjacent ones joined. */
function mergeIntervals(starts: Float64Array, ends: Float64Array): [Uint32Array, Uint32Array] {
  const n = starts.length;
  for (let i = 0; i < n; i++) ends[i]! += 1; // exclusive ends: adjacency is equality
  starts.sort();
  ends.sort();
  const lo: number[] = [];
  const hi: number[] = [];
  let open = 0;
  let begin = 0;
  let i = 0;
  let j = 0;
  while (j < n) {
    if (i < n && starts[i]! <= ends[j]!) {
      if (open++ === 0) begin = starts[i]!;
      i++;
    } else {
      if (--open === 0) { lo.push(begin); hi.push(ends[j]! - 1); }
      j++;
    }
  }
  return [Uint32Array.from(lo), Uint32Array.from(hi)];
}

export class Whitelist {
  private readonly lo4: Uint32Array;
  private readonly hi4: Uint32Array;
  private readonly lo6: Uint32Array;
  private readonly hi6: Uint32Array;
  private readonly probe6 = new Uint32Array(WORDS6);
  readonly size: number;

  constructor(entries: AddressTable | readonly string[]) {
    const t = entries instanceof AddressTable ? entries : AddressTable.fromStrings(entries);
    this.size = t.length;
    const n4 = t.count4;
    const n6 = t.count6;
    const v6lo = new Uint32Array(n6 * WORDS6);
    const v6hi = new Uint32Array(n6 * WORDS6);
    for (let i = 0; i < n6; i++) {
      for (let k = 0; k < WORDS6; k++) { v6lo[i * WORDS6 + k] = t.low6(i, k); v6hi[i * WORDS6 + k] = t.high6(i, k); }
    }
    // IPv4 intervals: the entries, plus each IPv6 entry's part in ::ffff:0:0/96.
    const starts: number[] = [];
    const ends: number[] = [];
    for (let i = 0; i < n6; i++) {
      const a = i * WORDS6;
      if (cmp6(v6lo, a, MAPPED_HI, 0) <= 0 && cmp6(v6hi, a, MAPPED_LO, 0) >= 0) {
        starts.push(cmp6(v6lo, a, MAPPED_LO, 0) < 0 ? 0 : v6lo[a + 3]!);
        ends.push(cmp6(v6hi, a, MAPPED_HI, 0) > 0 ? 0xffffffff : v6hi[a + 3]!);
      }
    }
    const s4 = new Float64Array(n4 + starts.length);
    const e4 = new Float64Array(n4 + starts.length);
    for (let i = 0; i < n4; i++) { s4[i] = t.low4(i); e4[i] = t.high4(i); }
    s4.set(starts, n4);
    e4.set(ends, n4);
    [this.lo4, this.hi4] = mergeIntervals(s4, e4);
    // IPv6: sort by low end, merge overlaps.
    const order = new Uint32Array(n6);
    for (let i = 0; i < n6; i++) order[i] = i;
    order.sort((x, y) => cmp6(v6lo, x * WORDS6, v6lo, y * WORDS6));
    let m = 0;
    const tmpLo = new Uint32Array(n6 * WORDS6);
    const tmpHi = new Uint32Array(n6 * WORDS6);
    for (let r = 0; r < n6; r++) {
      const a = order[r]! * WORDS6;
      if (m > 0 && cmp6(v6lo, a, tmpHi, (m - 1) * WORDS6) <= 0) {
        if (cmp6(v6hi, a, tmpHi, (m - 1) * WORDS6) > 0) tmpHi.set(v6hi.subarray(a, a + WORDS6), (m - 1) * WORDS6);
      } else {
        tmpLo.set(v6lo.subarray(a, a + WORDS6), m * WORDS6);
        tmpHi.set(v6hi.subarray(a, a + WORDS6), m * WORDS6);
        m++;
      }
    }
    this.lo6 = tmpLo.slice(0, m * WORDS6);
    this.hi6 = tmpHi.slice(0, m * WORDS6);
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
