/**
 * "Never answer unwatched" (root only; skipped with a printed reason
 * otherwise): a decoy port must not send a SYN-ACK unless the capture of that
 * port is already running, at start-up and when a reload adds or removes a
 * port; and a port another process holds never raises an alarm, not even for
 * probes captured while the sensor was still trying to bind it.
 *
 * The fault: a SYN stream (hping3, 1 kHz, bounded by count) runs while the
 * sensor starts or reloads. Every SYN-ACK tcpdump sees from a decoy port is a
 * probe that was answered; the alarms for that key must count at least as
 * many probes. Each start and each reload uses its own port, so one capture
 * covers all repetitions and every port is compared on its own.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';

import { destroyTopology, runIn, spawnIn, type RunResult, type Topology } from './netns.js';
import {
  SensorProcess,
  Tcpdump,
  assertCleanStop,
  hping3,
  key,
  liveSetup,
  readPcap,
  sleep,
  tally,
  writePolicy,
  type EcsAlarm,
  type PolicyPort,
  type WirePacket,
} from './sensor-harness.js';

const REPEATS = 20;
const START_BASE = 21000;
const RELOAD_BASE = 22000;
const KEPT = 23000;
const OCCUPIED = 24000;
const SYN = 0x02;
const ACK = 0x10;
const tcp = (port: number): PolicyPort => ({ port, protocol: 'tcp' });
const START_PORTS = (): number[] => Array.from({ length: REPEATS }, (_, i) => START_BASE + i);
const RELOAD_PORTS = (): number[] => Array.from({ length: REPEATS + 1 }, (_, i) => RELOAD_BASE - 1 + i);

/** SYN-ACKs the server sent from each port to `to`. */
function synAcks(wire: readonly WirePacket[], from: string, to: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const p of wire) {
    if (p.source !== from || p.destination !== to || p.flags === undefined) continue;
    if ((p.flags & (SYN | ACK)) !== (SYN | ACK)) continue;
    out.set(p.sourcePort, (out.get(p.sourcePort) ?? 0) + 1);
  }
  return out;
}

/** Probes counted per destination port by the alarms of one key per port. */
function counted(alarms: readonly EcsAlarm[], atk: string, srv: string, port: number): number {
  return tally(alarms).get(key(atk, srv, port))?.count ?? 0;
}

describe('honeyport run never answers unwatched (live)', function () {
  this.timeout(240_000);
  let topo: Topology | undefined;
  let dir = '';
  let sensor: SensorProcess | undefined;
  let dump: Tcpdump | undefined;

  before(function () {
    ({ topo, dir } = liveSetup(this, 'hp-blind-'));
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && sensor) console.log(sensor.transcript());
    sensor?.kill();
    await dump?.stop();
    dump = undefined;
  });

  after(function () {
    if (topo) destroyTopology(topo);
    if (dir && process.env.HP_KEEP === undefined) rmSync(dir, { recursive: true, force: true });
    else console.log(`kept ${dir}`);
  });

  /** hping3 SYNs to `port`, one per millisecond, `count` of them (bounded by count and a deadline). */
  const stream = (port: number, count: number): Promise<RunResult> =>
    hping3(topo!.attacker.ns, ['-q', '-S', '-p', String(port), '-i', 'u1000', '-c', String(count)], topo!.server.v4);

  it(`a SYN stream during start-up: every SYN-ACK is counted by an alarm (${REPEATS} starts)`, async function () {
    const t = topo!;
    const pcap = join(dir, 'start.pcap');
    dump = await Tcpdump.start(t.server.ns, t.server.iface, pcap);
    const alarms: EcsAlarm[] = [];
    for (let i = 0; i < REPEATS; i++) {
      const port = START_BASE + i;
      const policyFile = join(dir, `start-${i}.json`);
      writePolicy(policyFile, { name: `start-${i}`, ports: [tcp(port)] });
      const syns = stream(port, 1500);
      await sleep(100);
      sensor = await SensorProcess.start(t.server.ns, { policyFile, interfaces: [t.server.iface], stateDir: join(dir, `state-${i}`), window: '60s' });
      const r = await syns;
      assert.notEqual(r.timedOut, true, 'hping3 finished');
      const stop = await sensor.stop();
      assertCleanStop(stop);
      alarms.push(...sensor.alarms());
    }
    await sleep(200);
    await dump.stop();
    dump = undefined;
    const answered = synAcks(readPcap(pcap), t.server.v4, t.attacker.v4);
    const short: string[] = [];
    let total = 0;
    for (let i = 0; i < REPEATS; i++) {
      const port = START_BASE + i;
      const acks = answered.get(port) ?? 0;
      total += acks;
      const n = counted(alarms, t.attacker.v4, t.server.v4, port);
      if (acks > n) short.push(`port ${port}: ${acks} SYN-ACKs, ${n} probes counted`);
    }
    assert.ok(total > REPEATS * 100, `the stream reached listening ports (${total} SYN-ACKs)`);
    const countedTotal = START_PORTS().reduce((n, port) => n + counted(alarms, t.attacker.v4, t.server.v4, port), 0);
    console.log(`      ${REPEATS} starts: ${total} SYN-ACKs on the wire, ${countedTotal} probes counted`);
    assert.deepEqual(short, [], 'answered but not counted');
  });

  it(`a SYN stream during ${REPEATS} reloads adding and removing a port: every SYN-ACK is counted, the kept port's window and the counters carry over`, async function () {
    const t = topo!;
    const pcap = join(dir, 'reload.pcap');
    const policyFile = join(dir, 'reload.json');
    writePolicy(policyFile, { name: 'reload-0', ports: [tcp(KEPT)] });
    dump = await Tcpdump.start(t.server.ns, t.server.iface, pcap);
    sensor = await SensorProcess.start(t.server.ns, { policyFile, interfaces: [t.server.iface], stateDir: join(dir, 'state-reload'), window: '120s' });
    const s = sensor;
    // The kept port is probed once before and once after the reloads: one window, so one first alarm.
    assert.equal((await stream(KEPT, 1)).timedOut, false);
    for (let i = 0; i < REPEATS; i++) {
      const port = RELOAD_BASE + i;
      // Adds `port`, removes the previous cycle's port.
      writePolicy(policyFile, { name: `reload-${i + 1}`, ports: [tcp(KEPT), tcp(port)] });
      const syns = Promise.all([stream(port, 600), stream(port - 1, 300)]);
      await sleep(50);
      const mark = s.stderr.length;
      s.hup();
      assert.ok(await s.waitForStderr(/^honeyport: policy reloaded/m, 10_000, mark), `reload ${i + 1}:\n${s.stderr.slice(mark)}`);
      await syns;
    }
    assert.equal((await stream(KEPT, 1)).timedOut, false);
    await sleep(300);
    const status = await s.status();
    const stop = await s.stop();
    assertCleanStop(stop);
    await dump.stop();
    dump = undefined;
    const alarms = s.alarms();
    if (process.env.HP_KEEP !== undefined) (await import('node:fs')).writeFileSync(join(dir, 'alarms.json'), s.stdout);
    const answered = synAcks(readPcap(pcap), t.server.v4, t.attacker.v4);
    const short: string[] = [];
    let total = 0;
    for (let i = -1; i < REPEATS; i++) {
      const port = RELOAD_BASE + i;
      const acks = answered.get(port) ?? 0;
      total += acks;
      const n = counted(alarms, t.attacker.v4, t.server.v4, port);
      if (acks > n) short.push(`port ${port}: ${acks} SYN-ACKs, ${n} probes counted`);
    }
    assert.ok(total > REPEATS * 100, `the streams reached listening ports (${total} SYN-ACKs)`);
    const countedTotal = RELOAD_PORTS().reduce((n, port) => n + counted(alarms, t.attacker.v4, t.server.v4, port), 0);
    console.log(`      ${REPEATS} reloads: ${total} SYN-ACKs on the wire, ${countedTotal} probes counted`);
    assert.deepEqual(short, [], 'answered but not counted');
    const kept = tally(alarms).get(key(t.attacker.v4, t.server.v4, KEPT));
    assert.equal(kept?.count, 2, 'both probes of the kept port counted');
    assert.equal(kept?.firsts, 1, 'the kept port\'s window carried over every reload: one first alarm');
    const detect = status.detect as { alarms: number; probes: number };
    // Follow-ups are only written at stop, after the status was read.
    const firsts = alarms.filter((a) => a.honeyport.alarm === 'first').length;
    assert.ok(detect.alarms >= firsts, `status detect.alarms ${detect.alarms} counts every first alarm (${firsts}) of the whole run`);
  });

  it('a port another process holds never alarms, even for probes captured while the sensor tried to bind it; freed, it is taken at the next SIGHUP', async function () {
    const t = topo!;
    const policyFile = join(dir, 'occupied.json');
    const held = OCCUPIED + 1;
    writePolicy(policyFile, { name: 'occupied', ports: [tcp(OCCUPIED), tcp(held)] });
    // A real service on OCCUPIED, inside the server's namespace.
    const service = spawnIn(t.server.ns, 'python3', [
      '-c',
      'import socket,sys,time\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n' +
        `s.bind(("0.0.0.0", ${OCCUPIED}))\ns.listen(64)\nprint("up", flush=True)\ntime.sleep(60)\n`,
    ]);
    try {
      await new Promise<void>((resolve, reject) => {
        service.stdout!.once('data', () => resolve());
        service.once('exit', (code) => reject(new Error(`service exited ${code}`)));
      });
      const syns = Promise.all([stream(OCCUPIED, 1500), stream(held, 1500)]);
      await sleep(100);
      sensor = await SensorProcess.start(t.server.ns, { policyFile, interfaces: [t.server.iface], stateDir: join(dir, 'state-occ'), window: '60s' });
      assert.match(sensor.portLine(OCCUPIED, 'tcp') ?? '', /occupied/);
      await syns;
      const nmapRun = await runIn(t.attacker.ns, 'nmap', ['-n', '-Pn', '-sS', '-p', `${OCCUPIED},${held}`, t.server.v4], 30_000);
      assert.equal(nmapRun.code, 0, nmapRun.stderr);
      await sleep(200);
      const s = sensor;
      const occupiedPhase = s.alarms();
      // Freed later, the port is taken at the next SIGHUP, and from then on it is a decoy.
      service.kill('SIGKILL');
      await new Promise((resolve) => service.once('close', resolve));
      const mark = s.stderr.length;
      s.hup();
      assert.ok(await s.waitForStderr(new RegExp(`^honeyport: port ${OCCUPIED}/tcp on 0\\.0\\.0\\.0: listening$`, 'm'), 10_000, mark), `taken at reload:\n${s.stderr.slice(mark)}`);
      const freed = await runIn(t.attacker.ns, 'nmap', ['-n', '-Pn', '-sS', '-p', String(OCCUPIED), t.server.v4], 30_000);
      assert.equal(freed.code, 0, freed.stderr);
      await sleep(200);
      const stop = await s.stop();
      assertCleanStop(stop);
      const ports = new Set(occupiedPhase.map((a) => a.destination.port));
      assert.ok(ports.has(held), 'the held port alarms');
      assert.ok(!ports.has(OCCUPIED), `no alarm for the occupied port: ${JSON.stringify(occupiedPhase.find((a) => a.destination.port === OCCUPIED))}`);
      assert.ok(s.alarms().some((a) => a.destination.port === OCCUPIED), 'once freed and taken at SIGHUP, the port alarms');
    } finally {
      service.kill('SIGKILL');
    }
  });
});
