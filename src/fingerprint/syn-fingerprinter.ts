/**
 * Fingerprints a probe from its captured headers, once per new key (the
 * detector calls it where it digests a key's first probe): reads the SYN
 * fields into one reusable SynFields, matches them, and builds the
 * Fingerprint — the only allocations, once per key, never per packet.
 * Segments p0f would not fingerprint (not a bare SYN, reassembled from
 * fragments, IPv6 extension headers, a cut TCP header) get none.
 *
 * A scan repeats a handful of SYN shapes, so equal fingerprints are one
 * shared (immutable) object, and the formatter keeps each one's JSON text
 * beside it (deliver/alarm-parts): keyed by every field the object holds,
 * so a shared one never says anything another probe's would not. Quirk
 * lists are kept per quirk bits. Both tables are bounded (FINGERPRINTS_KEPT,
 * QUIRK_TEXTS_KEPT): an attacker varying TTLs and windows only stops the
 * sharing, never grows memory.
 */
import type { TcpSegment } from '../decode/segment.js';
import type { Fingerprint } from './fingerprint.js';
import { quirkText } from './quirks.js';
import type { SignatureDatabase } from './signature-file.js';
import { rawSignature, readSyn, SynFields } from './syn-fields.js';
import { SynMatcher } from './syn-matcher.js';

/** Distinct fingerprints shared at most (a few hundred bytes each). */
export const FINGERPRINTS_KEPT = 4096;
/** Distinct quirk lists kept at most (17 quirk bits). */
export const QUIRK_TEXTS_KEPT = 1024;

export class SynFingerprinter {
  private readonly fields = new SynFields();
  private readonly matcher: SynMatcher;
  /** Fingerprints by all they say (see fingerprintKey). */
  private readonly shared = new Map<string, Fingerprint>();
  private readonly quirkTexts = new Map<number, string>();
  /** SYN signatures loaded (for the start-up line). */
  readonly signatures: number;

  constructor(db: SignatureDatabase) {
    this.matcher = new SynMatcher(db.syn);
    this.signatures = db.syn.length;
  }

  /** The fingerprint of `seg`, or undefined when p0f would not fingerprint it. */
  identify(seg: TcpSegment): Fingerprint | undefined {
    if (seg.ipStart < 0) return undefined;
    const f = this.fields;
    if (!readSyn(f, seg.header, seg.ipStart, seg.headerStart, seg.headerEnd, seg.payloadLength)) return undefined;
    return this.fromFields(f);
  }

  /** Matching and naming for fields already read (tests, the differential tool). */
  fromFields(f: SynFields): Fingerprint {
    const signature = rawSignature(f, this.quirks(f.quirks));
    const m = this.matcher.match(f);
    const fp: Fingerprint = m
      ? { label: m.signature.label.text, name: m.signature.label.display, match: m.kind, signature, source: m.signature.where }
      : { label: 'unknown', name: 'unknown', match: 'none', signature };
    const key = fingerprintKey(fp);
    const known = this.shared.get(key);
    if (known) return known;
    if (this.shared.size < FINGERPRINTS_KEPT) this.shared.set(key, fp);
    return fp;
  }

  private quirks(bits: number): string {
    let text = this.quirkTexts.get(bits);
    if (text === undefined) {
      text = quirkText(bits);
      if (this.quirkTexts.size < QUIRK_TEXTS_KEPT) this.quirkTexts.set(bits, text);
    }
    return text;
  }
}

/** Every field of a fingerprint, unambiguously (none holds a newline: file lines, p0f notation, fixed words). */
function fingerprintKey(fp: Fingerprint): string {
  return `${fp.match}\n${fp.label}\n${fp.name}\n${fp.source ?? ''}\n${fp.signature}`;
}
