/**
 * What fingerprinting costs per new key: SynFingerprinter.identify over
 * decoded SYNs of varied stacks (the synthetic SYNs of the differential
 * test, p0f's database plus honeyport's), after a warm-up. Prints ns per
 * call. `node dist/test/bench/fingerprint-bench.js`.
 */
import { readFileSync } from 'node:fs';
import { Decoder } from '../../src/decode/decoder.js';
import { DecodeStatus } from '../../src/decode/segment.js';
import { HONEYPORT_SIGNATURES } from '../../src/fingerprint/honeyport-signatures.js';
import { DEFAULT_P0F_DATABASE } from '../../src/fingerprint/load.js';
import { parseSignatureFiles, type SignatureSource } from '../../src/fingerprint/signature-file.js';
import { SynFingerprinter } from '../../src/fingerprint/syn-fingerprinter.js';
import { prng, synthesize } from '../fingerprint/synthetic-syns.js';

const sources: SignatureSource[] = [{ name: 'own', text: HONEYPORT_SIGNATURES }];
try {
  sources.unshift({ name: DEFAULT_P0F_DATABASE, text: readFileSync(DEFAULT_P0F_DATABASE, 'utf8') });
} catch {
  console.log(`${DEFAULT_P0F_DATABASE} absent: honeyport's signatures only`);
}
const started = process.hrtime.bigint();
const db = parseSignatureFiles(sources);
const fp = new SynFingerprinter(db);
console.log(`load: ${db.syn.length} SYN signatures parsed in ${(Number(process.hrtime.bigint() - started) / 1e6).toFixed(2)} ms`);
const rnd = prng(7);
const frames = Array.from({ length: 2000 }, (_, i) => Buffer.from(synthesize(db.syn[Math.floor(rnd() * db.syn.length)]!, i, rnd)));
const dec = new Decoder();
const segs: Buffer[] = frames.filter((f) => dec.decode(f, 0, f.length, 1, 0) === DecodeStatus.Segment);
let sink = 0;
for (let round = 0; round < 5; round++) {
  const t0 = process.hrtime.bigint();
  for (let rep = 0; rep < 20; rep++) {
    for (const f of segs) {
      dec.decode(f, 0, f.length, 1, 0);
      const r = fp.identify(dec.segment);
      if (r) sink += r.signature.length;
    }
  }
  const t1 = process.hrtime.bigint();
  const decodeOnly = process.hrtime.bigint();
  for (let rep = 0; rep < 20; rep++) for (const f of segs) dec.decode(f, 0, f.length, 1, 0);
  const t2 = process.hrtime.bigint();
  const n = segs.length * 20;
  console.log(`round ${round}: ${(Number(t1 - t0 - (t2 - decodeOnly)) / n).toFixed(0)} ns per identify (decode subtracted), ${n} calls`);
}
if (sink === 0) console.log('nothing fingerprinted');
