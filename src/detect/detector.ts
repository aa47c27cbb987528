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
 *
 * This module only orchestrates; each job has its own: admission
 * (admission.ts), per-key windows (key-windows.ts), ports touched per source
 * (source-ports.ts), the flood gate (flood-gate.ts) and alarm building
 * (alarm-builder.ts).
 */
import { type Alarm, type ConnectionSummary, ProbeKind } from '../alarm/alarm.js';
import { TcpFlag, type TcpSegment } from '../decode/segment.js';
import { parseAddress } from '../net/address.js';
import type { Policy } from '../policy/policy.js';
import type { DetectionSettings } from '../pipeline/detection-settings.js';
import type { ConnectionFact } from '../ports/types.js';
import { Admission } from './admission.js';
import { AlarmBuilder } from './alarm-builder.js';
import { DetectorClock } from './detector-clock.js';
import { FloodGate, FloodReason } from './flood-gate.js';
import { KeyWindows } from './key-windows.js';
import { LastPort, LastSourcePort } from './last-source-port.js';
import { CLASSIC_FLAGS } from './flag-rule.js';
import { probeKindOf } from './probe-classifier.js';
import { fillSourceFromKey, keyHashed, sourceHashed } from './probe-key.js';
import { RepeatFilter } from './repeat-filter.js';
import { SightingQueue } from './sighting-queue.js';
import { probeSeverity } from './severity.js';
import { SynDirection, SynMemory } from './syn-memory.js';
import { SourcePorts } from './source-ports.js';

export { FLOOD_SAMPLE } from './flood-gate.js';
export { MAX_SOURCE_PORTS } from './key-windows.js';

/** Default new keys per second per decoy port (see DetectorOptions.newSourceRate). */
export const DEFAULT_NEW_SOURCE_RATE = 100;

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
  /** Buckets of the SYN memory (power of two; see SynMemory). */
  readonly synMemoryBuckets?: number;
  /**
   * Queue the flood's last-source-port lookups whose answer cannot matter
   * (sighting-queue.ts; default true). False only for the unit test that
   * compares the tables with and without the queue.
   */
  readonly deferSightings?: boolean;
}

export interface DetectorCounters {
  segments: number;
  probes: number;
  whitelisted: number;
  otherDestination: number;
  alarms: number;
  floodProbes: number;
  connections: number;
  /** Sources promoted out of a flood to keys of their own (seen twice while their port was over the rate). */
  promoted: number;
}

/** A completed handshake on a honeypot port, as the port holder reports it. */
export type ConnectionInput = Pick<
  ConnectionFact,
  'sourceIp' | 'sourcePort' | 'destinationIp' | 'destinationPort' | 'startMicros' | 'durationMs' | 'bytes' | 'firstBytes' | 'closedBy'
>;

const SYN_ACK = TcpFlag.SYN | TcpFlag.ACK;

function popcount(v: number): number {
  let n = 0;
  for (; v; v &= v - 1) n++;
  return n;
}

export class Detector {
  /** Totals for the detector's life: a reconfiguration keeps them. */
  readonly counters: DetectorCounters = { segments: 0, probes: 0, whitelisted: 0, otherDestination: 0, alarms: 0, floodProbes: 0, connections: 0, promoted: 0 };
  private policy: Policy;
  private readonly admission: Admission;
  private readonly window: number;
  private readonly clock = new DetectorClock();
  private readonly windows: KeyWindows;
  private readonly sources: SourcePorts;
  private readonly flood: FloodGate;
  private readonly alarms: AlarmBuilder;
  private readonly synMemory: SynMemory;
  private readonly repeats: RepeatFilter;
  private readonly lastPorts: LastSourcePort;
  private readonly sightings: SightingQueue;
  private readonly deferSightings: boolean;
  private readonly fingerprints: DetectorOptions['fingerprints'];

  constructor(options: DetectorOptions) {
    const { policy, maxTrackedKeys: n } = options;
    if (!(options.windowMicros > 0)) throw new RangeError('window must be positive');
    this.policy = policy;
    this.fingerprints = options.fingerprints;
    this.admission = new Admission(policy, options.serverAddresses, options.admitAll ?? true);
    this.window = options.windowMicros;
    const seed = options.seed ?? ((Math.random() * 0x100000000) >>> 0);
    this.windows = new KeyWindows(n, seed, this.clock, this.window);
    this.sources = new SourcePorts(n, seed ^ 0x5bd1e995);
    this.synMemory = new SynMemory(seed ^ 0x2545f491, options.synMemoryBuckets);
    this.repeats = new RepeatFilter(seed ^ 0x68e31da4, options.windowMicros, this.clock);
    this.lastPorts = new LastSourcePort(seed ^ 0x1b873593);
    this.sightings = new SightingQueue(this.lastPorts, this.repeats, this.clock);
    this.deferSightings = options.deferSightings ?? true;
    const newSourceRate = options.newSourceRate ?? DEFAULT_NEW_SOURCE_RATE;
    this.alarms = new AlarmBuilder(policy, { trackedKeyLimit: n, newSourceRate }, this.counters, options.onAlarm);
    this.flood = new FloodGate(policy.ports.length, newSourceRate, this.alarms, this.clock, this.window);
  }

  /** Admits (or stops admitting) probes of a port of the current policy; other ports are ignored. */
  admit(port: number, protocol: 'tcp' | 'tcp6', admitted = true): void {
    const i = this.admission.indexOf(port, protocol === 'tcp' ? 4 : 6);
    if (i >= 0) this.admission.setAdmitted(i, admitted);
  }

  /**
   * A port was released at `atMicros` (the clock of the capture timestamps):
   * probes seen until then — answered while it listened, possibly still in
   * the capture ring — are admitted, later ones are not.
   */
  retire(port: number, protocol: 'tcp' | 'tcp6', atMicros: number): void {
    const i = this.admission.indexOf(port, protocol === 'tcp' ? 4 : 6);
    if (i >= 0) this.admission.setAdmittedUntil(i, atMicros);
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
    const map = this.policy.ports.map((p) => policy.ports.findIndex((q) => q.port === p.port && q.protocol === p.protocol));
    const kept: number[] = [];
    for (const e of this.windows.entries()) {
      if (map[this.windows.portIndexOf(e)]! >= 0) kept.push(e);
      else this.finishKey(e);
    }
    this.sources.renumber(new Set(kept.map((e) => this.windows.sourceOf(e))), map);
    this.windows.keepOnly(kept, map);
    this.flood.reconfigure(map, policy.ports.length);
    this.admission.reconfigure(policy, map, admitNew);
    this.alarms.setPolicy(policy);
    this.policy = policy;
  }

  get trackedKeys(): number {
    return this.windows.size;
  }

  /** Looks at one decoded segment seen at `tsMicros`; may raise alarms. */
  observe(seg: TcpSegment, input: number, packet: number): void {
    this.counters.segments++;
    const windows = this.windows;
    const portIndex = this.admission.portOf(seg);
    if (portIndex < 0) {
      if ((seg.flags & SYN_ACK) === TcpFlag.SYN) this.observeOutboundSyn(seg);
      return;
    }
    const kind = probeKindOf(seg.flags);
    if (kind === 0) return;
    windows.load(seg.family, seg.src, seg.dst, seg.dstPort, seg.tunnel.identityA, seg.tunnel.identityB);
    // Times stay in fields (seg.tsMicros, this.clock) rather than arguments:
    // a double passed to a call V8 does not inline is boxed, a heap
    // allocation per packet that shows as steady scavenges under a flood.
    if (kind === ProbeKind.ack && this.belongsToConnection(seg)) {
      // A segment of a connection: not a probe. Its bare ACK after the SYN completes the handshake.
      if ((seg.flags & CLASSIC_FLAGS) === TcpFlag.ACK) this.observeHandshakeAck(seg, input, packet);
      return;
    }
    if (!this.admission.toServer(seg)) {
      this.counters.otherDestination++;
      if (kind === ProbeKind.syn) this.rememberSyn(seg); // its connection's segments are no probes either
      return;
    }
    if (this.admission.whitelisted(seg.family, seg.src)) {
      this.counters.whitelisted++;
      if (kind === ProbeKind.syn) this.rememberSyn(seg);
      return;
    }
    this.counters.probes++;
    const ts = seg.tsMicros;
    if (ts > this.clock.micros) this.clock.micros = ts;
    this.closeExpired();

    let e = windows.find(seg.family);
    if (e >= 0) {
      if (kind === ProbeKind.syn) this.rememberSyn(seg);
      windows.addPending(e, seg, kind, input, packet);
      return;
    }
    if (!this.flood.takeToken(portIndex) && !this.promote(seg, portIndex)) {
      this.counters.floodProbes++;
      this.flood.probe(portIndex, seg, FloodReason.rate);
      return;
    }
    e = windows.open(seg, -1, portIndex, input, packet);
    if (e < 0) {
      this.counters.floodProbes++;
      this.flood.probe(portIndex, seg, FloodReason.tableFull);
      return;
    }
    if (kind === ProbeKind.syn) this.rememberSyn(seg);
    // The source is tracked once the key exists: the key points to its entry.
    const s = this.sources.track(windows.probe, seg.family, portIndex);
    // Its port, so that its repeat to a port over the rate counts as near (one lookup per new key, not per flood probe).
    fillSourceFromKey(this.sources.probe, windows.probe, seg.family);
    const hashed = sourceHashed(this.sources.probe, seg.family);
    if (this.deferSightings) this.sightings.defer(this.sources.probe, hashed, seg.srcPort, false);
    else this.lastPorts.lookup(this.sources.probe, hashed, seg.srcPort);
    windows.setSource(e, s);
    const touched = this.sources.mask(s);
    this.alarms.probe(windows.view(e, touched), 'first', {
      count: 1,
      start: ts,
      end: ts,
      kinds: kind,
      flags: seg.flags,
      reassembled: seg.reassembled,
      sourcePorts: [seg.srcPort],
      truncated: false,
      severity: probeSeverity(kind, popcount(touched) >= 2),
      origin: { input, packet, digest: windows.openingDigest(e), fingerprint: this.fingerprints?.identify(seg) },
    });
  }

  /**
   * A probe of a new key found its port over the new-source rate: whether
   * its source may have a key of its own (be promoted). A source that comes
   * back from a source port near its last one (a real sender's repeat, see
   * last-source-port.ts) takes a token of the port's bucket for such
   * repeats, or else of the other; a source seen before in any other way —
   * the last-port table or the repeat filter holds it, or it has a live
   * key — takes one of the other bucket only, which a spoofed flood's chance
   * repeats may drain. Its first probe stays in the flood alarm, so every
   * probe is still counted once. The scratch key is loaded.
   *
   * A source the last-port table holds is not added to the repeat filter
   * again: the table remembers it (until eight newer sources of its set
   * evict it; the filter still has it from its first sight, for one to two
   * generations), and a flood drawn from a small range — every packet a
   * repeat — skips the filter altogether.
   */
  private promote(seg: TcpSegment, portIndex: number): boolean {
    const sources = this.sources;
    const family = seg.family;
    const flood = this.flood;
    const any = flood.promotionAvailable(portIndex);
    // The source-table lookup matters only with a token of the other bucket; it leaves the source in sources.probe.
    const tracked = any ? sources.lookup(this.windows.probe, family) >= 0 : false;
    if (!any) fillSourceFromKey(sources.probe, this.windows.probe, family);
    const words = sources.probe;
    const hashed = sourceHashed(words, family);
    if (!any && !flood.nearPromotionAvailable(portIndex) && this.deferSightings) {
      // No token in either bucket: the answer cannot matter now, only the table's update and the filter's add (queued, in order).
      this.sightings.defer(words, hashed, seg.srcPort, true);
      return false;
    }
    this.sightings.flush();
    const last = this.lastPorts.lookup(words, hashed, seg.srcPort);
    let promoted: boolean;
    if (last === LastPort.near) promoted = flood.takeNearPromotion(portIndex) || (any && flood.takePromotion(portIndex));
    else if (last === LastPort.far) promoted = any && flood.takePromotion(portIndex);
    else if (!any) {
      // No token: whether it is known cannot matter now, only that the filter learns it (deferred, cheap).
      this.repeats.remember(words, hashed);
      return false;
    } else {
      // Looked up and added even when tracked: every source summed into a flood is remembered.
      const seen = this.repeats.seenBefore(words, hashed);
      promoted = (tracked || seen) && flood.takePromotion(portIndex);
    }
    if (promoted) this.counters.promoted++;
    return promoted;
  }

  /**
   * A SYN of a tracked key (or one not judged: another destination, a
   * whitelisted source) opens a connection in the SYN memory (the scratch
   * key is loaded). SYNs summed into a flood do not: under a spoofed flood
   * they would only evict real connections, and cost a cache miss each. A
   * real host whose SYN went to the flood sends its ACK as an `ack` probe,
   * and, seen twice, is promoted to its own alarm.
   */
  private rememberSyn(seg: TcpSegment): void {
    this.synMemory.remember(this.windows.probe, keyHashed(this.windows.probe, seg.family), seg.srcPort, SynDirection.inbound, seg);
  }

  /**
   * Whether an ACK-class segment (scratch key loaded) belongs to a
   * connection: a SYN-ACK must answer a SYN the decoy port sent, any other
   * must follow a SYN either way.
   */
  private belongsToConnection(seg: TcpSegment): boolean {
    const m = this.synMemory;
    const hashed = keyHashed(this.windows.probe, seg.family);
    const words = this.windows.probe;
    if (m.belongs(words, hashed, seg.srcPort, SynDirection.outbound, seg)) return true;
    return (seg.flags & TcpFlag.SYN) === 0 && m.belongs(words, hashed, seg.srcPort, SynDirection.inbound, seg);
  }

  /**
   * A SYN from a decoy port (a replay holds both directions; live, the
   * kernel filter passes inbound segments only): a connection the decoy's
   * host opened, whose SYN-ACK and later segments to the decoy port are no
   * probes. Remembered as seen from the decoy, like an inbound SYN.
   */
  private observeOutboundSyn(seg: TcpSegment): void {
    if (this.admission.indexOf(seg.srcPort, seg.family) < 0) return;
    this.windows.load(seg.family, seg.dst, seg.src, seg.srcPort, seg.tunnel.identityA, seg.tunnel.identityB);
    this.synMemory.remember(this.windows.probe, keyHashed(this.windows.probe, seg.family), seg.dstPort, SynDirection.outbound, seg);
  }

  /**
   * When the earliest open window (key or flood) ends, by the detector's
   * clock; Infinity when none is open. The live sensor arms one timer for it
   * instead of polling (a flood window's is a lower bound: waking early only
   * re-arms).
   */
  nextDeadlineMicros(): number {
    return Math.min(this.windows.oldestStart(), this.flood.earliestStart()) + this.window;
  }

  /** Moves time forward to `nowMicros`, closing windows that ended. */
  advance(nowMicros: number): void {
    if (nowMicros > this.clock.micros) this.clock.micros = nowMicros;
    this.closeExpired();
  }

  /** Closes the key and flood windows that ended by the detector's clock. */
  private closeExpired(): void {
    for (let e = this.windows.expired(); e >= 0; e = this.windows.expired()) {
      this.windows.shift();
      this.finishKey(e);
    }
    this.flood.closeExpired();
  }

  /** Closes every open window (end of replay, shutdown). */
  flush(): void {
    for (let e = this.windows.oldest(); e >= 0; e = this.windows.oldest()) {
      this.windows.shift();
      this.finishKey(e);
    }
    this.flood.flush();
  }

  /**
   * A bare ACK to a decoy port of a connection whose SYN was seen, after a
   * probe of the same key: the handshake completed (the decoy answered the
   * SYN). Nothing legitimate completes one. The scratch key is loaded.
   */
  private observeHandshakeAck(seg: TcpSegment, input: number, packet: number): void {
    if (!this.admission.toServer(seg)) return;
    if (this.admission.whitelisted(seg.family, seg.src)) return;
    const e = this.windows.find(seg.family);
    if (e >= 0) this.windows.noteHandshakeAck(e, seg, input, packet);
  }

  /** Emits a key's follow-up (if it has anything to say) and forgets the key; the caller takes it off the expiry order. */
  private finishKey(e: number): void {
    const s = this.windows.sourceOf(e);
    const parts = this.windows.followUp(e);
    if (parts) this.alarms.probe(this.windows.view(e, this.sources.mask(s)), 'follow-up', parts);
    this.sources.release(s);
    this.windows.forget(e);
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
    const portIndex = this.admission.portAt(c.destinationPort, src.family, c.startMicros);
    if (portIndex < 0) return;
    const srcBytes = new Uint8Array(16);
    srcBytes.set(src.bytes);
    if (this.admission.whitelisted(src.family, srcBytes)) return;
    this.counters.connections++;
    const dstBytes = new Uint8Array(16);
    dstBytes.set(dst.bytes);
    this.windows.load(src.family, srcBytes, dstBytes, c.destinationPort);
    const e = this.windows.find(src.family);
    const connection: ConnectionSummary = { connections: 1, sourcePort: c.sourcePort, bytes: c.bytes, firstBytes: c.firstBytes, durationMs: c.durationMs, closedBy: c.closedBy };
    const start = c.startMicros;
    const end = c.startMicros + c.durationMs * 1000;
    const parts = {
      count: 0, start, end, kinds: 0, flags: 0, reassembled: false,
      sourcePorts: [c.sourcePort], truncated: false, severity: 'medium' as const,
      handshakeCompleted: true,
      connection,
    };
    if (e >= 0) {
      this.windows.noteConnectionReported(e);
      this.alarms.probe(this.windows.view(e, this.sources.mask(this.windows.sourceOf(e))), 'connection', {
        ...parts, origin: { input: this.windows.inputOf(e), packet: -1 },
      });
      return;
    }
    this.alarms.untrackedConnection(src.family, srcBytes, dstBytes, portIndex, { ...parts, origin: { input: fallbackInput, packet: -1 } });
  }
}
