/**
 * Connections to decoy ports, live (root only; skipped with a printed reason
 * otherwise). The fault: a fast client connects, sends 17 bytes and closes
 * within the ring's block timeout, so the port holder reports the connection
 * before the capture hands over its SYN. One key must still get exactly one
 * first alarm, and the connection must be reported when it closes, by a
 * `connection` alarm describing the real flow: the client's source port, the
 * Community ID of that flow, the interface it was captured on.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';

import { SensorProcess, assertCleanStop, liveSensorSuite, python, sleep, writePolicy, type EcsAlarm } from './sensor-harness.js';

const PORTS = [31001, 31002, 31003, 31004, 31005, 31006, 31007, 31008];
const ROUNDS = 2;
const WINDOW_MS = 1000;

/** Community ID v1 (seed 0) of an IPv4 TCP flow, written out here on purpose (not imported). */
function communityId4(src: string, sport: number, dst: string, dport: number): string {
  const a = Buffer.from(src.split('.').map(Number));
  const b = Buffer.from(dst.split('.').map(Number));
  const [ip1, p1, ip2, p2] = Buffer.compare(a, b) < 0 || (Buffer.compare(a, b) === 0 && sport <= dport) ? [a, sport, b, dport] : [b, dport, a, sport];
  const ports = Buffer.alloc(4);
  ports.writeUInt16BE(p1, 0);
  ports.writeUInt16BE(p2, 2);
  const h = createHash('sha1').update(Buffer.from([0, 0])).update(ip1).update(ip2).update(Buffer.from([6, 0])).update(ports).digest('base64');
  return `1:${h}`;
}

type LiveAlarm = EcsAlarm & {
  readonly network: { readonly community_id?: string };
  readonly honeyport: { readonly interface?: string | null };
};

describe('honeyport run reports connections as they close (live)', function () {
  this.timeout(60_000);
  const suite = liveSensorSuite('hp-conn-');

  it(`a fast client (connect, 17 bytes, close) on ${PORTS.length} ports x ${ROUNDS} rounds: one first alarm per key, a connection alarm with the real flow`, async function () {
    const t = suite.topo;
    const policyFile = join(suite.dir, 'policy.json');
    writePolicy(policyFile, { name: 'conn', ports: PORTS.map((port) => ({ port, protocol: 'tcp' as const })) });
    const sensor = (suite.sensor = await SensorProcess.start(t.server.ns, { policyFile, interfaces: [t.server.iface], stateDir: join(suite.dir, 'state'), window: `${WINDOW_MS / 1000}s` }));
    const clientPorts: number[][] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const r = await python(t.attacker.ns, `
import socket, sys
out = []
for port in sys.argv[2:]:
    c = socket.create_connection((sys.argv[1], int(port)), timeout=3)
    out.append(str(c.getsockname()[1]))
    c.sendall(b'SSH-2.0-probe\\r\\n\\x00\\x01')
    c.close()
print(' '.join(out))
`, [t.server.v4, ...PORTS.map(String)]);
      assert.equal(r.code, 0, r.stderr);
      clientPorts.push(r.stdout.trim().split(' ').map(Number));
      // Let every window close, so the next round starts new keys.
      await sleep(WINDOW_MS + 800);
    }
    const stop = await sensor.stop();
    assertCleanStop(stop);
    const alarms = sensor.alarms() as LiveAlarm[];
    const problems: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      PORTS.forEach((port, i) => {
        const sport = clientPorts[round]![i]!;
        const mine = alarms.filter((a) => a.destination.port === port);
        // Alarms of this round: the windows are apart by more than WINDOW_MS.
        const firsts = mine.filter((a) => a.honeyport.alarm === 'first');
        const conns = mine.filter((a) => a.honeyport.alarm === 'connection' && a.source?.port === sport);
        const where = `round ${round + 1} port ${port} (client port ${sport})`;
        if (firsts.length !== ROUNDS) problems.push(`${where}: ${firsts.length} first alarms over ${ROUNDS} rounds, want ${ROUNDS}`);
        if (firsts.some((a) => a.event.count !== 1)) problems.push(`${where}: a first alarm counts ${firsts.map((a) => a.event.count).join(',')}`);
        if (conns.length !== 1) {
          problems.push(`${where}: ${conns.length} connection alarms with source.port ${sport} (have ${mine.map((a) => `${a.honeyport.alarm}:${a.source?.port}`).join(' ')})`);
          return;
        }
        const c = conns[0]!;
        if (c.event.count !== 0) problems.push(`${where}: connection alarm count ${c.event.count}`);
        if (c.honeyport.connection?.bytes !== 17) problems.push(`${where}: bytes ${c.honeyport.connection?.bytes}`);
        const id = communityId4(t.attacker.v4, sport, t.server.v4, port);
        if (c.network.community_id !== id) problems.push(`${where}: community_id ${c.network.community_id}, the flow's is ${id}`);
        if (c.honeyport.interface !== t.server.iface) problems.push(`${where}: interface ${String(c.honeyport.interface)}, captured on ${t.server.iface}`);
      });
    }
    const probes = alarms.reduce((n, a) => n + a.event.count, 0);
    assert.deepEqual(problems, []);
    assert.equal(probes, PORTS.length * ROUNDS, 'one SYN per connection, each counted once');
  });
});
