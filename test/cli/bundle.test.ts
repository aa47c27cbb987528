/**
 * The bundle (dist/bundle, what bin/ and the .deb run) is the compiled tree
 * as one script run with V8's code cache: it must behave exactly as dist/src
 * does. Each case runs both and compares bytes, through the parts the bundle
 * could lose — the replay worker (a second file found by a relative URL),
 * the modules loaded on demand (policy files, delivery sinks, the report),
 * the package version read from package.json at a different depth — and
 * with the code cache missing or damaged (V8 must reject it, not misrun).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isCaptureName } from '../fixtures-gen/expect-file.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const COMPILED = join(ROOT, 'dist/src/cli/main.js');
const BUNDLE = join(ROOT, 'dist/bundle/honeyport.cjs');
const FIXTURE_DIRS = ['fixtures/live', 'fixtures/crafted', 'fixtures/scanners', 'fixtures/tunnels'];

interface Result { code: number | null; stdout: string; stderr: string }

function run(cli: string, args: string[], env: NodeJS.ProcessEnv = process.env): Result {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000, maxBuffer: 1 << 28, env });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function assertSame(args: string[]): Result {
  const a = run(COMPILED, args);
  const b = run(BUNDLE, args);
  assert.equal(b.code, a.code, `exit code of ${args.join(' ')}; bundle stderr: ${b.stderr}`);
  assert.equal(b.stdout, a.stdout, `stdout of ${args.join(' ')} (stale bundle? run \`npm run build\`)`);
  assert.equal(b.stderr, a.stderr, `stderr of ${args.join(' ')}`);
  return b;
}

function capturesIn(dir: string): string[] {
  const abs = join(ROOT, dir);
  return existsSync(abs) ? readdirSync(abs).filter(isCaptureName).sort().map((n) => join(dir, n)) : [];
}

describe('bundled command line (dist/bundle)', function () {
  this.timeout(120_000);
  let dir = '';
  before(function () {
    if (!existsSync(BUNDLE)) {
      // npm run build makes it; a bare tsc does not.
      console.log('      (skipped: dist/bundle is missing; run `npm run build`)');
      this.skip();
    }
    dir = mkdtempSync(join(tmpdir(), 'hp-bundle-'));
  });
  after(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

  for (const fixtures of FIXTURE_DIRS) {
    it(`replays ${fixtures} byte for byte as the compiled tree, on the main thread and with a worker`, function () {
      const files = capturesIn(fixtures);
      if (files.length === 0) this.skip();
      const sequential = assertSame(['replay', '-q', '--jobs', '0', ...files]);
      assert.ok(sequential.stdout.length > 0, 'some alarms');
      // --jobs 1 reads through dist/bundle/replay-worker.js: without it the run fails.
      const parallel = assertSame(['replay', '-q', '--jobs', '1', ...files]);
      assert.equal(parallel.stdout, sequential.stdout);
    });
  }

  it('names the version from package.json, and prints the same help', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    assert.equal(assertSame(['--version']).stdout.trim(), pkg.version);
    assertSame(['--help']);
    assertSame(['replay', '--help']);
    assertSame(['run', '--help']);
  });

  it('loads the on-demand parts: a policy file, a file sink, the report', () => {
    const scan = join(ROOT, 'fixtures/live/nmap-sS.pcap');
    const policy = join(ROOT, 'fixtures/policies/test-linux.yaml');
    assertSame(['policy', 'check', policy]);
    assertSame(['replay', '-q', '-p', policy, scan]);
    assertSame(['replay', '-q', '-p', join(dir, 'missing.yaml'), scan]);
    for (const [cli, name] of [[COMPILED, 'a'], [BUNDLE, 'b']] as const) {
      const r = run(cli, ['replay', '-q', '--output', `file:${join(dir, `${name}.json`)}`, '--report', join(dir, `${name}.html`), scan]);
      assert.equal(r.code, 0, r.stderr);
    }
    assert.equal(readFileSync(join(dir, 'b.json'), 'utf8'), readFileSync(join(dir, 'a.json'), 'utf8'));
    assert.match(readFileSync(join(dir, 'b.html'), 'utf8'), /^<!doctype html>/i);
  });

  it('starts with the code cache the build wrote; a damaged or missing one is compiled over, same output', () => {
    const scan = join(ROOT, 'fixtures/live/nmap-sS.pcap');
    const debug = { ...process.env, HONEYPORT_DEBUG_CODE_CACHE: '1' };
    const expected = run(COMPILED, ['replay', '-q', scan]).stdout;
    const used = run(BUNDLE, ['replay', '-q', scan], debug);
    assert.equal(used.stderr, 'honeyport: code cache used\n');
    assert.equal(used.stdout, expected);
    // A copy of the package: a damaged cache (V8 crashes on one it is handed), one of another build, none.
    const pkg = join(dir, 'pkg');
    cpSync(join(ROOT, 'dist/bundle'), join(pkg, 'dist/bundle'), { recursive: true });
    cpSync(join(ROOT, 'package.json'), join(pkg, 'package.json'));
    symlinkSync(join(ROOT, 'node_modules'), join(pkg, 'node_modules'));
    const cache = join(pkg, 'dist/bundle/program.cjs.cache');
    const bytes = readFileSync(cache);
    for (let i = 64; i < bytes.length; i += 97) bytes[i] ^= 0x5a;
    writeFileSync(cache, bytes);
    const damaged = run(join(pkg, 'dist/bundle/honeyport.cjs'), ['replay', '-q', scan], debug);
    assert.equal(damaged.stderr, 'honeyport: code cache mismatched\n');
    assert.equal(damaged.stdout, expected);
    // The build's own cache beside a script of the same length that differs: V8 would take it.
    writeFileSync(cache, readFileSync(join(ROOT, 'dist/bundle/program.cjs.cache')));
    const script = join(pkg, 'dist/bundle/program.cjs');
    writeFileSync(script, readFileSync(script, 'utf8').replace('Dynamic port honeypot sensor', 'Dynamic port honeypot SENSOR'));
    const other = run(join(pkg, 'dist/bundle/honeyport.cjs'), ['--help'], debug);
    assert.match(other.stderr, /^honeyport: code cache mismatched\n/);
    assert.match(other.stdout, /Dynamic port honeypot SENSOR/);
    rmSync(cache);
    const absent = run(join(pkg, 'dist/bundle/honeyport.cjs'), ['replay', '-q', scan], debug);
    assert.equal(absent.stderr, 'honeyport: code cache absent\n');
    assert.equal(absent.stdout, expected);
    assert.equal(existsSync(cache), false, 'a run never writes the cache');
  });
});
