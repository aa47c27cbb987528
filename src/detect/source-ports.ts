/**
 * Ports touched per source: which decoy ports a source probed while any of
 * its keys is tracked (a source that touched two or more is a sweep, and its
 * alarms say so). One entry per source with a reference count of its live
 * keys; the entry goes when its last key does. Capacity equals the key
 * table's, so tracking a source for a new key cannot fail. Allocates nothing
 * after construction.
 */
import { KeyTable } from './key-table.js';
import { fillSourceFromKey, sourceHashed, SOURCE_WORDS } from './probe-key.js';

export class SourcePorts {
  private readonly sources: KeyTable;
  /** Bit i: policy port i (a reload may briefly hold old and new ports: up to 2 × MAX_PORTS). */
  private readonly masks: Uint32Array;
  private readonly refs: Uint32Array;

  constructor(capacity: number, seed: number) {
    this.sources = new KeyTable(capacity, SOURCE_WORDS, seed);
    this.masks = new Uint32Array(capacity);
    this.refs = new Uint32Array(capacity);
  }

  /** The source of the filled deduplication `key`: its entry, or -1 when it has no live key. Leaves its words in `probe`. */
  lookup(key: Uint32Array, family: number): number {
    fillSourceFromKey(this.sources.probe, key, family);
    return this.sources.find(sourceHashed(this.sources.probe, family));
  }

  /** The scratch source key (see lookup). */
  get probe(): Uint32Array {
    return this.sources.probe;
  }

  /** Counts one more key of the source in the filled deduplication `key`, on `portIndex`; returns the source entry. */
  track(key: Uint32Array, family: number, portIndex: number): number {
    fillSourceFromKey(this.sources.probe, key, family);
    const hashed = sourceHashed(this.sources.probe, family);
    let s = this.sources.find(hashed);
    if (s < 0) {
      // Cannot fail: every source owns at least one key and both tables have the same capacity.
      s = this.sources.insert(hashed);
      this.masks[s] = 0;
      this.refs[s] = 0;
    }
    this.masks[s]! |= 1 << portIndex;
    this.refs[s]!++;
    return s;
  }

  /** One key of source `s` is gone; the source goes with its last key. */
  release(s: number): void {
    if (--this.refs[s]! === 0) this.sources.remove(s);
  }

  /** Policy port bits the source touched. */
  mask(s: number): number {
    return this.masks[s]!;
  }

  /** Renumbers the port bits of the given live sources after a reload (`map[i]`: old port i's new index, -1 gone). */
  renumber(live: Iterable<number>, map: readonly number[]): void {
    const before = this.masks.slice();
    for (const s of live) {
      const mask = before[s]!;
      let out = 0;
      for (let i = 0; i < map.length; i++) if (mask & (1 << i) && map[i]! >= 0) out |= 1 << map[i]!;
      this.masks[s] = out >>> 0;
    }
  }
}
