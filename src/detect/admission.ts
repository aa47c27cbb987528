/**
 * Admission: whether a segment is for the sensor at all — a policy port over
 * that port's IP version, admitted now (live: only while the sensor holds
 * it), to one of the server addresses when any are given, from a source the
 * whitelist does not name. Owns the port table and the whitelist, which a
 * reload replaces together; keeps no per-packet state and allocates nothing
 * on the per-segment checks.
 */
import type { TcpSegment } from '../decode/segment.js';
import type { Family, ParsedAddress } from '../net/address.js';
import type { Policy } from '../policy/policy.js';
import { PortTable } from './port-table.js';
import { Whitelist } from './whitelist.js';

export class Admission {
  private ports: PortTable;
  private whitelist: Whitelist;

  constructor(policy: Policy, private readonly servers: readonly ParsedAddress[], admitAll: boolean) {
    this.ports = new PortTable(policy, admitAll);
    this.whitelist = new Whitelist(policy.whitelist);
  }

  /** Policy port index of the segment's destination if admitted at its time, or -1. */
  portOf(seg: TcpSegment): number {
    return this.ports.lookupSegment(seg);
  }

  /** Policy port index for a port reached over `family` and admitted at `tsMicros`, or -1. */
  portAt(port: number, family: number, tsMicros: number): number {
    return this.ports.lookup(port, family, tsMicros);
  }

  /** Policy port index whether admitted or not, or -1. */
  indexOf(port: number, family: number): number {
    return this.ports.indexOf(port, family);
  }

  setAdmitted(i: number, admitted: boolean): void {
    this.ports.setAdmitted(i, admitted);
  }

  setAdmittedUntil(i: number, tsMicros: number): void {
    this.ports.setAdmittedUntil(i, tsMicros);
  }

  /** False when server addresses are given and the segment is to none of them. */
  toServer(seg: TcpSegment): boolean {
    if (this.servers.length === 0) return true;
    const width = seg.family === 4 ? 4 : 16;
    outer: for (const server of this.servers) {
      if (server.family !== seg.family) continue;
      for (let i = 0; i < width; i++) if (server.bytes[i] !== seg.dst[i]) continue outer;
      return true;
    }
    return false;
  }

  whitelisted(family: Family, src: Uint8Array): boolean {
    return this.whitelist.size > 0 && this.whitelist.contains(family, src);
  }

  /**
   * Moves to a new policy: `map[i]` is old port i's index in the new policy
   * (-1: gone). Ports in both keep their admission; new ones are admitted
   * only with `admitNew`.
   */
  reconfigure(policy: Policy, map: readonly number[], admitNew: boolean): void {
    const table = new PortTable(policy, admitNew);
    map.forEach((j, i) => { if (j >= 0) table.copyAdmission(j, this.ports, i); });
    this.ports = table;
    this.whitelist = new Whitelist(policy.whitelist);
  }
}
