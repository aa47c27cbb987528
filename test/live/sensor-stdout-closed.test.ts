/**
 * `honeyport run -o stdout -o file:F | head -1`: once the reader of stdout
 * is gone, a probe must still reach the file sink, the sensor must say so in
 * one stderr line, keep running, and exit 1 at stop (an alarm was dropped).
 * Root only; skipped with a printed reason otherwise.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { SensorProcess, hping3, liveSensorSuite, sleep, writePolicy } from './sensor-harness.js';

const SMB = 445;

describe('honeyport run: stdout reader goes away (live)', function () {
  this.timeout(60_000);
  const suite = liveSensorSuite('hp-stdout-');

  it('keeps the file sink and the sensor running, one stderr line, exit 1 at stop', async () => {
    const t = suite.topo;
    const policyFile = join(suite.dir, 'policy.yaml');
    writePolicy(policyFile, { name: 'stdout-closed', ports: [{ port: SMB, protocol: 'tcp' }] });
    const file = join(suite.dir, 'alarms.json');
    const sensor = (suite.sensor = await SensorProcess.start(t.server.ns, {
      policyFile,
      interfaces: [t.server.iface],
      stateDir: join(suite.dir, 'state'),
      extraArgs: ['--output', 'stdout', '--output', `file:${file}`],
    }));
    sensor.closeStdout();
    // Two probes from the attacker (hping3 SYNs, different source ports) some time apart: the first meets the closed pipe.
    for (let i = 0; i < 2; i++) {
      const r = await hping3(t.attacker.ns, ['-S', '-p', String(SMB), '-c', '1', '-s', String(40000 + i * 1000)], t.server.v4);
      assert.ok(r.code === 0 || r.code === 1, r.stderr);
      await sleep(500);
    }
    const lines = (): string[] => readFileSync(file, 'utf8').split('\n').filter(Boolean);
    const deadline = Date.now() + 5000;
    while (lines().length < 1 && Date.now() < deadline) await sleep(50);
    assert.ok(lines().length >= 1, 'the file sink got the alarm');
    assert.ok(sensor.running, 'the sensor keeps running');
    const stop = await sensor.stop();
    assert.equal(stop.code, 1, 'exit 1: alarms were dropped on stdout');
    const closed = sensor.stderr.split('\n').filter((l) => /output closed/.test(l));
    assert.equal(closed.length, 1, sensor.stderr);
    assert.match(sensor.stderr, /sink stdout: \d+ alarms = 0 delivered \+ \d+ dropped \+ 0 left in the spool/);
  });
});
