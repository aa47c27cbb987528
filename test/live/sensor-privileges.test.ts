/**
 * The deployment the README promises: an unprivileged user holding only
 * CAP_NET_RAW and CAP_NET_BIND_SERVICE runs the sensor (a decoy port below
 * 1024 included), and without them it stops with a message naming the
 * missing capability. Runs in a namespace of its own, on its loopback, from
 * a staged copy the user can read (the checkout may be under root's 0700 home).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { StagedCopy } from '../helpers/stage-readable.js';
import { liveSkipReason, otherUserTestbed, sleep } from './sensor-harness.js';

const USER = 'nobody';

function setprivSkipReason(): string | undefined {
  try {
    execFileSync('setpriv', ['--version'], { stdio: 'pipe' });
    execFileSync('id', [USER], { stdio: 'pipe' });
    return undefined;
  } catch {
    return `needs setpriv and a "${USER}" user`;
  }
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('honeyport run as an unprivileged user with only its two capabilities (live)', function () {
  this.timeout(60_000);
  const ns = `hp-priv-${randomBytes(3).toString('hex')}`;
  let dir = '';
  let staged: StagedCopy | undefined;

  before(function () {
    const why = liveSkipReason() ?? setprivSkipReason();
    if (why) {
      console.log(`      (skipped: ${why})`);
      this.skip();
    }
    ({ staged, dir } = otherUserTestbed(ns, 'hp-priv-', 0o777));
    writeFileSync(join(dir, 'policy.yaml'), 'name: caps\nos: linux\nports:\n  - { port: 445, protocol: tcp }\n  - { port: 14445, protocol: tcp }\n', { mode: 0o644 });
  });

  after(() => {
    try { execFileSync('ip', ['netns', 'del', ns], { stdio: 'pipe' }); } catch { /* not created */ }
    if (dir) rmSync(dir, { recursive: true, force: true });
    staged?.remove();
  });

  /** Runs the sensor as USER with the given capabilities; probes port 445 once it is ready. */
  async function runAs(caps: string[], stateDir: string): Promise<Run> {
    const capArgs = caps.length ? [`--inh-caps=${caps.map((c) => `+${c}`).join(',')}`, `--ambient-caps=${caps.map((c) => `+${c}`).join(',')}`] : [];
    const child = spawn('ip', ['netns', 'exec', ns, 'setpriv', `--reuid=${USER}`, `--regid=${USER === 'nobody' ? 'nogroup' : USER}`, '--clear-groups', ...capArgs,
      process.execPath, join(staged!.root, 'dist/src/cli/main.js'), 'run', '--policy', join(dir, 'policy.yaml'), '--interface', 'lo', '--window', '1s', '--state-dir', join(dir, stateDir)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const r: Run = { code: null, stdout: '', stderr: '' };
    child.stdout.on('data', (d: Buffer) => (r.stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (r.stderr += d.toString()));
    const exited = new Promise<void>((resolve) => child.on('close', (code) => { r.code = code; resolve(); }));
    for (let i = 0; i < 150 && r.code === null && !/^honeyport: ready$/m.test(r.stderr); i++) await sleep(50);
    if (/^honeyport: ready$/m.test(r.stderr)) {
      execFileSync('ip', ['netns', 'exec', ns, process.execPath, '-e',
        'const c=require("net").connect(445,"127.0.0.1",()=>setTimeout(()=>c.destroy(),100));c.on("error",()=>{})']);
      await sleep(300);
      child.kill('SIGTERM');
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
    return r;
  }

  it('with CAP_NET_RAW and CAP_NET_BIND_SERVICE: holds port 445, captures the probe, exits 0', async () => {
    const r = await runAs(['net_raw', 'net_bind_service'], 'state-caps');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^honeyport: port 445\/tcp on 0\.0\.0\.0: listening$/m);
    const alarms = r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { destination?: { port: number }; event: { count: number } });
    assert.ok(alarms.some((a) => a.destination?.port === 445 && a.event.count === 1), r.stdout);
  });

  it('without capabilities: the packet socket fails for lack of CAP_NET_RAW before any port is bound (exit 1)', async () => {
    const r = await runAs([], 'state-none');
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /cannot open a packet socket: .*CAP_NET_RAW/);
    // Capture comes first: a port is never bound (and so never answers) without it.
    assert.doesNotMatch(r.stderr, /^honeyport: port \d+\/tcp on /m);
    assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
  });

  it('with CAP_NET_RAW only: port 445 fails for lack of CAP_NET_BIND_SERVICE, 14445 is held (exit 0)', async () => {
    const r = await runAs(['net_raw'], 'state-raw');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^honeyport: port 445\/tcp on 0\.0\.0\.0: failed \(EACCES\): .*CAP_NET_BIND_SERVICE/m);
    assert.match(r.stderr, /^honeyport: port 14445\/tcp on 0\.0\.0\.0: listening$/m);
    assert.doesNotMatch(r.stdout, /"port":445\}/, 'the failed port raises no alarm');
  });
});
