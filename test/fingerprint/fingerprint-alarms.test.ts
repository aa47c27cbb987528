/**
 * honeyport.fingerprint in alarms: each key's first alarm names the tool
 * that sent its first SYN (the scanner captures), follow-ups and stealth
 * probes carry none, ECS and EVE carry the same object (EVE still valid
 * against Suricata's schema), a hostile label stays one JSON string, and the
 * command line's --fingerprints / --no-fingerprints do what they say.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import type { ProbeAlarm } from '../../src/alarm/alarm.js';
import type { ProtectedPort } from '../../src/policy/policy.js';
import { HONEYPORT_SIGNATURES } from '../../src/fingerprint/honeyport-signatures.js';
import { parseSignatureFiles } from '../../src/fingerprint/signature-file.js';
import { SynFingerprinter } from '../../src/fingerprint/syn-fingerprinter.js';
import { CLI, FIXTURE_POLICY, REFERENCES, ROOT, fixturePolicy, replayDocs, type ReplayedAlarm } from '../helpers/replay-docs.js';
import { honeyportFingerprinter, p0fAvailable } from './p0f-oracle.js';

const scanners = (name: string): string => join(ROOT, 'fixtures/scanners', name);
const live = (name: string): string => join(ROOT, 'fixtures/live', name);

function fingerprintOf(d: ReplayedAlarm): Record<string, unknown> | undefined {
  return (d.ecs.honeyport as { fingerprint?: Record<string, unknown> }).fingerprint;
}

describe('fingerprints in alarms', function () {
  this.timeout(60_000);
  let fp: SynFingerprinter;
  before(function () {
    // Without p0f's database, the scanner signatures alone (what a host without p0f gets).
    fp = p0fAvailable() === undefined ? honeyportFingerprinter() : new SynFingerprinter(parseSignatureFiles([{ name: 'own', text: HONEYPORT_SIGNATURES }]));
  });

  it('names the scanner on each key\'s first alarm, and only there', async () => {
    const ports: ProtectedPort[] = [22, 135, 445, 3389].map((port): ProtectedPort => ({ port, protocol: 'tcp' }));
    for (const port of [135, 445, 5985]) ports.push({ port, protocol: 'tcp6' });
    const policy = { ...(await fixturePolicy()), ports };
    const expected: [string, string][] = [
      [scanners('masscan-4.pcap'), 's:!:masscan:SYN scan'],
      [scanners('zmap-4.pcap'), 's:!:ZMap:SYN scan'],
      [scanners('hping3-4.pcap'), 's:!:hping3:SYN'],
      [scanners('nmap-sS-6.pcap'), 's:!:NMap:SYN scan'],
      [live('masscan.pcap'), 's:!:masscan:SYN scan'],
    ];
    for (const [file, label] of expected) {
      const docs = await replayDocs([file], policy, { fingerprints: fp });
      const firsts = docs.filter((d) => (d.alarm as ProbeAlarm).phase === 'first');
      assert.ok(firsts.length > 0, file);
      for (const d of firsts) {
        const f = fingerprintOf(d);
        assert.equal(f?.label, label, file);
        assert.equal(f?.match, 'exact');
        assert.match(String(f?.signature), /^[46]:\d+\+/);
        assert.match(String(f?.source), /:\d+$/);
        assert.deepEqual(((d.eve.alert as { metadata: { honeyport: { fingerprint?: unknown } } }).metadata.honeyport).fingerprint, f, 'EVE carries the same object');
      }
      for (const d of docs.filter((x) => (x.alarm as ProbeAlarm).phase !== 'first')) assert.equal(fingerprintOf(d), undefined, `${file}: follow-up`);
    }
  });

  it('gives stealth probes, fragmented SYNs and disabled fingerprinting none', async () => {
    const policy = await fixturePolicy();
    for (const file of [live('nmap-sF-sN-sX.pcap'), live('nmap-f.pcap'), live('hping3-frag.pcap')]) {
      const docs = await replayDocs([file], policy, { fingerprints: fp });
      assert.ok(docs.length > 0, file);
      for (const d of docs) assert.equal(fingerprintOf(d), undefined, file);
    }
    for (const d of await replayDocs([live('nmap-sS.pcap')], policy)) assert.equal(fingerprintOf(d), undefined, 'off unless asked for');
  });

  it('leaves event.id as it is without fingerprints (a SIEM de-duplicating on it sees the same alarm)', async () => {
    const policy = await fixturePolicy();
    const files = [live('mixed-with-whitelist.pcapng'), live('nmap-sS.pcap'), live('masscan.pcap')];
    const without = (await replayDocs(files, policy)).map((d) => d.id);
    const withFp = await replayDocs(files, policy, { fingerprints: fp });
    assert.ok(withFp.some((d) => fingerprintOf(d) !== undefined));
    assert.deepEqual(withFp.map((d) => d.id), without);
  });

  it('an unknown stack is "unknown" with its raw signature, never a guess', async () => {
    const none = new SynFingerprinter(parseSignatureFiles([{ name: 'empty', text: '' }]));
    const docs = await replayDocs([live('nmap-sS.pcap')], await fixturePolicy(), { fingerprints: none });
    const f = fingerprintOf(docs[0]!);
    assert.deepEqual(f, { label: 'unknown', name: 'unknown', match: 'none', signature: f?.signature });
    assert.match(String(f?.signature), /^4:\d+\+\d+:0:1460:1024,0:mss::0$/);
  });

  it('keeps a hostile label one JSON string, in ECS and EVE, and EVE valid against Suricata\'s schema', async function () {
    const hostile = `[tcp:request]\nlabel = s:!:Evil:"quoted" \\ </script><script>alert(1)</script> \u2028\nsys = Linux\nsig = 4:64-:0:1460:1024,0:mss::0\n`;
    const evil = new SynFingerprinter(parseSignatureFiles([{ name: 'hostile.fp', text: hostile }]));
    const docs = await replayDocs([live('nmap-sS.pcap')], await fixturePolicy(), { fingerprints: evil });
    const f = fingerprintOf(docs[0]!);
    assert.equal(f?.name, `Evil "quoted" \\ </script><script>alert(1)</script> \u2028`);
    const schema = join(REFERENCES, 'suricata-eve/schema.json');
    if (!existsSync(schema)) {
      console.log(`      EVE schema check skipped: ${schema} absent`);
      return;
    }
    const validate = new Ajv({ strict: false, allErrors: true }).compile(JSON.parse(readFileSync(schema, 'utf8')) as object);
    for (const d of docs) assert.ok(validate(d.eve), JSON.stringify(validate.errors));
  });

  describe('command line', () => {
    let dir = '';
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'honeyport-fpcli-'));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));
    const replay = (...args: string[]) => spawnSync(process.execPath, [CLI, 'replay', '-q', '-p', FIXTURE_POLICY, ...args], { encoding: 'utf8', cwd: ROOT });

    it('--fingerprints FILE with a malformed line: one line naming file:line, exit 2, no alarm', () => {
      const bad = join(dir, 'bad.fp');
      writeFileSync(bad, '[tcp:request]\nlabel = s:!:x:y\nsys = Linux\nsig = 4:64:0:1460:1024,0:mss:nope:0\n');
      const r = replay('--fingerprints', bad, live('nmap-sS.pcap'));
      assert.equal(r.status, 2);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr, `honeyport: --fingerprints: ${bad}:4: unknown quirk "nope"\n`);
    });

    it('--fingerprints FILE that does not exist: exit 2; --no-fingerprints: no field', () => {
      const r = replay('--fingerprints', join(dir, 'none.fp'), live('nmap-sS.pcap'));
      assert.equal(r.status, 2);
      assert.match(r.stderr, /^honeyport: --fingerprints: .*none\.fp: cannot read the signature file \(ENOENT\)\n$/);
      const off = replay('--no-fingerprints', live('nmap-sS.pcap'));
      assert.equal(off.status, 0);
      assert.ok(off.stdout.length > 0 && !off.stdout.includes('"fingerprint"'));
    });

    it('by default uses the p0f database and honeyport\'s signatures', function () {
      if (p0fAvailable()) this.skip();
      const r = replay(live('masscan.pcap'), live('nmap-sS.pcap'));
      assert.equal(r.status, 0, r.stderr);
      const labels = new Set(r.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { honeyport: { fingerprint?: { label: string } } }).honeyport.fingerprint?.label));
      assert.ok(labels.has('s:!:masscan:SYN scan') && labels.has('s:!:NMap:SYN scan'), [...labels].join());
    });
  });
});
