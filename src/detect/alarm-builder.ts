/**
 * Alarm building: the one place where the detector's decisions become Alarm
 * objects (probe, connection and flood alarms) and are handed to the
 * caller's `onAlarm`. A field every alarm should carry is added here, once.
 * Runs once per alarm, never per packet, so it may allocate.
 */
import type { TunnelSummary } from '../decode/tunnel.js';
import type { Alarm, ConnectionSummary, FloodAlarm, ProbeAlarm, ProbeOrigin, Severity } from '../alarm/alarm.js';
import type { Family } from '../net/address.js';
import type { Policy } from '../policy/policy.js';
import { keyDestination, keyFamily, keySource } from './probe-key.js';

/** What a probe alarm says beyond its key. */
export interface ProbeAlarmParts {
  readonly count: number;
  readonly start: number;
  readonly end: number;
  readonly kinds: number;
  readonly flags: number;
  readonly reassembled: boolean;
  readonly sourcePorts: number[];
  readonly truncated: boolean;
  readonly severity: Severity;
  readonly origin: ProbeOrigin;
  readonly handshakeCompleted?: boolean;
  readonly connection?: ConnectionSummary;
}

/** A tracked key as the alarm names it. */
export interface KeyView {
  /** The key table's words and where this key's start. */
  readonly words: Uint32Array;
  readonly base: number;
  readonly portIndex: number;
  /** Policy port bits its source touched. */
  readonly touched: number;
  /** VLAN ids of its first probe: outer << 16 | inner. */
  readonly vlan: number;
  /** The tunnels the key's first probe came through; undefined: none. */
  readonly tunnel: TunnelSummary | undefined;
}

/** What a flood alarm says beyond its port. */
export interface FloodAlarmParts {
  readonly phase: FloodAlarm['phase'];
  readonly count: number;
  readonly start: number;
  readonly end: number;
  readonly reason: FloodAlarm['reason'];
  readonly sampleSources: readonly string[];
}

/** An alarm while it is built (the optional fields are set after the literal). */
type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export class AlarmBuilder {
  constructor(
    private policy: Policy,
    private readonly limits: { readonly trackedKeyLimit: number; readonly newSourceRate: number },
    private readonly counters: { alarms: number },
    private readonly emit: (alarm: Alarm) => void,
  ) {}

  /** Alarms from now on name this policy (a reload). */
  setPolicy(policy: Policy): void {
    this.policy = policy;
  }

  /** A probe alarm about a tracked key. */
  probe(key: KeyView, phase: ProbeAlarm['phase'], a: ProbeAlarmParts): void {
    const portsTouched: number[] = [];
    const ports = this.policy.ports;
    for (let i = 0; i < ports.length; i++) if (key.touched & (1 << i)) portsTouched.push(ports[i]!.port);
    this.probeAlarm(phase, keyFamily(key.words, key.base), keySource(key.words, key.base), keyDestination(key.words, key.base), key.portIndex, portsTouched, key.vlan, a, key.tunnel);
  }

  /** A connection alarm about a key that is not (or no longer) tracked. */
  untrackedConnection(family: Family, source: Uint8Array, destination: Uint8Array, portIndex: number, a: ProbeAlarmParts): void {
    this.probeAlarm('connection', family, source, destination, portIndex, [this.policy.ports[portIndex]!.port], 0, a);
  }

  private probeAlarm(
    phase: ProbeAlarm['phase'], family: Family, source: Uint8Array, destination: Uint8Array, portIndex: number,
    portsTouched: number[], vlan: number, a: ProbeAlarmParts, tunnel?: TunnelSummary,
  ): void {
    const policyPort = this.policy.ports[portIndex]!;
    this.counters.alarms++;
    const alarm: Mutable<ProbeAlarm> = {
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
      vlan: vlan >>> 16,
      innerVlan: vlan & 0xffff,
      origin: a.origin,
      handshakeCompleted: a.handshakeCompleted === true,
    };
    // Set after, not spread in: an object spread per alarm is a copy through a slow path in unoptimised code.
    if (a.connection) alarm.connection = a.connection;
    if (tunnel) alarm.tunnel = tunnel;
    this.emit(alarm);
  }

  /** A flood alarm of policy port `portIndex`. */
  flood(portIndex: number, a: FloodAlarmParts): void {
    const port = this.policy.ports[portIndex]!;
    this.counters.alarms++;
    this.emit({
      action: 'honeypot-flood',
      ruleName: this.policy.name,
      phase: a.phase,
      destinationPort: port.port,
      protocol: port.protocol,
      count: a.count,
      startMicros: a.start,
      endMicros: a.end,
      severity: 'high',
      reason: a.reason,
      trackedKeyLimit: this.limits.trackedKeyLimit,
      newSourceRate: this.limits.newSourceRate,
      sampleSources: a.sampleSources,
    });
  }
}
