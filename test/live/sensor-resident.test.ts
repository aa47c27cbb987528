/**
 * The idle sensor's resident set after its quiet-spell trim (memory-trim.ts,
 * resident-file-pages.ts), live: once the sensor has been quiet for the
 * settle time, the executable's clean pages have left its RSS, and the code
 * that was dropped still runs: probes of every kind and a flood after it are
 * alarmed and counted as before. Root only; skipped with a printed reason
 * otherwise.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TRIM_SETTLE_MS } from '../../src/sensor/memory-trim.js';
import { SensorProcess, hping3, liveSensorSuite, parseAlarms, sleep, writePolicy } from './sensor-harness.js';

const SMB = 445;
const RDP = 3389;

const statusKiB = (pid: number, field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);

describe('honeyport run: resident set after the quiet-spell trim (live)', function () {
  this.timeout(90_000);
  const suite = liveSensorSuite('hp-resident-');

  it('drops the executable\'s clean pages from RSS once quiet, and alarms as before afterwards', async () => {
    const t = suite.topo;
    const policyFile = join(suite.dir, 'policy.yaml');
    writePolicy(policyFile, { name: 'resident', ports: [{ port: SMB, protocol: 'tcp' }, { port: RDP, protocol: 'tcp' }] });
    const sensor = (suite.sensor = await SensorProcess.start(t.server.ns, { policyFile, interfaces: [t.server.iface], stateDir: join(suite.dir, 'state') }));
    const fileBefore = statusKiB(sensor.pid, 'RssFile');
    await sleep(TRIM_SETTLE_MS + 3000);
    const fileAfter = statusKiB(sensor.pid, 'RssFile');
    // node's executable alone holds ~40 MB of file pages after start-up; at least 15 MB must have left.
    assert.ok(fileBefore - fileAfter > 15 * 1024, `RssFile ${fileBefore} KiB at ready -> ${fileAfter} KiB after the settle time`);

    // The dropped code runs again: a SYN, a FIN, an XMAS and a burst of 300 SYNs from 300 source ports.
    for (const [flags, port] of [[['-S'], SMB], [['-F'], SMB], [['-F', '-P', '-U'], RDP]] as const) {
      const r = await hping3(t.attacker.ns, [...flags, '-p', String(port), '-c', '1', '-s', String(41000 + port)], t.server.v4);
      assert.ok(r.code === 0 || r.code === 1, r.stderr);
    }
    const burst = await hping3(t.attacker.ns, ['-S', '-p', String(RDP), '-c', '300', '-i', 'u2000', '-s', '50000'], t.server.v4);
    assert.ok(burst.code === 0 || burst.code === 1, burst.stderr);
    await sleep(1500);
    const stop = await sensor.stop();
    assert.equal(stop.code, 0, sensor.stderr);
    const alarms = parseAlarms(sensor.stdout);
    const kinds = new Set(alarms.flatMap((a) => (a.honeyport.kinds ?? []).map((k) => `${a.destination.port}:${k}`)));
    for (const k of [`${SMB}:syn`, `${SMB}:fin`, `${RDP}:xmas`, `${RDP}:syn`]) assert.ok(kinds.has(k), `an alarm for ${k}: ${[...kinds].join(' ')}`);
    assert.match(sensor.stderr, /stopped: \d+ alarms, \d+ packets captured, 0 kernel drops, 0 hand-off drops/);
  });
});
