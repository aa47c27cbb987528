/**
 * Which TCP segments are probes, by their flags: SYN without ACK (whatever
 * else is set) or one of the stealth scans FIN, NULL, XMAS. (Which port a
 * probe is of: port-table.)
 */
import { ProbeKind } from '../alarm/alarm.js';
import { TcpFlag } from '../decode/segment.js';

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
