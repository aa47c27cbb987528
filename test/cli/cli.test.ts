/**
 * The command line as a user meets it: exit codes, one-line errors without
 * stack traces, `--output` wiring, and the policy commands agreeing with
 * each other.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = join(ROOT, 'dist/src/cli/main.js');
const SCAN = join(ROOT, 'fixtures/live/nmap-sS.pcap');

interface Result { code: number | null; stdout: string; stderr: string }

function hp(args: string[], input?: string): Result {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 30_000, ...(input !== undefined ? { input } : {}) });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function assertOneLineError(r: Result, code: number, pattern: RegExp): void {
  assert.equal(r.code, code, `exit code; stderr: ${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line: ${r.stderr}`);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
}

describe('command line', function () {
  this.timeout(60_000);
  let dir = '';
  before(() => { dir = mkdtempSync(join(tmpdir(), 'hp-cli-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('replays the bundled scan with the default policy: alarms on stdout, a summary on stderr, exit 0', () => {
    const r = hp(['replay', SCAN]);
    assert.equal(r.code, 0, r.stderr);
    const alarms = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { event: { action: string }; rule: { name: string } });
    assert.ok(alarms.length > 0);
    assert.ok(alarms.every((a) => a.event.action === 'honeypot-port-probe' && a.rule.name === 'honeyport-linux-recommended'));
    assert.match(r.stderr, /^honeyport: 1 file, \d+ packets in .* \d+ probes, \d+ alarms/m);
  });

  it('reads standard input and is deterministic (same ids twice)', () => {
    const bytes = readFileSync(SCAN).toString('latin1');
    const a = spawnSync(process.execPath, [CLI, 'replay', '-q', '-'], { input: Buffer.from(bytes, 'latin1') });
    const b = spawnSync(process.execPath, [CLI, 'replay', '-q', SCAN]);
    assert.equal(a.status, 0);
    const ids = (out: Buffer): string[] => out.toString().trim().split('\n').map((l) => (JSON.parse(l) as { event: { id: string } }).event.id);
    assert.equal(ids(a.stdout).length, ids(b.stdout).length);
    assert.deepEqual(ids(b.stdout), ids(spawnSync(process.execPath, [CLI, 'replay', '-q', SCAN]).stdout));
  });

  it('exit codes: 1 for a missing file, 2 for bad options and policies, 3 for a damaged capture', () => {
    assertOneLineError(hp(['replay', join(dir, 'missing.pcap')]), 1, /^honeyport: ENOENT: .*missing\.pcap/);
    assertOneLineError(hp(['replay', '--window', 'soon', SCAN]), 2, /^honeyport: --window: "soon" is not a positive duration/);
    assertOneLineError(hp(['replay', '--server-address', '300.1.1.1', SCAN]), 2, /--server-address: "300\.1\.1\.1" is not an IPv4 or IPv6 address/);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'os: linux\nports: [{port: 445, protocol: udp}]\n');
    assertOneLineError(hp(['replay', '-p', bad, SCAN]), 2, /bad\.yaml: invalid policy: ports\[0\]\.protocol: must be "tcp" or "tcp6"/);
    assert.equal(hp(['replay', '--no-such-option', SCAN]).code, 2);
    const cut = join(dir, 'cut.pcap');
    const whole = readFileSync(SCAN);
    writeFileSync(cut, whole.subarray(0, whole.length - 10));
    const r = hp(['replay', '-q', cut]);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /cut\.pcap: damaged at byte \d+: /);
    assert.ok(r.stdout.trim().split('\n').length > 0, 'alarms before the damage are still written');
  });

  it('--output file: writes every alarm to the file and reports the sink; an unreachable syslog is a one-line error (exit 2)', () => {
    const out = join(dir, 'alarms.json');
    const r = hp(['replay', '-o', `file:${out}`, SCAN]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '', 'nothing on stdout when it is not a sink');
    const n = readFileSync(out, 'utf8').trim().split('\n').length;
    assert.equal(n, hp(['replay', '-q', SCAN]).stdout.trim().split('\n').length);
    assert.match(r.stderr, new RegExp(`sink .*: ${n} alarms = ${n} delivered \\+ 0 dropped \\+ 0 left in the spool \\(0 retried\\)`));
    assertOneLineError(hp(['replay', '-o', 'syslog+tcp://127.0.0.1:1', SCAN]), 2, /^honeyport: syslog-tcp-127\.0\.0\.1-1: .*ECONNREFUSED/);
    assertOneLineError(hp(['replay', '-o', 'splunk+https://127.0.0.1:1/services/collector/event?token_env=HP_NO_SUCH_VAR', SCAN]), 2, /HP_NO_SUCH_VAR/);
  });

  it('format=eve gives Suricata-style alert records', () => {
    const out = join(dir, 'eve.json');
    assert.equal(hp(['replay', '-q', '-o', `file:${out}?format=eve`, SCAN]).code, 0);
    const first = JSON.parse(readFileSync(out, 'utf8').split('\n')[0]!) as { event_type: string; dest_port: number; alert: { signature: string } };
    assert.equal(first.event_type, 'alert');
    assert.equal(typeof first.dest_port, 'number');
    assert.equal(typeof first.alert.signature, 'string');
  });

  it('policy recommend prints a policy that policy check accepts, for both OS types', () => {
    for (const os of ['linux', 'windows']) {
      const rec = hp(['policy', 'recommend', '--os', os]);
      assert.equal(rec.code, 0);
      const file = join(dir, `${os}.yaml`);
      writeFileSync(file, rec.stdout);
      const check = hp(['policy', 'check', file]);
      assert.equal(check.code, 0, check.stderr);
      assert.match(check.stdout, new RegExp(`ok: policy "honeyport-${os}-recommended" \\(${os}\\), 8 ports`));
    }
    assert.equal(hp(['policy', 'recommend', '--os', 'solaris']).code, 2);
  });

  it('--help lists the commands and the exit codes', () => {
    const r = hp(['--help']);
    assert.equal(r.code, 0);
    for (const word of ['replay', 'run', 'status', 'policy', 'Exit codes:']) assert.ok(r.stdout.includes(word), word);
  });

  it('run --help states the defaults commander cannot print (an option whose default is decided at run time)', () => {
    const r = hp(['run', '--help']);
    assert.equal(r.code, 0);
    const text = r.stdout.replace(/\s+/g, ' ');
    assert.match(text, /--user <name> .*\(default: honeyport where that user exists\)/);
    assert.match(text, /--ring-size <MiB> .*\(default: \d+ with afpacket, \d+ with pcap\)/);
  });
});
