/**
 * Fingerprints a probe from its captured headers, once per new key (the
 * detector calls it where it digests a key's first probe): reads the SYN
 * fields into one reusable SynFields, matches them, and builds the
 * Fingerprint — the only allocations, once per key, never per packet.
 * Segments p0f would not fingerprint (not a bare SYN, reassembled from
 * fragments, IPv6 extension headers, a cut TCP header) get none.
 */
import type { TcpSegment } from '../decode/segment.js';
import type { Fingerprint } from './fingerprint.js';
import { quirkText } from './quirks.js';
import type { SignatureDatabase } from './signature-file.js';
import { rawSignature, readSyn, SynFields } from './syn-fields.js';
import { SynMatcher } from './syn-matcher.js';

export class SynFingerprinter {
  private readonly fields = new SynFields();
  private readonly matcher: SynMatcher;
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
    const signature = rawSignature(f, quirkText(f.quirks));
    const m = this.matcher.match(f);
    if (!m) return { label: 'unknown', name: 'unknown', match: 'none', signature };
    const l = m.signature.label;
    return { label: l.text, name: l.display, match: m.kind, signature, source: m.signature.where };
  }
}
