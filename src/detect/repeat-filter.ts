/**
 * The repeat filter: which sources the flood gate has already summed once,
 * so that a source seen twice while a port is over its new-source rate is
 * promoted to a key of its own (flood-gate.ts). Spoofed random sources are
 * seen once each; a real scanner repeats (more decoy ports, retransmissions,
 * a second sweep), and that is what this remembers.
 *
 * An aging Bloom filter: two generations of BITS bits with HASHES probes
 * each (double hashing of two seeded 32-bit hashes of the source). A source
 * is added to the current generation; it counts as seen if either generation
 * holds it. The current generation becomes the previous one (and the old
 * previous one is cleared) when it holds GENERATION_CAPACITY sources or is
 * `maxAgeMicros` old, so a source is remembered for at least one generation
 * and at most two, and the false positive rate stays bounded whatever the
 * flood's size: at a full generation (2^19 sources in 2^24 bits, 10 probes)
 * about 1.9e-6 per generation, under 4e-6 for a lookup in both. Fixed
 * memory: 2 × 2 MiB. A false positive promotes one spoofed source: one more
 * key and alarm, bounded by the promotion rate (flood-gate.ts). Nothing
 * allocates after construction; clearing a generation is one fill.
 */
import { finish, mix } from './key-table.js';

export const REPEAT_FILTER_BITS = 1 << 24;
export const REPEAT_FILTER_HASHES = 10;
export const REPEAT_FILTER_GENERATION = 1 << 19;

export class RepeatFilter {
  private current: Uint32Array;
  private previous: Uint32Array;
  private readonly mask: number;
  private added = 0;
  private startedAt = -Infinity;
  private h1 = 0;
  private h2 = 0;
  /** Generations retired so far (for tests). */
  rotations = 0;

  constructor(
    private readonly seed: number,
    private readonly maxAgeMicros: number,
    bits = REPEAT_FILTER_BITS,
    private readonly hashes = REPEAT_FILTER_HASHES,
    private readonly generationCapacity = REPEAT_FILTER_GENERATION,
  ) {
    if (!Number.isInteger(Math.log2(bits)) || bits < 32) throw new RangeError('bits must be a power of two, at least 32');
    this.mask = bits - 1;
    this.current = new Uint32Array(bits >>> 5);
    this.previous = new Uint32Array(bits >>> 5);
  }

  /** Bytes of state (fixed). */
  get bytes(): number {
    return this.current.byteLength + this.previous.byteLength;
  }

  /**
   * Whether the source in `words[0..hashed)` was seen before (in either
   * generation); either way it is (again) added to the current one, so a
   * source that keeps coming back is never forgotten. `now` in µs.
   */
  seenBefore(words: Uint32Array, hashed: number, nowMicros: number): boolean {
    this.hash(words, hashed);
    const seen = this.holds(this.current) || this.holds(this.previous);
    if (nowMicros - this.startedAt >= this.maxAgeMicros || this.added >= this.generationCapacity) this.rotate(nowMicros);
    this.add();
    return seen;
  }

  private hash(words: Uint32Array, hashed: number): void {
    let a = this.seed;
    let b = this.seed ^ 0x85ebca6b;
    for (let i = 0; i < hashed; i++) {
      a = mix(a, words[i]!);
      b = mix(b, words[i]!);
    }
    this.h1 = finish(a ^ hashed);
    this.h2 = finish(b ^ (hashed << 8)) | 1; // odd: the probe sequence visits distinct bits
  }

  private holds(gen: Uint32Array): boolean {
    for (let i = 0, h = this.h1; i < this.hashes; i++, h = (h + this.h2) | 0) {
      const bit = h & this.mask;
      if ((gen[bit >>> 5]! & (1 << (bit & 31))) === 0) return false;
    }
    return true;
  }

  private add(): void {
    const gen = this.current;
    for (let i = 0, h = this.h1; i < this.hashes; i++, h = (h + this.h2) | 0) {
      const bit = h & this.mask;
      gen[bit >>> 5]! |= 1 << (bit & 31);
    }
    this.added++;
  }

  private rotate(nowMicros: number): void {
    const old = this.previous;
    this.previous = this.current;
    old.fill(0);
    this.current = old;
    this.added = 0;
    this.startedAt = nowMicros;
    this.rotations++;
  }
}
