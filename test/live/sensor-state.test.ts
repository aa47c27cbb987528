/**
 * Sensor state documents from the real sensor (issue 10 part 3), each event
 * injected for real in the sensor's namespace: a port occupied by another
 * process at start (its occupant named), heartbeats every `--heartbeat 1s`,
 * the occupant exiting (port freed), the decoy's listening socket destroyed
 * with `ss -K` (a decoy that stopped listening), SIGHUP (reload: both ports
 * taken again), SIGTERM (stop_reason SIGTERM in the last document), a fatal
 * error (an uncaught exception thrown inside the sensor by a module loaded
 * with --import, on SIGUSR2), an HTTP receiver answering 503 when the start
 * document is produced (spooled on disk, delivered once it answers) and
 * SIGKILL (no stop document: silence). Root only; skipped with a reason otherwise.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { runIn, spawnIn } from './netns.js';
import { SensorProcess, assertCleanStop, isStateDocument, liveSensorSuite, parseDocuments, sleep, writePolicy } from './sensor-harness.js';

const DECOY = 4451;
const OCCUPIED = 4452;
const DECOY6 = 4453;

interface Port { port: number; protocol: string; status: string; occupant?: { pid: number; command: string }; reason?: string }
interface StateDoc {
  event: { kind: string; action: string; id: string; type: string[]; reason?: string };
  error?: { message: string };
  honeyport: { state: { trigger: string; stop_reason?: string; ports: Port[]; policy: { name: string; digest: string } } };
}

function states(sensor: SensorProcess): StateDoc[] {
  return parseDocuments(sensor.stdout).filter(isStateDocument) as unknown as StateDoc[];
}

const portOf = (d: StateDoc, port: number): Port | undefined => d.honeyport.state.ports.find((p) => p.port === port);

async function waitForState(sensor: SensorProcess, what: string, f: (d: StateDoc) => boolean, timeoutMs: number): Promise<StateDoc> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const found = states(sensor).find(f);
    if (found) return found;
    if (Date.now() > until || !sensor.running) assert.fail(`no state document ${what} within ${timeoutMs} ms:\n${sensor.transcript()}`);
    await sleep(50);
  }
}

describe('sensor state documents (live)', function () {
  this.timeout(90_000);
  const suite = liveSensorSuite('hp-state-');

  it('at start (occupant named), every heartbeat, when an occupant exits and a decoy stops listening, on reload, and at SIGTERM', async () => {
    const t = suite.topo;
    const policyFile = join(suite.dir, 'policy.yaml');
    writePolicy(policyFile, { name: 'state-live', ports: [{ port: DECOY, protocol: 'tcp' }, { port: OCCUPIED, protocol: 'tcp' }, { port: DECOY6, protocol: 'tcp6' }] });
    const occupant = spawnIn(t.server.ns, 'python3', ['-c',
      `import socket,sys,time\ns=socket.socket()\ns.bind(("0.0.0.0",${OCCUPIED}))\ns.listen()\nprint("ready",flush=True)\ntime.sleep(60)`]);
    try {
      await new Promise<void>((resolve, reject) => {
        occupant.stdout!.once('data', () => resolve());
        occupant.once('exit', () => reject(new Error('the occupant exited')));
      });
      const sensor = await SensorProcess.start(t.server.ns, {
        policyFile,
        interfaces: [t.server.iface],
        stateDir: join(suite.dir, 'state'),
        extraArgs: ['--heartbeat', '1s'],
      });
      suite.sensor = sensor;

      const start = await waitForState(sensor, 'at start', (d) => d.honeyport.state.trigger === 'start', 5000);
      assert.equal(start.event.kind, 'state');
      assert.equal(start.event.action, 'honeyport-sensor-state');
      assert.deepEqual(start.honeyport.state.ports.map((p) => [p.port, p.protocol, p.status]), [[DECOY, 'tcp', 'listening'], [OCCUPIED, 'tcp', 'occupied'], [DECOY6, 'tcp6', 'listening']]);
      assert.deepEqual(portOf(start, OCCUPIED)!.occupant, { pid: occupant.pid, command: 'python3' }, 'the occupant is named');
      assert.equal(start.honeyport.state.policy.name, 'state-live');

      await sleep(2600);
      const beats = states(sensor).filter((d) => d.honeyport.state.trigger === 'heartbeat');
      assert.ok(beats.length >= 2, `heartbeats every 1 s: ${beats.length} in 2.6 s`);

      const killedAt = Date.now();
      occupant.kill('SIGKILL');
      const freed = await waitForState(sensor, 'saying the occupied port is free', (d) => d.honeyport.state.trigger === 'port-change' && portOf(d, OCCUPIED)?.status === 'free', 12_000);
      assert.match(portOf(freed, OCCUPIED)!.reason!, new RegExp(`python3 \\(pid ${occupant.pid}\\) stopped listening`));
      assert.deepEqual(freed.event.type, ['change']);
      const freedMs = Date.now() - killedAt;

      const destroyedAt = Date.now();
      const kill = await runIn(t.server.ns, 'ss', ['-K', '-t', 'state', 'listening', 'sport', `= :${DECOY}`], 10_000);
      assert.equal(kill.code, 0, kill.stderr);
      const stopped = await waitForState(sensor, 'saying the decoy stopped listening', (d) => d.honeyport.state.trigger === 'port-change' && portOf(d, DECOY)?.status === 'free', 12_000);
      assert.match(portOf(stopped, DECOY)!.reason!, /closed from outside the sensor/);
      console.log(`      noticed: port freed after ${freedMs} ms, decoy destroyed after ${Date.now() - destroyedAt} ms (check every 5 s)`);
      assert.equal(portOf(stopped, DECOY6)!.status, 'listening');
      assert.match(sensor.stderr, new RegExp(`^honeyport: port ${DECOY}/tcp on 0\\.0\\.0\\.0: free, `, 'm'));

      sensor.hup();
      const reload = await waitForState(sensor, 'on reload', (d) => d.honeyport.state.trigger === 'reload', 10_000);
      assert.deepEqual(reload.honeyport.state.ports.map((p) => p.status), ['listening', 'listening', 'listening'], 'the reload took both free ports');

      const stop = await sensor.stop();
      assertCleanStop(stop);
      const all = states(sensor);
      const last = all[all.length - 1]!;
      assert.equal(last.honeyport.state.trigger, 'stop', 'the stop document is the last');
      assert.equal(last.honeyport.state.stop_reason, 'SIGTERM');
      assert.deepEqual(last.event.type, ['end']);
      assert.equal(last.honeyport.state.ports.length, 3, 'the ports as held until the stop');
      assert.equal(new Set(all.map((d) => d.event.id)).size, all.length, 'one id per document');
      assert.match(sensor.stderr, new RegExp(`^honeyport: sink stdout: ${all.length} state documents = ${all.length} delivered \\+ 0 dropped \\+ 0 left in the spool$`, 'm'));
      assert.match(sensor.stderr, /^honeyport: sink stdout: 0 alarms = 0 delivered \+ 0 dropped \+ 0 left in the spool$/m, 'no state document counts as an alarm');
    } finally {
      occupant.kill('SIGKILL');
    }
  });

  it('a fatal error ends the sensor with exit 1 and its message in the last state document', async () => {
    const t = suite.topo;
    const policyFile = join(suite.dir, 'policy.yaml');
    writePolicy(policyFile, { name: 'state-fatal', ports: [{ port: DECOY, protocol: 'tcp' }] });
    // The fault: an exception nobody catches, thrown inside the sensor process on demand.
    const inject = join(suite.dir, 'inject-fatal.mjs');
    // Thrown three times, as a fault hit by every captured batch would be.
    writeFileSync(inject, "process.on('SIGUSR2', () => { for (let i = 0; i < 3; i++) setImmediate(() => { throw new Error('injected: the capture failed'); }); });\n");
    const sensor = await SensorProcess.start(t.server.ns, {
      policyFile,
      interfaces: [t.server.iface],
      stateDir: join(suite.dir, 'state'),
      nodeArgs: ['--import', inject],
    });
    suite.sensor = sensor;
    await waitForState(sensor, 'at start', (d) => d.honeyport.state.trigger === 'start', 5000);
    const t0 = Date.now();
    process.kill(Number((await sensor.status()).pid), 'SIGUSR2');
    const exit = await Promise.race([sensor.exited, sleep(15_000).then(() => undefined)]);
    assert.ok(exit, `the sensor stopped after the fatal error (${Date.now() - t0} ms)`);
    assert.deepEqual(exit, { code: 1, signal: null });
    const all = states(sensor);
    const last = all[all.length - 1]!;
    assert.equal(last.honeyport.state.trigger, 'stop');
    assert.equal(last.honeyport.state.stop_reason, 'fatal error: injected: the capture failed');
    assert.equal(last.error?.message, 'injected: the capture failed');
    assert.match(sensor.stderr, /^honeyport: fatal error: injected: the capture failed; stopping$/m);
    assert.equal(sensor.stderr.split('\n').filter((l) => /already stopping/.test(l)).length, 1, 'a repeated fault is said once more, not once per occurrence');
    assert.doesNotMatch(sensor.stderr, /^\s+at /m, 'no stack trace');
  });

  it('a SIEM receiver that refuses (503) at start: the state documents wait in the disk spool and arrive once it answers', async () => {
    const t = suite.topo;
    const policyFile = join(suite.dir, 'policy.yaml');
    writePolicy(policyFile, { name: 'state-spool', ports: [{ port: DECOY, protocol: 'tcp' }] });
    const up = join(suite.dir, 'receiver-up');
    const received = join(suite.dir, 'received.ndjson');
    const receiverCode = [
      "const [port, up, out] = process.argv.slice(1); const fs = require('fs');",
      "require('http').createServer((q, r) => { let b = ''; q.on('data', (d) => (b += d)); q.on('end', () => {",
      "  if (!fs.existsSync(up)) { r.writeHead(503).end('down'); return; }",
      "  fs.appendFileSync(out, b.endsWith('\\n') ? b : b + '\\n'); r.writeHead(200).end('{}'); }); })",
      ".listen(Number(port), '127.0.0.1', () => console.log('ready'));",
    ].join('\n');
    const receiver = spawnIn(t.server.ns, process.execPath, ['-e', receiverCode, '4480', up, received]);
    try {
      await new Promise<void>((resolve, reject) => {
        receiver.stdout!.once('data', () => resolve());
        receiver.once('exit', () => reject(new Error('the receiver exited')));
      });
      const sensor = await SensorProcess.start(t.server.ns, {
        policyFile,
        interfaces: [t.server.iface],
        stateDir: join(suite.dir, 'state'),
        extraArgs: ['--output', 'http://127.0.0.1:4480/ingest', '--spool-dir', join(suite.dir, 'spool')],
      });
      suite.sensor = sensor;
      assert.ok(await sensor.waitForStderr(/sink \S+ \(state documents\): HTTP 503/, 10_000), 'the state document met the refusal');
      assert.ok(!existsSync(received), 'nothing arrived while the receiver refused');
      writeFileSync(up, '');
      const lines = (): StateDoc[] => (existsSync(received) ? (parseDocuments(readFileSync(received, 'utf8')).filter(isStateDocument) as unknown as StateDoc[]) : []);
      const until = Date.now() + 15_000;
      while (!lines().some((d) => d.honeyport.state.trigger === 'start') && Date.now() < until) await sleep(100);
      assert.deepEqual(lines().map((d) => d.honeyport.state.trigger), ['start'], 'the spooled start document arrived');
      const stop = await sensor.stop();
      assertCleanStop(stop);
      assert.deepEqual(lines().map((d) => d.honeyport.state.trigger), ['start', 'stop']);
      assert.match(sensor.stderr, /^honeyport: sink \S+: 2 state documents = 2 delivered \+ 0 dropped \+ 0 left in the spool$/m);
    } finally {
      receiver.kill('SIGKILL');
    }
  });

  it('SIGKILL leaves no stop document: silence is the only sign', async () => {
    const t = suite.topo;
    const policyFile = join(suite.dir, 'policy.yaml');
    writePolicy(policyFile, { name: 'state-kill', ports: [{ port: DECOY, protocol: 'tcp' }] });
    const sensor = await SensorProcess.start(t.server.ns, { policyFile, interfaces: [t.server.iface], stateDir: join(suite.dir, 'state') });
      suite.sensor = sensor;
    await waitForState(sensor, 'at start', (d) => d.honeyport.state.trigger === 'start', 5000);
    sensor.kill();
    await sensor.exited;
    assert.deepEqual(states(sensor).map((d) => d.honeyport.state.trigger), ['start']);
  });
});
