/**
 * Policy reload (SIGHUP) of a running `honeyport run` between real scans
 * (root only; skipped with a printed reason otherwise). Three phases, each a
 * nmap -sS of the ports A, B and C:
 *   1. policy {A, B};
 *   2. after a reload to {B, C}: C alarms, A does not (and is released);
 *   3. after a refused reload of an invalid file: {B, C} still alarms.
 * Each phase's alarms (by event.start) must equal the probes tcpdump saw in
 * that phase for the policy then in force.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { destroyTopology, type Topology } from './netns.js';
import {
  SensorProcess,
  Tcpdump,
  assertCleanStop,
  counts,
  liveSetup,
  nmap,
  readPcap,
  sleep,
  tally,
  wireCounts,
  writePolicy,
  type EcsAlarm,
  type PolicyPort,
  type WirePacket,
} from './sensor-harness.js';

const A = 445;
const B = 3389;
const C = 18445;
const WINDOW_MS = 2000;
const tcp = (port: number): PolicyPort => ({ port, protocol: 'tcp' });

describe('honeyport run: policy reload during scans (live)', function () {
  this.timeout(90_000);
  let topo: Topology | undefined;
  let dir = '';
  let sensor: SensorProcess | undefined;
  let dump: Tcpdump | undefined;

  before(function () {
    ({ topo, dir } = liveSetup(this, 'hp-reload-'));
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && sensor) console.log(sensor.transcript());
    sensor?.kill();
    await dump?.stop();
  });

  after(function () {
    if (topo) destroyTopology(topo);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('SIGHUP applies a valid policy (new port alarms, dropped port released) and refuses an invalid one', async function () {
    const t = topo!;
    const atk = t.attacker.v4;
    const srv = t.server.v4;
    const policyFile = join(dir, 'policy.yaml');
    writePolicy(policyFile, { name: 'phase-ab', ports: [tcp(A), tcp(B)] });
    const pcap = join(dir, 'reload.pcap');
    dump = await Tcpdump.start(t.server.ns, t.server.iface, pcap);
    sensor = await SensorProcess.start(t.server.ns, {
      policyFile,
      interfaces: [t.server.iface],
      stateDir: join(dir, 'state'),
      window: `${WINDOW_MS / 1000}s`,
    });
    const s = sensor;
    const scan = async (): Promise<number[]> => {
      const r = await nmap(t.attacker.ns, ['-sS', '-p', `${A},${B},${C}`], srv);
      assert.equal(r.code, 0, r.stderr);
      return r.open;
    };

    // Phase 1: {A, B}.
    const p1 = Date.now();
    assert.deepEqual(await scan(), [A, B], 'phase 1: A and B held, C not');
    await sleep(200);

    // Phase 2: reload to {B, C}.
    writePolicy(policyFile, { name: 'phase-bc', ports: [tcp(B), tcp(C)] });
    let mark = s.stderr.length;
    s.hup();
    assert.ok(await s.waitForStderr(/^honeyport: policy reloaded.*$/m, 10_000, mark), `no "policy reloaded" line:\n${s.stderr.slice(mark)}`);
    const reloadedLine = s.stderr.slice(mark).split('\n').find((l) => l.startsWith('honeyport: policy reloaded'))!;
    assert.match(reloadedLine, new RegExp(`\\b${B}/tcp\\b.*\\b${C}/tcp\\b`), reloadedLine);
    assert.doesNotMatch(reloadedLine, new RegExp(`\\b${A}/tcp\\b`), reloadedLine);
    const p2 = Date.now();
    assert.deepEqual(await scan(), [B, C], 'phase 2: A released, C held');
    // Let phase 2's windows close so that phase 3 starts new alarms.
    await sleep(WINDOW_MS + 500);

    // Phase 3: an invalid file is refused; {B, C} stays.
    writeFileSync(policyFile, 'os: linux\nports:\n  - port: 70000\n    protocol: tcp\n');
    mark = s.stderr.length;
    s.hup();
    assert.ok(await s.waitForStderr(/^honeyport: reload refused: .*$/m, 10_000, mark), `no "reload refused" line:\n${s.stderr.slice(mark)}`);
    assert.match(s.stderr.slice(mark), /70000|ports\[0\]\.port/, 'the refusal says what is wrong');
    assert.doesNotMatch(s.stderr.slice(mark), /policy reloaded/);
    const p3 = Date.now();
    assert.deepEqual(await scan(), [B, C], 'phase 3: still B and C');
    const status = await s.status();
    await sleep(300);
    const stop = await s.stop();
    await dump.stop();
    dump = undefined;

    const policy = status.policy as { name: string; ports: PolicyPort[] };
    assert.equal(policy.name, 'phase-bc');
    assert.deepEqual(policy.ports.map((p) => p.port).sort((x, y) => x - y), [B, C]);

    const wire = readPcap(pcap);
    const alarms = s.alarms();
    const end = Date.now() + 1;
    const phases: [name: string, from: number, to: number, ports: PolicyPort[]][] = [
      ['phase 1 {A,B}', p1, p2, [tcp(A), tcp(B)]],
      ['phase 2 {B,C}', p2, p3, [tcp(B), tcp(C)]],
      ['phase 3 {B,C} after a refused reload', p3, end, [tcp(B), tcp(C)]],
    ];
    const inPhase = (from: number, to: number) => (a: EcsAlarm) => {
      const at = Date.parse(a.event.start);
      return at >= from && at < to;
    };
    const wireIn = (from: number, to: number): WirePacket[] => wire.filter((p) => p.timeMs >= from && p.timeMs < to);
    for (const [name, from, to, ports] of phases) {
      const live = counts(tally(alarms, inPhase(from, to)));
      const expected = wireCounts(wireIn(from, to), ports, [atk]);
      assert.deepEqual(Object.keys(expected).length, 2, `${name}: two policy ports probed on the wire`);
      assert.deepEqual(live, expected, name);
    }
    const outside = alarms.filter((a) => Date.parse(a.event.start) < p1);
    assert.deepEqual(outside, [], 'no alarm before the first scan');
    assertCleanStop(stop);
  });
});
