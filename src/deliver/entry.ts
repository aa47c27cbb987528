/** What flows through a sink: formatted once at publish, then queued, spooled and sent as is. */
import type { Severity } from '../alarm/alarm.js';

export type EntryKind = 'probe' | 'flood' | 'loss';

/** An alarm (or a loss notice) formatted as one JSON document without newlines. */
export interface Formatted {
  readonly json: string;
  /** event.id: the same on every retry, so a SIEM can drop duplicates. */
  readonly id: string;
  readonly timeMicros: number;
  readonly severity: Severity;
  readonly kind: EntryKind;
}

/** A sink's wire record (its transport's encoding of a Formatted) and the alarm time. */
export interface Entry {
    readonly record: string;
  readonly timeMicros: number;
}

/** Thrown by a transport for a batch the receiver will never accept (retrying cannot help). */
export class PermanentError extends Error {}

/** Thrown by a transport whose destination is gone for good (stdout's reader went away): the sink stops. */
export class BrokenOutputError extends Error {}

/** A transport accepts or refuses whole batches; the sink around it queues, retries and spools. */
export interface Transport {
  encode(f: Formatted): string;
  /** Checks the destination is usable (reachable, certificate valid, credentials present); throws ConfigError. */
  open(): Promise<void>;
  /**
   * Resolves when the receiver has the records (or, for syslog, the kernel
   * has them); resolves to the number the receiver rejected for good, if any.
   * Rejects on a failure worth retrying; PermanentError when it is not.
   */
  send(records: readonly string[]): Promise<number | void>;
  /** SIGHUP: file transports reopen their path. */
  reopen?(): void;
  close(): Promise<void>;
}

/** Why alarms were lost: each loss notice breaks its count down by these. */
export type LossReason = 'spool_full' | 'write_error' | 'damaged' | 'rejected' | 'undeliverable';

/** How many alarms were lost, the alarm times they spanned, and why. */
export interface LossInfo {
  readonly count: number;
  readonly firstMicros: number;
  readonly lastMicros: number;
  readonly reasons: Readonly<Partial<Record<LossReason, number>>>;
  /** What went wrong, for the operator's one line (not kept in the ledger). */
  readonly detail?: string;
}
