/**
 * `honeyport run` refusing to start: each refusal is one line with the right
 * exit code, and comes before anything is opened (no port status line, which
 * the sensor prints as soon as it holds its ports). The faults are injected:
 * an interface that does not exist, a tiny open-files limit, a state
 * directory anyone may write to, a public address on the host.
 *
 * If a refusal regresses, the sensor really starts (ports on 0.0.0.0, packet
 * sockets): run these under the live lock when other tests share the host.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = join(ROOT, 'dist/src/cli/main.js');

interface Result { code: number | null; stdout: string; stderr: string }

/** Runs `honeyport run …` through /bin/sh so a test can lower a limit first; killed after 15 s. */
function run(args: string[], shellPrefix = ''): Result {
  const quoted = [process.execPath, CLI, 'run', ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const r = spawnSync('/bin/sh', ['-c', `${shellPrefix}exec ${quoted}`], { cwd: ROOT, encoding: 'utf8', timeout: 15_000, killSignal: 'SIGKILL' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function assertRefusedBeforeOpening(r: Result, code: number, pattern: RegExp): void {
  assert.doesNotMatch(r.stderr, /^honeyport: port \d+\//m, `nothing was opened: ${r.stderr}`);
  assert.equal(r.code, code, `exit code; stderr: ${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line: ${r.stderr}`);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
}

describe('honeyport run: start-up refusals come before anything is opened', function () {
  this.timeout(40_000);
  let dir = '';
  let policy = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'hp-startup-'));
    policy = join(dir, 'policy.yaml');
    writeFileSync(policy, 'name: startup\nos: linux\nports:\n  - { port: 47123, protocol: tcp }\n');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('an unknown interface is one line naming it, exit 2', () => {
    const r = run(['-p', policy, '-i', 'lo', '-i', 'NOPE', '--state-dir', join(dir, 'state-if')]);
    assertRefusedBeforeOpening(r, 2, /^honeyport: --interface NOPE: no such network interface \(here: .*\blo\b.*\)$/);
  });

  it('an open-files limit too small for the sensor is one line saying what it needs, exit 1', () => {
    const r = run(['-p', policy, '-i', 'lo', '--state-dir', join(dir, 'state-fd')], 'ulimit -n 64 && ');
    assertRefusedBeforeOpening(r, 1, /^honeyport: the open-files limit is 64; the sensor needs at least \d+ \(raise `ulimit -n` or LimitNOFILE\)$/);
  });

  it('an unknown --user is one line, exit 2', () => {
    const r = run(['-p', policy, '-i', 'lo', '--user', 'no-such-user-hp', '--state-dir', join(dir, 'state-user')]);
    assertRefusedBeforeOpening(r, 2, /^honeyport: --user no-such-user-hp: no such user$/);
    assert.equal(existsSync(join(dir, 'state-user')), false, 'no state directory made');
  });

  it('a state directory writable by others is one line with its mode, exit 2', () => {
    const state = join(dir, 'state-open');
    mkdirSync(state);
    chmodSync(state, 0o777);
    const r = run(['-p', policy, '-i', 'lo', '--state-dir', state]);
    assertRefusedBeforeOpening(r, 2, /^honeyport: state directory .*state-open is writable by others \(mode 0777\); chmod go-w it$/);
  });

  it('a host with a public address is not eligible: one line, exit 2; --allow-public-address gets past it', function () {
    if (process.getuid?.() !== 0) {
      console.log('      skipped: needs root (a network namespace of its own)');
      this.skip();
    }
    // Its own namespace, whose only address besides loopback is a public one on one
    // end of a veth pair kept inside it: nothing is sent, the address is only there to be seen.
    const ns = `hp-elig-${process.pid}`;
    const ip = (...a: string[]): void => {
      const r = spawnSync('ip', a, { encoding: 'utf8' });
      assert.equal(r.status, 0, `ip ${a.join(' ')}: ${r.stderr}`);
    };
    ip('netns', 'add', ns);
    try {
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      ip('-n', ns, 'link', 'add', 'd0', 'type', 'veth', 'peer', 'name', 'd1');
      ip('-n', ns, 'addr', 'add', '93.184.216.34/32', 'dev', 'd0');
      ip('-n', ns, 'link', 'set', 'd0', 'up');
      // Both ends up: an interface without carrier is not listed by os.networkInterfaces().
      ip('-n', ns, 'link', 'set', 'd1', 'up');
      const args = ['-p', policy, '-i', 'lo', '--user', 'root', '--state-dir', join(dir, 'state-public')];
      const inNs = (extra: string[]): Result => {
        const r = spawnSync('ip', ['netns', 'exec', ns, 'timeout', '-s', 'TERM', '3', process.execPath, CLI, 'run', ...args, ...extra], { encoding: 'utf8', timeout: 15_000 });
        return { code: r.status, stdout: r.stdout, stderr: r.stderr };
      };
      assertRefusedBeforeOpening(inNs([]), 2, /^honeyport: not eligible: d0 has public address 93\.184\.216\.34: .*--allow-public-address.*$/);
      // The override goes on to hold the port (then the test stops it): the refusal was the address, nothing else.
      const allowed = inNs(['--allow-public-address']);
      assert.match(allowed.stderr, /^honeyport: port 47123\/tcp on 0\.0\.0\.0: listening$/m, allowed.stderr);
    } finally {
      spawnSync('ip', ['netns', 'del', ns]);
    }
  });
});
