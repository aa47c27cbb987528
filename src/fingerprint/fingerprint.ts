/**
 * What an alarm says about who sent its first probe: the p0f signature it
 * matched (label as the signature file writes it, and how it matched), or
 * `unknown`; and always the probe's own raw signature in p0f notation, so an
 * unknown stack can be described and added to a signature file.
 */
import type { MatchKind } from './syn-matcher.js';

export interface Fingerprint {
  /** `type:class:name:flavor` as the signature file writes it (`s:!:NMap:SYN scan`), or `unknown`. */
  readonly label: string;
  /** What p0f prints for it (`NMap SYN scan`), or `unknown`. */
  readonly name: string;
  /** `exact`, `generic` (a last-resort `g:` signature), `fuzzy` (TTL or quirks off, see syn-matcher), or `none`. */
  readonly match: MatchKind | 'none';
  /** The probe's raw signature, as p0f prints it (`4:57+7:0:1460:1024,0:mss::0`). */
  readonly signature: string;
  /** `file:line` of the matched signature (absent when unknown). */
  readonly source?: string;
}
