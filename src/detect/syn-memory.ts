/**
 * The SYN memory: which connections to a decoy port exist, so that an
 * ACK-class segment (ACK set, SYN and RST clear, or SYN+ACK) is a probe only
 * when it belongs to none. A connection is named by its 4-tuple as seen from
 * the decoy: (remote address, remote port, decoy address, decoy port), and
 * exists for SYN_MEMORY_MICROS (5 minutes, in the caller's time: packet time
 * in replay, capture time live) after a SYN of it was seen — inbound to the
 * decoy port, or (a replay holding both directions) outbound from it. Each
 * direction is remembered on its own: a SYN-ACK to the decoy belongs to a
 * connection only if it answers an outbound SYN (a SYN-ACK after the
 * scanner's own SYN answers nothing: `hping3 -S -A`), any other ACK-class
 * segment if either SYN was seen.
 *
 * Bounded: a set-associative table of BUCKETS × WAYS entries, each a 32-bit
 * tag of a seeded hash of the 4-tuple and the SYN's time, side by side in
 * one Float64Array so that a bucket is one 64-byte cache line (16 bytes an
 * entry; 2 MiB at the default size): every SYN of a flood is remembered, and
 * a second cache miss per packet showed in the flood's CPU time. A SYN of a connection already remembered renews its
 * time; a new one takes a free or expired way of its bucket, else the way
 * with the oldest SYN. Under a spoofed SYN flood every bucket fills: a
 * remembered connection then lasts as long as its bucket takes to see WAYS
 * newer SYNs (at 20,000 SYNs/s, ~6.5 s); a later ACK of an evicted
 * connection is an `ack` probe of the key its SYN already opened (counted,
 * never lost). The seeded hash keeps spoofed SYNs from being aimed at one
 * bucket. Nothing allocates after construction.
 *
 * Remembering is deferred, as the repeat filter's adds are: a SYN's
 * bucket, tag and time wait in a small queue, applied PENDING at a time
 * (every queued bucket touched first, so that their cache misses overlap)
 * and before any question (`belongs`, `count`), in order and each with its
 * own time, so every answer is the one an immediate table would give (the
 * unit test compares them). Why: under a flood every repeated SYN of a
 * tracked key renews its connection, a miss in 2 MiB per packet.
 */
import { finish, mix } from '../net/word-hash.js';

/** Anything with a time (a segment). */
export interface Timed {
  readonly tsMicros: number;
}

/** How long after its SYN a connection's segments are not probes (µs). */
export const SYN_MEMORY_MICROS = 300e6;
export const SYN_MEMORY_WAYS = 4;
export const DEFAULT_SYN_MEMORY_BUCKETS = 1 << 15;

/** Which way a connection's SYN went, seen from the decoy. */
export const SynDirection = { inbound: 0, outbound: 0x10000 } as const;
export type SynDirectionCode = (typeof SynDirection)[keyof typeof SynDirection];

/** Deferred remembers applied together (see the header). */
const PENDING = 256;

export class SynMemory {
  /** Per way: [tag (0: free), SYN time]. */
  private readonly ways: Float64Array;
  private readonly mask: number;
  private bucket = 0;
  private tag = 0;
  /** Deferred remembers, oldest first. */
  private readonly pendingBucket = new Int32Array(PENDING);
  private readonly pendingTag = new Float64Array(PENDING);
  private readonly pendingAt = new Float64Array(PENDING);
  private pendingCount = 0;
  /** Sink of the touching loads in `applyPending` (public so that neither tsc nor V8 drops it; means nothing). */
  touched = 0;

  constructor(private readonly seed: number, buckets = DEFAULT_SYN_MEMORY_BUCKETS) {
    if (!Number.isInteger(Math.log2(buckets))) throw new RangeError('buckets must be a power of two');
    this.mask = buckets - 1;
    this.ways = new Float64Array(buckets * SYN_MEMORY_WAYS * 2);
  }

  /** Bytes of state (fixed). */
  get bytes(): number {
    return this.ways.byteLength;
  }

  /** Connections remembered now (for tests; scans the table). */
  count(nowMicros: number): number {
    this.applyPending();
    let n = 0;
    for (let i = 0; i < this.ways.length; i += 2) if (this.ways[i] !== 0 && nowMicros - this.ways[i + 1]! <= SYN_MEMORY_MICROS) n++;
    return n;
  }

  /**
   * Hashes a connection: `words` is a deduplication key (probe-key layout:
   * remote → decoy address and the decoy port, family) whose first `hashed`
   * words carry it, `remotePort` the remote side's port, `direction` the
   * SYN's (above 16 bits, so it never collides with a port).
   */
  private locate(words: Uint32Array, hashed: number, remotePort: number): void {
    let a = this.seed;
    let b = this.seed ^ 0x9e3779b9;
    for (let i = 0; i < hashed; i++) {
      a = mix(a, words[i]!);
      // A different transform of each word: the tag must not be a function of the bucket's hash.
      b = mix(b, Math.imul(words[i]! ^ 0x2545f491, 0x27d4eb2f));
    }
    a = finish(mix(a, remotePort) ^ hashed);
    b = finish(mix(b, remotePort ^ 0x20000) ^ hashed);
    this.bucket = (a & this.mask) * SYN_MEMORY_WAYS * 2;
    this.tag = b === 0 ? 1 : b; // 0 marks a free way
  }

  /** A SYN of the connection, going `direction`, was seen at `at.tsMicros` (a field: a time passed as an argument is boxed). */
  remember(words: Uint32Array, hashed: number, remotePort: number, direction: SynDirectionCode, at: Timed): void {
    this.locate(words, hashed, remotePort | direction);
    const n = this.pendingCount;
    this.pendingBucket[n] = this.bucket;
    this.pendingTag[n] = this.tag;
    this.pendingAt[n] = at.tsMicros;
    this.pendingCount = n + 1;
    if (n + 1 === PENDING) this.applyPending();
  }

  /** Applies the deferred remembers in order, each with its own time (see the header). */
  private applyPending(): void {
    const n = this.pendingCount;
    if (n === 0) return;
    this.pendingCount = 0;
    // Locals, not fields, in the loops: V8 reloads a field after every typed-array store.
    const ways = this.ways;
    const buckets = this.pendingBucket;
    const tags = this.pendingTag;
    const times = this.pendingAt;
    // Start every bucket's cache miss first: these loads do not wait on one another.
    let touched = 0;
    for (let j = 0; j < n; j++) touched += ways[buckets[j]!]!;
    this.touched = touched;
    for (let j = 0; j < n; j++) {
      const base = buckets[j]!;
      const tag = tags[j]!;
      const tsMicros = times[j]!;
      const end = base + SYN_MEMORY_WAYS * 2;
      let victim = base;
      let renewed = false;
      for (let w = base; w < end; w += 2) {
        if (ways[w] === tag) {
          if (tsMicros > ways[w + 1]!) ways[w + 1] = tsMicros;
          renewed = true;
          break;
        }
        if (ways[w] === 0) {
          victim = w;
          break;
        }
        if (ways[w + 1]! < ways[victim + 1]!) victim = w;
      }
      if (renewed) continue;
      ways[victim] = tag;
      ways[victim + 1] = tsMicros;
    }
  }

  /** Whether a SYN of the connection going `direction` was seen within SYN_MEMORY_MICROS before `at.tsMicros` (or after it: reordering). */
  belongs(words: Uint32Array, hashed: number, remotePort: number, direction: SynDirectionCode, at: Timed): boolean {
    if (this.pendingCount > 0) this.applyPending();
    const tsMicros = at.tsMicros;
    this.locate(words, hashed, remotePort | direction);
    const ways = this.ways;
    const base = this.bucket;
    for (let w = base; w < base + SYN_MEMORY_WAYS * 2; w += 2) {
      if (ways[w] === this.tag) return tsMicros - ways[w + 1]! <= SYN_MEMORY_MICROS;
    }
    return false;
  }
}
