/**
 * The repeat filter: which sources the flood gate has already summed once,
 * so that a source seen twice while a port is over its new-source rate is
 * promoted to a key of its own (flood-gate.ts). Spoofed random sources are
 * seen once each; a real scanner repeats (more decoy ports, retransmissions,
 * a second sweep), and that is what this remembers.
 *
 * An aging split-block Bloom filter: two generations of BITS bits, cut into
 * 512-bit blocks of 16 words; a source owns one block (from one seeded
 * 32-bit hash) and one bit in each of its first HASHES words (HASHES <= 16;
 * the bit of word i is the top 5 bits of a second hash times an odd salt).
 * One bit per word rather than HASHES free positions in the block: the same
 * false positive rate at 16 probes as 12 free ones, and no bit index to
 * split, test or branch on, so a lookup-and-add is one branch-free pass
 * over the block (this runs for every probe of a flood: the earlier free-
 * position filter cost ~55 ns of arithmetic per lookup, this ~25).
 * The two generations' blocks of a source lie side by side (128 bytes: two
 * adjacent cache lines, which the hardware fetches together), so a lookup
 * in both costs one miss rather than two; retiring a generation clears its
 * half of every block. A source is added to the current generation; it
 * counts as seen if either generation holds it. The current generation
 * becomes the previous one (and the old previous one is cleared) when it
 * holds GENERATION_CAPACITY sources or is `maxAgeMicros` old, so a source is
 * remembered for at least one generation and at most two, and the false
 * positive rate stays bounded whatever the flood's size: ~6e-6 per lookup in
 * a stream of distinct sources (2^19 sources per 2^24 bits, 16 per block on
 * average; measured: see the README and the unit test). Fixed memory:
 * 2 × 2 MiB. A false positive promotes one spoofed source: one more key and
 * alarm, bounded by the promotion rate (flood-gate.ts). Nothing allocates
 * after construction; clearing a generation is one fill per block.
 *
 * Adding without looking up (`remember`: the caller has no promotion token,
 * so the answer could not matter) is deferred: the source's block, bits and
 * time wait in a small queue, applied PENDING at a time, and before any
 * lookup, in the same order and with the same rotations (by each add's own
 * time and the running count) as if applied at once, so every lookup sees
 * exactly the state it would have. Why: the block is a cache miss (4 MiB,
 * random), and a lookup must wait for it; a batch of adds first touches all
 * its blocks, so their misses overlap instead of queueing one per packet.
 */
import type { DetectorClock } from './detector-clock.js';
import { finish, mix } from '../net/word-hash.js';

export const REPEAT_FILTER_BITS = 1 << 24;
export const REPEAT_FILTER_HASHES = 16;
export const REPEAT_FILTER_GENERATION = 1 << 19;

/** Words per block (512 bits), and so the most bits a source can own. */
const BLOCK_WORDS = 16;
/** Deferred adds applied together (see the header). */
const PENDING = 256;

/**
 * Odd multipliers, one per word of a block: bit i of a source is the top 5
 * bits of `h2 * SALTS[i]` (multiply-shift hashing). Fixed, not seeded: the
 * seed is in h2.
 */
const SALTS = Int32Array.from([
  0x47b6137b, 0x44974d91, 0x8824ad5b, 0xa2b7289d, 0x705495c7, 0x2df1424b, 0x9efc4947, 0x5c6bfb31,
  0x3c6ef373, 0x6a09e667, 0xbb67ae85, 0xa54ff53b, 0x510e527f, 0x9b05688d, 0x1f83d9ab, 0x5be0cd19,
]);

export class RepeatFilter {
  /** Per block: 16 words of generation 0, then 16 of generation 1. */
  private readonly words: Uint32Array;
  /** Offset (0 or 16) of the current generation's half of a block. */
  private current = 0;
  /** Blocks - 1. */
  private readonly blockMask: number;
  private added = 0;
  private startedAt = -Infinity;
  /** Deferred adds, oldest first: block (without the generation offset), bit seed, time. */
  private readonly pendingBlock = new Int32Array(PENDING);
  private readonly pendingBits = new Int32Array(PENDING);
  private readonly pendingAt = new Float64Array(PENDING);
  private pendingCount = 0;
  /** Sink of the touching loads in `applyPending` (public so that neither tsc nor V8 drops it; means nothing). */
  touched = 0;
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
    if (!Number.isInteger(hashes) || hashes < 1 || hashes > BLOCK_WORDS) throw new RangeError(`hashes must be an integer in 1..${BLOCK_WORDS}`);
    this.blockMask = (bits >>> 9) - 1;
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
    if (this.pendingCount > 0) this.applyPending();
    this.hash(words, hashed);
    const block = this.hashBlock;
    const h2 = this.hashBits;
    if (this.clock.micros - this.startedAt >= this.maxAgeMicros || this.added >= this.generationCapacity) {
      return this.seenRotating(block, h2);
    }
    const w = this.words;
    const cur = block + this.current;
    const prev = block + (this.current ^ 16);
    // Bits of the source missing from each generation; ORed over the words, so no branch per probe.
    let missCur = 0;
    let missPrev = 0;
    for (let i = 0; i < this.hashes; i++) {
      const bit = 1 << (Math.imul(h2, SALTS[i]!) >>> 27);
      const c = w[cur + i]!;
      missCur |= bit & ~c;
      missPrev |= bit & ~w[prev + i]!;
      w[cur + i] = c | bit;
    }
    this.added++;
    return missCur === 0 || missPrev === 0;
  }

  /**
   * Adds the source in `words[0..hashed)` without looking it up: as
   * seenBefore with the answer ignored, but deferred (see the header).
   */
  remember(words: Uint32Array, hashed: number): void {
    this.hash(words, hashed);
    const n = this.pendingCount;
    this.pendingBlock[n] = this.hashBlock;
    this.pendingBits[n] = this.hashBits;
    this.pendingAt[n] = this.clock.micros;
    this.pendingCount = n + 1;
    if (n + 1 === PENDING) this.applyPending();
  }

  /**
   * remember() for an add that was itself deferred by the caller: its time
   * is `times[j]` (a sighting queue's; a time passed as an argument would be
   * boxed), not the clock's.
   */
  rememberAt(words: Uint32Array, hashed: number, times: Float64Array, j: number): void {
    this.hash(words, hashed);
    const n = this.pendingCount;
    this.pendingBlock[n] = this.hashBlock;
    this.pendingBits[n] = this.hashBits;
    this.pendingAt[n] = times[j]!;
    this.pendingCount = n + 1;
    if (n + 1 === PENDING) this.applyPending();
  }

  /** The source's block (its first word, without the generation offset) and the seed of its bits, from `hash`. */
  private hashBlock = 0;
  private hashBits = 0;

  private hash(words: Uint32Array, hashed: number): void {
    if (hashed === 2) {
      // An untunnelled IPv4 source (probe-key.ts: its address and the family): 32 bits in all, so a
      // seeded bijection of them loses nothing, and two sources never share H; the block is its low
      // bits, the bit seed a second bijection of all of it (every source of a block has its own).
      const h = finish(mix(this.seed, words[0]!) ^ words[1]!);
      this.hashBlock = (h & this.blockMask) << 5;
      this.hashBits = finish((h ^ 0x5bd1e995) + 0x27d4eb2f) | 0;
      return;
    }
    let a = this.seed;
    let b = this.seed ^ 0x85ebca6b;
    for (let i = 0; i < hashed; i++) {
      a = mix(a, words[i]!);
      // A different transform of each word: the chains must not be functions of one another.
      b = mix(b, Math.imul(words[i]! ^ 0x68e31da4, 0x27d4eb2f));
    }
    this.hashBlock = (finish(a ^ hashed) & this.blockMask) << 5;
    this.hashBits = finish(b ^ (hashed << 8)) | 0;
  }

  /** Applies the deferred adds in order, each with its own time (see the header). */
  private applyPending(): void {
    const n = this.pendingCount;
    this.pendingCount = 0;
    // Locals, not fields, in the loops: V8 reloads a field after every typed-array store.
    const w = this.words;
    const blocks = this.pendingBlock;
    const bits = this.pendingBits;
    const times = this.pendingAt;
    const k = this.hashes;
    let current = this.current;
    // Start every block's cache miss first: these loads do not wait on one another.
    let touched = 0;
    for (let j = 0; j < n; j++) touched |= w[blocks[j]! + current]!;
    this.touched = touched;
    let added = this.added;
    const capacity = this.generationCapacity;
    // Rotate by age when an add's time reaches this (startedAt + maxAge).
    let ageLimit = this.startedAt + this.maxAgeMicros;
    for (let j = 0; j < n; j++) {
      if (added >= capacity || times[j]! >= ageLimit) {
        this.rotate();
        this.startedAt = times[j]!;
        ageLimit = this.startedAt + this.maxAgeMicros;
        current = this.current;
        added = 0;
      }
      const cur = blocks[j]! + current;
      const h2 = bits[j]!;
      if (k === BLOCK_WORDS) {
        // SALTS spelled out: a third cheaper than the loop (no counter, no SALTS load); the unit
        // test comparing deferred adds with lookups fails if these ever differ from SALTS.
        w[cur + 0]! |= 1 << (Math.imul(h2, 0x47b6137b) >>> 27);
        w[cur + 1]! |= 1 << (Math.imul(h2, 0x44974d91) >>> 27);
        w[cur + 2]! |= 1 << (Math.imul(h2, 0x8824ad5b) >>> 27);
        w[cur + 3]! |= 1 << (Math.imul(h2, 0xa2b7289d) >>> 27);
        w[cur + 4]! |= 1 << (Math.imul(h2, 0x705495c7) >>> 27);
        w[cur + 5]! |= 1 << (Math.imul(h2, 0x2df1424b) >>> 27);
        w[cur + 6]! |= 1 << (Math.imul(h2, 0x9efc4947) >>> 27);
        w[cur + 7]! |= 1 << (Math.imul(h2, 0x5c6bfb31) >>> 27);
        w[cur + 8]! |= 1 << (Math.imul(h2, 0x3c6ef373) >>> 27);
        w[cur + 9]! |= 1 << (Math.imul(h2, 0x6a09e667) >>> 27);
        w[cur + 10]! |= 1 << (Math.imul(h2, 0xbb67ae85) >>> 27);
        w[cur + 11]! |= 1 << (Math.imul(h2, 0xa54ff53b) >>> 27);
        w[cur + 12]! |= 1 << (Math.imul(h2, 0x510e527f) >>> 27);
        w[cur + 13]! |= 1 << (Math.imul(h2, 0x9b05688d) >>> 27);
        w[cur + 14]! |= 1 << (Math.imul(h2, 0x1f83d9ab) >>> 27);
        w[cur + 15]! |= 1 << (Math.imul(h2, 0x5be0cd19) >>> 27);
      } else for (let i = 0; i < k; i++) w[cur + i]! |= 1 << (Math.imul(h2, SALTS[i]!) >>> 27);
      added++;
    }
    this.added = added;
  }

  /** The lookup at a rotation (rare): looked up in the generations before it, added to the fresh one after. */
  private seenRotating(block: number, h2: number): boolean {
    const seen = this.holds(block + this.current, h2) || this.holds(block + (this.current ^ 16), h2);
    this.rotate();
    const w = this.words;
    const cur = block + this.current;
    for (let i = 0; i < this.hashes; i++) w[cur + i]! |= 1 << (Math.imul(h2, SALTS[i]!) >>> 27);
    this.added++;
    return seen;
  }

  /** Whether every bit of the source is set in the generation half at `at`. */
  private holds(at: number, h2: number): boolean {
    const w = this.words;
    for (let i = 0; i < this.hashes; i++) {
      const bit = 1 << (Math.imul(h2, SALTS[i]!) >>> 27);
      if ((w[at + i]! & bit) === 0) return false;
    }
    return true;
  }

  private rotate(): void {
    // The previous generation's half of every block becomes the (empty) current one.
    const half = this.current ^ 16;
    const words = this.words;
    // A plain loop: a fill() call per 16-word half costs more than the stores.
    for (let b = half; b < words.length; b += 32) for (let i = b; i < b + 16; i++) words[i] = 0;
    this.current = half;
    this.added = 0;
    this.startedAt = this.clock.micros;
    this.rotations++;
  }
}
