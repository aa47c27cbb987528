/**
 * A fleet policy file under `honeyport run` (root only; skipped with a printed
 * reason otherwise): the sensor takes the policy whose servers: hold its
 * address, a SIGHUP re-selects from the edited file (the host moved to
 * another policy), and a reload that would leave the host with two policies
 * is refused with the old policy kept.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { SensorProcess, assertCleanStop, liveSensorSuite, sleep } from './sensor-harness.js';

const A = 445;
const B = 3389;

/**
 * os.networkInterfaces() (libuv) lists only interfaces that are up and
 * running, and a new veth gets its carrier up to a second after `link set up`.
 */
async function waitRunning(ns: string, iface: string): Promise<void> {
  for (const until = Date.now() + 5000; Date.now() < until; await sleep(50)) {
    if (/state UP/.test(execFileSync('ip', ['-n', ns, '-o', 'link', 'show', 'dev', iface], { encoding: 'utf8' }))) return;
  }
  assert.fail(`${iface} in ${ns} not running after 5 s`);
}

function fleet(file: string, aServers: readonly string[], bServers: readonly string[]): void {
  const entry = (name: string, servers: readonly string[], port: number): object =>
    ({ name, servers, os: 'linux', ports: [{ port, protocol: 'tcp' }] });
  writeFileSync(file, `${JSON.stringify({ policies: [entry('fleet-a', aServers, A), entry('fleet-b', bServers, B)] }, null, 2)}\n`);
}

describe('honeyport run: fleet policy file, re-selected on SIGHUP (live)', function () {
  this.timeout(60_000);
  const suite = liveSensorSuite('hp-fleet-');

  it('applies the policy for its address, moves with the file on SIGHUP, and refuses a reload that gives it two', async function () {
    const t = suite.topo;
    const file = join(suite.dir, 'fleet.yaml');
    fleet(file, [`${t.server.v4}/32`], ['no-such-host-zq*']);
    await waitRunning(t.server.ns, t.server.iface);
    const sensor = (suite.sensor = await SensorProcess.start(t.server.ns, { policyFile: file, interfaces: [t.server.iface], stateDir: join(suite.dir, 'state') }));
    const s = sensor;
    assert.equal(((await s.status()).policy as { name: string }).name, 'fleet-a');
    assert.ok(s.portLine(A, 'tcp'), `port ${A} held:\n${s.stderr}`);

    // The host moves to fleet-b (by its IPv6 address this time).
    fleet(file, ['no-such-host-zq*'], [t.server.v6]);
    let mark = s.stderr.length;
    s.hup();
    assert.ok(await s.waitForStderr(/^honeyport: policy reloaded: "fleet-b", ports 3389\/tcp$/m, 10_000, mark), s.stderr.slice(mark));
    assert.equal(((await s.status()).policy as { name: string }).name, 'fleet-b');

    // Both claim it: refused, fleet-b stays.
    fleet(file, [`${t.server.v4}/32`], [t.server.v6]);
    mark = s.stderr.length;
    s.hup();
    assert.ok(await s.waitForStderr(/^honeyport: reload refused: .*matches 2 policies: policies\[0\] "fleet-a" .* and policies\[1\] "fleet-b" .*; policy "fleet-b" stays$/m, 10_000, mark), s.stderr.slice(mark));
    assert.equal(((await s.status()).policy as { name: string }).name, 'fleet-b');
    assertCleanStop(await s.stop());
  });
});
