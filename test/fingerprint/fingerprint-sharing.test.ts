/**
 * The fingerprinter hands equal fingerprints out as one shared object, keeps
 * quirk lists per quirk bits, and the formatter keeps each shared object's
 * JSON text: none of these may ever answer for a probe what a fresh
 * fingerprinter and a fresh formatter would not. Thousands of seeded SYNs
 * (exact, fuzzy, generic and unknown outcomes, quirks, layouts, IPv4 and
 * IPv6) are fingerprinted by one long-lived fingerprinter and each compared
 * with a fresh one's answer, and each alarm's document with a fresh
 * formatter's; past the table's bound, fingerprints stay right.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import type { ProbeAlarm } from '../../src/alarm/alarm.js';
import { Decoder } from '../../src/decode/decoder.js';
import { DecodeStatus } from '../../src/decode/segment.js';
import { EcsFormatter } from '../../src/deliver/format-ecs.js';
import type { Fingerprint } from '../../src/fingerprint/fingerprint.js';
import { HONEYPORT_SIGNATURES } from '../../src/fingerprint/honeyport-signatures.js';
import { DEFAULT_P0F_DATABASE } from '../../src/fingerprint/load.js';
import { parseSignatureFiles } from '../../src/fingerprint/signature-file.js';
import { FINGERPRINTS_KEPT, SynFingerprinter } from '../../src/fingerprint/syn-fingerprinter.js';
import { LinkType } from '../../src/source/frame-batch.js';
import { ctx, probeAlarm } from '../deliver/alarms.js';
import { decodeAt } from '../decode/harness.js';
import { prng, synthesize } from './synthetic-syns.js';

/** p0f's database where installed (its generic and fuzzy outcomes), and honeyport's own signatures. */
const withP0f = existsSync(DEFAULT_P0F_DATABASE);
const signatures = parseSignatureFiles([
  ...(withP0f ? [{ name: DEFAULT_P0F_DATABASE, text: readFileSync(DEFAULT_P0F_DATABASE, 'utf8') }] : []),
  { name: 'own', text: HONEYPORT_SIGNATURES },
]);

/** `count` seeded SYN frames, each built from a signature and bent half of the time. */
function syns(count: number, seed: number): Uint8Array[] {
  const rnd = prng(seed);
  return Array.from({ length: count }, (_, i) => synthesize(signatures.syn[Math.floor(rnd() * signatures.syn.length)]!, i, rnd));
}

/** The fingerprint of each frame p0f would fingerprint, by `fp` (undefined otherwise). */
function fingerprints(fp: SynFingerprinter | (() => SynFingerprinter), frames: readonly Uint8Array[]): (Fingerprint | undefined)[] {
  const dec = new Decoder();
  return frames.map((frame) => {
    if (decodeAt(dec, frame, LinkType.ETHERNET) !== DecodeStatus.Segment) return undefined;
    return (typeof fp === 'function' ? fp() : fp).identify(dec.segment);
  });
}

const fresh = (): SynFingerprinter => new SynFingerprinter(signatures);

describe('fingerprints shared between alarms', function () {
  this.timeout(60_000);

  it('a long-lived fingerprinter answers every SYN as a fresh one does, and equal answers are one object', () => {
    const frames = syns(4000, 7);
    const shared = fresh();
    const got = fingerprints(shared, frames);
    const want = fingerprints(fresh, frames);
    const kinds = new Set<string>();
    for (let i = 0; i < frames.length; i++) {
      assert.deepEqual(got[i], want[i], `SYN ${i}`);
      if (got[i]) kinds.add(got[i]!.match);
    }
    // The seeded SYNs reach every outcome the database allows, so a stale entry of any kind would show.
    const outcomes = withP0f ? ['exact', 'fuzzy', 'generic', 'none'] : ['exact', 'none'];
    if (!withP0f) process.stdout.write(`      (${DEFAULT_P0F_DATABASE} missing: honeyport's own signatures only, no fuzzy or generic outcomes)\n`);
    assert.deepEqual([...kinds].sort(), outcomes, `outcomes: ${[...kinds].join(', ')}`);
    // Equal content, one object; different content, different objects.
    const byText = new Map<string, Fingerprint>();
    let sharedHits = 0;
    for (const f of got) {
      if (!f) continue;
      const text = JSON.stringify(f);
      const seen = byText.get(text);
      if (seen) {
        assert.equal(f, seen, 'equal fingerprints are one object');
        sharedHits++;
      } else byText.set(text, f);
    }
    assert.ok(sharedHits > 0, 'some SYNs repeat a shape');
    assert.equal(new Set(got.filter((f) => f !== undefined)).size, byText.size, 'no object stands for two different fingerprints');
  });

  it('past its bound the table stops sharing, and answers stay right', () => {
    const frames = syns(FINGERPRINTS_KEPT * 3, 11);
    const shared = fresh();
    const got = fingerprints(shared, frames);
    const want = fingerprints(fresh, frames);
    const distinct = new Set(want.filter((f) => f !== undefined).map((f) => JSON.stringify(f)));
    assert.ok(distinct.size > FINGERPRINTS_KEPT, `the seeded SYNs must overflow the table (${distinct.size} distinct)`);
    for (let i = 0; i < frames.length; i++) assert.deepEqual(got[i], want[i], `SYN ${i}`);
  });

  it('the formatter writes each alarm\'s own fingerprint, whatever it wrote before for another', () => {
    const frames = syns(1500, 13);
    const prints = fingerprints(fresh(), frames).filter((f) => f !== undefined);
    const longLived = new EcsFormatter(ctx);
    const alarmWith = (i: number, f: Fingerprint): ProbeAlarm => {
      const a = probeAlarm(i);
      return { ...a, origin: { ...a.origin, fingerprint: f } };
    };
    // Each fingerprint twice, in an order that mixes them, through the same formatter.
    const order = [...prints.keys(), ...[...prints.keys()].reverse()];
    for (const [n, k] of order.entries()) {
      const a = alarmWith(n, prints[k]!);
      const doc = JSON.parse(longLived.format(a).json) as { honeyport: { fingerprint: unknown } };
      assert.deepEqual(doc.honeyport.fingerprint, JSON.parse(JSON.stringify(prints[k])), `alarm ${n}`);
      assert.equal(longLived.format(a).json, new EcsFormatter(ctx).format(a).json, `alarm ${n}: the same bytes as a fresh formatter`);
    }
  });
});
