/**
 * MurmurHash3's 32-bit word mix and finaliser, for hashing keys made of
 * Uint32 words (dedup keys, source keys, SYN memory tags, tunnel identity).
 * Plain functions of two numbers, so V8 inlines them in the per-packet loops;
 * seeding is the caller's (its initial `h`).
 */

/** Mixes one 32-bit word `k` into the running hash `h`. */
export function mix(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** The final avalanche: every input bit affects every output bit; unsigned result. */
export function finish(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
