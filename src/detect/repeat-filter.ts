/**
 * The repeat filter: which sources the flood gate has already summed once,
 * so that a source seen twice while a port is over its new-source rate is
 * promoted to a key of its own (flood-gate.ts). Spoofed random sources are
 * seen once each; a real scanner repeats (more decoy ports, retransmissions,
 * a second sweep), and that is what this remembers.
 *
 * An aging blocked Bloom filter: two generations of BITS bits with HASHES
 * probes each, all of a source's probes inside one 512-bit block (one cache
 * line: this runs for every probe of a flood, where a probe per cache line
 * cost ~10 misses per packet), the block and the bits from two seeded
 * 32-bit hashes of the source. The two generations' blocks of a source lie
 * side by side (128 bytes: two adjacent cache lines, which the hardware
 * fetches together), so a lookup in both costs one miss rather than two;
 * retiring a generation clears its half of every block. A source
 * is added to the current generation; it counts as seen if either generation
 * holds it. The current generation becomes the previous one (and the old
 * previous one is cleared) when it holds GENERATION_CAPACITY sources or is
 * `maxAgeMicros` old, so a source is remembered for at least one generation
 * and at most two, and the false positive rate stays bounded whatever the
 * flood's size: at a full generation (2^19 sources in 2^24 bits, 16 per
 * block on average, 10 probes) a few in a million per generation (measured:
 * see the README). Fixed
 * memory: 2 × 2 MiB. A false positive promotes one spoofed source: one more
 * key and alarm, bounded by the promotion rate (flood-gate.ts). Nothing
 * allocates after construction; clearing a generation is one fill.
 */
import type { DetectorClock } from './detector-clock.js';
import { finish, mix } from './key-table.js';

export const REPEAT_FILTER_BITS = 1 << 24;
export const REPEAT_FILTER_HASHES = 10;
export const REPEAT_FILTER_GENERATION = 1 << 19;

export class RepeatFilter {
  /** Per block: 16 words of generation 0, then 16 of generation 1. */
  private readonly words: Uint32Array;
  /** Offset (0 or 16) of the current generation's half of a block. */
  private current = 0;
  /** Blocks - 1. */
  private readonly blockMask: number;
  private added = 0;
  private startedAt = -Infinity;
  private h1 = 0;
  private h2 = 0;
  /** The source's bits in its block, computed once per lookup. */
  private readonly bitsOf: Uint16Array;
  /** Generations retired so far (for tests). */
  rotations = 0;

  constructor(
    private readonly seed: number,
    private readonly maxAgeMicros: number,
    private readonly clock: DetectorClock,
    bits = REPEAT_FILTER_BITS,
    private readonly hashes = REPEAT_FILTER_HASHES,
    private readonly generationCapacity = REPEAT_FILTER_GENERATION,
  ) {
    if (!Number.isInteger(Math.log2(bits)) || bits < 512) throw new RangeError('bits must be a power of two, at least 512');
    this.blockMask = (bits >>> 9) - 1;
    this.bitsOf = new Uint16Array(hashes);
    this.words = new Uint32Array((bits >>> 5) * 2);
  }

  /** Bytes of state (fixed). */
  get bytes(): number {
    return this.words.byteLength;
  }

  /**
   * Whether the source in `words[0..hashed)` was seen before (in either
   * generation); either way it is (again) added to the current one, so a
   * source that keeps coming back is never forgotten. Time: the clock's.
   */
  seenBefore(words: Uint32Array, hashed: number): boolean {
    this.hash(words, hashed);
    const seen = this.holds(this.current) || this.holds(this.current ^ 16);
    if (this.clock.micros - this.startedAt >= this.maxAgeMicros || this.added >= this.generationCapacity) this.rotate();
    this.add();
    return seen;
  }

  private hash(words: Uint32Array, hashed: number): void {
    let a = this.seed;
    let b = this.seed ^ 0x85ebca6b;
    for (let i = 0; i < hashed; i++) {
      a = mix(a, words[i]!);
      // A different transform of each word: the chains must not be functions of one another.
      b = mix(b, Math.imul(words[i]! ^ 0x68e31da4, 0x27d4eb2f));
    }
    // h1: the block (its first word); h2: the seed of the bits in it.
    this.h1 = (finish(a ^ hashed) & this.blockMask) << 5;
    this.h2 = finish(b ^ (hashed << 8));
    for (let i = 0; i < this.hashes; i++) this.bitsOf[i] = this.bitAt(i);
  }

  /**
   * The i-th bit (0..511) of the source's block: a fresh mix of h2 and i per
   * probe. (Stepping h2 by a fixed odd stride was cheaper but made the bits
   * of two sources with the same stride overlap: 5e-4 false positives
   * measured instead of ~1e-5.)
   */
  private bitAt(i: number): number {
    let z = (this.h2 + Math.imul(i + 1, 0x9e3779b9)) | 0;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 23;
  }

  /** Whether the source's bits are set in the generation whose half starts at `half`. */
  private holds(half: number): boolean {
    const words = this.words;
    const block = this.h1 + half;
    for (let i = 0; i < this.hashes; i++) {
      const bit = this.bitsOf[i]!;
      if ((words[block + (bit >>> 5)]! & (1 << (bit & 31))) === 0) return false;
    }
    return true;
  }

  private add(): void {
    const words = this.words;
    const block = this.h1 + this.current;
    for (let i = 0; i < this.hashes; i++) {
      const bit = this.bitsOf[i]!;
      words[block + (bit >>> 5)]! |= 1 << (bit & 31);
    }
    this.added++;
  }

  private rotate(): void {
    // The previous generation's half of every block becomes the (empty) current one.
    const half = this.current ^ 16;
    const words = this.words;
    for (let b = half; b < words.length; b += 32) words.fill(0, b, b + 16);
    this.current = half;
    this.added = 0;
    this.startedAt = this.clock.micros;
    this.rotations++;
  }
}
