/**
 * Never parse attacker bytes as root: started as root with `--user nobody`,
 * the sensor opens its packet socket, lock, files and ports, then runs as
 * nobody with CAP_NET_BIND_SERVICE alone. What the kernel says about every
 * thread (/proc/PID/task/TID/status) is checked, and what must still work
 * after the drop is exercised: alarms, a SIGHUP that binds a port below
 * 1024 and reopens a renamed alarm file, the disk spool, `honeyport status`
 * (as root and as the user), a clean stop. A probe sent in the instant
 * between bind and drop — held there for 3 s by strace delaying the drop's
 * setgroups — must still be alarmed. An unknown user and an unreadable
 * policy are refused in one line (exit 2) before anything is opened.
 * Runs in a namespace of its own, from a staged copy nobody can read.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StagedCopy } from '../helpers/stage-readable.js';
import { liveSkipReason, otherUserTestbed, parseAlarms, sleep } from './sensor-harness.js';

const USER = 'nobody';
const CAP_NET_BIND_SERVICE = 1n << 10n;

interface Creds {
  readonly tid: number;
  readonly name: string;
  readonly uid: string;
  readonly gid: string;
  readonly groups: string;
  readonly prm: bigint;
  readonly eff: bigint;
  readonly inh: bigint;
  readonly bnd: bigint;
  readonly amb: bigint;
  readonly nnp: string;
}

function creds(path: string, tid: number): Creds {
  const s = readFileSync(path, 'utf8');
  const f = (k: string): string => (new RegExp(`^${k}:[ \\t]*(.*)$`, 'm').exec(s)?.[1] ?? '?').trim().replace(/\s+/g, ' ');
  return { tid, name: f('Name'), uid: f('Uid'), gid: f('Gid'), groups: f('Groups'), prm: BigInt(`0x${f('CapPrm')}`), eff: BigInt(`0x${f('CapEff')}`), inh: BigInt(`0x${f('CapInh')}`), bnd: BigInt(`0x${f('CapBnd')}`), amb: BigInt(`0x${f('CapAmb')}`), nnp: f('NoNewPrivs') };
}

function threads(pid: number): Creds[] {
  const out: Creds[] = [];
  for (const tid of execFileSync('ls', [`/proc/${pid}/task`]).toString().split('\n').filter(Boolean)) {
    try {
      out.push(creds(`/proc/${pid}/task/${tid}/status`, Number(tid)));
    } catch { /* the thread ended */ }
  }
  return out;
}

class Sensor {
  stdout = '';
  stderr = '';
  code: number | null | undefined;
  /** The sensor's own pid when it runs under a tracer (signals go to it, not to the tracer). */
  pid: number | undefined;
  readonly closed: Promise<void>;
  constructor(readonly child: ChildProcess) {
    child.stdout!.on('data', (d: Buffer) => (this.stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.closed = new Promise((resolve) => child.on('close', (code) => { this.code = code; resolve(); }));
  }

  async waitFor(re: RegExp, ms = 15_000, from = 0): Promise<void> {
    const until = Date.now() + ms;
    while (!re.test(this.stderr.slice(from))) {
      if (this.code !== undefined || Date.now() > until) assert.fail(`no ${re} in stderr (exit ${this.code}):\n${this.stderr}`);
      await sleep(5);
    }
  }

  signal(name: NodeJS.Signals): void {
    // Under a tracer, signal the sensor alone: a tracer that gets SIGTERM detaches, and a
    // tracee detached while stopped on its own SIGTERM loses that signal (seen: a stop that
    // never began, the sensor SIGKILLed 10 s later). The tracer exits with its tracee.
    if (this.pid !== undefined) {
      try { process.kill(this.pid, name); } catch { /* gone */ }
      if (name !== 'SIGKILL') return;
    }
    this.child.kill(name);
  }

  async stop(): Promise<number | null> {
    if (this.code === undefined) this.signal('SIGTERM');
    const t = setTimeout(() => this.signal('SIGKILL'), 10_000);
    await this.closed;
    clearTimeout(t);
    return this.code ?? null;
  }
}

describe('honeyport run as root drops to --user after opening what needs root (live)', function () {
  this.timeout(90_000);
  const ns = `hp-pd-${randomBytes(3).toString('hex')}`;
  let dir = '';
  let staged: StagedCopy | undefined;
  let running: Sensor | undefined;
  let uid = 0;

  before(function () {
    let why = liveSkipReason();
    try {
      uid = Number(execFileSync('id', ['-u', USER]).toString());
    } catch {
      why ??= `needs a "${USER}" user`;
    }
    if (why) {
      console.log(`      (skipped: ${why})`);
      this.skip();
    }
    ({ staged, dir } = otherUserTestbed(ns, 'hp-privdrop-', 0o755));
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed' && running) console.log(`--- sensor stderr ---\n${running.stderr}`);
    running?.signal('SIGKILL');
    running = undefined;
  });

  after(() => {
    try { execFileSync('ip', ['netns', 'del', ns], { stdio: 'pipe' }); } catch { /* not created */ }
    if (dir) rmSync(dir, { recursive: true, force: true });
    staged?.remove();
  });

  const cli = (): string => join(staged!.root, 'dist/src/cli/main.js');

  function policy(file: string, ports: number[], mode = 0o644): string {
    writeFileSync(file, `name: drop\nos: linux\nports:\n${ports.map((p) => `  - { port: ${p}, protocol: tcp }\n`).join('')}`, { mode });
    chmodSync(file, mode);
    return file;
  }

  function start(args: string[], prefix: string[] = []): Sensor {
    running = new Sensor(spawn('ip', ['netns', 'exec', ns, ...prefix, process.execPath, cli(), 'run', '--interface', 'lo', '--window', '1s', ...args], { stdio: ['ignore', 'pipe', 'pipe'] }));
    return running;
  }

  function probe(port: number): void {
    execFileSync('ip', ['netns', 'exec', ns, process.execPath, '-e',
      `const c=require("net").connect(${port},"127.0.0.1",()=>setTimeout(()=>c.destroy(),50));c.on("error",()=>{})`]);
  }

  function status(asUser = false): Record<string, unknown> {
    const who = asUser ? ['setpriv', `--reuid=${USER}`, `--regid=${uid}`, '--clear-groups'] : [];
    return JSON.parse(execFileSync('ip', ['netns', 'exec', ns, ...who, process.execPath, cli(), 'status', '--state-dir', join(dir, 'state')], { timeout: 10_000 }).toString()) as Record<string, unknown>;
  }

  async function alarmFor(s: Sensor, port: number): Promise<void> {
    const until = Date.now() + 5_000;
    while (!parseAlarms(s.stdout).some((a) => a.destination.port === port && a.honeyport.alarm === 'first')) {
      if (Date.now() > until) assert.fail(`no alarm for port ${port}:\n${s.stdout}`);
      await sleep(20);
    }
  }

  it('every thread runs as the user without groups; only the main thread (and threads it starts) holds CAP_NET_BIND_SERVICE; alarms, status, SIGHUP with a port below 1024, the reopened file and a stop all work', async () => {
    const logs = join(dir, 'logs');
    mkdirSync(logs);
    chownSync(logs, uid, uid);
    const policyFile = policy(join(dir, 'policy.yaml'), [14445]);
    const alarmFile = join(logs, 'alarms.json');
    const s = start(['--user', USER, '--policy', policyFile, '--state-dir', join(dir, 'state'), '--output', 'stdout', '--output', `file:${alarmFile}`, '--spool-dir', join(logs, 'spool')]);
    await s.waitFor(/^honeyport: ready$/m);
    assert.match(s.stderr, /^honeyport: running as nobody \(uid \d+, gid \d+\), keeping CAP_NET_BIND_SERVICE$/m);
    const pid = s.child.pid!;
    probe(14445);
    await alarmFor(s, 14445);

    const all = threads(pid);
    console.log(`      threads after the drop (${all.length}):`);
    for (const t of all) console.log(`        ${t.tid === pid ? 'main' : String(t.tid).padStart(4)} ${t.name.padEnd(16)} uid ${t.uid} | gid ${t.gid} | groups [${t.groups}] | prm ${t.prm.toString(16)} eff ${t.eff.toString(16)} bnd ${t.bnd.toString(16)} nnp ${t.nnp}`);
    const ids = `${uid} ${uid} ${uid} ${uid}`;
    for (const t of all) {
      assert.equal(t.uid, ids, `thread ${t.tid} uid`);
      assert.equal(t.gid, ids, `thread ${t.tid} gid`);
      assert.equal(t.groups, '', `thread ${t.tid} has no supplementary group`);
      assert.equal(t.amb, 0n);
      assert.equal(t.inh, 0n);
      assert.equal(t.prm & ~CAP_NET_BIND_SERVICE, 0n, `thread ${t.tid} permitted ⊆ {CAP_NET_BIND_SERVICE}`);
      assert.equal(t.eff & ~CAP_NET_BIND_SERVICE, 0n, `thread ${t.tid} effective ⊆ {CAP_NET_BIND_SERVICE}`);
      // A thread with the capability is the main thread or one it started after the drop: cut bounding set, no_new_privs.
      if (t.prm !== 0n) assert.deepEqual([t.bnd, t.nnp], [CAP_NET_BIND_SERVICE, '1'], `thread ${t.tid}`);
    }
    const main = all.find((t) => t.tid === pid)!;
    assert.deepEqual([main.prm, main.eff, main.bnd, main.nnp], [CAP_NET_BIND_SERVICE, CAP_NET_BIND_SERVICE, CAP_NET_BIND_SERVICE, '1']);

    // The files made before the drop are the user's: state directory, status socket, spool, alarm file.
    const spoolFiles = readdirSync(join(logs, 'spool'), { recursive: true }).map((f) => join(logs, 'spool', String(f)));
    for (const p of [join(dir, 'state'), join(dir, 'state', 'honeyport.sock'), join(logs, 'spool'), ...spoolFiles, alarmFile]) assert.equal(statSync(p).uid, uid, p);
    assert.equal((status() as { pid: number }).pid, pid, 'status as root');
    assert.equal((status(true) as { pid: number }).pid, pid, `status as ${USER}`);

    // An unknown user is refused before anything is opened: not even the host lock this sensor holds is reached.
    const refused = start(['--user', 'no-such-user-hp', '--policy', policyFile, '--state-dir', join(dir, 'state-unknown')]);
    await refused.closed;
    running = s;
    assert.equal(refused.code, 2);
    assert.equal(refused.stderr, 'honeyport: --user no-such-user-hp: no such user\n');
    assert.equal(existsSync(join(dir, 'state-unknown')), false, 'no state directory made');

    // logrotate renames the file; the SIGHUP adds port 445 (needs CAP_NET_BIND_SERVICE) and reopens the file as the user.
    renameSync(alarmFile, `${alarmFile}.1`);
    policy(policyFile, [14445, 445]);
    const from = s.stderr.length;
    s.child.kill('SIGHUP');
    await s.waitFor(/^honeyport: port 445\/tcp on 0\.0\.0\.0: listening$/m, 10_000, from);
    probe(445);
    await alarmFor(s, 445);
    const until = Date.now() + 5_000;
    while (!(existsSync(alarmFile) && readFileSync(alarmFile, 'utf8').includes('"port":445'))) {
      if (Date.now() > until) assert.fail('the alarm for port 445 did not reach the reopened file');
      await sleep(20);
    }
    assert.equal(statSync(alarmFile).uid, uid, 'the reopened file is the user\'s');

    assert.equal(await s.stop(), 0, s.stderr);
    // Each port: the SYN's alarm and the connection's.
    assert.match(s.stderr, /^honeyport: sink file-\S+: 4 alarms = 4 delivered \+ 0 dropped \+ 0 left in the spool$/m);
    assert.equal(existsSync(join(dir, 'state', 'honeyport.sock')), false, 'the user removed its socket at stop');
  });

  it('a probe sent in the instant between bind and drop is still alarmed, after the drop', async function () {
    try {
      execFileSync('strace', ['-V'], { stdio: 'pipe' });
    } catch {
      console.log('      (skipped: needs strace)');
      this.skip();
    }
    const policyFile = policy(join(dir, 'policy-window.yaml'), [14446]);
    // Each thread calls setgroups once to open files as the user and once in the drop: hold the second 3 s.
    const s = start(['--user', USER, '--policy', policyFile, '--state-dir', join(dir, 'state-window')],
      ['strace', '-f', '-qq', '-o', '/dev/null', '-e', 'trace=setgroups', '-e', 'inject=setgroups:delay_enter=3000000:when=2']);
    await s.waitFor(/^honeyport: port 14446\/tcp on 0\.0\.0\.0: listening$/m);
    const pid = Number(readFileSync(`/proc/${s.child.pid}/task/${s.child.pid}/children`, 'utf8').trim().split(' ')[0]);
    s.pid = pid;
    assert.match(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /main\.js/);
    assert.equal(creds(`/proc/${pid}/status`, pid).uid, '0 0 0 0', 'still root: the port is bound, the drop is pending');
    probe(14446);
    assert.equal(creds(`/proc/${pid}/status`, pid).uid, '0 0 0 0', 'the probe was answered before the drop');
    assert.doesNotMatch(s.stdout, /14446/, 'nothing decoded before the drop');
    await s.waitFor(/^honeyport: ready$/m);
    assert.notEqual(creds(`/proc/${pid}/status`, pid).uid, '0 0 0 0');
    await alarmFor(s, 14446);
    // A clean stop under the tracer too: exit 0, never the signal's default action (sensor-stop-startup.test.ts holds every start-up stage).
    assert.equal(await s.stop(), 0, s.stderr);
  });

  it('without a policy file to re-read, no capability is kept', async () => {
    const s = start(['--user', USER, '--state-dir', join(dir, 'state-nopolicy')]);
    await s.waitFor(/^honeyport: ready$/m);
    assert.match(s.stderr, /^honeyport: running as nobody \(uid \d+, gid \d+\), keeping no capability$/m);
    const main = creds(`/proc/${s.child.pid}/status`, s.child.pid!);
    assert.deepEqual([main.uid, main.prm, main.eff, main.bnd, main.nnp], [`${uid} ${uid} ${uid} ${uid}`, 0n, 0n, 0n, '1']);
    assert.equal(await s.stop(), 0, s.stderr);
  });

  // Root in a container whose bounding set lacks what the drop needs: refused in one line (exit 1), never left running as root.
  for (const [cap, when, message] of [
    ['setuid', 'before any port is bound', /^honeyport: cannot open files as nobody: setresuid: Operation not permitted \(--user root keeps root\)\n$/],
    ['setpcap', 'after the ports are bound, which it releases', /^honeyport: port 14448\/tcp on 0\.0\.0\.0: listening\nhoneyport: cannot drop privileges to nobody: PR_CAPBSET_DROP 0: Operation not permitted \(--user root keeps root\)\n$/],
  ] as const) {
    it(`root without CAP_${cap.toUpperCase()}: the drop cannot happen, one line, exit 1 (${when})`, async () => {
      const s = start(['--user', USER, '--policy', policy(join(dir, `policy-${cap}.yaml`), [14448]), '--state-dir', join(dir, `state-${cap}`)], ['setpriv', `--bounding-set=-${cap}`]);
      await s.closed;
      assert.equal(s.code, 1, s.stderr);
      assert.match(s.stderr, message);
      assert.equal(s.stdout, '');
    });
  }

  it('a file sink the user could not reopen after logrotate is refused in one line naming the user (exit 2) before any port is bound', async () => {
    const closed = join(dir, 'root-only');
    mkdirSync(closed, { mode: 0o755 });
    const s = start(['--user', USER, '--policy', policy(join(dir, 'policy-sink.yaml'), [14449]), '--state-dir', join(dir, 'state-sink'), '--output', `file:${join(closed, 'alarms.json')}`]);
    await s.closed;
    assert.equal(s.code, 2);
    assert.match(s.stderr, /^honeyport: file-\S+: cannot open \S+alarms\.json for appending: EACCES: .* \(as nobody, which the sensor runs as after start: make it that user's, or give --user\)\n$/);
    assert.equal(existsSync(join(closed, 'alarms.json')), false);
  });

  it('a policy file the user could not re-read on SIGHUP is refused in one line (exit 2) before any port is bound', async () => {
    const s = start(['--user', USER, '--policy', policy(join(dir, 'policy-private.yaml'), [14447], 0o600), '--state-dir', join(dir, 'state-private')]);
    await s.closed;
    assert.equal(s.code, 2);
    assert.match(s.stderr, /^honeyport: policy file \S+policy-private\.yaml is not readable by nobody, which the sensor runs as after start, so SIGHUP could not re-read it \(EACCES\); make it readable or give --user\n$/);
  });
});
