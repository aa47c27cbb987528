/** The validated, normalised policy every stage works from. Built only by `parsePolicy`. */
import type { AddressTable } from '../net/address-table.js';

export type OsType = 'linux' | 'windows';

/** `tcp` is IPv4 only, `tcp6` is IPv6 only: a port is bound to exactly one of them. */
export type PortProtocol = 'tcp' | 'tcp6';

export interface ProtectedPort {
  readonly port: number;
  readonly protocol: PortProtocol;
}

export interface Policy {
  readonly name: string;
  readonly os: OsType;
  /** 1..10 entries, port numbers unique, sorted by port. */
  readonly ports: readonly ProtectedPort[];
  /**
   * Whitelist entries, validated: parsed into a table by the loader (a
   * million entries as typed arrays), or as written (addresses, CIDRs,
   * ranges) in policies built in code.
   */
  readonly whitelist: AddressTable | readonly string[];
}

export const MAX_PORTS = 10;
