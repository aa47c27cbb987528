/**
 * p0f v3's SYN matching over a signature database: the first specific
 * signature that matches exactly wins; otherwise the first generic (`g:`)
 * one; otherwise the first fuzzy one — a fuzzy match being a TTL above the
 * signature's initial TTL or more than MAX_DISTANCE hops below it, or quirks
 * that differ only by `df`/`id+` missing or `id-`/`ecn` added — unless that
 * one is a tool's (class `!`): tools are never matched fuzzily. Signatures
 * with a random TTL (`ittl-`) match only TTLs at or below theirs. A `*`
 * (either IP version) signature ignores the other version's quirks. Like
 * p0f, the IP version is not compared otherwise.
 *
 * Signatures are bucketed by option layout (the layout must be equal), so a
 * SYN is compared only with the few of its layout. No allocation per call
 * apart from the window test (see windowMultiple).
 */
import { IPV4_ID_QUIRKS, IPV6_ONLY_QUIRKS, Quirk } from './quirks.js';
import type { SynSignature } from './signature-file.js';
import { layoutHash, MAX_DISTANCE, type SynFields, windowMultiple } from './syn-fields.js';

export type MatchKind = 'exact' | 'generic' | 'fuzzy';

export interface SynMatch {
  readonly signature: SynSignature;
  readonly kind: MatchKind;
}

const FUZZY_MAY_LOSE = Quirk.df | Quirk['id+'];
const FUZZY_MAY_GAIN = Quirk['id-'] | Quirk.ecn;

export class SynMatcher {
  private readonly buckets = new Map<number, SynSignature[]>();

  constructor(signatures: readonly SynSignature[]) {
    for (const s of signatures) {
      const h = layoutHash(s.layout, s.layout.length);
      const b = this.buckets.get(h);
      if (b) b.push(s);
      else this.buckets.set(h, [s]);
    }
  }

  match(f: SynFields): SynMatch | undefined {
    const bucket = this.buckets.get(f.layoutHash);
    if (!bucket) return undefined;
    let generic: SynSignature | undefined;
    let fuzzy: SynSignature | undefined;
    let win: { multiple: number; mtu: boolean } | undefined;
    for (const s of bucket) {
      if (!sameLayout(s, f)) continue;
      let isFuzzy = false;
      let quirks = s.quirks;
      if (s.version === 0) quirks &= f.version === 4 ? ~IPV6_ONLY_QUIRKS : ~IPV4_ID_QUIRKS;
      if (quirks !== f.quirks) {
        const lost = quirks & ~f.quirks;
        const gained = f.quirks & ~quirks;
        if (fuzzy || lost & ~FUZZY_MAY_LOSE || gained & ~FUZZY_MAY_GAIN) continue;
        isFuzzy = true;
      }
      if (s.eolPad !== f.eolPad || s.ipOptionsLength !== f.ipOptionsLength) continue;
      if (s.randomTtl) {
        if (s.ttl < f.ttl) continue;
      } else if (s.ttl < f.ttl || s.ttl - f.ttl > MAX_DISTANCE) isFuzzy = true;
      if (s.mss !== -1 && s.mss !== f.mss) continue;
      if (s.scale !== -1 && s.scale !== f.scale) continue;
      if (s.payload !== -1 && s.payload !== (f.payload > 0 ? 1 : 0)) continue;
      const w = s.window;
      if (w.kind === 'value') {
        if (w.value !== f.window) continue;
      } else if (w.kind === 'modulo') {
        if (f.window % w.value !== 0) continue;
      } else if (w.kind !== 'any') {
        win ??= windowMultiple(f);
        if (win.mtu !== (w.kind === 'mtu') || win.multiple !== w.value) continue;
      }
      if (!isFuzzy) {
        if (!s.label.generic) return { signature: s, kind: 'exact' };
        generic ??= s;
      } else fuzzy ??= s;
    }
    if (generic) return { signature: generic, kind: 'generic' };
    if (fuzzy && !fuzzy.label.tool) return { signature: fuzzy, kind: 'fuzzy' };
    return undefined;
  }
}

function sameLayout(s: SynSignature, f: SynFields): boolean {
  const l = s.layout;
  if (l.length !== f.layoutLength) return false;
  for (let i = 0; i < l.length; i++) if (l[i] !== f.layout[i]) return false;
  return true;
}
