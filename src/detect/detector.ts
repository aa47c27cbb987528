/**
 * From TCP segments to alarm decisions: policy port and protocol, server
 * address, whitelist, probe kind, then deduplication per
 * (source, destination, port, protocol) over a window:
 *  - the first probe of a key raises an alarm at once;
 *  - further probes in the window are summed into one follow-up alarm when
 *    the window closes; the key is then forgotten;
 *  - a connection the port holder accepted raises a `connection` alarm (count
 *    0) when it closes, never a first alarm.
 * The port table admits only ports the caller holds (live) and can be
 * reconfigured on reload without losing windows or counters.
 * Every probe is counted by exactly one alarm. State is bounded: when the key
 * table is full, probes of new keys are summed per port into flood alarms.
 * Time is whatever the caller says (packet time in replay, clock when live).
 */
import type { Alarm, ConnectionSummary, ProbeAlarm, ProbeOrigin, Severity } from '../alarm/alarm.js';
import { TcpFlag, type TcpSegment } from '../decode/segment.js';
import { formatAddress, parseAddress, type ParsedAddress } from '../net/address.js';
import type { Policy } from '../policy/policy.js';
import type { DetectionSettings } from '../pipeline/detection-settings.js';
import type { ConnectionFact } from '../ports/types.js';
import { KeyTable } from './key-table.js';
import { digestProbe, digestText } from './probe-digest.js';
import { PortTable, probeKindOf } from './probe-classifier.js';
import { Whitelist } from './whitelist.js';

export const MAX_SOURCE_PORTS = 8;
/** Default new keys per second per decoy port (see DetectorOptions.newSourceRate). */
export const DEFAULT_NEW_SOURCE_RATE = 100;
/** Sources named in a flood alarm. */
export const FLOOD_SAMPLE = 8;
/**
 * Key words: src[0], dst[0], port << 8 | family, src[1..3], dst[1..3]. The
 * first three are all of an IPv4 key, and the family is among them, so an
 * IPv4 key hashes 3 words instead of 9 (KeyTable `hashed`).
 */
const KEY_WORDS = 9;
const KEY_PORT_FAMILY = 2;
/** Source words: src[0], family, src[1..3] (IPv4: the first two). */
const SOURCE_WORDS = 5;

export interface DetectorOptions extends Omit<DetectionSettings, 'newSourceRate'> {
  /**
   * New keys per second per decoy port that raise their own alarm (token
   * bucket, burst 10 s worth). Beyond it — a flood of spoofed sources —
   * probes of new keys are summed into flood alarms, so the alarm rate, the
   * CPU per packet and the memory stay bounded whatever the attacker sends.
   */
  readonly newSourceRate?: number;
  readonly onAlarm: (alarm: Alarm) => void;
  /** Hash seed; random by default (see KeyTable). */
  readonly seed?: number;
  /**
   * Whether the policy's ports are admitted from the start (default true, as
   * in a replay). A live sensor starts with none and admits each port once it
   * holds it (`admit`), so a port another process holds never alarms.
   */
  readonly admitAll?: boolean;
}

export interface DetectorCounters {
  segments: number;
  probes: number;
  whitelisted: number;
  otherDestination: number;
  alarms: number;
  floodProbes: number;
  connections: number;
}

/** A completed handshake on a honeypot port, as the port holder reports it. */
export type ConnectionInput = Pick<
  ConnectionFact,
  'sourceIp' | 'sourcePort' | 'destinationIp' | 'destinationPort' | 'startMicros' | 'durationMs' | 'bytes' | 'firstBytes' | 'closedBy'
>;

function loadWord(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

function popcount(v: number): number {
  let n = 0;
  for (; v; v &= v - 1) n++;
  return n;
}

/** Fills a key: see KEY_WORDS. An IPv4 address has zero words 1..3 (TcpSegment), so they are not read. */
function fillKey(probe: Uint32Array, family: number, src: Uint8Array, dst: Uint8Array, port: number): void {
  // Word 0 of each address spelled out: these run for every packet, where a call would not be inlined.
  probe[0] = (src[0]! << 24) | (src[1]! << 16) | (src[2]! << 8) | src[3]!;
  probe[1] = (dst[0]! << 24) | (dst[1]! << 16) | (dst[2]! << 8) | dst[3]!;
  probe[KEY_PORT_FAMILY] = (port << 8) | family;
  if (family === 4) {
    probe[3] = 0; probe[4] = 0; probe[5] = 0; probe[6] = 0; probe[7] = 0; probe[8] = 0;
    return;
  }
  for (let k = 1; k < 4; k++) {
    probe[2 + k] = loadWord(src, k * 4);
    probe[5 + k] = loadWord(dst, k * 4);
  }
}

const keyHashed = (family: number): number => (family === 4 ? 3 : KEY_WORDS);
const sourceHashed = (family: number): number => (family === 4 ? 2 : SOURCE_WORDS);

/** Writes an address of a key back as 16 bytes: word 0 at `first`, words 1..3 from `rest`. */
function storeAddress(words: Uint32Array, first: number, rest: number, out: Uint8Array): void {
  for (let k = 0; k < 4; k++) {
    const w = words[k === 0 ? first : rest + k - 1]!;
    out[k * 4] = w >>> 24;
    out[k * 4 + 1] = (w >>> 16) & 0xff;
    out[k * 4 + 2] = (w >>> 8) & 0xff;
    out[k * 4 + 3] = w & 0xff;
  }
}

export class Detector {
  /** Totals for the detector's life: a reconfiguration keeps them. */
  readonly counters: DetectorCounters = { segments: 0, probes: 0, whitelisted: 0, otherDestination: 0, alarms: 0, floodProbes: 0, connections: 0 };
  private policy: Policy;
  private ports: PortTable;
  private whitelist: Whitelist;
  private readonly servers: readonly ParsedAddress[];
  private readonly window: number;
  private readonly emit: (alarm: Alarm) => void;
  private clock = -Infinity;

  // Per key entry (index from `keys`).
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
  /** 0: none; 1: a final handshake ACK was captured (the follow-up says so); 2: a connection alarm said it. */
  private readonly handshake: Uint8Array;
  // The first captured handshake ACK of a key: the follow-up describes that real flow.
  private readonly ackPort: Uint16Array;
  private readonly ackInput: Int32Array;
  private readonly ackPacket: Float64Array;
  private readonly ackTs: Float64Array;
  /** VLAN ids of the key's first probe: outer << 16 | inner. */
  private readonly keyVlan: Uint32Array;
  // Keys in window-start order: windows have one length, so this is expiry order.
  private readonly fifo: Int32Array;
  private fifoHead = 0;
  private fifoLength = 0;

  // Per source: which honeypot ports it touched while any of its keys lives.
  private readonly sources: KeyTable;
  /** Bit i: policy port i (a reload may briefly hold old and new ports: up to 2 × MAX_PORTS). */
  private readonly sourcePorts: Uint32Array;
  private readonly sourceRefs: Uint32Array;

  // Per policy port: probes that found the key table full.
  private floodStart: Float64Array;
  private floodFirst: Float64Array;
  private floodLast: Float64Array;
  private floodPending: Float64Array;
  private floodActive: Uint8Array;
  private floodReason: Uint8Array; // 1 = table full, 2 = rate
  /** No active flood window started before this (a lower bound): advance() skips the per-port scan until then. */
  private floodEarliest = Infinity;
  private floodSamples: string[][];
  private tokens: Float64Array;
  private tokensAt: Float64Array;
  private readonly newSourceRate: number;
  private readonly burst: number;

  constructor(private readonly options: DetectorOptions) {
    const { policy, maxTrackedKeys: n } = options;
    if (!(options.windowMicros > 0)) throw new RangeError('window must be positive');
    this.policy = policy;
    this.ports = new PortTable(policy, options.admitAll ?? true);
    this.whitelist = new Whitelist(policy.whitelist);
    this.servers = options.serverAddresses;
    this.window = options.windowMicros;
    this.emit = options.onAlarm;
    const seed = options.seed ?? ((Math.random() * 0x100000000) >>> 0);
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
    this.fifo = new Int32Array(n);
    this.sources = new KeyTable(n, SOURCE_WORDS, seed ^ 0x5bd1e995);
    this.sourcePorts = new Uint32Array(n);
    this.sourceRefs = new Uint32Array(n);
    this.newSourceRate = options.newSourceRate ?? DEFAULT_NEW_SOURCE_RATE;
    this.burst = this.newSourceRate * 10;
    const p = policy.ports.length;
    this.floodStart = new Float64Array(p);
    this.floodFirst = new Float64Array(p);
    this.floodLast = new Float64Array(p);
    this.floodPending = new Float64Array(p);
    this.floodActive = new Uint8Array(p);
    this.floodReason = new Uint8Array(p);
    this.floodSamples = Array.from({ length: p }, () => []);
    this.tokens = new Float64Array(p).fill(this.burst);
    this.tokensAt = new Float64Array(p).fill(-Infinity);
  }

  /** Admits (or stops admitting) probes of a port of the current policy; other ports are ignored. */
  admit(port: number, protocol: 'tcp' | 'tcp6', admitted = true): void {
    const i = this.ports.indexOf(port, protocol === 'tcp' ? 4 : 6);
    if (i >= 0) this.ports.setAdmitted(i, admitted);
  }

  /**
   * A port was released at `atMicros` (the clock of the capture timestamps):
   * probes seen until then — answered while it listened, possibly still in
   * the capture ring — are admitted, later ones are not.
   */
  retire(port: number, protocol: 'tcp' | 'tcp6', atMicros: number): void {
    const i = this.ports.indexOf(port, protocol === 'tcp' ? 4 : 6);
    if (i >= 0) this.ports.setAdmittedUntil(i, atMicros);
  }

  /**
   * Moves to another policy in place (reload): keys, windows, rate buckets
   * and flood windows of ports in both policies carry over, so a probe in an
   * open window stays a follow-up and no second first alarm is raised; the
   * windows of ports that leave are closed now (their follow-ups emitted
   * under the policy that raised them). A port in both policies keeps its
   * admission; a new port is not admitted until `admit` (live) — pass
   * `admitNew` for a replay-like detector. Counters are never reset.
   */
  reconfigure(policy: Policy, admitNew = false): void {
    const old = this.policy.ports;
    const map = old.map((p) => policy.ports.findIndex((q) => q.port === p.port && q.protocol === p.protocol));
    const kept: number[] = [];
    for (let i = 0; i < this.fifoLength; i++) {
      const e = this.fifo[(this.fifoHead + i) % this.fifo.length]!;
      if (map[this.keyPortIndex[e]!]! >= 0) kept.push(e);
      else this.finishKey(e);
    }
    for (let i = 0; i < old.length; i++) if (map[i]! < 0 && this.floodActive[i]) this.closeFlood(i);
    // Port bits of each live source, renumbered (a source's mask is rewritten once per key; the result is the same).
    const masks = this.sourcePorts.slice();
    const renumber = (mask: number): number => {
      let out = 0;
      for (let i = 0; i < old.length; i++) if (mask & (1 << i) && map[i]! >= 0) out |= 1 << map[i]!;
      return out >>> 0;
    };
    this.fifoHead = 0;
    this.fifoLength = kept.length;
    kept.forEach((e, i) => {
      this.fifo[i] = e;
      this.keyPortIndex[e] = map[this.keyPortIndex[e]!]!;
      const s = this.keySource[e]!;
      this.sourcePorts[s] = renumber(masks[s]!);
    });
    const p = policy.ports.length;
    const moveF = (from: Float64Array, fresh: number): Float64Array => {
      const to = new Float64Array(p).fill(fresh);
      map.forEach((j, i) => { if (j >= 0) to[j] = from[i]!; });
      return to;
    };
    const moveU = (from: Uint8Array): Uint8Array => {
      const to = new Uint8Array(p);
      map.forEach((j, i) => { if (j >= 0) to[j] = from[i]!; });
      return to;
    };
    this.floodStart = moveF(this.floodStart, 0);
    this.floodFirst = moveF(this.floodFirst, 0);
    this.floodLast = moveF(this.floodLast, 0);
    this.floodPending = moveF(this.floodPending, 0);
    this.tokens = moveF(this.tokens, this.burst);
    this.tokensAt = moveF(this.tokensAt, -Infinity);
    this.floodActive = moveU(this.floodActive);
    this.floodReason = moveU(this.floodReason);
    const samples: string[][] = Array.from({ length: p }, () => []);
    map.forEach((j, i) => { if (j >= 0) samples[j] = this.floodSamples[i]!; });
    this.floodSamples = samples;
    const table = new PortTable(policy, admitNew);
    map.forEach((j, i) => { if (j >= 0) table.copyAdmission(j, this.ports, i); });
    this.ports = table;
    this.whitelist = new Whitelist(policy.whitelist);
    this.policy = policy;
  }

  get trackedKeys(): number {
    return this.keys.size;
  }

  /** Looks at one decoded segment seen at `tsMicros`; may raise alarms. */
  observe(seg: TcpSegment, input: number, packet: number): void {
    this.counters.segments++;
    const portIndex = this.ports.lookupSegment(seg);
    if (portIndex < 0) return;
    const kind = probeKindOf(seg.flags);
    if (kind === 0) {
      if ((seg.flags & 0x3f) === TcpFlag.ACK) this.observeHandshakeAck(seg, input, packet);
      return;
    }
    if (this.servers.length > 0 && !this.isServer(seg)) {
      this.counters.otherDestination++;
      return;
    }
    if (this.whitelist.size > 0 && this.whitelist.contains(seg.family, seg.src)) {
      this.counters.whitelisted++;
      return;
    }
    this.counters.probes++;
    // Times stay in fields (seg.tsMicros, this.clock) rather than arguments:
    // a double passed to a call V8 does not inline is boxed, a heap
    // allocation per packet that shows as steady scavenges under a flood.
    const ts = seg.tsMicros;
    if (ts > this.clock) this.clock = ts;
    this.closeExpired();

    this.loadKey(seg);
    const hashed = keyHashed(seg.family);
    let e = this.keys.find(hashed);
    if (e >= 0) {
      this.addPending(e, seg, kind, input, packet);
      return;
    }
    if (!this.takeToken(portIndex)) {
      this.floodProbe(portIndex, seg, 2);
      return;
    }
    e = this.keys.insert(hashed);
    if (e < 0) {
      this.floodProbe(portIndex, seg, 1);
      return;
    }
    const s = this.trackSource(seg, portIndex);
    this.keySource[e] = s;
    this.keyPortIndex[e] = portIndex;
    this.keyInput[e] = input;
    this.windowStart[e] = this.clock;
    this.pending[e] = 0;
    this.pendKinds[e] = 0;
    this.pendFlags[e] = 0;
    this.pendReassembled[e] = 0;
    this.pendPortCount[e] = 0;
    this.handshake[e] = 0;
    this.keyVlan[e] = ((seg.vlanOuter << 16) | seg.vlanInner) >>> 0;
    this.keyPacket[e] = packet;
    digestProbe(seg, this.keyDigest, e * 2);
    this.fifo[(this.fifoHead + this.fifoLength++) % this.fifo.length] = e;

    const touched = this.sourcePorts[s]!;
    this.raise(e, 'first', {
      count: 1,
      start: ts,
      end: ts,
      kinds: kind,
      flags: seg.flags,
      reassembled: seg.reassembled,
      sourcePorts: [seg.srcPort],
      truncated: false,
      severity: popcount(touched) >= 2 ? 'high' : 'medium',
      origin: { input, packet, digest: digestText(this.keyDigest, e * 2) },
    });
  }

  /**
   * When the earliest open window (key or flood) ends, by the detector's
   * clock; Infinity when none is open. The live sensor arms one timer for it
   * instead of polling (a flood window's is a lower bound: waking early only
   * re-arms).
   */
  nextDeadlineMicros(): number {
    const key = this.fifoLength > 0 ? this.windowStart[this.fifo[this.fifoHead]!]! : Infinity;
    return Math.min(key, this.floodEarliest) + this.window;
  }

  /** Moves time forward to `nowMicros`, closing windows that ended. */
  advance(nowMicros: number): void {
    if (nowMicros > this.clock) this.clock = nowMicros;
    this.closeExpired();
  }

  /** Closes the key and flood windows that ended by the detector's clock. */
  private closeExpired(): void {
    const limit = this.clock - this.window;
    while (this.fifoLength > 0) {
      const e = this.fifo[this.fifoHead]!;
      if (this.windowStart[e]! > limit) break;
      this.closeKey(e);
    }
    if (this.floodEarliest > limit) return;
    let earliest = Infinity;
    for (let i = 0; i < this.floodActive.length; i++) {
      if (!this.floodActive[i]) continue;
      if (this.floodStart[i]! <= limit) this.closeFlood(i);
      else earliest = Math.min(earliest, this.floodStart[i]!);
    }
    this.floodEarliest = earliest;
  }

  /** Closes every open window (end of replay, shutdown). */
  flush(): void {
    while (this.fifoLength > 0) this.closeKey(this.fifo[this.fifoHead]!);
    for (let i = 0; i < this.floodActive.length; i++) if (this.floodActive[i]) this.closeFlood(i);
  }

  private isServer(seg: TcpSegment): boolean {
    const width = seg.family === 4 ? 4 : 16;
    outer: for (const server of this.servers) {
      if (server.family !== seg.family) continue;
      for (let i = 0; i < width; i++) if (server.bytes[i] !== seg.dst[i]) continue outer;
      return true;
    }
    return false;
  }

  /** Fills the scratch key from a segment's addresses and port. */
  private loadKey(seg: TcpSegment): void {
    fillKey(this.keys.probe, seg.family, seg.src, seg.dst, seg.dstPort);
  }

  /**
   * A bare ACK to a decoy port after a probe of the same key: the handshake
   * completed (the decoy answered the SYN). Nothing legitimate completes one.
   */
  private observeHandshakeAck(seg: TcpSegment, input: number, packet: number): void {
    if (this.servers.length > 0 && !this.isServer(seg)) return;
    if (this.whitelist.size > 0 && this.whitelist.contains(seg.family, seg.src)) return;
    this.loadKey(seg);
    const e = this.keys.find(keyHashed(seg.family));
    if (e < 0 || this.handshake[e] !== 0) return;
    this.handshake[e] = 1;
    this.ackPort[e] = seg.srcPort;
    this.ackInput[e] = input;
    this.ackPacket[e] = packet;
    this.ackTs[e] = seg.tsMicros;
  }

  private addPending(e: number, seg: TcpSegment, kind: number, input: number, packet: number): void {
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

  private trackSource(seg: TcpSegment, portIndex: number): number {
    const probe = this.sources.probe;
    const key = this.keys.probe;
    probe[0] = key[0]!;
    probe[1] = seg.family;
    probe[2] = key[3]!;
    probe[3] = key[4]!;
    probe[4] = key[5]!;
    const hashed = sourceHashed(seg.family);
    let s = this.sources.find(hashed);
    if (s < 0) {
      // Cannot fail: every source owns at least one key and both tables have the same capacity.
      s = this.sources.insert(hashed);
      this.sourcePorts[s] = 0;
      this.sourceRefs[s] = 0;
    }
    this.sourcePorts[s]! |= 1 << portIndex;
    this.sourceRefs[s]!++;
    return s;
  }

  private closeKey(e: number): void {
    this.fifoHead = (this.fifoHead + 1) % this.fifo.length;
    this.fifoLength--;
    this.finishKey(e);
  }

  /** Emits a key's follow-up (if it has anything to say) and forgets the key; the caller takes it off the fifo. */
  private finishKey(e: number): void {
    const n = this.pending[e]!;
    // A handshake a connection alarm already reported needs no follow-up of its own.
    const acked = this.handshake[e] === 1;
    if (n > 0 || acked) {
      const have = this.pendPortCount[e]!;
      const ports = Array.from(this.pendPorts.subarray(e * MAX_SOURCE_PORTS, e * MAX_SOURCE_PORTS + Math.min(have, MAX_SOURCE_PORTS)));
      this.raise(e, 'follow-up', {
        count: n,
        start: n > 0 ? this.pendFirst[e]! : this.ackTs[e]!,
        end: n > 0 ? this.pendLast[e]! : this.ackTs[e]!,
        kinds: this.pendKinds[e]!,
        flags: this.pendFlags[e]!,
        reassembled: this.pendReassembled[e] === 1,
        // With no further probe, the alarm describes the flow of the captured ACK.
        sourcePorts: n > 0 ? ports : [this.ackPort[e]!],
        truncated: have > MAX_SOURCE_PORTS,
        severity: n > 0 ? 'high' : 'medium',
        // With no further probe, the alarm describes the captured ACK's flow; it is named after the key's first probe.
        origin:
          n > 0
            ? { input: this.pendInput[e]!, packet: this.pendPacket[e]!, digest: digestText(this.pendDigest, e * 2) }
            : { input: this.ackInput[e]!, packet: this.ackPacket[e]!, digest: digestText(this.keyDigest, e * 2) },
        handshakeCompleted: acked,
      });
    }
    const s = this.keySource[e]!;
    if (--this.sourceRefs[s]! === 0) this.sources.remove(s);
    this.keys.remove(e);
  }

  private raise(
    e: number,
    phase: ProbeAlarm['phase'],
    a: {
      count: number; start: number; end: number; kinds: number; flags: number; reassembled: boolean;
      sourcePorts: number[]; truncated: boolean; severity: Severity; origin: ProbeOrigin;
      handshakeCompleted?: boolean;
      connection?: ConnectionSummary;
    },
  ): void {
    const keyBase = e * KEY_WORDS;
    const words = this.keys.keys;
    const family = (words[keyBase + KEY_PORT_FAMILY]! & 0xff) as 4 | 6;
    const source = new Uint8Array(16);
    const destination = new Uint8Array(16);
    storeAddress(words, keyBase, keyBase + 3, source);
    storeAddress(words, keyBase + 1, keyBase + 6, destination);
    const portIndex = this.keyPortIndex[e]!;
    const mask = this.sourcePorts[this.keySource[e]!]!;
    const portsTouched: number[] = [];
    const ports = this.policy.ports;
    for (let i = 0; i < ports.length; i++) if (mask & (1 << i)) portsTouched.push(ports[i]!.port);
    const policyPort = ports[portIndex]!;
    this.counters.alarms++;
    this.emit({
      action: 'honeypot-port-probe',
      ruleName: this.policy.name,
      phase,
      family,
      source,
      destination,
      sourcePort: a.sourcePorts[0] ?? a.connection?.sourcePort ?? 0,
      sourcePorts: a.sourcePorts,
      sourcePortsTruncated: a.truncated,
      destinationPort: policyPort.port,
      protocol: policyPort.protocol,
      count: a.count,
      startMicros: a.start,
      endMicros: a.end,
      kinds: a.kinds,
      flags: a.flags,
      severity: a.severity,
      portsTouched,
      reassembled: a.reassembled,
      vlan: this.keyVlan[e]! >>> 16,
      innerVlan: this.keyVlan[e]! & 0xffff,
      origin: a.origin,
      handshakeCompleted: a.handshakeCompleted === true,
      ...(a.connection ? { connection: a.connection } : {}),
    });
  }

  /**
   * A connection to a decoy port closed: raises a `connection` alarm at once
   * (count 0: its SYN was, or will be, counted by the key's own alarms), with
   * the connection's real source port, so its Community ID names the real
   * flow, and the input of the key's first probe. One key keeps one first
   * alarm whatever the order of ring and accept(); a connection whose key is
   * not (or no longer) tracked is still reported, on `fallbackInput`
   * (-1: unknown).
   */
  observeConnection(c: ConnectionInput, fallbackInput = -1): void {
    const src = parseAddress(c.sourceIp);
    const dst = parseAddress(c.destinationIp);
    if (!src || !dst || src.family !== dst.family) return;
    const portIndex = this.ports.lookup(c.destinationPort, src.family, c.startMicros);
    if (portIndex < 0) return;
    const srcBytes = new Uint8Array(16);
    srcBytes.set(src.bytes);
    if (this.whitelist.size > 0 && this.whitelist.contains(src.family, srcBytes)) return;
    this.counters.connections++;
    const dstBytes = new Uint8Array(16);
    dstBytes.set(dst.bytes);
    fillKey(this.keys.probe, src.family, srcBytes, dstBytes, c.destinationPort);
    const e = this.keys.find(keyHashed(src.family));
    const connection: ConnectionSummary = { connections: 1, sourcePort: c.sourcePort, bytes: c.bytes, firstBytes: c.firstBytes, durationMs: c.durationMs, closedBy: c.closedBy };
    const start = c.startMicros;
    const end = c.startMicros + c.durationMs * 1000;
    if (e >= 0) {
      this.handshake[e] = 2;
      this.raise(e, 'connection', {
        count: 0, start, end, kinds: 0, flags: 0, reassembled: false,
        sourcePorts: [c.sourcePort], truncated: false, severity: 'medium',
        origin: { input: this.keyInput[e]!, packet: -1 },
        handshakeCompleted: true,
        connection,
      });
      return;
    }
    const policyPort = this.policy.ports[portIndex]!;
    this.counters.alarms++;
    this.emit({
      action: 'honeypot-port-probe',
      ruleName: this.policy.name,
      phase: 'connection',
      family: src.family,
      source: srcBytes,
      destination: dstBytes,
      sourcePort: c.sourcePort,
      sourcePorts: [c.sourcePort],
      sourcePortsTruncated: false,
      destinationPort: policyPort.port,
      protocol: policyPort.protocol,
      count: 0,
      startMicros: start,
      endMicros: end,
      kinds: 0,
      flags: 0,
      severity: 'medium',
      portsTouched: [policyPort.port],
      reassembled: false,
      vlan: 0,
      innerVlan: 0,
      origin: { input: fallbackInput, packet: -1 },
      handshakeCompleted: true,
      connection,
    });
  }

  /** Token bucket per decoy port for new keys; time is the detector's clock. */
  private takeToken(i: number): boolean {
    const now = this.clock;
    const last = this.tokensAt[i]!;
    if (now > last) {
      const refill = last === -Infinity ? this.burst : ((now - last) * this.newSourceRate) / 1e6;
      this.tokens[i] = Math.min(this.burst, this.tokens[i]! + refill);
      this.tokensAt[i] = now;
    }
    if (this.tokens[i]! < 1) return false;
    this.tokens[i]!--;
    return true;
  }

  private floodProbe(i: number, seg: TcpSegment, reason: 1 | 2): void {
    const ts = seg.tsMicros;
    const now = this.clock;
    this.counters.floodProbes++;
    const sample = this.floodSamples[i]!;
    if (sample.length < FLOOD_SAMPLE) {
      const text = formatAddress(seg.family, seg.src);
      if (!sample.includes(text)) sample.push(text);
    }
    if (this.floodActive[i]) {
      this.floodPending[i]!++;
      if (ts > this.floodLast[i]! || this.floodPending[i] === 1) this.floodLast[i] = ts;
      if (this.floodPending[i] === 1) this.floodFirst[i] = ts;
      return;
    }
    this.floodActive[i] = 1;
    this.floodReason[i] = reason;
    this.floodStart[i] = now;
    if (now < this.floodEarliest) this.floodEarliest = now;
    this.floodPending[i] = 0;
    this.emitFlood(i, 'first', 1, ts, ts);
    this.floodSamples[i] = [];
  }

  private closeFlood(i: number): void {
    this.floodActive[i] = 0;
    const n = this.floodPending[i]!;
    if (n > 0) this.emitFlood(i, 'follow-up', n, this.floodFirst[i]!, this.floodLast[i]!);
    this.floodSamples[i] = [];
  }

  private emitFlood(i: number, phase: 'first' | 'follow-up', count: number, start: number, end: number): void {
    const port = this.policy.ports[i]!;
    this.counters.alarms++;
    this.emit({
      action: 'honeypot-flood',
      ruleName: this.policy.name,
      phase,
      destinationPort: port.port,
      protocol: port.protocol,
      count,
      startMicros: start,
      endMicros: end,
      severity: 'high',
      reason: this.floodReason[i] === 1 ? 'tracked-keys-full' : 'new-source-rate',
      trackedKeyLimit: this.options.maxTrackedKeys,
      newSourceRate: this.newSourceRate,
      sampleSources: this.floodSamples[i]!,
    });
  }
}
