/**
 * Hostile input through the command line as a user meets it: every case
 * must end in one escaped line on stderr naming the problem, the documented
 * exit code, and no "internal error" or stack trace.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { writePcapng } from '../helpers/capture-writer.js';
import { ethernet, ipv4, tcp } from '../helpers/frame-builder.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = join(ROOT, 'dist/src/cli/main.js');
const SCAN = join(ROOT, 'fixtures/live/nmap-sS.pcap');

interface Result { code: number | null; stdout: string; stderr: string }

function hp(args: string[], timeout = 30_000): Result {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: 'utf8', timeout, maxBuffer: 64 << 20 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** One line, no control characters, no internal error, no stack, the expected code. */
function assertCleanError(r: Result, code: number, pattern: RegExp): void {
  assert.equal(r.code, code, `exit code; stderr: ${r.stderr.slice(0, 2000)}`);
  assert.doesNotMatch(r.stderr, /internal error/);
  assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
  assert.ok(r.stderr.endsWith('\n'));
  const line = r.stderr.slice(0, -1);
  assert.doesNotMatch(line, /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/, `one clean line: ${JSON.stringify(line.slice(0, 300))}`);
  assert.ok(line.length <= 4200, `bounded line: ${line.length} characters`);
  assert.match(line, pattern);
}

function aliasBomb(): string {
  const lines = ['a0: &a0 [lol]'];
  for (let i = 1; i < 10; i++) lines.push(`a${i}: &a${i} [${Array.from({ length: 10 }, () => `*a${i - 1}`).join(', ')}]`);
  return `${lines.join('\n')}\nos: linux\nports: recommended\n`;
}

describe('command line against hostile policies and configs', function () {
  this.timeout(60_000);
  let dir = '';
  before(() => { dir = mkdtempSync(join(tmpdir(), 'hp-hostile-cli-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('an alias bomb is exit 2 with one line for policy check, replay -p, run -p and --config', () => {
    const bomb = join(dir, 'bomb.yaml');
    writeFileSync(bomb, aliasBomb());
    assertCleanError(hp(['policy', 'check', bomb]), 2, /bomb\.yaml: invalid policy: .*alias/);
    assertCleanError(hp(['replay', '-p', bomb, SCAN]), 2, /bomb\.yaml: invalid policy: .*alias/);
    assertCleanError(hp(['run', '-p', bomb]), 2, /bomb\.yaml: invalid policy: .*alias/);
    assertCleanError(hp(['replay', '--config', bomb, SCAN]), 2, /bomb\.yaml: not valid YAML: .*alias/);
  });

  it('an endless or huge file is exit 2 with one line', () => {
    assertCleanError(hp(['policy', 'check', '/dev/zero']), 2, /^honeyport: \/dev\/zero: invalid policy: larger than the limit of 64 MiB$/);
    assertCleanError(hp(['replay', '--config', '/dev/zero', SCAN]), 2, /\/dev\/zero: cannot read config: larger than the limit of 1 MiB/);
  });

  it('deep nesting is refused quickly with its position', () => {
    const deep = join(dir, 'deep.yaml');
    writeFileSync(deep, `os: linux\nports: recommended\nname:\n  ${'? '.repeat(1000)}x\n`);
    assertCleanError(hp(['policy', 'check', deep], 10_000), 2, /deep\.yaml: invalid policy: line 4, column \d+: nested deeper than/);
  });

  it('YAML errors name line and column; parser warnings do not reach stderr', () => {
    const dup = join(dir, 'dup.yaml');
    writeFileSync(dup, 'os: linux\nports: recommended\nos: windows\n');
    assertCleanError(hp(['policy', 'check', dup]), 2, /dup\.yaml: invalid policy: line 3, column 1: /);
    const ck = join(dir, 'collection-key.yaml');
    writeFileSync(ck, '? [a, b]\n: 1\nos: linux\nports: recommended\n');
    assertCleanError(hp(['policy', 'check', ck]), 2, /collection-key\.yaml: invalid policy: /);
  });

  it('a bad --output spec names the scheme the user wrote', () => {
    for (const scheme of ['udp', 'tcp', 'tls']) {
      const r = hp(['replay', '-o', `syslog+${scheme}://127.0.0.1:99999`, SCAN]);
      assertCleanError(r, 2, new RegExp(`--output syslog\\+${scheme}://127\\.0\\.0\\.1:99999: expected syslog\\+${scheme}://HOST\\[:PORT\\]`));
    }
  });

  it('control characters in entries, keys and file names are escaped, long text is cut', () => {
    const esc = join(dir, 'esc\nname.yaml');
    writeFileSync(esc, 'os: linux\nports: recommended\nwhitelist: ["10.0.0.1\\n\\u001b]0;owned\\u0007", "\\u202e1.2.3.4"]\n"k\\r\\n": 1\n');
    const r = hp(['policy', 'check', esc]);
    assertCleanError(r, 2, /esc\\nname\.yaml: invalid policy: .*whitelist\[0\]: "10\.0\.0\.1\\n\\u001b\]0;owned\\u0007"/);
    assert.match(r.stderr, /\\u202e1\.2\.3\.4/);
    const many = join(dir, 'many.yaml');
    writeFileSync(many, `os: linux\nports: recommended\nwhitelist:\n${`  - "${'z'.repeat(1000)}"\n`.repeat(5000)}`);
    assertCleanError(hp(['policy', 'check', many]), 2, /and 4,990 more problems \(5,000 in all\)$/);
  });
});

describe('command line against hostile captures', function () {
  this.timeout(60_000);
  let dir = '';
  before(() => { dir = mkdtempSync(join(tmpdir(), 'hp-hostile-cap-cli-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const T0 = 1_700_000_000_123_456;
  const syn = (src: string): Uint8Array => ethernet(ipv4({ src, dst: '198.18.0.1', payload: tcp({ srcPort: 40000, dstPort: 445 }) }));

  it('a timestamp no date can hold is damage (exit 3) and the alarm before it is written, also with -o stdout', () => {
    const file = join(dir, 'bad-time.pcapng');
    writeFileSync(file, writePcapng([{ blocks: [
      { type: 'idb', linktype: 1 },
      { type: 'idb', linktype: 1, tsresol: 0 },
      { type: 'epb', iface: 0, ticks: BigInt(T0), data: syn('198.18.0.2') },
      { type: 'epb', iface: 1, ticks: 0xffff_0000n << 32n, data: syn('198.18.0.3') },
    ] }]));
    for (const extra of [[], ['-o', 'stdout']]) {
      const r = hp(['replay', '-q', ...extra, file]);
      assertCleanError(r, 3, /bad-time\.pcapng: damaged at byte \d+: packet timestamp .* is outside the years 1684-2255$/);
      const alarms = r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { '@timestamp': string; source: { ip: string } });
      assert.deepEqual(alarms.map((a) => a.source.ip), ['198.18.0.2'], 'the alarm before the damage');
      for (const a of alarms) assert.match(a['@timestamp'], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    }
  });

  it('an IPv4-mapped whitelist entry whitelists the IPv4 source and its mapped form (fixture whitelist-mapped.pcap)', () => {
    const policy = join(dir, 'mapped.yaml');
    writeFileSync(policy, 'os: linux\nports: [{port: 445, protocol: tcp}, {port: 5985, protocol: tcp6}]\nwhitelist: ["::ffff:198.18.0.0/126"]\n');
    assert.match(hp(['policy', 'check', policy]).stdout, /ok: .*1 whitelist entry/);
    const r = hp(['replay', '-p', policy, join(ROOT, 'fixtures/crafted/whitelist-mapped.pcap')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /, 3 whitelisted,/); // 198.18.0.3, ::ffff:198.18.0.3, 198.18.0.1
    const sources = r.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { source: { ip: string } }).source.ip).sort();
    assert.deepEqual(sources, ['::ffff:198.18.0.4']);
  });

  it('a gzipped flood of interface descriptions is damage (exit 3), not an exhausted heap', () => {
    const file = join(dir, 'idb-flood.pcapng.gz');
    const idb = writePcapng([{ blocks: [{ type: 'idb', linktype: 1 }] }]).subarray(28); // one IDB without the SHB
    const shb = writePcapng([{ blocks: [] }]);
    writeFileSync(file, gzipSync(Buffer.concat([shb, Buffer.concat(Array.from({ length: 200_000 }, () => idb))])));
    assertCleanError(hp(['replay', '-q', file]), 3, /idb-flood\.pcapng\.gz: damaged at byte \d+: more than 65536 interfaces in one section$/);
  });
});
