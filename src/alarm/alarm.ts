/** What the detector decides; formatting (ECS, EVE) happens in the deliver stage. */
import type { Fingerprint } from '../fingerprint/fingerprint.js';
import type { Family } from '../net/address.js';
import type { PortProtocol } from '../policy/policy.js';
import type { TunnelSummary } from '../decode/tunnel.js';

/** Probe kinds as bits, so an alarm summing several probes keeps a mask. */
export const ProbeKind = { syn: 1, fin: 2, null: 4, xmas: 8, ack: 16, odd: 32 } as const;
export type ProbeKindName = keyof typeof ProbeKind;
export const PROBE_KIND_NAMES: readonly ProbeKindName[] = ['syn', 'fin', 'null', 'xmas', 'ack', 'odd'];

export type Severity = 'low' | 'medium' | 'high';

/** The probe an alarm starts from: where it was seen, and a digest of it that names the alarm (see alarm-id). */
export interface ProbeOrigin {
  /** Index into the run's list of inputs (files, or interfaces when live); -1 when unknown. */
  readonly input: number;
  /** 0-based packet index within that input (-1: not from a packet, a connection). */
  readonly packet: number;
  /**
   * 16 hex digits: digest of the probe's captured TCP header (detect/probe-digest).
   * Absent on a `connection` alarm, which covers no captured packet.
   */
  readonly digest?: string;
  /**
   * Who sent the probe, from its headers (p0f signatures; see fingerprint/).
   * Only on a key's first alarm, and only when fingerprinting is on and the
   * probe is a bare SYN p0f's rules fingerprint.
   */
  readonly fingerprint?: Fingerprint;
}

/** What the port holder learnt from one accepted connection. */
export interface ConnectionSummary {
  /** Accepted connections described (1: each connection has its own alarm); ECS `accepted`. */
  readonly connections: number;
  /** The connection's source port. */
  readonly sourcePort: number;
  /** Bytes the peer sent. */
  readonly bytes: number;
  /** Its first bytes, escaped (see ports/escape-bytes). */
  readonly firstBytes: string;
  readonly durationMs: number;
  readonly closedBy: string;
}

export interface ProbeAlarm {
  readonly action: 'honeypot-port-probe';
  /** Name of the policy that raised it (policies change on reload). */
  readonly ruleName: string;
  /**
   * `first`: raised at the first probe of a key; `follow-up`: the rest of its
   * window; `connection`: a connection to the port closed (count 0, live only).
   */
  readonly phase: 'first' | 'follow-up' | 'connection';
  readonly family: Family;
  readonly source: Uint8Array;
  readonly destination: Uint8Array;
  /** Source port of the alarm's first probe. */
  readonly sourcePort: number;
  /** Distinct source ports of the alarm's probes (at most MAX_SOURCE_PORTS). */
  readonly sourcePorts: readonly number[];
  /** True when more distinct source ports were seen than listed. */
  readonly sourcePortsTruncated: boolean;
  readonly destinationPort: number;
  readonly protocol: PortProtocol;
  /** Number of probe packets this alarm covers (and no other alarm covers). */
  readonly count: number;
  readonly startMicros: number;
  readonly endMicros: number;
  /** ProbeKind bits of the covered probes. */
  readonly kinds: number;
  /** OR of the TCP flag bytes of the covered probes. */
  readonly flags: number;
  readonly severity: Severity;
  /** Honeypot ports this source probed while its keys were tracked. */
  readonly portsTouched: readonly number[];
  /** At least one covered probe arrived as a fragmented datagram. */
  readonly reassembled: boolean;
  /** 802.1Q/802.1ad ids of the key's first probe (0 = untagged): ECS network.vlan / network.inner.vlan. */
  readonly vlan: number;
  readonly innerVlan: number;
  /**
   * The first probe the alarm covers; for a follow-up that covers none (a
   * completed handshake only), the captured ACK's input and packet, named
   * by the digest of the probe that opened its key's window; for a
   * `connection` alarm, the interface of the key's first probe (or where the
   * connection was accepted), packet -1 and no digest.
   */
  readonly origin: ProbeOrigin;
  /**
   * A handshake on the key completed: on a `connection` alarm, always; on a
   * follow-up, its final ACK was captured and no connection alarm reported
   * it (the peer reset it before accept(), as nmap -sT does, or a replay).
   */
  readonly handshakeCompleted: boolean;
  /** What the port holder read from the connection (`connection` alarms, live only). */
  readonly connection?: ConnectionSummary;
  /** The tunnels the key's probes came through (part of the key: see detector KEY_WORDS); absent when not tunnelled. */
  readonly tunnel?: TunnelSummary;
}

export interface FloodAlarm {
  readonly action: 'honeypot-flood';
  readonly ruleName: string;
  readonly phase: 'first' | 'follow-up';
  readonly destinationPort: number;
  readonly protocol: PortProtocol;
  /** Probes to this port that could not be tracked per source. */
  readonly count: number;
  readonly startMicros: number;
  readonly endMicros: number;
  readonly severity: 'high';
  /** Why per-source tracking stopped: the key table is full, or new sources came faster than the rate limit. */
  readonly reason: 'tracked-keys-full' | 'new-source-rate';
  readonly trackedKeyLimit: number;
  /** New sources per second per port beyond which probes are summed here. */
  readonly newSourceRate: number;
  /** The first few sources summed into this alarm (at most FLOOD_SAMPLE), as text. */
  readonly sampleSources: readonly string[];
}

export type Alarm = ProbeAlarm | FloodAlarm;
