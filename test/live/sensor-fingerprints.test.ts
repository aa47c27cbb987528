/**
 * Fingerprints from the live sensor (root; skipped with a printed reason
 * otherwise): nmap's SYN scan and hping3's default SYN from another
 * namespace, captured by the AF_PACKET core (160-byte snap), give each key's
 * first alarm the tool's label — the same as a replay of the same tools —
 * and `--no-fingerprints` gives none.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SensorProcess, assertCleanStop, hping3, liveSensorSuite, nmap, writePolicy } from './sensor-harness.js';

const SMB = 445;
const RDP = 3389;

describe('honeyport run: fingerprints (live)', function () {
  this.timeout(90_000);
  const suite = liveSensorSuite('hp-fpr-');

  async function scan(extraArgs: string[]): Promise<Map<number, { label?: string; match?: string }[]>> {
    const t = suite.topo;
    const policyFile = join(suite.dir, 'policy.json');
    writePolicy(policyFile, { name: 'fp', ports: [{ port: SMB, protocol: 'tcp' }, { port: RDP, protocol: 'tcp' }] });
    const sensor = await SensorProcess.start(t.server.ns, { policyFile, interfaces: [t.server.iface], stateDir: join(suite.dir, `state${extraArgs.length}`), window: '2s', extraArgs });
    suite.sensor = sensor;
    const n = await nmap(t.attacker.ns, ['-sS', '-p', String(RDP)], t.server.v4);
    assert.equal(n.code, 0, n.stderr);
    await hping3(t.attacker.ns, ['-S', '-p', String(SMB), '-c', '2', '-i', 'u100000'], t.server.v4);
    assertCleanStop(await sensor.stop());
    const firsts = new Map<number, { label?: string; match?: string }[]>();
    for (const a of sensor.alarms()) {
      const h = a.honeyport as { alarm?: string; fingerprint?: { label: string; match: string } };
      if (h.alarm !== 'first') continue;
      const l = firsts.get(a.destination.port) ?? [];
      l.push(h.fingerprint ?? {});
      firsts.set(a.destination.port, l);
    }
    return firsts;
  }

  it('names nmap and hping3 on the first alarms', async () => {
    const firsts = await scan([]);
    assert.equal(firsts.get(RDP)?.length, 1);
    assert.equal(firsts.get(RDP)?.[0]?.label, 's:!:NMap:SYN scan');
    assert.equal(firsts.get(SMB)?.[0]?.label, 's:!:hping3:SYN');
    assert.equal(firsts.get(SMB)?.[0]?.match, 'exact');
  });

  it('--no-fingerprints: none', async () => {
    const firsts = await scan(['--no-fingerprints']);
    assert.ok((firsts.get(RDP)?.length ?? 0) > 0 && (firsts.get(SMB)?.length ?? 0) > 0);
    for (const l of firsts.values()) for (const f of l) assert.deepEqual(f, {});
  });
});
