/**
 * p0f's refusal of a signature that an earlier one already covers ("already
 * covered by line N"): the new signature, taken as if it were a SYN, matches
 * an earlier specific signature of the same option layout exactly. Checked
 * while the file is read, so a file honeyport loads is one p0f loads.
 * Quadratic only within one option layout (p0f.fp: a few signatures each).
 */
import { IPV4_ID_QUIRKS, IPV6_ONLY_QUIRKS } from './quirks.js';
import type { SynSignature } from './signature-file.js';
import { MAX_DISTANCE, windowMultiple } from './syn-fields.js';

function sameLayout(a: SynSignature, b: SynSignature): boolean {
  return a.layout.length === b.layout.length && a.layout.every((k, i) => k === b.layout[i]);
}

/** The earlier signature that covers `s`, if any (generic ones never do). */
export function coveringSignature(s: SynSignature, earlier: readonly SynSignature[]): SynSignature | undefined {
  for (const ref of earlier) {
    if (ref.label.generic || !sameLayout(ref, s)) continue;
    let quirks = ref.quirks;
    // As p0f: a `*` reference loses the quirks of the other IP version; a `*` candidate counts as IPv6 there.
    if (ref.version === 0) quirks &= s.version === 4 ? ~IPV6_ONLY_QUIRKS : ~IPV4_ID_QUIRKS;
    if (quirks !== s.quirks) continue; // any quirk difference makes it at best fuzzy
    if (ref.eolPad !== s.eolPad || ref.ipOptionsLength !== s.ipOptionsLength) continue;
    if (ref.randomTtl) {
      if (ref.ttl < s.ttl) continue;
    } else if (ref.ttl < s.ttl || ref.ttl - s.ttl > MAX_DISTANCE) continue;
    if (ref.mss !== -1 && ref.mss !== s.mss) continue;
    if (ref.scale !== -1 && ref.scale !== s.scale) continue;
    if (ref.payload !== -1 && ref.payload !== s.payload) continue;
    const w = s.window;
    const rw = ref.window;
    if (w.kind !== 'value') {
      if (rw.kind !== w.kind || ('value' in rw ? rw.value : 0) !== ('value' in w ? w.value : 0)) continue;
    } else if (rw.kind === 'value') {
      if (rw.value !== w.value) continue;
    } else if (rw.kind === 'modulo') {
      if (w.value % rw.value !== 0) continue;
    } else if (rw.kind === 'mss' || rw.kind === 'mtu') {
      const m = windowMultiple({ window: w.value, mss: s.mss, ts1: 0, version: s.version === 6 ? 6 : 4, headerLength: 0 });
      if (m.mtu !== (rw.kind === 'mtu') || m.multiple !== rw.value) continue;
    }
    return ref;
  }
  return undefined;
}
