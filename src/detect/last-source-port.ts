/**
 * The last source port of each source the flood gate saw: what tells a real
 * scanner's repeat from a spoofed source's chance repeat (flood-gate.ts,
 * detector.ts). A real scanner comes back from the same source port or one
 * near it: a retransmission or a connect() retry resends the same port,
 * nmap -sS and masscan keep one port across the decoy ports of a sweep and
 * nmap moves it up on a retry (+2 for its first retransmission, captured
 * from nmap 7 in a test namespace), hping3 adds one per packet. So a repeat
 * counts as near when its port is 0..NEAR above the last one (mod 2^16). A
 * source drawn at random again by a spoofed flood comes with an unrelated
 * random port: near by chance with probability 17/65,536 (2.6e-4).
 *
 * An 8-way set-associative table: 2^16 sets of eight 32-bit entries (a
 * 16-bit source tag above the 16-bit port; 0 means empty, so a source of
 * tag 0 last seen from port 0 is forgotten), a set half a cache line, so a
 * lookup-and-store is one miss in 2 MiB. Within a set the most recent
 * source comes first; a new source evicts the least recent. A source is
 * forgotten once eight other sources of its set came after it: at F random
 * new sources per second, after about 8 × 2^16 / F seconds (26 s at 20,000
 * per second, 4 s at 120,000). A flood drawn from a /16 puts a Poisson(1)
 * number of its sources in each set, so it evicts nothing but from the
 * 1 in 10^5 sets holding eight or more (with four ways: 1 in 50, which the
 * unit test with a 4 s repeat catches). Forgetting only costs the
 * distinction: the repeat filter has the source from its first sight (one
 * to two generations; the detector adds a source the table holds to the
 * filter no more, which is what pays for this table). At the default
 * size an untunnelled IPv4 source is named exactly (set and tag are the two
 * halves of one seeded bijection of its 32 bits); other sources by 16 bits
 * of set and 16 of tag, so another source of the same set, from a port just
 * below, passes for it with probability ~2^-16 per way: that only spends a
 * near token, which the bound on alarms already allows an attacker. Fixed
 * memory, allocated at construction; nothing allocates afterwards.
 */
import { finish, mix } from '../net/word-hash.js';

/** What the table knew of a source: nothing, its last port (another), or a last port the new one is near. */
export const LastPort = { unknown: 0, far: 1, near: 2 } as const;
export type LastPortAnswer = (typeof LastPort)[keyof typeof LastPort];

/** Greatest rise of the source port (mod 2^16) of a repeat that counts as the same sender's (none: 0). */
export const NEAR_SOURCE_PORT = 16;
/** Sets of the table (power of two). */
export const LAST_PORT_SETS = 1 << 16;
const WAYS = 8;

export class LastSourcePort {
  private readonly words: Uint32Array;
  private readonly setMask: number;

  constructor(
    private readonly seed: number,
    sets = LAST_PORT_SETS,
  ) {
    if (!Number.isInteger(Math.log2(sets)) || sets < 1) throw new RangeError('sets must be a power of two');
    this.setMask = sets - 1;
    this.words = new Uint32Array(sets * WAYS);
  }

  /** Bytes of state (fixed). */
  get bytes(): number {
    return this.words.byteLength;
  }

  /**
   * What the table holds of the source in `words[0..hashed)`: `near` when
   * its last source port is 0..NEAR_SOURCE_PORT below `port` (mod 2^16),
   * `far` when it holds another, `unknown` when it holds none; either way
   * `port` becomes its last one and it becomes the most recent of its set.
   */
  lookup(words: Uint32Array, hashed: number, port: number): LastPortAnswer {
    this.place(words, hashed);
    return this.lookupPlaced(this.placedSet, this.placedTag, port);
  }

  /** Set and tag of the source in `words[0..hashed)`, left in placedSet and placedTag. */
  place(words: Uint32Array, hashed: number): void {
    if (hashed === 2) {
      // An untunnelled IPv4 source (probe-key.ts: its address and the family): a bijection of its 32 bits.
      const h = finish(mix(this.seed, words[0]!) ^ words[1]!);
      this.placedSet = h & this.setMask;
      this.placedTag = h >>> 16;
      return;
    }
    let a = this.seed;
    let b = this.seed ^ 0x9e3779b9;
    for (let i = 0; i < hashed; i++) {
      a = mix(a, words[i]!);
      // A different transform of each word: the two hashes must not be functions of one another.
      b = mix(b, Math.imul(words[i]! ^ 0x7f4a7c15, 0x2c1b3c6d));
    }
    this.placedSet = finish(a ^ hashed) & this.setMask;
    this.placedTag = finish(b ^ (hashed << 8)) >>> 16;
  }

  placedSet = 0;
  placedTag = 0;

  /** Reads only: the first way of `set`, so that a batch of deferred lookups takes its cache misses together. */
  touchSet(set: number): number {
    return this.words[set * WAYS]!;
  }

  /** lookup() of a source already placed (set and tag from `place`). */
  lookupPlaced(set: number, tag: number, port: number): LastPortAnswer {
    const w = this.words;
    const base = set * WAYS;
    const t = tag << 16;
    // The way holding the source, or the last (least recent), which a new source takes.
    let way = WAYS - 1;
    let last = -1;
    for (let i = 0; i < WAYS; i++) {
      const e = w[base + i]!;
      if (e !== 0 && (e & 0xffff0000) === t) {
        way = i;
        last = e;
        break;
      }
    }
    // Most recent first: the ways before it move down by one.
    for (let i = way; i > 0; i--) w[base + i] = w[base + i - 1]!;
    w[base] = t | port;
    const found = last !== -1;
    const d = (port - last) & 0xffff;
    return !found ? LastPort.unknown : d <= NEAR_SOURCE_PORT ? LastPort.near : LastPort.far;
  }
}
