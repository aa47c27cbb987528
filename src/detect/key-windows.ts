/**
 * Per-key windows: for each tracked (source, destination, decoy port,
 * family) key, the window its first probe opened and what the window has
 * seen since — further probes (count, times, kinds, flags, source ports,
 * the first one's digest), and whether a handshake completed. Windows have
 * one length, so a FIFO of keys in opening order is also their expiry order.
 *
 * Bounded: `capacity` keys, all state in typed arrays allocated up front
 * (~200 bytes per key); opening a key when the table is full fails and the
 * caller sends the probe to the flood gate. Nothing on the per-probe path
 * allocates.
 */
import type { TcpSegment } from '../decode/segment.js';
import type { KeyView, ProbeAlarmParts } from './alarm-builder.js';
import type { DetectorClock } from './detector-clock.js';
import { KeyTable } from './key-table.js';
import { digestProbe, digestText } from './probe-digest.js';
import type { TunnelSummary } from '../decode/tunnel.js';
import { fillKey, KEY_WORDS, keyHashed } from './probe-key.js';
import { probeSeverity } from './severity.js';

/** Distinct source ports listed per alarm. */
export const MAX_SOURCE_PORTS = 8;

/** Handshake state of a key. */
const Handshake = { none: 0, ackCaptured: 1, reported: 2 } as const;

export class KeyWindows {
  private readonly keys: KeyTable;
  private readonly windowStart: Float64Array;
  private readonly pending: Uint32Array;
  private readonly pendFirst: Float64Array;
  private readonly pendLast: Float64Array;
  private readonly pendKinds: Uint8Array;
  private readonly pendFlags: Uint8Array;
  private readonly pendReassembled: Uint8Array;
  private readonly pendPorts: Uint16Array;
  private readonly pendPortCount: Uint8Array;
  private readonly pendInput: Int32Array;
  private readonly pendPacket: Float64Array;
  /** Digest of the first pending probe (2 words per key; see probe-digest). */
  private readonly pendDigest: Uint32Array;
  /** The probe that opened the key's window (with keyInput): an alarm covering no probe is named after it. */
  private readonly keyPacket: Float64Array;
  private readonly keyDigest: Uint32Array;
  private readonly keySource: Int32Array;
  private readonly keyPortIndex: Uint8Array;
  /** Input (interface) of the key's first probe: where its connections are said to be seen. */
  private readonly keyInput: Int32Array;
  /** See Handshake: a captured final ACK makes the follow-up say so, unless a connection alarm already did. */
  private readonly handshake: Uint8Array;
  // The first captured handshake ACK of a key: the follow-up describes that real flow.
  private readonly ackPort: Uint16Array;
  private readonly ackInput: Int32Array;
  private readonly ackPacket: Float64Array;
  private readonly ackTs: Float64Array;
  /** VLAN ids of the key's first probe: outer << 16 | inner. */
  private readonly keyVlan: Uint32Array;
  /** Tunnels of the key's first probe (undefined: none); an object per tunnelled key only. */
  private readonly keyTunnel: (TunnelSummary | undefined)[];
  // Keys in window-start order.
  private readonly fifo: Int32Array;
  private fifoHead = 0;
  private fifoLength = 0;

  constructor(capacity: number, seed: number, private readonly clock: DetectorClock, private readonly window: number) {
    const n = capacity;
    this.keys = new KeyTable(n, KEY_WORDS, seed);
    this.windowStart = new Float64Array(n);
    this.pending = new Uint32Array(n);
    this.pendFirst = new Float64Array(n);
    this.pendLast = new Float64Array(n);
    this.pendKinds = new Uint8Array(n);
    this.pendFlags = new Uint8Array(n);
    this.pendReassembled = new Uint8Array(n);
    this.pendPorts = new Uint16Array(n * MAX_SOURCE_PORTS);
    this.pendPortCount = new Uint8Array(n);
    this.pendInput = new Int32Array(n);
    this.pendPacket = new Float64Array(n);
    this.pendDigest = new Uint32Array(n * 2);
    this.keyPacket = new Float64Array(n);
    this.keyDigest = new Uint32Array(n * 2);
    this.keySource = new Int32Array(n);
    this.keyPortIndex = new Uint8Array(n);
    this.keyInput = new Int32Array(n);
    this.handshake = new Uint8Array(n);
    this.ackPort = new Uint16Array(n);
    this.ackInput = new Int32Array(n);
    this.ackPacket = new Float64Array(n);
    this.ackTs = new Float64Array(n);
    this.keyVlan = new Uint32Array(n);
    this.keyTunnel = new Array<TunnelSummary | undefined>(n).fill(undefined);
    this.fifo = new Int32Array(n);
  }

  get size(): number {
    return this.keys.size;
  }

  /** The scratch key (filled by `load`), for callers that key other tables on it. */
  get probe(): Uint32Array {
    return this.keys.probe;
  }

  /** Fills the scratch key from addresses and port. */
  load(family: number, src: Uint8Array, dst: Uint8Array, port: number, tunnelA = 0, tunnelB = 0): void {
    fillKey(this.keys.probe, family, src, dst, port, tunnelA, tunnelB);
  }

  /** Entry of the loaded key, or -1. */
  find(family: number): number {
    return this.keys.find(keyHashed(this.keys.probe, family));
  }

  /**
   * Opens a window for the loaded key (not tracked yet) now with its first
   * probe `seg`; -1 when the table is full.
   */
  open(seg: TcpSegment, source: number, portIndex: number, input: number, packet: number): number {
    const e = this.keys.insert(keyHashed(this.keys.probe, seg.family));
    if (e < 0) return -1;
    this.keySource[e] = source;
    this.keyPortIndex[e] = portIndex;
    this.keyInput[e] = input;
    this.windowStart[e] = this.clock.micros;
    this.pending[e] = 0;
    this.pendKinds[e] = 0;
    this.pendFlags[e] = 0;
    this.pendReassembled[e] = 0;
    this.pendPortCount[e] = 0;
    this.handshake[e] = Handshake.none;
    this.keyVlan[e] = ((seg.vlanOuter << 16) | seg.vlanInner) >>> 0;
    this.keyTunnel[e] = seg.tunnel.depth > 0 ? seg.tunnel.summary() : undefined;
    this.keyPacket[e] = packet;
    digestProbe(seg, this.keyDigest, e * 2);
    this.fifo[(this.fifoHead + this.fifoLength++) % this.fifo.length] = e;
    return e;
  }

  /** Digest text of the probe that opened key `e`. */
  openingDigest(e: number): string {
    return digestText(this.keyDigest, e * 2);
  }

  /** Counts a further probe of key `e` into its window. */
  addPending(e: number, seg: TcpSegment, kind: number, input: number, packet: number): void {
    const ts = seg.tsMicros;
    const n = this.pending[e]!;
    if (n === 0) {
      this.pendFirst[e] = ts;
      this.pendInput[e] = input;
      this.pendPacket[e] = packet;
      digestProbe(seg, this.pendDigest, e * 2);
    }
    this.pending[e] = n + 1;
    if (ts > this.pendLast[e]! || n === 0) this.pendLast[e] = ts;
    this.pendKinds[e]! |= kind;
    this.pendFlags[e]! |= seg.flags;
    if (seg.reassembled) this.pendReassembled[e] = 1;
    const base = e * MAX_SOURCE_PORTS;
    const have = this.pendPortCount[e]!;
    const stored = Math.min(have, MAX_SOURCE_PORTS);
    for (let i = 0; i < stored; i++) if (this.pendPorts[base + i] === seg.srcPort) return;
    if (have < MAX_SOURCE_PORTS) this.pendPorts[base + have] = seg.srcPort;
    if (have <= MAX_SOURCE_PORTS) this.pendPortCount[e] = have + 1; // MAX+1 marks "more"
  }

  /** A final handshake ACK of key `e` was captured: the first one is remembered for the follow-up. */
  noteHandshakeAck(e: number, seg: TcpSegment, input: number, packet: number): void {
    if (this.handshake[e] !== Handshake.none) return;
    this.handshake[e] = Handshake.ackCaptured;
    this.ackPort[e] = seg.srcPort;
    this.ackInput[e] = input;
    this.ackPacket[e] = packet;
    this.ackTs[e] = seg.tsMicros;
  }

  /** A connection alarm reported key `e`'s handshake: its follow-up need not. */
  noteConnectionReported(e: number): void {
    this.handshake[e] = Handshake.reported;
  }

  /** The oldest key if its window ended by the clock, else -1. */
  expired(): number {
    if (this.fifoLength === 0) return -1;
    const e = this.fifo[this.fifoHead]!;
    return this.windowStart[e]! <= this.clock.micros - this.window ? e : -1;
  }

  /** When the oldest key's window started; Infinity when none is tracked. */
  oldestStart(): number {
    return this.fifoLength > 0 ? this.windowStart[this.fifo[this.fifoHead]!]! : Infinity;
  }

  /** The oldest key, or -1 when none is tracked. */
  oldest(): number {
    return this.fifoLength > 0 ? this.fifo[this.fifoHead]! : -1;
  }

  /** Takes the oldest key off the expiry order (then `forget` it). */
  shift(): void {
    this.fifoHead = (this.fifoHead + 1) % this.fifo.length;
    this.fifoLength--;
  }

  /** Every tracked key in expiry order (a reload; allocates). */
  entries(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.fifoLength; i++) out.push(this.fifo[(this.fifoHead + i) % this.fifo.length]!);
    return out;
  }

  /** Replaces the expiry order by `kept` (a subset of entries(), in order) and renumbers their ports. */
  keepOnly(kept: readonly number[], map: readonly number[]): void {
    this.fifoHead = 0;
    this.fifoLength = kept.length;
    kept.forEach((e, i) => {
      this.fifo[i] = e;
      this.keyPortIndex[e] = map[this.keyPortIndex[e]!]!;
    });
  }

  portIndexOf(e: number): number {
    return this.keyPortIndex[e]!;
  }

  /** Points key `e` at its source's entry (see SourcePorts). */
  setSource(e: number, source: number): void {
    this.keySource[e] = source;
  }

  sourceOf(e: number): number {
    return this.keySource[e]!;
  }

  inputOf(e: number): number {
    return this.keyInput[e]!;
  }

  /** Key `e` as an alarm names it; `touched`: its source's port bits. */
  view(e: number, touched: number): KeyView {
    return { words: this.keys.keys, base: e * KEY_WORDS, portIndex: this.keyPortIndex[e]!, touched, vlan: this.keyVlan[e]!, tunnel: this.keyTunnel[e] };
  }

  /** What key `e`'s follow-up alarm says, or null when it has nothing to say. */
  followUp(e: number): ProbeAlarmParts | null {
    const n = this.pending[e]!;
    // A handshake a connection alarm already reported needs no follow-up of its own.
    const acked = this.handshake[e] === Handshake.ackCaptured;
    if (n === 0 && !acked) return null;
    const have = this.pendPortCount[e]!;
    const ports = Array.from(this.pendPorts.subarray(e * MAX_SOURCE_PORTS, e * MAX_SOURCE_PORTS + Math.min(have, MAX_SOURCE_PORTS)));
    return {
      count: n,
      start: n > 0 ? this.pendFirst[e]! : this.ackTs[e]!,
      end: n > 0 ? this.pendLast[e]! : this.ackTs[e]!,
      kinds: this.pendKinds[e]!,
      flags: this.pendFlags[e]!,
      reassembled: this.pendReassembled[e] === 1,
      // With no further probe, the alarm describes the flow of the captured ACK.
      sourcePorts: n > 0 ? ports : [this.ackPort[e]!],
      truncated: have > MAX_SOURCE_PORTS,
      severity: n > 0 ? probeSeverity(this.pendKinds[e]!, true) : 'medium',
      // With no further probe, the alarm describes the captured ACK's flow; it is named after the key's first probe.
      origin:
        n > 0
          ? { input: this.pendInput[e]!, packet: this.pendPacket[e]!, digest: digestText(this.pendDigest, e * 2) }
          : { input: this.ackInput[e]!, packet: this.ackPacket[e]!, digest: digestText(this.keyDigest, e * 2) },
      handshakeCompleted: acked,
    };
  }

  /** Forgets key `e` (already off the expiry order). */
  forget(e: number): void {
    this.keys.remove(e);
  }
}
