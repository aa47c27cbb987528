/**
 * Which TCP segments are probes, and of what port. A probe is a segment to a
 * policy port over that port's IP version whose flags are SYN without ACK
 * (whatever else is set) or one of the stealth scans FIN, NULL, XMAS.
 */
import { ProbeKind } from '../alarm/alarm.js';
import { TcpFlag } from '../decode/segment.js';
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

/** Port number → policy port index (or -1), with the family each port expects. */
export class PortTable {
  private readonly index = new Int8Array(65536).fill(-1);
  readonly family: Uint8Array;

  constructor(readonly policy: Policy) {
    this.family = new Uint8Array(policy.ports.length);
    policy.ports.forEach((p, i) => {
      this.index[p.port] = i;
      this.family[i] = p.protocol === 'tcp' ? 4 : 6;
    });
  }

  /** Policy port index for a destination port reached over `family`, or -1. */
  lookup(port: number, family: number): number {
    const i = this.index[port]!;
    return i >= 0 && this.family[i] === family ? i : -1;
  }
}
