/**
 * A fixed-capacity hash table of fixed-width keys (Uint32 words) that hands
 * out dense entry indices, so callers keep per-entry state in typed arrays.
 * Open addressing with linear probing and backward-shift deletion; nothing
 * is allocated after construction. The hash is seeded per instance so that
 * spoofed sources cannot be chosen to collide (hash flooding).
 *
 * A caller whose keys are often short (an IPv4 key in an IPv6-sized slot) may
 * hash only a prefix of the words: find(n) / insert(n) hash words 0..n-1 and
 * still compare all of them. `n` must be fixed by the key's own content (the
 * family word lies inside the prefix), so one key always gets one hash.
 */

import { finish, mix } from '../net/word-hash.js';

export class KeyTable {
  /** Scratch key: fill words 0..width-1, then call find() or insert(). */
  readonly probe: Uint32Array;
  /** Entry keys, `width` words per entry. */
  readonly keys: Uint32Array;
  private readonly hashes: Uint32Array;
  private readonly slots: Int32Array; // entry index + 1; 0 = empty
  /**
   * One bit per slot, set when it is taken: 1/32 of the slots' size, so it
   * stays in cache where `slots` (MiBs for large tables) does not, and a miss
   * (every packet of a spoofed flood) usually costs no cache miss at all.
   */
  private readonly taken: Uint32Array;
  private readonly mask: number;
  private readonly freeList: Int32Array;
  private freeTop: number;
  private count = 0;

  constructor(readonly capacity: number, readonly width: number, private readonly seed: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a positive integer');
    let tableSize = 1;
    while (tableSize < capacity * 2) tableSize <<= 1; // load factor <= 0.5
    this.mask = tableSize - 1;
    this.slots = new Int32Array(tableSize);
    this.taken = new Uint32Array(Math.max(1, tableSize >>> 5));
    this.probe = new Uint32Array(width);
    this.keys = new Uint32Array(capacity * width);
    this.hashes = new Uint32Array(capacity);
    this.freeList = new Int32Array(capacity);
    for (let i = 0; i < capacity; i++) this.freeList[i] = capacity - 1 - i;
    this.freeTop = capacity;
  }

  get size(): number {
    return this.count;
  }

  get full(): boolean {
    return this.freeTop === 0;
  }

  /** Slots marked taken in the bitmap (equal to size when consistent; for tests, not a hot path). */
  get markedSlots(): number {
    let n = 0;
    for (let w of this.taken) for (; w; w &= w - 1) n++;
    return n;
  }

  private hashProbe(n: number): number {
    const probe = this.probe;
    let h = this.seed;
    for (let i = 0; i < n; i++) h = mix(h, probe[i]!);
    return finish(h ^ n);
  }

  private equalsProbe(entry: number): boolean {
    const base = entry * this.width;
    for (let i = 0; i < this.width; i++) if (this.keys[base + i] !== this.probe[i]) return false;
    return true;
  }

  /** Entry index of the probe key, or -1; `hashed`: see the header. */
  find(hashed = this.width): number {
    const h = this.hashProbe(hashed);
    const slots = this.slots;
    const mask = this.mask;
    const taken = this.taken;
    for (let s = h & mask; ; s = (s + 1) & mask) {
      if ((taken[s >>> 5]! & (1 << (s & 31))) === 0) return -1;
      const e = slots[s]! - 1;
      if (this.hashes[e] === h && this.equalsProbe(e)) return e;
    }
  }

  /** Adds the probe key (which must not be present); -1 when the table is full. `hashed` as for find. */
  insert(hashed = this.width): number {
    if (this.freeTop === 0) return -1;
    const e = this.freeList[--this.freeTop]!;
    const h = this.hashProbe(hashed);
    this.hashes[e] = h;
    const base = e * this.width;
    for (let i = 0; i < this.width; i++) this.keys[base + i] = this.probe[i]!;
    let s = h & this.mask;
    while (this.slots[s] !== 0) s = (s + 1) & this.mask;
    this.slots[s] = e + 1;
    this.taken[s >>> 5]! |= 1 << (s & 31);
    this.count++;
    return e;
  }

  remove(entry: number): void {
    const mask = this.mask;
    let s = this.hashes[entry]! & mask;
    while (this.slots[s] !== entry + 1) {
      if (this.slots[s] === 0) throw new Error(`KeyTable.remove: entry ${entry} is not in the table`);
      s = (s + 1) & mask;
    }
    // Backward shift: pull later members of the probe run into the hole so
    // lookups never need tombstones.
    let hole = s;
    for (let j = (hole + 1) & mask; this.slots[j] !== 0; j = (j + 1) & mask) {
      const home = this.hashes[this.slots[j]! - 1]! & mask;
      const distHole = (hole - home) & mask;
      const distJ = (j - home) & mask;
      if (distHole <= distJ) {
        this.slots[hole] = this.slots[j]!;
        hole = j;
      }
    }
    this.slots[hole] = 0;
    this.taken[hole >>> 5]! &= ~(1 << (hole & 31));
    this.freeList[this.freeTop++] = entry;
    this.count--;
  }
}
