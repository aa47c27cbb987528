/**
 * Differential test against p0f 3.09b: for every SYN p0f fingerprints in a
 * capture, honeyport computes the same raw signature (p0f's `raw_sig`) and
 * the same label (`os =` / `app =`), and says "generic"/"fuzzy" where p0f's
 * params do. Inputs: every fixture, every public capture in
 * ../shared/pcaps (skipped with a reason when absent), the scanner captures,
 * and 3,000 seeded SYNs built from the database's own signatures and bent
 * (see synthetic-syns). The database is p0f.fp followed by honeyport's own
 * signatures, so p0f itself also checks that file (it refuses a malformed or
 * duplicate signature).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { writePcap } from '../helpers/capture-writer.js';
import { combinedDatabase, type HoneyportRecord, honeyportFingerprinter, honeyportRecords, p0fAvailable, p0fRecords, type SynRecord } from './p0f-oracle.js';
import { prng, synthesize } from './synthetic-syns.js';

const SHARED = '../shared/pcaps';

function captures(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...captures(p));
    else if (/\.(pcap|pcapng)(\.gz)?$/.test(name)) out.push(p);
  }
  return out;
}

interface Outcome {
  compared: number;
  problems: string[];
}

/** Pairs every p0f record with honeyport's record of the same flow and raw signature, and compares what both say. */
function compare(file: string, p0f: readonly SynRecord[], ours: readonly SynRecord[]): Outcome {
  const byFlow = new Map<string, SynRecord[]>();
  for (const r of ours) {
    const l = byFlow.get(r.flow);
    if (l) l.push(r);
    else byFlow.set(r.flow, [r]);
  }
  const problems: string[] = [];
  for (const r of p0f) {
    const list = byFlow.get(r.flow) ?? [];
    const k = list.findIndex((x) => x.raw === r.raw);
    if (k < 0) {
      problems.push(`${file}: ${r.flow}: p0f raw_sig ${r.raw}, honeyport ${list.map((x) => x.raw).join(' | ') || 'no SYN'}`);
      continue;
    }
    const x = list.splice(0, k + 1)[k]!;
    if (x.name !== r.name) problems.push(`${file}: ${r.flow} ${r.raw}: p0f "${r.name}", honeyport "${x.name}"`);
    // "generic fuzzy": a generic signature matched fuzzily, which honeyport calls fuzzy (its label says g:).
    const p0fKind = r.name === '???' ? 'none' : /\bfuzzy\b/.test(r.params) ? 'fuzzy' : /\bgeneric\b/.test(r.params) ? 'generic' : 'exact';
    if (p0fKind !== x.params) problems.push(`${file}: ${r.flow} ${r.raw}: p0f match ${p0fKind} (${r.params}), honeyport ${x.params}`);
  }
  return { compared: p0f.length, problems };
}

/** The IP packet's declared length is what the bytes hold (IPv4 total length; IPv6 payload length + 40). */
function wholeIp(ip: Uint8Array): boolean {
  if (ip.length < 20) return false;
  const declared = ip[0]! >> 4 === 4 ? (ip[2]! << 8) | ip[3]! : ((ip[4]! << 8) | ip[5]!) + 40;
  return declared <= ip.length;
}

describe('fingerprints equal p0f -r', function () {
  this.timeout(300_000);
  const missing = p0fAvailable();
  let db = '';
  let scratch = '';
  before(function () {
    if (missing) {
      console.log(`      skipped: ${missing}`);
      this.skip();
    }
    db = combinedDatabase();
    scratch = mkdtempSync(join(tmpdir(), 'honeyport-fpdiff-'));
  });
  after(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  /** p0f reads no gzip: those are unpacked first. */
  function readable(file: string): string {
    if (!file.endsWith('.gz')) return file;
    const out = join(scratch, file.replace(/[/.]/g, '_'));
    writeFileSync(out, gunzipSync(readFileSync(file)));
    return out;
  }

  /**
   * Every capture through both; then the SYNs p0f did not print (link layers
   * it cannot walk: VLAN tags, SLL2, loopback) shown to it again as raw IP
   * (LINKTYPE_RAW), so that every SYN honeyport fingerprints is compared but
   * those p0f cannot be given at all (rebuilt from fragments, or cut short in
   * their frame), which are counted.
   */
  async function run(files: readonly string[]): Promise<Outcome & { again: number; notForP0f: number }> {
    const fp = honeyportFingerprinter();
    const all = { compared: 0, again: 0, notForP0f: 0, problems: [] as string[] };
    for (const file of files) {
      const f = readable(file);
      const p0f = p0fRecords(f, db);
      const ours = await honeyportRecords(f, fp);
      const o = compare(file, p0f, ours);
      all.compared += o.compared;
      all.problems.push(...o.problems);
      const printed = new Set(p0f.map((r) => r.flow));
      // A SYN rebuilt from fragments (its own or its tunnel's: honeyport reassembles,
      // p0f does not) or not whole in its frame is honeyport's alone: not shown again.
      const unseen: HoneyportRecord[] = ours.filter((r) => !printed.has(r.flow) && !r.reassembled && wholeIp(r.ip));
      all.notForP0f += ours.filter((r) => !printed.has(r.flow) && (r.reassembled || !wholeIp(r.ip))).length;
      if (unseen.length === 0) continue;
      // One raw file per capture: the same flow in two captures would be a duplicate SYN to p0f.
      const raw = join(scratch, 'again.pcap');
      writeFileSync(raw, writePcap(unseen.map((r, i) => ({ data: r.ip, tsMicros: 1_700_000_000_000_000 + i })), { linktype: 101 }));
      const p0fAgain = p0fRecords(raw, db);
      const again = compare(`${file} as raw IP`, p0fAgain, await honeyportRecords(raw, fp));
      all.again += again.compared;
      all.compared += again.compared;
      all.problems.push(...again.problems);
      if (again.compared < unseen.length) {
        const printedAgain = new Set(p0fAgain.map((r) => r.flow));
        const missed = unseen.filter((r) => !printedAgain.has(r.flow)).map((r) => r.flow);
        all.problems.push(`${file}: p0f printed ${again.compared} of the ${unseen.length} SYNs shown again as raw IP (not: ${missed.join(', ')})`);
      }
    }
    return all;
  }

  it('on every fixture, scanner captures included', async () => {
    const o = await run(captures('fixtures'));
    console.log(`      ${o.compared} SYNs compared (${o.again} of them shown to p0f again as raw IP); ${o.notForP0f} not comparable (reassembled or cut short)`);
    assert.deepEqual(o.problems.slice(0, 10), []);
    assert.ok(o.compared >= 150, `only ${o.compared} SYNs compared`);
  });

  it('on the public captures of real stacks', async function () {
    const files = captures(SHARED);
    if (files.length === 0) {
      console.log(`      skipped: ${SHARED} is absent`);
      this.skip();
    }
    const o = await run(files);
    console.log(`      ${o.compared} SYNs compared in ${files.length} captures (${o.again} of them shown to p0f again as raw IP); ${o.notForP0f} not comparable (reassembled or cut short)`);
    assert.deepEqual(o.problems.slice(0, 10), []);
    assert.ok(o.compared >= 1000, `only ${o.compared} SYNs compared`);
  });

  it('on 3,000 SYNs built from the database signatures and bent', async () => {
    const fp = honeyportFingerprinter();
    const rnd = prng(12);
    const sigs = (await import('../../src/fingerprint/signature-file.js')).parseSignatureFiles([
      { name: 'p0f.fp', text: readFileSync('/etc/p0f/p0f.fp', 'utf8') },
      { name: 'own', text: (await import('../../src/fingerprint/honeyport-signatures.js')).HONEYPORT_SIGNATURES },
    ]).syn;
    const frames = Array.from({ length: 3000 }, (_, i) => ({ data: synthesize(sigs[Math.floor(rnd() * sigs.length)]!, i, rnd), tsMicros: 1_700_000_000_000_000 + i * 1000 }));
    const file = join(scratch, 'synthetic.pcap');
    writeFileSync(file, writePcap(frames));
    const ours = await honeyportRecords(file, fp);
    const o = compare('synthetic', p0fRecords(file, db), ours);
    const kinds = new Map<string, number>();
    for (const r of ours) kinds.set(r.params, (kinds.get(r.params) ?? 0) + 1);
    console.log(`      ${o.compared} SYNs compared: ${[...kinds].map(([k, n]) => `${n} ${k}`).join(', ')}`);
    assert.deepEqual(o.problems.slice(0, 10), []);
    assert.equal(o.compared, 3000, 'p0f fingerprinted every synthetic SYN');
    for (const k of ['exact', 'fuzzy', 'generic', 'none']) assert.ok((kinds.get(k) ?? 0) >= 20, `few "${k}" outcomes: ${kinds.get(k) ?? 0}`);
  });

  it('sees a wrong label: the comparison itself can fail', () => {
    const p0f: SynRecord[] = [{ flow: 'a/1 -> b/2', name: 'Linux 3.11 and newer', raw: '4:64+0:0:1460:mss*20,7:mss,sok,ts,nop,ws:df,id+:0', params: 'none' }];
    const ours: SynRecord[] = [{ ...p0f[0]!, name: 'Linux 2.6.x', params: 'exact' }];
    assert.equal(compare('x', p0f, ours).problems.length, 1);
    assert.equal(compare('x', p0f, [{ ...ours[0]!, raw: '4:64+0:0:1460:mss*20,7:mss,sok,ts,nop,ws:df:0' }]).problems.length, 1);
  });

  it('p0f accepts p0f.fp followed by honeyport\'s signatures (none duplicate or malformed)', () => {
    const empty = join(scratch, 'empty.pcap');
    writeFileSync(empty, writePcap([]));
    const out = execFileSync('p0f', ['-f', db, '-r', empty], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).toString();
    assert.match(out, /Loaded \d+ signatures/);
  });
});
