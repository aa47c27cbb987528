/**
 * Which TCP segments are probes, by their flags: the flag rule (flag-rule.ts)
 * as a 256-entry table, so classifying a segment is one indexed read. (Which
 * port a probe is of: port-table.)
 */
import { flagRuleKind } from './flag-rule.js';

const KIND_BY_FLAGS = Uint8Array.from({ length: 256 }, (_, flags) => flagRuleKind(flags));

/**
 * ProbeKind bit for a flags byte, or 0 when the segment is not a probe. An
 * `ack` is a probe only if it belongs to no connection (see SynMemory).
 */
export function probeKindOf(flags: number): number {
  return KIND_BY_FLAGS[flags & 0xff]!;
}
