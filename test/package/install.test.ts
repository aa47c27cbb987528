/**
 * The release artefacts of `npm run package`, installed where there is no
 * compiler, no make and no Python on PATH (and no registry: --offline):
 *  - the npm tarball with `npm install -g` (into a scratch prefix) uses its
 *    prebuilt addon; the same tarball without the prebuild fails to install
 *    there, which shows the PATH really cannot compile;
 *  - the .deb (root only; skipped when a honeyport package is already
 *    installed, so a real installation is never touched): `dpkg -i`, a replay
 *    identical to the checkout's, `systemd-analyze verify` of the installed
 *    unit, the installed sensor run exactly as the unit's ExecStart with the
 *    unit's user, umask, capabilities, bounding set and no-new-privileges
 *    applied by setpriv (in a network namespace of its own: a probe lands in
 *    the alarm file, status answers, logrotate rotates and SIGHUP reopens),
 *    then `dpkg -r` and `dpkg -P` leaving only the alarm log.
 * Cleanup: the package is purged, and the `honeyport` user and group (which
 * the package's postrm deliberately keeps) are deleted only when this test
 * created them; the test's alarm log is deleted too.
 * The live part opens packet sockets: run it under /tmp/honeyport-live.lock
 * like the other live tests.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assertNoBuildTools, noCompilerPath } from './no-compiler.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BUILD_SCRIPT = join(ROOT, 'packaging', 'build-package.mjs');
const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const FIXTURE = join(ROOT, 'fixtures', 'live', 'nmap-sS.pcap');
const UNIT = '/lib/systemd/system/honeyport.service';
const ALARMS = '/var/log/honeyport/alarms.json';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The environment minus npm's own variables (set when run from `npm test`), with PATH replaced. */
function cleanEnv(path: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
  env.PATH = path;
  return env;
}

function run(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv, input?: Buffer): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { env, encoding: 'utf8', timeout: 60_000, maxBuffer: 64 << 20, ...(input ? { input } : {}) });
}

function ok(r: SpawnSyncReturns<string>, what: string): string {
  assert.equal(r.status, 0, `${what} failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

function has(tool: string): boolean {
  return spawnSync('/bin/sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0;
}

/** The checkout's own replay of the fixture (default policy): what every installation must print. */
function referenceReplay(): string {
  return execFileSync(process.execPath, [CLI, 'replay', '-'], { input: readFileSync(FIXTURE), stdio: ['pipe', 'pipe', 'ignore'] }).toString();
}

describe('release artefacts installed with no compiler on PATH', function () {
  this.timeout(120_000);
  let work = '';
  let path = '';
  let tarball = '';
  let deb = '';
  let reference = '';

  before(function () {
    if (!has('dpkg-deb') || !has('npm')) {
      console.log('      (skipped: needs dpkg-deb and npm to build the artefacts)');
      this.skip();
    }
    if (!existsSync(join(ROOT, 'build', 'Release', 'honeyport_native.node'))) {
      console.log('      (skipped: the native addon is not built; run `npm run build:native`)');
      this.skip();
    }
    work = mkdtempSync(join(tmpdir(), 'hp-install-'));
    const built = ok(run(process.execPath, [BUILD_SCRIPT, '--out', join(work, 'out')], process.env), 'build-package.mjs');
    [tarball, deb] = built.trim().split('\n').slice(-2) as [string, string];
    assert.match(tarball, /honeyport-\d+\.\d+\.\d+\.tgz$/);
    assert.match(deb, /honeyport_\d+\.\d+\.\d+_[a-z0-9]+\.deb$/);
    path = noCompilerPath(join(work, 'bin'));
    assertNoBuildTools(path);
    reference = referenceReplay();
    assert.ok(reference.split('\n').filter(Boolean).length >= 3, 'the fixture raises alarms');
  });

  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  describe('npm tarball', () => {
    function npmInstall(file: string, prefix: string): SpawnSyncReturns<string> {
      // --allow-scripts: npm 11 runs a global package's install hook only when allowed.
      return run('npm', ['install', '-g', '--prefix', prefix, '--offline', `--allow-scripts=${file}`, '--foreground-scripts',
        '--no-audit', '--no-fund', '--loglevel=warn', file], cleanEnv(path));
    }

    it('installs with `npm install -g --offline`, takes its prebuilt addon, and replays like the checkout', () => {
      const prefix = join(work, 'npm-global');
      const r = npmInstall(tarball, prefix);
      ok(r, 'npm install -g');
      assert.match(r.stdout + r.stderr, /using the prebuilt addon .*prebuilds\/linux-[a-z0-9]+\/node\.napi\.glibc\.node; nothing to compile/);
      const installed = join(prefix, 'lib', 'node_modules', 'honeyport');
      assert.equal(existsSync(join(installed, 'build')), false, 'nothing was compiled');
      assert.equal(existsSync(join(installed, 'node_modules', 'mocha')), false, 'no dev dependency');
      const replay = run(join(prefix, 'bin', 'honeyport'), ['replay', '-'], cleanEnv(path), readFileSync(FIXTURE));
      assert.equal(ok(replay, 'replay'), reference);
      // The addon loads from the prebuild (a live capture would use it).
      const probe = run(process.execPath, ['--input-type=module', '-e',
        `const m = await import(${JSON.stringify(join(installed, 'dist/src/capture/native-binding.js'))}); const r = m.loadNative({}); console.log(r.ok ? r.path : r.reason);`], cleanEnv(path));
      assert.match(ok(probe, 'loadNative'), /prebuilds\/linux-[a-z0-9]+\/node\.napi\.glibc\.node$/m);
    });

    it('without the prebuild, the same tarball fails to install here: the PATH really cannot compile', () => {
      const unpacked = join(work, 'unpacked');
      execFileSync('mkdir', ['-p', unpacked]);
      execFileSync('tar', ['xzf', tarball, '-C', unpacked]);
      rmSync(join(unpacked, 'package', 'prebuilds'), { recursive: true });
      const stripped = join(work, 'honeyport-no-prebuild.tgz');
      execFileSync('tar', ['czf', stripped, '-C', unpacked, 'package']);
      const r = npmInstall(stripped, join(work, 'npm-global-2'));
      assert.notEqual(r.status, 0, 'installed without a prebuild and without a compiler?');
      assert.match(r.stdout + r.stderr, /node-gyp|gyp ERR/);
    });
  });

  describe('Debian package (root)', () => {
    const ns = `hp-pkg-${randomBytes(3).toString('hex')}`;
    let userExisted = true;
    let groupExisted = true;
    let nsCreated = false;
    let pathsBefore = new Set<string>();
    let debPaths: string[] = [];
    const env = (): NodeJS.ProcessEnv => cleanEnv(path);

    before(function () {
      const why =
        process.getuid?.() !== 0 ? 'needs root (dpkg -i, a system user, packet sockets)'
          : !has('setpriv') || !has('ip') ? 'needs setpriv and ip'
            : spawnSync('dpkg-query', ['-W', '-f=${Status}', 'honeyport'], { encoding: 'utf8' }).stdout.includes('installed') ? 'a honeyport package is installed on this machine; not touching it'
              : undefined;
      if (why) {
        console.log(`      (skipped: ${why})`);
        this.skip();
      }
      userExisted = spawnSync('getent', ['passwd', 'honeyport']).status === 0;
      groupExisted = spawnSync('getent', ['group', 'honeyport']).status === 0;
      // Every path the package holds ("drwxr-xr-x root/root 0 2026-11-29 18:56 ./usr/lib/" → "/usr/lib").
      debPaths = ok(run('dpkg-deb', ['-c', deb], process.env), 'dpkg-deb -c').split('\n').filter(Boolean)
        .map((l) => l.replace(/^.* \.(\/.*?)(?: -> .*)?$/, '$1').replace(/\/$/, '') || '/');
      pathsBefore = new Set(debPaths.filter((p) => existsSync(p)));
    });

    after(() => {
      if (nsCreated) spawnSync('ip', ['netns', 'del', ns]);
      if (spawnSync('dpkg-query', ['-W', '-f=${Status}', 'honeyport'], { encoding: 'utf8' }).stdout.includes('ok')) {
        spawnSync('dpkg', ['-P', 'honeyport'], { stdio: 'ignore' });
      }
      rmSync('/run/honeyport', { recursive: true, force: true });
      rmSync('/var/log/honeyport', { recursive: true, force: true });
      if (!userExisted) spawnSync('userdel', ['honeyport']);
      if (!groupExisted) spawnSync('groupdel', ['honeyport']);
    });

    it('dpkg -i installs it: the user and its directories exist, nothing is started', () => {
      if (!nodeFromDpkg()) console.log('      (note: node is not from a Debian package here; installing with --force-depends)');
      ok(run('dpkg', [...(nodeFromDpkg() ? [] : ['--force-depends']), '-i', deb], env()), 'dpkg -i');
      const id = ok(run('id', ['honeyport'], env()), 'id honeyport');
      assert.match(id, /uid=\d+\(honeyport\) gid=\d+\(honeyport\)/);
      const uid = Number(/uid=(\d+)/.exec(id)![1]);
      for (const dir of ['/var/lib/honeyport', '/var/log/honeyport']) {
        const s = statSync(dir);
        assert.equal(s.uid, uid, `${dir} owner`);
        assert.equal(s.mode & 0o777, 0o750, `${dir} mode`);
      }
      assert.equal(spawnSync('pgrep', ['-u', 'honeyport']).status, 1, 'no process of the honeyport user runs');
      assert.equal(existsSync('/etc/systemd/system/multi-user.target.wants/honeyport.service'), false, 'not enabled');
      const conffiles = ok(run('dpkg-query', ['-W', '-f=${Conffiles}', 'honeyport'], env()), 'conffiles');
      for (const f of ['/etc/honeyport/policy.yaml', '/etc/honeyport/sensor.yaml', '/etc/logrotate.d/honeyport']) assert.ok(conffiles.includes(f), f);
      assert.equal(existsSync('/usr/lib/honeyport/node_modules/mocha'), false, 'no dev dependency');
      assert.equal(existsSync('/usr/lib/honeyport/node_modules/typescript'), false, 'no dev dependency');
    });

    it('installing it again keeps the admin\'s edited conffile and the same user (postinst is idempotent)', () => {
      const uidBefore = ok(run('id', ['-u', 'honeyport'], env()), 'id');
      const edited = `${readFileSync('/etc/honeyport/policy.yaml', 'utf8')}# edited by the admin\n`;
      writeFileSync('/etc/honeyport/policy.yaml', edited);
      ok(run('dpkg', ['--force-confold', ...(nodeFromDpkg() ? [] : ['--force-depends']), '-i', deb], env()), 'dpkg -i again');
      assert.equal(readFileSync('/etc/honeyport/policy.yaml', 'utf8'), edited);
      assert.equal(ok(run('id', ['-u', 'honeyport'], env()), 'id'), uidBefore);
      assert.equal(spawnSync('pgrep', ['-u', 'honeyport']).status, 1, 'still nothing started');
    });

    it('/usr/bin/honeyport replays a capture exactly as the checkout does, and the installed policy checks', () => {
      const replay = run('/usr/bin/honeyport', ['replay', '-'], env(), readFileSync(FIXTURE));
      assert.equal(ok(replay, 'replay'), reference);
      ok(run('/usr/bin/honeyport', ['policy', 'check', '/etc/honeyport/policy.yaml'], env()), 'policy check');
    });

    it('the installed unit passes systemd-analyze verify', function () {
      if (!has('systemd-analyze')) {
        console.log('      (skipped: systemd-analyze is not installed)');
        this.skip();
      }
      const r = run('systemd-analyze', ['verify', UNIT], env());
      assert.equal(r.status, 0, r.stderr);
      assert.equal((r.stdout + r.stderr).trim(), '');
    });

    it('runs as the unit runs it: its user and capabilities only, alarms in the log file, status, logrotate and reload', async () => {
      const unit = parseService(readFileSync(UNIT, 'utf8'));
      const user = unit.get('User')!;
      const group = unit.get('Group')!;
      const caps = unit.get('AmbientCapabilities')!.split(/\s+/).map((c) => c.replace(/^CAP_/, '').toLowerCase());
      const bounding = unit.get('CapabilityBoundingSet')!.split(/\s+/).map((c) => c.replace(/^CAP_/, '').toLowerCase());
      assert.equal(unit.get('NoNewPrivileges'), 'yes');
      const umask = unit.get('UMask')!;
      const execStart = unit.get('ExecStart')!.split(/\s+/);
      // What systemd does before ExecStart: RuntimeDirectory= with its mode.
      execFileSync('install', ['-d', '-o', user, '-g', group, '-m', unit.get('RuntimeDirectoryMode')!, `/run/${unit.get('RuntimeDirectory')!}`]);

      execFileSync('ip', ['netns', 'add', ns]);
      nsCreated = true;
      execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      const child = spawn('ip', ['netns', 'exec', ns, 'setpriv', `--reuid=${user}`, `--regid=${group}`, '--clear-groups',
        `--inh-caps=${caps.map((c) => `+${c}`).join(',')}`, `--ambient-caps=${caps.map((c) => `+${c}`).join(',')}`,
        `--bounding-set=-all,${bounding.map((c) => `+${c}`).join(',')}`, '--no-new-privs',
        '/bin/sh', '-c', `umask ${umask} && exec "$@"`, 'sh', ...execStart], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      let stdout = '';
      let code: number | null | undefined;
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      const exited = new Promise<void>((resolve) => child.on('close', (c) => { code = c; resolve(); }));
      const kill = setTimeout(() => child.kill('SIGKILL'), 45_000);
      try {
        for (let i = 0; i < 200 && code === undefined && !/^honeyport: ready$/m.test(stderr); i++) await sleep(50);
        assert.match(stderr, /^honeyport: ready$/m, stderr);
        assert.match(stderr, /^honeyport: port 445\/tcp on 0\.0\.0\.0: listening$/m, 'a port below 1024 is held');

        // The process holds exactly the unit's identity and capabilities.
        const pid = Number(execFileSync('pgrep', ['-u', user, '-f', 'dist/bundle/honeyport.cjs run']).toString().trim().split('\n')[0]);
        const status = readFileSync(`/proc/${pid}/status`, 'utf8');
        const uid = execFileSync('id', ['-u', user]).toString().trim();
        assert.match(status, new RegExp(`^Uid:\\s+${uid}\\s+${uid}\\s+${uid}\\s+${uid}$`, 'm'));
        const mask = capMask(caps);
        for (const set of ['CapEff', 'CapPrm', 'CapAmb']) assert.equal(capField(status, set), mask, `${set}\n${status}`);
        assert.equal(capField(status, 'CapBnd'), capMask(bounding));
        assert.match(status, /^NoNewPrivs:\s+1$/m);

        probe(445);
        await alarmsFor(ALARMS, 445);
        // A completed connection gives the key's first alarm and, once it closes, a connection alarm.
        for (let i = 0; i < 60 && readAlarms(ALARMS).length < 2; i++) await sleep(50);
        assert.equal(stdout, '', 'alarms go to the file sink, not stdout');
        const log = statSync(ALARMS);
        assert.equal(log.uid, Number(uid));
        assert.equal(log.mode & 0o777, 0o600, 'UMask=0077 applies to the alarm file');

        const st = run('/usr/bin/honeyport', ['status', '--state-dir', `/run/${unit.get('RuntimeDirectory')!}`], env());
        const live = JSON.parse(ok(st, 'honeyport status')) as { pid: number; alarms: { total: number } };
        assert.equal(live.pid, pid);
        assert.equal(live.alarms.total, 2);

        if (has('logrotate')) {
          // logrotate moves the file and creates a new one; its postrotate would
          // `systemctl reload` (no systemd here), so send what ExecReload sends.
          ok(run('logrotate', ['--force', '--state', join(work, 'logrotate.state'), '/etc/logrotate.d/honeyport'], env()), 'logrotate');
          assert.ok(existsSync(`${ALARMS}.1`), 'rotated');
          process.kill(pid, 'SIGHUP');
          for (let i = 0; i < 100 && !/policy reloaded/.test(stderr); i++) await sleep(50);
          assert.match(stderr, /policy reloaded: "honeyport-linux-recommended"/);
          probe(135);
          await alarmsFor(ALARMS, 135); // the new alarm is in the new file
          const rotated = readAlarms(`${ALARMS}.1`);
          assert.ok(rotated.some((a) => a.destination.port === 445), 'the rotated file keeps the earlier alarm');
          assert.ok(!rotated.some((a) => a.destination.port === 135), 'nothing new is written to the rotated file');
        } else {
          console.log('      (logrotate not installed: rotation not exercised)');
        }

        child.kill('SIGTERM');
        await exited;
        assert.equal(code, 0, stderr);
      } finally {
        clearTimeout(kill);
        child.kill('SIGKILL');
      }

      function probe(port: number): void {
        execFileSync('ip', ['netns', 'exec', ns, process.execPath, '-e',
          `const c=require("net").connect(${port},"127.0.0.1",()=>setTimeout(()=>c.destroy(),100));c.on("error",()=>{})`]);
      }
    });

    it('dpkg -r removes the program and keeps the configuration; dpkg -P leaves only the alarm log', () => {
      assert.ok(existsSync(ALARMS), 'the previous test left an alarm log');
      ok(run('dpkg', ['-r', 'honeyport'], env()), 'dpkg -r');
      assert.equal(existsSync('/usr/lib/honeyport'), false);
      assert.equal(existsSync('/usr/bin/honeyport'), false);
      assert.equal(existsSync(UNIT), false);
      assert.ok(existsSync('/etc/honeyport/policy.yaml'), 'conffiles stay until purge');
      ok(run('dpkg', ['-P', 'honeyport'], env()), 'dpkg -P');
      const left = debPaths.filter((p) => existsSync(p) && !pathsBefore.has(p));
      assert.deepEqual(left, [], 'files of the package left after purge');
      for (const gone of ['/etc/honeyport', '/var/lib/honeyport', '/run/honeyport']) assert.equal(existsSync(gone), false, gone);
      assert.ok(existsSync(ALARMS), 'the alarm log stays (evidence)');
      assert.equal(spawnSync('dpkg-query', ['-W', '-f=${Status}', 'honeyport'], { encoding: 'utf8' }).stdout.includes('installed'), false);
    });
  });
});

/** Node from a Debian package satisfies the .deb's Depends; a node installed otherwise cannot. */
function nodeFromDpkg(): boolean {
  return spawnSync('dpkg-query', ['-W', '-f=${Status}', 'nodejs'], { encoding: 'utf8' }).stdout.includes('install ok installed');
}

/** [Service] settings of a unit file; a repeated key keeps its last value. */
function parseService(text: string): Map<string, string> {
  const settings = new Map<string, string>();
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) section = header[1]!;
    else if (section === 'Service') {
      const eq = line.indexOf('=');
      settings.set(line.slice(0, eq), line.slice(eq + 1));
    }
  }
  return settings;
}

const CAP_NUMBERS: Record<string, number> = { net_bind_service: 10, net_raw: 13 };

function capMask(names: readonly string[]): bigint {
  let mask = 0n;
  for (const n of names) {
    const bit = CAP_NUMBERS[n];
    assert.ok(bit !== undefined, `capability ${n} unknown to the test`);
    mask |= 1n << BigInt(bit);
  }
  return mask;
}

function capField(status: string, field: string): bigint {
  const m = new RegExp(`^${field}:\\s+([0-9a-f]+)$`, 'm').exec(status);
  assert.ok(m, `${field} in /proc status`);
  return BigInt(`0x${m[1]}`);
}

interface LoggedAlarm {
  destination: { port: number };
}

/** Waits (up to 5 s) until `file` holds an alarm for `port`, and returns the file's alarms. */
async function alarmsFor(file: string, port: number): Promise<LoggedAlarm[]> {
  let alarms: LoggedAlarm[] = [];
  for (let i = 0; i < 100; i++) {
    alarms = readAlarms(file);
    if (alarms.some((a) => a.destination.port === port)) return alarms;
    await sleep(50);
  }
  assert.fail(`no alarm for port ${port} in ${file}:\n${JSON.stringify(alarms)}`);
}

function readAlarms(file: string): LoggedAlarm[] {
  if (!existsSync(file)) return [];
  // State documents (event.kind state) share the file: they are not alarms.
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as LoggedAlarm & { event?: { kind?: string } }).filter((a) => a.event?.kind !== 'state');
}
