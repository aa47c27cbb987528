/**
 * Which TCP segments are probes, and of what port. A probe is a segment to a
 * policy port over that port's IP version whose flags are SYN without ACK
 * (whatever else is set) or one of the stealth scans FIN, NULL, XMAS.
 */
import { ProbeKind } from '../alarm/alarm.js';
import { TcpFlag, type TcpSegment } from '../decode/segment.js';
import type { Policy } from '../policy/policy.js';

const BASE_FLAGS = 0x3f; // FIN..URG: ECE/CWR do not change what a probe is

/** ProbeKind bit for a flags byte, or 0 when the segment is not a probe. */
export function probeKindOf(flags: number): number {
  if ((flags & (TcpFlag.SYN | TcpFlag.ACK)) === TcpFlag.SYN) return ProbeKind.syn;
  switch (flags & BASE_FLAGS) {
    case TcpFlag.FIN: return ProbeKind.fin;
    case 0: return ProbeKind.null;
    case TcpFlag.FIN | TcpFlag.PSH | TcpFlag.URG: return ProbeKind.xmas;
    default: return 0;
  }
}

/**
 * Port number → policy port index (or -1), with the family each port expects
 * and whether the port is admitted: a live sensor admits a port only while it
 * holds it (a port another process holds is not a decoy), a replay admits all.
 */
export class PortTable {
  /** Per family, because a reload's transition may briefly hold a port number as both tcp and tcp6. */
  private readonly index4 = new Int8Array(65536).fill(-1);
  private readonly index6 = new Int8Array(65536).fill(-1);
  private readonly admitted: Uint8Array;
  /** Probes seen after this time (µs) are not admitted: the port was released then. */
  private readonly until: Float64Array;

  constructor(readonly policy: Pick<Policy, 'ports'>, admitAll = true) {
    this.admitted = new Uint8Array(policy.ports.length).fill(admitAll ? 1 : 0);
    this.until = new Float64Array(policy.ports.length).fill(Infinity);
    policy.ports.forEach((p, i) => {
      (p.protocol === 'tcp' ? this.index4 : this.index6)[p.port] = i;
    });
  }

  /** Policy port index for a destination port reached over `family` and admitted at `tsMicros`, or -1. */
  lookup(port: number, family: number, tsMicros: number): number {
    const i = this.indexOf(port, family);
    return i >= 0 && this.admitted[i] === 1 && tsMicros <= this.until[i]! ? i : -1;
  }

  /** lookup() for a segment; its time is read here, not passed (a double argument is boxed when not inlined). */
  lookupSegment(seg: Pick<TcpSegment, 'dstPort' | 'family' | 'tsMicros'>): number {
    const i = this.indexOf(seg.dstPort, seg.family);
    return i >= 0 && this.admitted[i] === 1 && seg.tsMicros <= this.until[i]! ? i : -1;
  }

  /** Policy port index whether admitted or not, or -1. */
  indexOf(port: number, family: number): number {
    return (family === 4 ? this.index4 : this.index6)[port]!;
  }

  /** Admits a port from now on (for any probe time), or stops admitting it at once. */
  setAdmitted(i: number, admitted: boolean): void {
    this.admitted[i] = admitted ? 1 : 0;
    this.until[i] = Infinity;
  }

  /** Keeps admitting probes seen up to `tsMicros` (still in the ring when the port was released), none after. */
  setAdmittedUntil(i: number, tsMicros: number): void {
    this.until[i] = tsMicros;
  }

  /** Copies port `i`'s admission from `other`'s port `from` (a reconfiguration). */
  copyAdmission(i: number, other: PortTable, from: number): void {
    this.admitted[i] = other.admitted[from]!;
    this.until[i] = other.until[from]!;
  }
}
