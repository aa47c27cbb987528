/**
 * The flag rule: which TCP flag combinations sent to a decoy port are probes,
 * and of which kind. This table is the one statement of it; the classifier
 * (probe-classifier), the kernel filter (capture/filter-builder) and any
 * other filter (a libpcap expression: `tcp[13] & mask == value`) derive from
 * it, in order, first match wins.
 *
 * Judged on the six classic bits (FIN..URG): ECE/CWR change nothing.
 *  - SYN without ACK, whatever else is set (FIN, RST, PSH, URG, payload):
 *    `syn`;
 *  - SYN+ACK+RST (`nmap --scanflags ALL`): `odd`. No stack sends SYN with
 *    RST: it is neither backscatter nor teardown, which is what the next
 *    row is for;
 *  - any other segment with RST: never a probe (backscatter of a spoofed
 *    flood, teardown of a real connection);
 *  - ACK set (SYN+ACK, bare ACK, FIN+ACK, PSH+ACK, URG+ACK…): `ack`, but
 *    only when it belongs to no connection — the detector asks its SYN
 *    memory (syn-memory.ts); the kernel lets every one through for that;
 *  - exactly FIN: `fin`; nothing: `null`; exactly FIN+PSH+URG: `xmas`;
 *  - anything else without SYN, ACK or RST (URG, PSH, FIN+URG, FIN+PSH,
 *    PSH+URG…): `odd`.
 */
import { ProbeKind } from '../alarm/alarm.js';
import { TcpFlag } from '../decode/segment.js';

/** The six classic flag bits. */
export const CLASSIC_FLAGS = 0x3f;

export interface FlagRow {
  /** Bits of the flags byte compared (within CLASSIC_FLAGS). */
  readonly mask: number;
  /** Their value for the row to match. */
  readonly value: number;
  /** The ProbeKind bit, or 0: not a probe. */
  readonly kind: number;
}

const { FIN, SYN, RST, PSH, ACK, URG } = TcpFlag;

/** In order, first match wins; the last row matches everything. */
export const FLAG_RULE: readonly FlagRow[] = [
  { mask: SYN | ACK, value: SYN, kind: ProbeKind.syn },
  { mask: SYN | RST, value: SYN | RST, kind: ProbeKind.odd },
  { mask: RST, value: RST, kind: 0 },
  { mask: ACK, value: ACK, kind: ProbeKind.ack },
  { mask: CLASSIC_FLAGS, value: FIN, kind: ProbeKind.fin },
  { mask: CLASSIC_FLAGS, value: 0, kind: ProbeKind.null },
  { mask: CLASSIC_FLAGS, value: FIN | PSH | URG, kind: ProbeKind.xmas },
  { mask: 0, value: 0, kind: ProbeKind.odd },
];

/** The kind of a flags byte by the table (0: not a probe); `ack` still needs the SYN memory's word. */
export function flagRuleKind(flags: number): number {
  for (const row of FLAG_RULE) if ((flags & row.mask) === row.value) return row.kind;
  return 0;
}
