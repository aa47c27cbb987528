/**
 * `honeyport run` against ACK-class and odd-flag scans (issue 12.1), root
 * only (skipped with a printed reason otherwise; run under the live lock).
 * nmap -sA, -sW, -sM and --scanflags against held decoy ports must raise
 * `ack` / `odd` alarms whose counts equal the wire's, read by an independent
 * parser with the rule written out again here; completed connections to a
 * held port — handshake, data both ways, FIN exchange, whichever side closes
 * first — must raise nothing beyond their SYN, in the same session as a
 * positive control.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  assertCleanStop,
  counts,
  key,
  liveSensorSuite,
  nmap,
  python,
  readPcap,
  SensorProcess,
  sleep,
  tally,
  Tcpdump,
  writePolicy,
  type EcsAlarm,
  type PolicyPort,
  type WirePacket,
} from './sensor-harness.js';

const SMB = 445;
const RDP = 3389;
const WINRM6 = 5985;
const NOT_POLICY = 8080;
const PORTS: readonly PolicyPort[] = [
  { port: SMB, protocol: 'tcp' },
  { port: RDP, protocol: 'tcp' },
  { port: WINRM6, protocol: 'tcp6' },
];
/** Settles the capture ring (block timeout 8 ms) before SIGTERM. */
const SETTLE_MS = 300;

/** The rule, written out again: ACK set, RST clear (SYN+ACK too) is `ack`; no SYN/ACK/RST and not FIN/NULL/XMAS is `odd`; SYN+ACK+RST is `odd`. */
function wireKind(flags: number): string | undefined {
  const [fin, syn, rst, psh, ack, urg] = [1, 2, 4, 8, 16, 32].map((b) => (flags & b) !== 0);
  if (syn && !ack) return 'syn';
  if (rst) return syn ? 'odd' : undefined;
  if (ack) return 'ack';
  if (fin && !psh && !urg) return 'fin';
  if (!fin && !psh && !urg) return 'null';
  if (fin && psh && urg) return 'xmas';
  return 'odd';
}

/** Per key, the probes on the wire: an ACK-class segment counts unless a SYN of its 4-tuple came before (these scans send none). */
function wireProbes(wire: readonly WirePacket[], source: string): Record<string, number> {
  const syns = new Set<string>();
  const out = new Map<string, number>();
  for (const p of wire) {
    if (p.source !== source || p.flags === undefined) continue;
    const policy = PORTS.find((q) => q.port === p.destinationPort);
    if (!policy || (policy.protocol === 'tcp') !== (p.family === 4)) continue;
    const kind = wireKind(p.flags);
    const tuple = `${p.source}|${p.sourcePort}|${p.destination}|${p.destinationPort}`;
    if (kind === 'syn') syns.add(tuple);
    if (kind === undefined || (kind === 'ack' && (p.flags & 2) === 0 && syns.has(tuple))) continue;
    const k = key(p.source, p.destination, p.destinationPort);
    out.set(k, (out.get(k) ?? 0) + 1);
  }
  return Object.fromEntries([...out.entries()].sort(([a], [b]) => a.localeCompare(b)));
}

const kindsOf = (alarms: readonly EcsAlarm[]): string[] => [...new Set(alarms.flatMap((a) => a.honeyport.kinds ?? []))].sort();

describe('honeyport run against ACK-class and odd-flag scans (live)', function () {
  this.timeout(90_000);
  const suite = liveSensorSuite('hp-ack-');

  async function session(attack: () => Promise<void>): Promise<{ alarms: EcsAlarm[]; wire: WirePacket[] }> {
    const t = suite.topo;
    const policyFile = join(suite.dir, 'policy.json');
    writePolicy(policyFile, { name: 'hp-ack', ports: PORTS, whitelist: [] });
    const pcap = join(suite.dir, `capture-${Date.now()}.pcap`);
    const dump = await Tcpdump.start(t.server.ns, t.server.iface, pcap);
    try {
      const sensor = await SensorProcess.start(t.server.ns, { policyFile, interfaces: [t.server.iface], stateDir: join(suite.dir, 'state'), window: '2s' });
      suite.sensor = sensor;
      await attack();
      await sleep(SETTLE_MS);
      const stop = await sensor.stop();
      assertCleanStop(stop);
      await dump.stop();
      return { alarms: sensor.alarms(), wire: readPcap(pcap) };
    } finally {
      await dump.stop();
    }
  }

  it('nmap -sA, -sW, -sM (IPv4) and -6 -sA: ack alarms, counts equal the ACK-class segments on the wire', async () => {
    const t = suite.topo;
    const s = await session(async () => {
      for (const scan of ['-sA', '-sW', '-sM']) {
        const r = await nmap(t.attacker.ns, [scan, '-p', `${SMB},${RDP},${NOT_POLICY}`], t.server.v4);
        assert.equal(r.code, 0, r.stderr);
      }
      const r6 = await nmap(t.attacker.ns, ['-6', '-sA', '-p', `${WINRM6},${NOT_POLICY}`], t.server.v6);
      assert.equal(r6.code, 0, r6.stderr);
    });
    const probes = s.alarms.filter((a) => a.event.action === 'honeypot-port-probe');
    assert.equal(probes.length, s.alarms.length, 'no flood alarm');
    const expected = { ...wireProbes(s.wire, t.attacker.v4), ...wireProbes(s.wire, t.attacker.v6) };
    assert.deepEqual(Object.keys(expected).sort(), [key(t.attacker.v4, t.server.v4, SMB), key(t.attacker.v4, t.server.v4, RDP), key(t.attacker.v6, t.server.v6, WINRM6)].sort());
    assert.deepEqual(counts(tally(probes)), Object.fromEntries(Object.entries(expected).sort(([a], [b]) => a.localeCompare(b))));
    assert.deepEqual(kindsOf(probes), ['ack']);
    const first = probes.find((a) => a.honeyport.alarm === 'first' && a.destination.port === SMB)!;
    assert.match(first.message ?? '', /^ACK probe of honeypot port 445\/tcp/);
  });

  it('nmap --scanflags URG, PSH, FINURG, FINPSH, ALL, SYNACK, FINACK: odd and ack alarms, counts equal the wire', async () => {
    const t = suite.topo;
    const s = await session(async () => {
      for (const flags of ['URG', 'PSH', 'FINURG', 'FINPSH', 'ALL', 'SYNACK', 'FINACK']) {
        const r = await nmap(t.attacker.ns, ['--scanflags', flags, '-p', `${SMB},${RDP}`], t.server.v4);
        assert.equal(r.code, 0, r.stderr);
      }
    });
    const expected = wireProbes(s.wire, t.attacker.v4);
    assert.deepEqual(Object.keys(expected), [key(t.attacker.v4, t.server.v4, RDP), key(t.attacker.v4, t.server.v4, SMB)].sort());
    assert.deepEqual(counts(tally(s.alarms)), expected);
    assert.deepEqual(kindsOf(s.alarms), ['ack', 'odd']);
  });

  it('completed connections to a held port (data both ways, either side closing first) raise nothing beyond their SYNs; an ACK scan in the same session does', async () => {
    const t = suite.topo;
    let exchanged = '';
    const s = await session(async () => {
      // Five connections: send, read what the holder sends (nothing), close; the holder closes some first.
      const r = await python(t.attacker.ns, `
import socket, sys, time
n = 0
for i in range(5):
    c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
    c.sendall(b'hello %d\\r\\n' % i)
    time.sleep(0.05 * i)
    if i % 2: c.shutdown(socket.SHUT_WR)
    c.settimeout(1.5)
    try:
        while c.recv(100): pass
    except OSError:
        pass
    c.close(); n += 1
print(n)
`, [t.server.v4, String(SMB)]);
      exchanged = r.stdout.trim();
      await sleep(500); // late ACKs and FINs of closed connections land
      const ack = await nmap(t.attacker.ns, ['-sA', '-p', String(RDP)], t.server.v4);
      assert.equal(ack.code, 0, ack.stderr);
    });
    assert.equal(exchanged, '5');
    const atk = t.attacker.v4;
    const onSmb = s.wire.filter((p) => p.source === atk && p.destinationPort === SMB);
    const synCount = onSmb.filter((p) => p.flags !== undefined && (p.flags & 0x12) === 0x02).length;
    const ackClass = onSmb.filter((p) => p.flags !== undefined && (p.flags & 0x14) === 0x10).length;
    assert.equal(synCount, 5, 'five connections on the wire');
    assert.ok(ackClass >= 15, `their ACK, data and FIN segments reached the sensor's interface (${ackClass})`);
    const live = tally(s.alarms.filter((a) => a.event.action === 'honeypot-port-probe'));
    const smb = live.get(key(atk, t.server.v4, SMB));
    assert.ok(smb, 'the connections raised their SYN alarm');
    assert.equal(smb.count, 5, `exactly the five SYNs are counted on ${SMB}, none of the ${ackClass} ACK-class segments`);
    assert.deepEqual([...smb.kinds], ['syn']);
    const rdp = live.get(key(atk, t.server.v4, RDP));
    assert.ok(rdp?.kinds.has('ack'), 'the positive control: the ACK scan in the same session alarms');
  });
});
