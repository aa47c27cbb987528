/** What the port holder reports: per-listener status, per-connection facts, counters. */
import type { PortProtocol } from '../policy/policy.js';
import type { Family } from '../net/address.js';

/** Identifies one listener: a policy port bound on one local address. */
export interface ListenerKey {
  readonly port: number;
  readonly protocol: PortProtocol;
  /** Local bind address: `0.0.0.0` / `::` unless bind addresses were given. */
  readonly address: string;
}

export interface Occupant {
  readonly pid: number;
  /** /proc/<pid>/comm: the kernel's short process name. */
  readonly command: string;
}

export type PortStatus =
  | (ListenerKey & {
      readonly state: 'listening';
      /** Distinct for every server this holder opened: unchanged across a reload that kept it. */
      readonly listenerId: number;
    })
  | (ListenerKey & {
      readonly state: 'occupied';
      /** Absent when the system did not tell (see `reason`). */
      readonly occupant?: Occupant;
      /** Human text: who holds it, or why that is unknown. */
      readonly reason: string;
    })
  | (ListenerKey & {
      readonly state: 'failed';
      readonly reason: string;
      /** errno code such as EACCES, EMFILE; `UNKNOWN` when the error carried none. */
      readonly code: string;
    })
  | (ListenerKey & {
      /**
       * Not held, and nothing listens on it: its occupant went away, or the
       * decoy's own listening socket was closed from outside (`ss -K`).
       * Reported, not re-taken (a restarting service must get its port
       * back); the next reload (SIGHUP) binds it.
       */
      readonly state: 'free';
      readonly reason: string;
    });

/**
 * How a held connection ended. `shutdown`: the holder closed the port (reload
 * or exit) while the connection was still being read.
 */
export type ClosedBy = 'peer' | 'timeout' | 'limit' | 'shutdown';

/** What was learnt from one completed handshake on a honeypot port. */
export interface ConnectionFact {
  readonly protocol: PortProtocol;
  readonly family: Family;
  /** Dotted IPv4 or RFC 5952 IPv6 text. */
  readonly sourceIp: string;
  readonly sourcePort: number;
  readonly destinationIp: string;
  readonly destinationPort: number;
  /** Microseconds since the epoch when the connection was accepted. */
  readonly startMicros: number;
  readonly durationMs: number;
  /** Bytes read before the connection was closed (may exceed what `firstBytes` shows). */
  readonly bytes: number;
  /** The first `maxBytes` bytes, printable ASCII kept, `\\` doubled, the rest as `\xNN`. */
  readonly firstBytes: string;
  readonly closedBy: ClosedBy;
}

export interface PortHolderCounters {
  /** Connections admitted and read. */
  readonly accepted: number;
  /** Connections destroyed at once because a limit (overall or per source) was reached. */
  readonly refusedOverLimit: number;
  /** Bytes read from all admitted connections. */
  readonly bytes: number;
  /** Connections being read right now. */
  readonly active: number;
  /** accept() failures reported by a listening server (it keeps listening). */
  readonly acceptErrors: number;
}
