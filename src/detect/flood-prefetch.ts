/**
 * A read-only pre-pass over a batch of frames (one ring block), run before
 * the detector sees them one by one. Under a flood of spoofed sources every
 * probe misses the cache in the detector's tables — the last-source-port
 * set (2 MiB), and for a tracked key its slot, entry lines and SYN-memory
 * bucket — and the per-packet pass takes those misses one after another:
 * each waits behind the decode and detector code of the packet before it.
 * This pass computes, for each frame of the common case, the indexes those
 * tables will use and loads the words there, in tight loops of independent
 * loads whose misses overlap (memory-level parallelism, as DPDK and
 * Suricata prefetch). The per-packet pass then finds the lines in cache.
 *
 * Contract: it changes no state of any table and decides nothing; a frame
 * it misjudges (another link type, a tunnel, a fragment, IPv6 extension
 * headers, a cut frame) only costs a useless load or none, since the
 * decoder and detector judge every frame as before. Indexes come from the
 * tables' own hash functions (KeyTable.hashOf, LastSourcePort.setOf,
 * SynMemory.bucketOf) over key words laid out by probe-key.ts (fillKeyAt),
 * so the pass and the tables cannot disagree on a hash; the unit test checks
 * that each index is where the table then writes. Common case only:
 * Ethernet, at most one 802.1Q/802.1ad tag, IPv4 without fragmentation
 * (any header length) or IPv6 with TCP as its first next header, to a
 * policy port. Allocates only when a batch is larger than any before it.
 */
import { SynDirection, type SynMemory } from './syn-memory.js';
import type { Admission } from './admission.js';
import type { FrameBatch } from '../source/frame-batch.js';
import type { KeyWindows } from './key-windows.js';
import type { LastSourcePort } from './last-source-port.js';
import { fillKeyAt, fillSourceFromKey, KEY_WORDS, keyHashed, SOURCE_WORDS, sourceHashed } from './probe-key.js';

const LINKTYPE_ETHERNET = 1;
const TCP_SYN = 0x02;
const TCP_ACK = 0x10;

/** Where the pass found the frame's tables: -1 for none. Exposed for the unit test. */
export interface PrefetchIndexes {
  /** Last-source-port set of the frame's source. */
  readonly lastPortSet: Int32Array;
  /** Key table slot where the frame's key would be looked for first. */
  readonly keyHome: Int32Array;
  /** The entry in that slot, when it is taken (a key the frame's may be). */
  readonly keyEntry: Int32Array;
  /** SYN-memory buckets: inbound (a SYN of a maybe-tracked key; an ACK-class segment), outbound (an ACK-class segment). */
  readonly synInbound: Int32Array;
  readonly synOutbound: Int32Array;
}

export class FloodPrefetch {
  private readonly key = new Uint32Array(KEY_WORDS);
  private readonly source = new Uint32Array(SOURCE_WORDS);
  private lastPortSet = new Int32Array(0);
  private keyHome = new Int32Array(0);
  private keyEntry = new Int32Array(0);
  private synInbound = new Int32Array(0);
  private synOutbound = new Int32Array(0);
  /** Per located frame: where its source address starts, its ports (source << 16 | destination), family | flags << 8. */
  private addressAt = new Int32Array(0);
  private ports = new Uint32Array(0);
  private familyFlags = new Int32Array(0);
  /** Sink of the loads (public so that neither tsc nor V8 drops them; means nothing). */
  touched = 0;

  constructor(
    private readonly admission: Admission,
    private readonly windows: KeyWindows,
    private readonly lastPorts: LastSourcePort,
    private readonly synMemory: SynMemory,
  ) {}

  /** The indexes of the last `run` (for tests). */
  get indexes(): PrefetchIndexes {
    return { lastPortSet: this.lastPortSet, keyHome: this.keyHome, keyEntry: this.keyEntry, synInbound: this.synInbound, synOutbound: this.synOutbound };
  }

  /**
   * Loads what the detector will read for each frame of `b` (see the
   * header). Three loops, each small enough for V8 to inline the hashes it
   * calls (one loop doing it all exceeded the inlining budget: hash calls,
   * and a boxed unsigned result per call).
   */
  run(b: FrameBatch): void {
    const n = b.count;
    if (this.lastPortSet.length < n) this.grow(n);
    this.locate(b);
    this.locateSyn(b);
    // Locals, not fields, in the loops: V8 reloads a field after a call it does not inline.
    const sets = this.lastPortSet;
    const homes = this.keyHome;
    const entries = this.keyEntry;
    const inbound = this.synInbound;
    const outbound = this.synOutbound;
    const lastPorts = this.lastPorts;
    const syn = this.synMemory;
    const table = this.windows.table;
    let t = 0;
    // Independent loads only: their misses overlap. A taken slot's entry is found here, its lines loaded below.
    for (let i = 0; i < n; i++) {
      const set = sets[i]!;
      if (set < 0) continue;
      t ^= lastPorts.touchSet(set);
      if (entries[i] === 0) entries[i] = table.entryAt(homes[i]!);
      const a = inbound[i]!;
      if (a >= 0) t ^= syn.touchBucket(a);
      const o = outbound[i]!;
      if (o >= 0) t ^= syn.touchBucket(o);
    }
    const windows = this.windows;
    for (let i = 0; i < n; i++) {
      const e = entries[i]!;
      if (e >= 0) t ^= windows.touch(e);
    }
    this.touched = t;
  }

  /**
   * Finds the common-case probes of `b` and fills, for each, its last-port
   * set and key slot (no table line is read here but the key table's
   * bitmap); -1 for other frames.
   */
  private locate(b: FrameBatch): void {
    const { data, offset, caplen, linktype } = b;
    const key = this.key;
    const source = this.source;
    const admission = this.admission;
    const table = this.windows.table;
    const mask = table.slotMask;
    const lastPorts = this.lastPorts;
    const sets = this.lastPortSet;
    const homes = this.keyHome;
    const entries = this.keyEntry;
    const addressAt = this.addressAt;
    const ports = this.ports;
    const familyFlags = this.familyFlags;
    const limit = data.length;
    for (let i = 0; i < b.count; i++) {
      sets[i] = -1;
      entries[i] = -1;
      if (linktype[i] !== LINKTYPE_ETHERNET) continue;
      const o = offset[i]!;
      const end = Math.min(o + caplen[i]!, limit);
      let l3 = o + 14;
      if (l3 + 40 > end) continue;
      let type = (data[o + 12]! << 8) | data[o + 13]!;
      if (type === 0x8100 || type === 0x88a8) {
        type = (data[o + 16]! << 8) | data[o + 17]!;
        l3 += 4;
      }
      let family: number;
      let l4: number;
      let srcAt: number;
      if (type === 0x0800) {
        const vihl = data[l3]!;
        // IPv4, TCP, neither a fragment nor the first of several.
        if (vihl >> 4 !== 4 || (vihl & 15) < 5 || data[l3 + 9] !== 6 || ((data[l3 + 6]! & 0x3f) | data[l3 + 7]!) !== 0) continue;
        family = 4;
        l4 = l3 + (vihl & 15) * 4;
        srcAt = l3 + 12;
      } else if (type === 0x86dd) {
        if (data[l3]! >> 4 !== 6 || data[l3 + 6] !== 6) continue;
        family = 6;
        l4 = l3 + 40;
        srcAt = l3 + 8;
      } else continue;
      if (l4 + 14 > end) continue;
      const dstPort = (data[l4 + 2]! << 8) | data[l4 + 3]!;
      if (admission.indexOf(dstPort, family) < 0) continue;
      fillKeyAt(key, family, data, srcAt, srcAt + (family === 4 ? 4 : 16), dstPort);
      fillSourceFromKey(source, key, family);
      sets[i] = lastPorts.setOf(source, sourceHashed(source, family));
      const s = table.hashOf(key, keyHashed(key, family)) & mask;
      homes[i] = s;
      // 0: look the entry up in the loading pass.
      if (table.takenAt(s)) entries[i] = 0;
      addressAt[i] = srcAt;
      ports[i] = (((data[l4]! << 8) | data[l4 + 1]!) << 16 | dstPort) >>> 0;
      familyFlags[i] = family | (data[l4 + 13]! << 8);
    }
  }

  /**
   * The SYN-memory buckets the detector will look in: both directions for
   * an ACK-class segment (belongs), inbound for a SYN whose key may be
   * tracked (remember); -1 otherwise. Under a SYN flood, few frames.
   */
  private locateSyn(b: FrameBatch): void {
    const data = b.data;
    const key = this.key;
    const syn = this.synMemory;
    const sets = this.lastPortSet;
    const entries = this.keyEntry;
    const inbound = this.synInbound;
    const outbound = this.synOutbound;
    const addressAt = this.addressAt;
    const ports = this.ports;
    const familyFlags = this.familyFlags;
    for (let i = 0; i < b.count; i++) {
      inbound[i] = -1;
      outbound[i] = -1;
      if (sets[i]! < 0) continue;
      const flags = familyFlags[i]! >> 8;
      const ack = (flags & TCP_ACK) !== 0;
      if (!ack && (entries[i] !== 0 || (flags & TCP_SYN) === 0)) continue;
      const family = familyFlags[i]! & 0xff;
      const srcAt = addressAt[i]!;
      const p = ports[i]!;
      fillKeyAt(key, family, data, srcAt, srcAt + (family === 4 ? 4 : 16), p & 0xffff);
      const hashed = keyHashed(key, family);
      const srcPort = p >>> 16;
      inbound[i] = syn.bucketOf(key, hashed, srcPort | SynDirection.inbound);
      if (ack) outbound[i] = syn.bucketOf(key, hashed, srcPort | SynDirection.outbound);
    }
  }

  private grow(n: number): void {
    this.lastPortSet = new Int32Array(n);
    this.keyHome = new Int32Array(n);
    this.keyEntry = new Int32Array(n);
    this.synInbound = new Int32Array(n);
    this.synOutbound = new Int32Array(n);
    this.addressAt = new Int32Array(n);
    this.ports = new Uint32Array(n);
    this.familyFlags = new Int32Array(n);
  }
}
