/**
 * Bounded IP fragment reassembly for TCP datagrams (IPv4 and IPv6).
 *
 * What is kept per datagram: which byte ranges have arrived (merged
 * intervals), the total length once the last fragment is known, and the
 * first HEAD_KEEP bytes of the fragmented payload. Only those first bytes
 * are ever read (IPv6 extension headers + the TCP header), so the payload
 * itself is not stored: a datagram costs ~1.6 KiB whatever its size, and the
 * whole table is bounded by maxDatagrams, allocated only as datagrams start
 * and reused afterwards.
 *
 * Overlap policy (deliberate; see also the Decoder doc):
 * - A fragment whose bytes agree with what is already held where they
 *   overlap (a retransmission, or a re-fragmentation along other
 *   boundaries) is accepted.
 * - A fragment that disagrees with held header bytes, or with the total
 *   length fixed by the last fragment, discards the whole datagram, as Linux
 *   does since 4.19 and RFC 5722 requires for IPv6 (counted in
 *   fragmentOverlaps). This is what defeats the offset-1 flag-rewriting
 *   trick: two readings of the TCP header exist, so neither is reported.
 * - For IPv4 only the TCP header is compared (its data offset once held,
 *   60 bytes before):
 *   conflicting *payload* cannot change what the decoder reports, and
 *   discarding on it would let an attacker hide a SYN-with-payload by
 *   overlapping its data (tshark reassembles such a datagram; see the
 *   shared zeek_ipv4_fragmented-4.pcap). For IPv6 the extension headers sit
 *   in the compared bytes too, so the whole kept head is compared.
 * - Timeouts run in packet time and are checked when a fragment arrives
 *   (the non-fragment path stays free of table work).
 * - Overlaps beyond HEAD_KEEP are not compared: those bytes are TCP payload,
 *   which cannot change what the decoder reports, and accepting them can only
 *   reveal a probe, never invent one.
 */
import type { DecodeCounters } from './counters.js';

/**
 * family(1) proto(1) pad(2) id(4) src(16) dst(16) overlay(8): the overlay is
 * the tunnel identity (TunnelInfo.identityA/B, zero when not tunnelled), so
 * two overlays reusing inner addresses and IP ids never share a datagram.
 */
export const KEY_LEN = 48;
/** Offset of the overlay identity in a key. */
export const KEY_OVERLAY = 40;
/**
 * Bytes of the fragmented payload kept and compared: the TCP header (≤ 60)
 * behind IPv6 extension headers, which RFC 7112 (and Linux) require to sit in
 * the first fragment anyway.
 */
export const HEAD_KEEP = 512;
/** Disjoint received ranges per datagram; more holes than this is an attack. */
export const MAX_INTERVALS = 64;
/** IPv4: bytes compared for conflicts, the longest TCP header (data offset 15). */
export const IPV4_COMPARED = 60;

export class Datagram {
  readonly key = new Uint8Array(KEY_LEN);
  hash = 0;
  /** Next datagram in the same hash bucket, -1 at the end. */
  chain = -1;
  /** Neighbours in arrival order (oldest first), for timeouts and eviction. */
  older = -1;
  newer = -1;
  firstTs = 0;
  /** Length of the fragmented payload, -1 until the last fragment arrived. */
  total = -1;
  /** From the offset-0 fragment: IPv4 TTL / IPv6 hop limit. */
  ttl = 0;
  /** From the offset-0 fragment: the IPv6 fragment header's Next Header (IPv4: 6). */
  proto = 0;
  count = 0;
  /** Sorted, merged [start, end) pairs of received bytes. */
  readonly ranges = new Int32Array(2 * MAX_INTERVALS);
  readonly head = new Uint8Array(HEAD_KEEP);
  /** 1 where head[] holds a captured byte (a snap length may leave holes). */
  readonly have = new Uint8Array(HEAD_KEEP);

  reset(): void {
    this.chain = -1;
    this.older = -1;
    this.newer = -1;
    this.total = -1;
    this.ttl = 0;
    this.proto = 0;
    this.count = 0;
    this.have.fill(0);
  }

  /** Length of the leading run of captured bytes in head[], at most `limit`. */
  knownPrefix(limit: number): number {
    const n = Math.min(limit, HEAD_KEEP);
    let i = 0;
    while (i < n && this.have[i] === 1) i++;
    return i;
  }

  /** Adds [s, e) to the ranges; false when that would exceed MAX_INTERVALS. */
  addRange(s: number, e: number): boolean {
    const r = this.ranges;
    const n = this.count;
    let i = 0;
    while (i < n && r[2 * i + 1] < s) i++;
    let j = i;
    while (j < n && r[2 * j] <= e) j++;
    if (i === j) {
      if (n === MAX_INTERVALS) return false;
      r.copyWithin(2 * i + 2, 2 * i, 2 * n);
      r[2 * i] = s;
      r[2 * i + 1] = e;
      this.count = n + 1;
      return true;
    }
    const ns = Math.min(s, r[2 * i]);
    const ne = Math.max(e, r[2 * j - 1]);
    r[2 * i] = ns;
    r[2 * i + 1] = ne;
    if (j - i > 1) r.copyWithin(2 * i + 2, 2 * j, 2 * n);
    this.count = n - (j - i - 1);
    return true;
  }

  isComplete(): boolean {
    return this.total >= 0 && this.count === 1 && this.ranges[0] === 0 && this.ranges[1] === this.total;
  }
}

/** add() results below zero; a result >= 0 is the index of a completed datagram. */
export const enum Frag {
  Pending = -1,
  /** The datagram was dropped (conflict or resource limit). */
  Discarded = -2,
  /** This fragment alone is unusable (beyond the size bound). */
  Rejected = -3,
}

function hashKey(k: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < KEY_LEN; i++) h = Math.imul(h ^ k[i], 0x01000193);
  return h >>> 0;
}

function sameKey(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < KEY_LEN; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class FragmentTable {
  private readonly slots: Datagram[] = [];
  private readonly freeStack: Int32Array;
  private freeTop = 0;
  private readonly buckets: Int32Array;
  private readonly mask: number;
  private oldest = -1;
  private newest = -1;
  private active = 0;

  constructor(
    private readonly maxDatagrams: number,
    private readonly timeoutMicros: number,
    private readonly maxBytes: number,
    private readonly counters: DecodeCounters,
  ) {
    this.freeStack = new Int32Array(maxDatagrams);
    let size = 2;
    while (size < maxDatagrams * 2) size *= 2;
    this.buckets = new Int32Array(size).fill(-1);
    this.mask = size - 1;
  }

  /** Datagrams currently held. */
  get size(): number {
    return this.active;
  }

  get(i: number): Datagram {
    return this.slots[i];
  }

  /**
   * Adds one fragment of the datagram identified by `key` (KEY_LEN bytes).
   * @param start offset of this fragment's data in the datagram's payload
   * @param declLen data length per the IP header
   * @param capLen data bytes actually captured (≤ declLen), at d[dataOff..]
   * @returns the index of a now complete datagram (call release() after
   *   reading it), or a Frag code.
   */
  add(
    key: Uint8Array,
    ts: number,
    start: number,
    declLen: number,
    more: boolean,
    d: Uint8Array,
    dataOff: number,
    capLen: number,
    ttl: number,
    proto: number,
  ): number {
    this.expire(ts);
    const end = start + declLen;
    if (end > this.maxBytes) return Frag.Rejected;
    const h = hashKey(key);
    let i = this.find(key, h);
    if (i >= 0 && ts - this.slots[i].firstTs > this.timeoutMicros) {
      // Only reachable when timestamps went backwards and forwards again.
      this.release(i);
      this.counters.fragmentTimeouts++;
      i = -1;
    }
    if (i < 0) i = this.allocate(key, h, ts);
    const s = this.slots[i];

    if (!more) {
      if ((s.total >= 0 && s.total !== end) || (s.count > 0 && s.ranges[2 * s.count - 1] > end)) {
        return this.conflict(i);
      }
    } else if (s.total >= 0 && end > s.total) {
      return this.conflict(i);
    }
    const keepEnd = Math.min(start + capLen, HEAD_KEEP);
    const head = s.head;
    const have = s.have;
    // IPv4: the TCP header starts the payload; its data offset (byte 12), once
    // held, says where payload begins; until then assume the longest header.
    const headerEnd = have[12] === 1 ? Math.max(20, (head[12]! >> 4) * 4) : IPV4_COMPARED;
    // A tunnel's payload (IPv4 protocol other than TCP) holds inner headers all through the head: compare it all, as for IPv6.
    const compareEnd = key[0] === 4 && key[1] === 6 ? Math.min(keepEnd, headerEnd) : keepEnd;
    for (let k = start, p = dataOff; k < compareEnd; k++, p++) {
      if (have[k] === 1 && head[k] !== d[p]) return this.conflict(i);
    }
    if (!s.addRange(start, end)) {
      this.release(i);
      this.counters.fragmentEvictions++;
      return Frag.Discarded;
    }
    for (let k = start, p = dataOff; k < keepEnd; k++, p++) {
      head[k] = d[p];
      have[k] = 1;
    }
    if (!more) s.total = end;
    if (start === 0) {
      s.ttl = ttl;
      s.proto = proto;
    }
    return s.isComplete() ? i : Frag.Pending;
  }

  release(i: number): void {
    const s = this.slots[i];
    const b = s.hash & this.mask;
    if (this.buckets[b] === i) {
      this.buckets[b] = s.chain;
    } else {
      let j = this.buckets[b];
      while (this.slots[j].chain !== i) j = this.slots[j].chain;
      this.slots[j].chain = s.chain;
    }
    if (s.older >= 0) this.slots[s.older].newer = s.newer;
    else this.oldest = s.newer;
    if (s.newer >= 0) this.slots[s.newer].older = s.older;
    else this.newest = s.older;
    s.reset();
    this.freeStack[this.freeTop++] = i;
    this.active--;
  }

  /** Drops datagrams older than the timeout at packet time `ts`. */
  expire(ts: number): void {
    while (this.oldest >= 0 && ts - this.slots[this.oldest].firstTs > this.timeoutMicros) {
      this.release(this.oldest);
      this.counters.fragmentTimeouts++;
    }
  }

  private conflict(i: number): number {
    this.release(i);
    this.counters.fragmentOverlaps++;
    return Frag.Discarded;
  }

  private find(key: Uint8Array, h: number): number {
    let i = this.buckets[h & this.mask];
    while (i >= 0) {
      const s = this.slots[i];
      if (s.hash === h && sameKey(s.key, key)) return i;
      i = s.chain;
    }
    return -1;
  }

  private allocate(key: Uint8Array, h: number, ts: number): number {
    if (this.freeTop === 0) {
      if (this.slots.length < this.maxDatagrams) {
        this.slots.push(new Datagram());
        this.freeStack[this.freeTop++] = this.slots.length - 1;
      } else {
        this.release(this.oldest);
        this.counters.fragmentEvictions++;
      }
    }
    const i = this.freeStack[--this.freeTop];
    const s = this.slots[i];
    s.key.set(key);
    s.hash = h;
    s.firstTs = ts;
    const b = h & this.mask;
    s.chain = this.buckets[b];
    this.buckets[b] = i;
    s.older = this.newest;
    s.newer = -1;
    if (this.newest >= 0) this.slots[this.newest].newer = i;
    else this.oldest = i;
    this.newest = i;
    this.active++;
    return i;
  }
}
