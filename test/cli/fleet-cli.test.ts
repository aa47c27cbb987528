/**
 * Fleet policy files at the command line: `policy check --host/--address`
 * says which policy a host gets, and `run` and `replay` refuse a host that
 * no policy (or more than one) claims with one line and exit 2, before any
 * socket, port or sink is opened.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = join(ROOT, 'dist/src/cli/main.js');
const SCAN = join(ROOT, 'fixtures/live/nmap-sS.pcap');

interface Result { code: number | null; stdout: string; stderr: string }

function hp(args: string[]): Result {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function assertOneLineError(r: Result, code: number, pattern: RegExp): void {
  assert.equal(r.code, code, `exit code; stderr: ${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line: ${r.stderr}`);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
}

const FLEET = `policies:
  - name: dmz-web
    servers: ["web-*", 198.18.10.0/24]
    os: linux
    ports: recommended
  - name: db
    servers: ["db[0-9][0-9]", "fd00:18:db::/48"]
    os: linux
    ports: [{port: 3389, protocol: tcp}, {port: 445, protocol: tcp}]
`;

describe('fleet policy files on the command line', function () {
  this.timeout(60_000);
  let dir = '';
  let fleet = '';
  let nobody = '';
  let everybody = '';
  let single = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'hp-fleet-'));
    fleet = join(dir, 'fleet.yaml');
    writeFileSync(fleet, FLEET);
    // No host of this machine or any test runner is named so or holds 198.18.255.0/24 (a benchmarking block).
    nobody = join(dir, 'nobody.yaml');
    writeFileSync(nobody, 'policies:\n  - {name: nobody, servers: ["no-such-host-zq*", 198.18.255.0/24], os: linux, ports: recommended}\n');
    everybody = join(dir, 'everybody.yaml');
    writeFileSync(everybody, 'policies:\n  - {name: a, servers: ["*"], os: linux, ports: recommended}\n  - {name: b, servers: ["*"], os: linux, ports: recommended}\n');
    single = join(dir, 'single.yaml');
    writeFileSync(single, 'name: site\nos: linux\nports: recommended\n');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('policy check without --host validates and lists every policy with its selectors', () => {
    const r = hp(['policy', 'check', fleet]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0]!, /fleet\.yaml: ok: 2 policies$/);
    assert.match(lines[1]!, /^ {2}policies\[0\] "dmz-web" \(linux\), 8 ports: .*; 0 whitelist entries; servers: web-\*, 198\.18\.10\.0\/24$/);
    assert.match(lines[2]!, /^ {2}policies\[1\] "db" \(linux\), 2 ports: 445\/tcp, 3389\/tcp; 0 whitelist entries; servers: db\[0-9\]\[0-9\], fd00:18:db::\/48$/);
  });

  it('policy check --host [--address] says which policy the host gets and why', () => {
    let r = hp(['policy', 'check', fleet, '--host', 'WEB-3.corp.example']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^.*fleet\.yaml: host "WEB-3\.corp\.example" gets policies\[0\] "dmz-web" \(by "web-\*"\): linux, 8 ports: /);
    r = hp(['policy', 'check', fleet, '--host', 'anon', '--address', '198.18.0.1', '--address', 'fd00:18:db::7']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /host "anon" \(addresses 198\.18\.0\.1, fd00:18:db::7\) gets policies\[1\] "db" \(by "fd00:18:db::\/48"\): linux, 2 ports: 445\/tcp, 3389\/tcp/);
  });

  it('policy check: none and two are one line, exit 2', () => {
    assertOneLineError(hp(['policy', 'check', fleet, '--host', 'mail-1']), 2, /^honeyport: .*fleet\.yaml: no policy is for host "mail-1" \(no addresses\)/);
    assertOneLineError(hp(['policy', 'check', fleet, '--host', 'web-1', '--address', 'fd00:18:db::1']), 2,
      /^honeyport: .*fleet\.yaml: host "web-1" matches 2 policies: policies\[0\] "dmz-web" \(by "web-\*"\) and policies\[1\] "db" \(by "fd00:18:db::\/48"\); a server has one policy/);
  });

  it('policy check: bad --address and --address without --host are usage errors', () => {
    assertOneLineError(hp(['policy', 'check', fleet, '--host', 'x', '--address', '300.1.1.1']), 2, /--address: "300\.1\.1\.1" is not an IPv4 or IPv6 address/);
    assertOneLineError(hp(['policy', 'check', fleet, '--address', '198.18.10.1']), 2, /--address needs --host/);
    assertOneLineError(hp(['policy', 'check', fleet, '--host', '']), 2, /--host: must not be empty/);
  });

  it('a single-policy file applies to every host, as before', () => {
    const r = hp(['policy', 'check', single, '--host', 'anything']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /single\.yaml: ok: policy "site" \(linux\), 8 ports: .*; 0 whitelist entries \(one policy: every host gets it\)$/m);
    assert.match(hp(['policy', 'check', single]).stdout, /single\.yaml: ok: policy "site" \(linux\), 8 ports: .*; 0 whitelist entries$/m);
  });

  it('run refuses a host no policy is for, or two are for, with one line and exit 2 before opening anything', () => {
    const state = join(dir, 'state');
    assertOneLineError(hp(['run', '-p', nobody, '--state-dir', state]), 2, /nobody\.yaml: no policy is for host "[^"]*" \(/);
    assertOneLineError(hp(['run', '-p', everybody, '--state-dir', state]), 2, /everybody\.yaml: host "[^"]*" matches 2 policies: policies\[0\] "a" \(by "\*"\) and policies\[1\] "b" \(by "\*"\)/);
    assertOneLineError(hp(['run', '-p', fleet, '--host', 'mail-1', '--state-dir', state]), 2, /fleet\.yaml: no policy is for host "mail-1"/);
    assert.ok(!existsSync(state), 'the status socket\'s directory was never made');
  });

  it('replay needs --host for a fleet file, and then uses that host\'s policy', () => {
    assertOneLineError(hp(['replay', '-p', fleet, SCAN]), 2, /fleet\.yaml holds 2 policies: replay needs --host NAME \(and --address IP\) of the host the capture is from/);
    assertOneLineError(hp(['replay', '-p', fleet, '--host', 'mail-1', SCAN]), 2, /no policy is for host "mail-1"/);
    const r = hp(['replay', '-q', '-p', fleet, '--host', 'anon', '--address', 'fd00:18:db::7', SCAN]);
    assert.equal(r.code, 0, r.stderr);
    const names = new Set(r.stdout.trim().split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { rule: { name: string } }).rule.name));
    assert.deepEqual([...names], ['db']);
    assert.equal(hp(['replay', '-q', '-p', single, '--host', 'anything', SCAN]).code, 0, 'a single policy ignores --host');
  });
});
