/**
 * The unit's SystemCallFilter= allows every system call the sensor makes.
 * The test machines do not run systemd as PID 1, so the filter itself cannot
 * be applied here; instead the sensor runs under `strace -f -c` through a
 * whole life (start, a probe, status, SIGHUP reload, SIGTERM) and each call
 * it made is looked up in the filter as systemd-analyze expands it. The one
 * call known to fall outside, pkey_alloc (V8 probing for memory protection
 * keys, which it does without when refused), is tolerated by name: the unit
 * answers refused calls with EPERM (SystemCallErrorNumber) instead of killing.
 * Root (a network namespace, a packet socket), strace and systemd-analyze
 * are needed; otherwise it skips with the reason. Live: run under
 * /tmp/honeyport-live.lock.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const UNIT = join(ROOT, 'packaging', 'honeyport.service');
/** Calls outside the filter that the sensor survives being refused (EPERM). */
const TOLERATED = new Set(['pkey_alloc']);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function has(tool: string): boolean {
  return spawnSync('/bin/sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0;
}

/** The system calls of a filter item (@group, recursively, or a call name). */
function expand(item: string, seen = new Set<string>()): Set<string> {
  if (!item.startsWith('@')) return new Set([item]);
  if (seen.has(item)) return new Set();
  seen.add(item);
  const out = new Set<string>();
  const text = execFileSync('systemd-analyze', ['syscall-filter', '--no-pager', item]).toString();
  for (const line of text.split('\n').slice(1)) {
    const name = line.replace(/#.*/, '').trim();
    if (name) for (const s of expand(name, seen)) out.add(s);
  }
  return out;
}

/**
 * What a unit's SystemCallFilter= lines allow, as systemd combines them: the
 * first allow-list sets the base, later allow-lists add, `~` lines remove.
 */
function allowedCalls(unitText: string): Set<string> {
  const allowed = new Set<string>();
  for (const m of unitText.matchAll(/^SystemCallFilter=(.*)$/gm)) {
    const value = m[1]!.trim();
    const deny = value.startsWith('~');
    for (const item of value.replace(/^~/, '').split(/\s+/).filter(Boolean)) {
      for (const call of expand(item)) {
        if (deny) allowed.delete(call);
        else allowed.add(call);
      }
    }
  }
  return allowed;
}

/** Call names from `strace -c` output. */
function tracedCalls(summary: string): Set<string> {
  const calls = new Set<string>();
  for (const line of summary.split('\n')) {
    const m = /^\s*[\d.]+\s+[\d.]+\s+\d+\s+\d+\s+(?:\d+\s+)?([a-z_0-9]+)\s*$/.exec(line);
    if (m && m[1] !== 'total') calls.add(m[1]!);
  }
  return calls;
}

describe('the unit\'s system call filter against the sensor\'s real system calls (live)', function () {
  this.timeout(60_000);
  const ns = `hp-sc-${randomBytes(3).toString('hex')}`;
  let dir = '';
  let nsCreated = false;

  before(function () {
    const why = process.getuid?.() !== 0 ? 'needs root (network namespace, packet socket)'
      : !has('strace') ? 'needs strace'
        : !has('systemd-analyze') ? 'needs systemd-analyze'
          : !has('ip') ? 'needs ip' : undefined;
    if (why) {
      console.log(`      (skipped: ${why})`);
      this.skip();
    }
    dir = mkdtempSync(join(tmpdir(), 'hp-syscalls-'));
  });
  after(() => {
    if (nsCreated) spawnSync('ip', ['netns', 'del', ns]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a filter that leaves out what the sensor uses is caught (the check can fail)', () => {
    const narrow = allowedCalls('SystemCallFilter=@basic-io\n');
    assert.ok(narrow.has('read') && !narrow.has('socket'));
    const full = allowedCalls(readFileSync(UNIT, 'utf8'));
    assert.ok(full.has('socket') && full.has('setsockopt') && !full.has('setrlimit') && !full.has('mount'));
  });

  it('every call of a whole sensor life is allowed by packaging/honeyport.service', async () => {
    execFileSync('ip', ['netns', 'add', ns]);
    nsCreated = true;
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    // The packaged configuration's shape: a file sink and a spool.
    writeFileSync(join(dir, 'sensor.yaml'), `sinks:\n  - { type: file, name: alarms-file, path: ${join(dir, 'alarms.json')} }\nspool: { dir: ${join(dir, 'spool')} }\n`);
    writeFileSync(join(dir, 'policy.yaml'), 'os: linux\nports: recommended\n');
    const summary = join(dir, 'strace.txt');
    const child = spawn('ip', ['netns', 'exec', ns, 'strace', '-f', '-qq', '-c', '-o', summary,
      // --user root: under the unit the sensor is not root and drops nothing; a `honeyport` user here must not change that.
      process.execPath, CLI, 'run', '--user', 'root', '--policy', join(dir, 'policy.yaml'), '--config', join(dir, 'sensor.yaml'), '--state-dir', join(dir, 'state')],
    { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
    const kill = setTimeout(() => child.kill('SIGKILL'), 40_000);
    try {
      for (let i = 0; i < 300 && !/^honeyport: ready$/m.test(stderr); i++) await sleep(50);
      assert.match(stderr, /^honeyport: ready$/m, stderr);
      // strace's child is the sensor; signals go to it, not to strace.
      const sensor = Number(execFileSync('pgrep', ['-P', String(child.pid)]).toString().trim().split('\n')[0]);
      execFileSync('ip', ['netns', 'exec', ns, process.execPath, '-e',
        'const c=require("net").connect(445,"127.0.0.1",()=>setTimeout(()=>c.destroy(),100));c.on("error",()=>{})']);
      for (let i = 0; i < 100 && !existsSync(join(dir, 'alarms.json')); i++) await sleep(50);
      execFileSync(process.execPath, [CLI, 'status', '--state-dir', join(dir, 'state')], { stdio: 'ignore' });
      process.kill(sensor, 'SIGHUP');
      for (let i = 0; i < 100 && !/policy reloaded/.test(stderr); i++) await sleep(50);
      assert.match(stderr, /policy reloaded/);
      process.kill(sensor, 'SIGTERM');
      await exited;
    } finally {
      clearTimeout(kill);
      child.kill('SIGKILL');
    }
    assert.match(stderr, /^honeyport: stopped: [1-9]\d* alarms/m, stderr);
    const used = tracedCalls(readFileSync(summary, 'utf8'));
    assert.ok(used.has('socket') && used.has('setsockopt') && used.has('mmap'), `strace summary parsed: ${[...used].join(' ')}`);
    const allowed = allowedCalls(readFileSync(UNIT, 'utf8'));
    const refused = [...used].filter((c) => !allowed.has(c) && !TOLERATED.has(c)).sort();
    assert.deepEqual(refused, [], `calls the unit's filter would refuse (EPERM): ${refused.join(', ')}`);
  });
});
