/**
 * A decoy reached through a VXLAN overlay the server terminates (root only;
 * skipped with a printed reason otherwise). The sensor captures on both the
 * underlay veth and the kernel's vxlan device. Every probe must be counted
 * exactly once, on the vxlan device, with the inner addresses — the same
 * per-key counts as a replay of the underlay capture, which names the
 * tunnel. (The kernel filter drops this IPv4 VXLAN underlay copy anyway; the
 * underlay copies it does pass — an IPv6 outer header with an extension
 * header — are the double-count fault test/pipeline/live-tunnels.test.ts
 * injects.)
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';

import { CLI, SensorProcess, Tcpdump, assertCleanStop, counts, liveSensorSuite, nmap, parseAlarms, tally, writePolicy } from './sensor-harness.js';

const SMB = 445;
const VNI = 4242;

describe('honeyport run with a VXLAN overlay (live)', function () {
  this.timeout(90_000);
  const suite = liveSensorSuite('hp-vx-');

  it('probes through the overlay are counted once, on the vxlan device; replay of the underlay agrees and names the VNI', async () => {
    const t = suite.topo;
    const net = Number(t.server.v4.split('.')[2]);
    const [atk, srv] = [`198.19.${net}.1`, `198.19.${net}.2`];
    const dev = `hpX${t.tag}`;
    const ip = (ns: string, ...args: string[]): string => execFileSync('ip', ['-n', ns, ...args], { encoding: 'utf8', timeout: 10_000 });
    const ends: [string, string, string, string, string][] = [
      [t.attacker.ns, t.attacker.iface, t.attacker.v4, t.server.v4, atk],
      [t.server.ns, t.server.iface, t.server.v4, t.attacker.v4, srv],
    ];
    for (const [ns, under, local, remote, addr] of ends) {
      ip(ns, 'link', 'add', dev, 'type', 'vxlan', 'id', String(VNI), 'local', local, 'remote', remote, 'dstport', '4789', 'dev', under);
      ip(ns, 'addr', 'add', `${addr}/24`, 'dev', dev);
      ip(ns, 'link', 'set', dev, 'up');
    }
    // Static neighbours both ways: no ARP in the middle of the scan.
    const mac = (ns: string): string => execFileSync('ip', ['netns', 'exec', ns, 'cat', `/sys/class/net/${dev}/address`], { encoding: 'utf8' }).trim();
    ip(t.attacker.ns, 'neigh', 'replace', srv, 'lladdr', mac(t.server.ns), 'dev', dev, 'nud', 'permanent');
    ip(t.server.ns, 'neigh', 'replace', atk, 'lladdr', mac(t.attacker.ns), 'dev', dev, 'nud', 'permanent');

    const policyFile = join(suite.dir, 'policy.json');
    writePolicy(policyFile, { name: 'vxlan', ports: [{ port: SMB, protocol: 'tcp' }] });
    const wire = join(suite.dir, 'underlay.pcap');
    const cap = await Tcpdump.start(t.server.ns, t.server.iface, wire);
    const sensor = await SensorProcess.start(t.server.ns, { policyFile, interfaces: [t.server.iface, dev], stateDir: join(suite.dir, 'state'), window: '2s' });
    suite.sensor = sensor;
    const scan = await nmap(t.attacker.ns, ['-sS', '-e', dev, '-S', atk, '-p', `${SMB},${SMB + 1}`], srv);
    assert.equal(scan.code, 0, scan.stderr);
    assert.deepEqual(scan.open, [SMB], 'the decoy answered through the overlay');
    const stop = await sensor.stop();
    assertCleanStop(stop);
    await cap.stop();

    const live = sensor.alarms();
    const liveCounts = counts(tally(live));
    const probes = liveCounts[`${atk} > ${srv}:${SMB}`] ?? 0;
    assert.ok(probes >= 1, `no alarm for the overlay probe: ${JSON.stringify(liveCounts)}`);
    assert.deepEqual(Object.keys(liveCounts), [`${atk} > ${srv}:${SMB}`]);
    for (const a of live) {
      const h = a.honeyport as { interface?: string; tunnel?: unknown };
      assert.equal(h.interface, dev, 'seen on the vxlan device, decapsulated');
      assert.equal(h.tunnel, undefined);
    }

    const r = spawnSync(process.execPath, [CLI, 'replay', '--policy', policyFile, '--window', '2s', wire], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    const replayed = parseAlarms(r.stdout);
    assert.deepEqual(counts(tally(replayed)), liveCounts, 'replay of the underlay counts the same probes');
    for (const a of replayed) {
      const tn = (a.honeyport as { tunnel?: { type: string; vni: number; source: { ip: string }; destination: { ip: string } } }).tunnel;
      assert.deepEqual(tn && [tn.type, tn.vni, tn.source.ip, tn.destination.ip], ['vxlan', VNI, t.attacker.v4, t.server.v4]);
    }
  });
});
