/**
 * The p0f.fp parser: Debian's database loads whole (as many signatures as
 * p0f counts), and every malformed line — the faults a hand-edited file has
 * — is refused with file:line, exactly where p0f itself refuses the same
 * file (each mutation is also fed to p0f 3.09b when installed).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writePcap } from '../helpers/capture-writer.js';
import { HONEYPORT_SIGNATURES } from '../../src/fingerprint/honeyport-signatures.js';
import { DEFAULT_P0F_DATABASE, loadFingerprints } from '../../src/fingerprint/load.js';
import { parseSignatureFiles, SignatureFileError } from '../../src/fingerprint/signature-file.js';
import { generateSignatures } from '../fuzz/generate-signatures.js';
import { Rng } from '../fuzz/rng.js';
import { p0fAvailable } from './p0f-oracle.js';

const BASE = `classes = win,unix,other
[tcp:request]
label = s:unix:Linux:3.11 and newer
sig   = *:64:0:*:mss*20,10:mss,sok,ts,nop,ws:df,id+:0
label = s:!:NMap:SYN scan
sys   = @unix,@win
sig   = *:64-:0:1460:1024,0:mss::0
[mtu]
label = Ethernet or modem
sig   = 1500
`;

/** [what, line to replace (1-based), replacement, expected message part]. Each makes the file malformed. */
const BAD: [string, number, string, RegExp][] = [
  ['IP version', 4, 'sig = 5:64:0:*:mss*20,10:mss,sok,ts,nop,ws:df,id+:0', /IP version/],
  ['TTL zero', 4, 'sig = *:0:0:*:mss*20,10:mss,sok,ts,nop,ws:df,id+:0', /initial TTL/],
  ['TTL above 255', 4, 'sig = *:256:0:*:mss*20,10:mss,sok,ts,nop,ws:df,id+:0', /initial TTL/],
  ['TTL + distance above 255', 4, 'sig = *:250+6:0:*:mss*20,10:mss,sok,ts,nop,ws:df,id+:0', /initial TTL/],
  ['MSS above 65535', 4, 'sig = *:64:0:70000:mss*20,10:mss,sok,ts,nop,ws:df,id+:0', /MSS/],
  ['window multiplier 0', 4, 'sig = *:64:0:*:mss*0,10:mss,sok,ts,nop,ws:df,id+:0', /multiplier/],
  ['window modulo 1', 4, 'sig = *:64:0:*:%1,10:mss,sok,ts,nop,ws:df,id+:0', /window/],
  ['no scale', 4, 'sig = *:64:0:*:mss*20:mss,sok,ts,nop,ws:df,id+:0', /sig|window/],
  ['unknown option', 4, 'sig = *:64:0:*:mss*20,10:mss,sok,tss,nop,ws:df,id+:0', /option/],
  ['eol not last', 4, 'sig = *:64:0:*:mss*20,10:eol+1,mss:df,id+:0', /eol/],
  ['unknown quirk', 4, 'sig = *:64:0:*:mss*20,10:mss,sok,ts,nop,ws:df,id++:0', /quirk/],
  ['df on IPv6', 4, 'sig = 6:64:0:*:mss*20,10:mss,sok,ts,nop,ws:df:0', /IPv6/],
  ['flow on IPv4', 4, 'sig = 4:64:0:*:mss*20,10:mss,sok,ts,nop,ws:flow:0', /IPv4/],
  ['payload class', 4, 'sig = *:64:0:*:mss*20,10:mss,sok,ts,nop,ws:df,id+:1', /payload/],
  ['too few fields', 4, 'sig = *:64:0:*:mss*20,10:mss,sok,ts,nop,ws:df,id+', /sig/],
  ['unknown class', 3, 'label = s:bsd:Linux:3.11 and newer', /class/],
  ['label type', 3, 'label = x:unix:Linux:3.11 and newer', /label/],
  ['bad name', 3, 'label = s:unix:Li<nux:3.11', /name/],
  ['tool without sys', 6, '; no sys', /sys/],
  ['sys after an OS label', 3, 'sys = Linux', /sys/],
  ['sig before any label', 3, '; no label', /sig|label/],
  ['unknown section', 2, '[tcp:sideways]', /section/],
  ['unknown key', 4, 'sgi = *:64:0:*:mss*20,10:mss,sok,ts,nop,ws:df,id+:0', /unknown key/],
  ['no key', 4, '*:64:0:*:mss*20,10:mss,sok,ts,nop,ws:df,id+:0', /unexpected statement/],
  ['classes after a section', 8, 'classes = win', /classes/],
  ['the same signature twice', 7, 'sig = *:64-:0:1460:1024,0:mss::0\nsig = *:64-:0:1460:1024,0:mss::0', /^bad\.fp:8: signature already covered by bad\.fp:7$/],
  ['covered: a lower TTL within reach', 7, 'sig = 4:64:0:1460:1024,0:mss::0\nsig = 4:60:0:1460:1024,0:mss::0', /already covered by bad\.fp:7/],
  ['covered: a window the wildcard takes', 7, 'sig = *:64:0:1460:*,0:mss::0\nsig = *:64:0:1460:1024,0:mss::0', /already covered/],
  ['control characters', 4, 'sig = *:64:0:*:mss*20,10:mss,sok,ts,nop,ws:df,\u001b[31m:0', /quirk/],
];

function mutate(line: number, text: string): string {
  const lines = BASE.split('\n');
  lines[line - 1] = text;
  return lines.join('\n');
}

describe('p0f signature files', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'honeyport-fpfile-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the example file: SYN signatures in order, labels as p0f shows them', () => {
    const db = parseSignatureFiles([{ name: 'x.fp', text: BASE }]);
    assert.equal(db.total, 3);
    assert.deepEqual(db.syn.map((s) => [s.where, s.label.text, s.label.display, s.label.tool, s.randomTtl]), [
      ['x.fp:4', 's:unix:Linux:3.11 and newer', 'Linux 3.11 and newer', false, false],
      ['x.fp:7', 's:!:NMap:SYN scan', 'NMap SYN scan', true, true],
    ]);
  });

  it(`loads ${DEFAULT_P0F_DATABASE} whole, with as many signatures as p0f counts, then honeyport's own`, function () {
    if (!existsSync(DEFAULT_P0F_DATABASE)) {
      console.log(`      skipped: ${DEFAULT_P0F_DATABASE} absent (apt install p0f)`);
      this.skip();
    }
    const text = readFileSync(DEFAULT_P0F_DATABASE, 'utf8');
    const db = parseSignatureFiles([{ name: DEFAULT_P0F_DATABASE, text }]);
    if (p0fAvailable() === undefined) {
      const empty = join(dir, 'count.pcap');
      writeFileSync(empty, writePcap([]));
      const counted = /Loaded (\d+) signatures/.exec(spawnSync('p0f', ['-f', DEFAULT_P0F_DATABASE, '-r', empty], { encoding: 'utf8' }).stdout);
      assert.ok(counted, 'p0f printed its signature count');
      assert.equal(db.total, Number(counted[1]));
    }
    const both = parseSignatureFiles([{ name: DEFAULT_P0F_DATABASE, text }, { name: 'own', text: HONEYPORT_SIGNATURES }]);
    assert.ok(both.syn.length > db.syn.length + 20);
  });

  it('refuses every malformed line with file:line, one line, escaped; and p0f refuses the same files', () => {
    const p0f = p0fAvailable() === undefined;
    const empty = join(dir, 'empty.pcap');
    writeFileSync(empty, writePcap([]));
    for (const [what, line, text, message] of BAD) {
      const body = mutate(line, text);
      let err: unknown;
      try {
        parseSignatureFiles([{ name: 'bad.fp', text: body }]);
      } catch (e) {
        err = e;
      }
      assert.ok(err instanceof SignatureFileError, `${what}: accepted`);
      assert.match(err.message, /^bad\.fp:\d+: /, what);
      assert.match(err.message, message, `${what}: ${err.message}`);
      assert.doesNotMatch(err.message, /[\u0000-\u001f]/, `${what}: control characters in ${JSON.stringify(err.message)}`);
      if (p0f) {
        const file = join(dir, 'bad.fp');
        writeFileSync(file, body);
        const r = spawnSync('p0f', ['-f', file, '-r', empty], { encoding: 'utf8' });
        assert.notEqual(r.status, 0, `${what}: p0f accepted it`);
      }
    }
    // Near misses of "covered" that both accept: a fuzzy-only overlap (TTL beyond reach, other quirks), a generic earlier one.
    for (const ok of [
      'sig = 4:64:0:1460:1024,0:mss::0\nsig = 4:255:0:1460:1024,0:mss::0',
      'sig = 4:64:0:1460:1024,0:mss::0\nsig = 4:64:0:1460:1024,0:mss:df:0',
      'sig = *:64:0:1460:1024,0:mss::0\nsig = *:64:0:1460:1024,0:mss::+',
      // p0f's own leniency: a "*" signature with df or id+ is never covered (the version mask strips them from the earlier one).
      'sig = *:64:0:1460:1024,0:mss:df:0\nsig = *:64:0:1460:1024,0:mss:df:0',
    ]) {
      const body = mutate(7, ok);
      parseSignatureFiles([{ name: 'ok.fp', text: body }]);
      if (p0f) {
        writeFileSync(join(dir, 'near.fp'), body);
        assert.equal(spawnSync('p0f', ['-f', join(dir, 'near.fp'), '-r', empty]).status, 0, `p0f refused ${ok}`);
      }
    }
    // The unmutated file is accepted by both: the faults above are what made the difference.
    parseSignatureFiles([{ name: 'ok.fp', text: BASE }]);
    if (p0f) {
      writeFileSync(join(dir, 'ok.fp'), BASE);
      assert.equal(spawnSync('p0f', ['-f', join(dir, 'ok.fp'), '-r', empty]).status, 0);
    }
  });

  it('accepts exactly the files p0f accepts: 800 generated near-valid files (without HTTP signatures)', function () {
    if (p0fAvailable()) {
      console.log(`      skipped: ${p0fAvailable()}`);
      this.skip();
    }
    const empty = join(dir, 'empty.pcap');
    writeFileSync(empty, writePcap([]));
    const differences: string[] = [];
    let accepted = 0;
    let compared = 0;
    for (let seed = 1; seed <= 800; seed++) {
      const input = generateSignatures(new Rng(seed), false);
      if (input.includes(0)) continue; // p0f stops reading at a NUL byte; honeyport reads on
      compared++;
      let ours = 'accepted';
      try {
        parseSignatureFiles([{ name: 'gen.fp', text: input.toString('utf8') }]);
        accepted++;
      } catch (err) {
        assert.ok(err instanceof SignatureFileError, String(err));
        ours = err.message;
      }
      const file = join(dir, 'gen.fp');
      writeFileSync(file, input);
      const r = spawnSync('p0f', ['-f', file, '-r', empty], { encoding: 'utf8' });
      const theirs = r.status === 0 ? 'accepted' : ((r.stdout + r.stderr).split('\n').find((l) => /ABORT/.test(l)) ?? `exit ${r.status}`);
      if ((ours === 'accepted') !== (theirs === 'accepted')) differences.push(`seed ${seed}: honeyport ${ours}; p0f ${theirs}`);
    }
    console.log(`      ${compared} files, ${accepted} accepted by both`);
    assert.deepEqual(differences, []);
    assert.ok(accepted >= 20 && compared - accepted >= 100, `${accepted} of ${compared} accepted: the files must probe both sides`);
  });

  it('refuses a label longer than alarms can carry (p0f would take it; none of its own comes near)', () => {
    assert.throws(() => parseSignatureFiles([{ name: 'long.fp', text: mutate(3, `label = s:unix:Linux:${'x'.repeat(200)}`) }]), /^Error: long\.fp:3: label longer than 200 characters$|long\.fp:3: label longer than 200 characters/);
  });

  it('a missing default database is a notice, not an error: honeyport\'s scanner signatures stay on', async () => {
    const loaded = await loadFingerprints({ kind: 'default' }, join(dir, 'absent.fp'));
    assert.ok(loaded.fingerprinter);
    assert.match(loaded.notice ?? '', /absent\.fp not found .*scanner signatures only/);
    const off = await loadFingerprints({ kind: 'off' });
    assert.equal(off.fingerprinter, undefined);
  });

  it('a given file that is missing or malformed is an error naming it', async () => {
    await assert.rejects(loadFingerprints({ kind: 'file', path: join(dir, 'absent.fp') }), (e: Error) => e instanceof SignatureFileError && /absent\.fp: cannot read the signature file \(ENOENT\)/.test(e.message));
    writeFileSync(join(dir, 'broken.fp'), mutate(4, 'sig = *:64:0:*:mss*20,10:mss:bogus:0'));
    await assert.rejects(loadFingerprints({ kind: 'file', path: join(dir, 'broken.fp') }), /broken\.fp:4: unknown quirk "bogus"/);
    await assert.rejects(loadFingerprints({ kind: 'file', path: '/dev/zero' }), SignatureFileError);
  });
});
