/** A small seeded PRNG (mulberry32): the same seed gives the same inputs on every machine. */
export class Rng {
  private s: number;
  constructor(seed: number) { this.s = seed >>> 0; }
  /** Uniform 32-bit unsigned. */
  u32(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** Integer in [0, n). */
  int(n: number): number { return n <= 0 ? 0 : this.u32() % n; }
  chance(p: number): boolean { return this.u32() / 4294967296 < p; }
  pick<T>(items: readonly T[]): T { return items[this.int(items.length)]!; }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.u32() & 0xff;
    return b;
  }
}

/** Byte-level mutations: flips, overwrites, deletions, insertions, truncation, duplication of a slice. */
export function mutateBytes(rng: Rng, input: Buffer, edits = 1 + rng.int(8)): Buffer {
  let b: Buffer = Buffer.from(input);
  for (let e = 0; e < edits; e++) {
    if (b.length === 0) { b = rng.bytes(1 + rng.int(16)); continue; }
    const at = rng.int(b.length);
    switch (rng.int(7)) {
      case 0: b[at]! ^= 1 << rng.int(8); break;
      case 1: b[at] = rng.pick([0, 0xff, 0x7f, 0x80, rng.int(256)]); break;
      case 2: b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + rng.int(8)))]); break;
      case 3: b = Buffer.concat([b.subarray(0, at), rng.bytes(1 + rng.int(8)), b.subarray(at)]); break;
      case 4: b = b.subarray(0, at); break;
      case 5: { // a 32-bit field set to an edge value (lengths, counts, timestamps)
        const v = rng.pick([0, 1, 0xffffffff, 0x7fffffff, 0x80000000, 12, 0xffff, rng.u32()]);
        if (at + 4 <= b.length) b.writeUInt32LE(v, at);
        break;
      }
      default: { // duplicate a slice
        const len = 1 + rng.int(Math.min(256, b.length - at));
        b = Buffer.concat([b.subarray(0, at + len), b.subarray(at, at + len), b.subarray(at + len)]);
      }
    }
  }
  return b;
}
