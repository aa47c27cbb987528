import assert from 'node:assert/strict';
import type { Alarm, ProbeAlarm } from '../../src/alarm/alarm.js';
import { ProbeKind } from '../../src/alarm/alarm.js';
import { TcpFlag, type TcpSegment } from '../../src/decode/segment.js';
import { Detector, type DetectorOptions } from '../../src/detect/detector.js';
import { formatAddress, parseAddress } from '../../src/net/address.js';
import type { Policy } from '../../src/policy/policy.js';
import { probeAlarms, tcpSegment } from '../helpers/detector-input.js';

const policy: Policy = {
  name: 'test',
  os: 'linux',
  ports: [{ port: 135, protocol: 'tcp' }, { port: 445, protocol: 'tcp' }, { port: 5985, protocol: 'tcp6' }],
  whitelist: ['198.18.0.3', 'fd00:18::3/128'],
};
const S = 1e6;

const seg = (src: string, dst: string, dport: number, flags: number, ts: number, sport = 40000): TcpSegment => tcpSegment(src, sport, dst, dport, flags, ts);

function detector(extra: Partial<DetectorOptions> = {}): { d: Detector; alarms: Alarm[] } {
  const alarms: Alarm[] = [];
  const d = new Detector({ policy, windowMicros: 60 * S, maxTrackedKeys: 1000, serverAddresses: [], onAlarm: (a) => alarms.push(a), seed: 1, ...extra });
  return { d, alarms };
}
const probes = probeAlarms;

describe('detector', () => {
  it('classifies probe kinds and ignores non-probes', () => {
    const { d, alarms } = detector();
    const { SYN, ACK, RST, FIN, PSH, URG, ECE, CWR } = TcpFlag;
    const cases: Array<[number, number]> = [
      [SYN, ProbeKind.syn],
      [SYN | ECE | CWR, ProbeKind.syn],
      [SYN | FIN, ProbeKind.syn],
      [SYN | RST, ProbeKind.syn],
      [FIN, ProbeKind.fin],
      [0, ProbeKind.null],
      [FIN | PSH | URG, ProbeKind.xmas],
      [FIN | PSH | URG | ECE, ProbeKind.xmas],
      // ACK-class with no SYN of the 4-tuple before: nmap -sA/-sW, -sM, --scanflags SYNACK / PSH+ACK.
      [ACK, ProbeKind.ack],
      [FIN | ACK, ProbeKind.ack],
      [SYN | ACK, ProbeKind.ack],
      [PSH | ACK, ProbeKind.ack],
      // Odd flags: --scanflags URG, PSH, FINURG, FINPSH, ALL.
      [URG, ProbeKind.odd],
      [PSH, ProbeKind.odd],
      [FIN | URG, ProbeKind.odd],
      [FIN | PSH, ProbeKind.odd],
      [FIN | SYN | RST | PSH | ACK | URG, ProbeKind.odd],
    ];
    cases.forEach(([flags], i) => d.observe(seg(`198.18.1.${i + 1}`, '198.18.0.2', 445, flags, i), 0, i));
    for (const flags of [RST, RST | ACK, RST | FIN | ACK, RST | PSH, RST | URG | ECE]) {
      d.observe(seg('198.18.2.1', '198.18.0.2', 445, flags, 100), 0, 100); // backscatter and teardown
    }
    d.observe(seg('198.18.2.1', '198.18.0.2', 22, TcpFlag.SYN, 100), 0, 100); // not a policy port
    d.observe(seg('fd00:18::1', 'fd00:18::2', 445, TcpFlag.SYN, 100), 0, 100); // 445 is tcp (IPv4) only
    d.observe(seg('198.18.2.1', '198.18.0.2', 5985, TcpFlag.SYN, 100), 0, 100); // 5985 is tcp6 only
    d.flush();
    assert.deepEqual(probes(alarms).map((a) => a.kinds), cases.map(([, k]) => k));
    assert.equal(d.counters.probes, cases.length);
  });

  it('raises the first probe at once and sums the rest into one follow-up when the window closes', () => {
    const { d, alarms } = detector();
    d.observe(seg('198.18.0.1', '198.18.0.2', 445, TcpFlag.SYN, 10 * S, 1000), 0, 0);
    assert.equal(alarms.length, 1);
    assert.equal((alarms[0] as ProbeAlarm).phase, 'first');
    assert.equal((alarms[0] as ProbeAlarm).severity, 'medium');
    d.observe(seg('198.18.0.1', '198.18.0.2', 445, TcpFlag.SYN, 11 * S, 1001), 0, 1);
    d.observe(seg('198.18.0.1', '198.18.0.2', 445, TcpFlag.FIN, 12 * S, 1001), 0, 2);
    d.advance(69.9 * S);
    assert.equal(alarms.length, 1, 'window still open');
    d.advance(70 * S);
    assert.equal(alarms.length, 2);
    const f = alarms[1] as ProbeAlarm;
    assert.equal(f.phase, 'follow-up');
    assert.equal(f.count, 2);
    assert.equal(f.severity, 'high');
    assert.equal(f.kinds, ProbeKind.syn | ProbeKind.fin);
    assert.deepEqual(f.sourcePorts, [1001]);
    assert.equal(f.startMicros, 11 * S);
    assert.equal(f.endMicros, 12 * S);
    assert.equal(f.origin?.packet, 1);
    // after the window the key starts over with a fresh first alarm
    d.observe(seg('198.18.0.1', '198.18.0.2', 445, TcpFlag.SYN, 80 * S), 0, 3);
    assert.equal((alarms[2] as ProbeAlarm).phase, 'first');
    assert.equal(d.trackedKeys, 1);
  });

  it('a window with a single probe raises no follow-up', () => {
    const { d, alarms } = detector();
    d.observe(seg('198.18.0.1', '198.18.0.2', 445, TcpFlag.SYN, 0), 0, 0);
    d.advance(1000 * S);
    d.flush();
    assert.equal(alarms.length, 1);
    assert.equal(d.trackedKeys, 0);
  });

  it('marks a source touching two honeypot ports high, and forgets it with its keys', () => {
    const { d, alarms } = detector();
    d.observe(seg('198.18.0.1', '198.18.0.2', 135, TcpFlag.SYN, 0), 0, 0);
    d.observe(seg('198.18.0.1', '198.18.0.2', 445, TcpFlag.SYN, 1), 0, 1);
    const [a, b] = probes(alarms);
    assert.equal(a!.severity, 'medium');
    assert.equal(b!.severity, 'high');
    assert.deepEqual(b!.portsTouched, [135, 445]);
    d.advance(200 * S);
    d.observe(seg('198.18.0.1', '198.18.0.2', 445, TcpFlag.SYN, 200 * S), 0, 2);
    assert.equal(probes(alarms)[2]!.severity, 'medium');
    assert.deepEqual(probes(alarms)[2]!.portsTouched, [445]);
  });

  it('skips whitelisted sources (including IPv4-mapped) and other destinations', () => {
    const server = parseAddress('198.18.0.2')!;
    const { d, alarms } = detector({ serverAddresses: [server, parseAddress('fd00:18::2')!] });
    d.observe(seg('198.18.0.3', '198.18.0.2', 445, TcpFlag.SYN, 0), 0, 0);
    d.observe(seg('::ffff:198.18.0.3', 'fd00:18::2', 5985, TcpFlag.SYN, 0), 0, 1);
    d.observe(seg('fd00:18::3', 'fd00:18::2', 5985, TcpFlag.SYN, 0), 0, 2);
    d.observe(seg('198.18.0.1', '198.18.0.9', 445, TcpFlag.SYN, 0), 0, 3);
    d.observe(seg('::ffff:198.18.0.4', 'fd00:18::2', 5985, TcpFlag.SYN, 0), 0, 4);
    assert.equal(d.counters.whitelisted, 3);
    assert.equal(d.counters.otherDestination, 1);
    assert.equal(alarms.length, 1);
    assert.equal(formatAddress(6, (alarms[0] as ProbeAlarm).source), '::ffff:198.18.0.4');
  });

  it('sums untracked probes into flood alarms when the key table is full', () => {
    const { d, alarms } = detector({ maxTrackedKeys: 10 });
    for (let i = 0; i < 100; i++) d.observe(seg(`198.18.1.${i}`, '198.18.0.2', 445, TcpFlag.SYN, i), 0, i);
    const flood = alarms.filter((a) => a.action === 'honeypot-flood');
    assert.equal(probes(alarms).length, 10);
    assert.equal(flood.length, 1);
    d.flush();
    const flood2 = alarms.filter((a) => a.action === 'honeypot-flood');
    assert.equal(flood2.length, 2);
    assert.equal(flood2.reduce((n, a) => n + a.count, 0), 90);
    assert.equal(d.counters.floodProbes, 90);
  });

  it('closes each port\'s flood window when that window ends, while time moves, not only at flush', () => {
    const { d, alarms } = detector({ maxTrackedKeys: 2 });
    const SYN = TcpFlag.SYN;
    d.observe(seg('198.18.2.1', '198.18.0.2', 445, SYN, 0), 0, 0);
    d.observe(seg('198.18.2.2', '198.18.0.2', 445, SYN, 0), 0, 1);
    d.observe(seg('198.18.2.3', '198.18.0.2', 445, SYN, 1), 0, 2); // table full: flood of 445 opens at 1 µs
    d.observe(seg('198.18.2.4', '198.18.0.2', 135, SYN, 30 * S), 0, 3); // flood of 135 opens at 30 s
    d.observe(seg('198.18.2.5', '198.18.0.2', 445, SYN, 30 * S + 1), 0, 4);
    d.observe(seg('198.18.2.6', '198.18.0.2', 135, SYN, 30 * S + 2), 0, 5);
    const followUps = (): number[] => alarms.filter((a) => a.action === 'honeypot-flood' && a.phase === 'follow-up').map((a) => a.destinationPort);
    d.advance(60 * S);
    assert.deepEqual(followUps(), []);
    d.advance(60 * S + 1);
    assert.deepEqual(followUps(), [445]);
    // The keys of 0 s closed too: two new sources fill the table, the next opens a new flood of 445.
    for (let i = 7; i <= 10; i++) d.observe(seg(`198.18.2.${i}`, '198.18.0.2', 445, SYN, 60 * S + 2), 0, i);
    d.advance(90 * S - 1);
    assert.deepEqual(followUps(), [445]);
    d.advance(90 * S); // 135's window (from 30 s) ends; the new flood of 445 (from 60 s) stays open
    assert.deepEqual(followUps(), [445, 135]);
    d.advance(120 * S + 2);
    assert.deepEqual(followUps(), [445, 135, 445]);
    assert.equal(alarms.filter((a) => a.action === 'honeypot-flood' && a.phase === 'first').length, 3);
  });

  it('every probe is counted by exactly one alarm (random streams, small table)', () => {
    let seed = 99;
    const rnd = (n: number): number => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) % n);
    for (const cap of [5, 50, 5000]) {
      const { d, alarms } = detector({ maxTrackedKeys: cap, windowMicros: 5 * S });
      const perKey = new Map<string, number>();
      let floodExpected = 0;
      let t = 0;
      for (let i = 0; i < 20000; i++) {
        t += rnd(3000);
        const v6 = rnd(4) === 0;
        const src = v6 ? `fd00:18::${rnd(30).toString(16)}` : `198.18.7.${rnd(30)}`;
        const dst = v6 ? 'fd00:18::2' : '198.18.0.2';
        const port = v6 ? 5985 : [135, 445][rnd(2)]!;
        const before = d.counters.floodProbes;
        d.observe(seg(src, dst, port, TcpFlag.SYN, t), 0, i);
        if (d.counters.floodProbes > before) floodExpected++;
        else perKey.set(`${src}|${port}`, (perKey.get(`${src}|${port}`) ?? 0) + 1);
      }
      d.flush();
      const got = new Map<string, number>();
      let floodGot = 0;
      for (const a of alarms) {
        if (a.action === 'honeypot-flood') { floodGot += a.count; continue; }
        const k = `${formatAddress(a.family, a.source)}|${a.destinationPort}`;
        got.set(k, (got.get(k) ?? 0) + a.count);
      }
      assert.deepEqual(got, perKey, `capacity ${cap}`);
      assert.equal(floodGot, floodExpected);
      assert.equal(d.trackedKeys, 0);
    }
  });

  it('reports each closed connection at once in a connection alarm (count 0, the real source port, the key\'s input), never a second first alarm', () => {
    const { d, alarms } = detector();
    d.observe(seg('198.18.0.1', '198.18.0.2', 445, TcpFlag.SYN, 10 * S, 5000), 2, 0);
    const fact = { sourceIp: '198.18.0.1', sourcePort: 5000, destinationIp: '198.18.0.2', destinationPort: 445, startMicros: 10 * S, durationMs: 12, bytes: 5, firstBytes: 'hello', closedBy: 'peer' as const };
    d.observeConnection(fact, 7);
    d.observeConnection({ ...fact, sourcePort: 5001, bytes: 3, durationMs: 40 }, 7);
    const [first, c1, c2] = probes(alarms);
    assert.equal(first!.connection, undefined);
    assert.deepEqual([c1!.phase, c1!.count, c1!.sourcePort, c1!.origin.input, c1!.handshakeCompleted], ['connection', 0, 5000, 2, true]);
    assert.deepEqual(c1!.connection, { connections: 1, sourcePort: 5000, bytes: 5, firstBytes: 'hello', durationMs: 12, closedBy: 'peer' });
    assert.deepEqual([c2!.phase, c2!.sourcePort, c2!.connection?.bytes], ['connection', 5001, 3]);
    d.advance(100 * S);
    assert.equal(probes(alarms).length, 3, 'no follow-up: no further probe, the handshakes were reported');
    // A connection whose key is not tracked: still a connection alarm (never a first), on the fallback input.
    d.observeConnection({ ...fact, sourceIp: '198.18.0.9' }, 7);
    const own = probes(alarms)[3]!;
    assert.deepEqual([own.phase, own.count, own.origin.input, own.sourcePort], ['connection', 0, 7, 5000]);
    d.observe(seg('198.18.0.9', '198.18.0.2', 445, TcpFlag.SYN, 101 * S, 5002), 2, 1);
    assert.deepEqual(probes(alarms).filter((a) => a.phase === 'first').length, 2);
    // whitelisted sources stay silent
    d.observeConnection({ ...fact, sourceIp: '198.18.0.3' });
    assert.equal(probes(alarms).length, 5);
    assert.equal(d.counters.connections, 3);
  });

  it('admits only the ports it is told are held (live); a retired port admits probes seen until its release', () => {
    const { d, alarms } = detector({ admitAll: false });
    d.observe(seg('198.18.0.1', '198.18.0.2', 445, TcpFlag.SYN, 1 * S), 0, 0); // not held yet
    d.admit(445, 'tcp');
    d.admit(135, 'tcp6'); // 135 is tcp: nothing admitted
    d.observe(seg('198.18.0.1', '198.18.0.2', 135, TcpFlag.SYN, 2 * S), 0, 1);
    d.observe(seg('198.18.0.1', '198.18.0.2', 445, TcpFlag.SYN, 2 * S), 0, 2);
    d.retire(445, 'tcp', 3 * S);
    d.observe(seg('198.18.0.1', '198.18.0.2', 445, TcpFlag.SYN, 3 * S), 0, 3); // in the ring when released
    d.observe(seg('198.18.0.1', '198.18.0.2', 445, TcpFlag.SYN, 3 * S + 1), 0, 4); // refused by the kernel
    d.flush();
    assert.deepEqual(probes(alarms).map((a) => [a.destinationPort, a.count, a.origin.packet]), [[445, 1, 2], [445, 1, 3]]);
    assert.equal(d.counters.probes, 2);
  });

  it('reconfigure keeps the windows of kept ports (no second first alarm) and the counters, closes the windows of ports that leave', () => {
    const { d, alarms } = detector();
    d.observe(seg('198.18.0.1', '198.18.0.2', 445, TcpFlag.SYN, 1 * S), 0, 0);
    d.observe(seg('198.18.0.1', '198.18.0.2', 135, TcpFlag.SYN, 1 * S), 0, 1);
    d.observe(seg('198.18.0.1', '198.18.0.2', 135, TcpFlag.SYN, 2 * S), 0, 2);
    const next: Policy = { ...policy, name: 'next', ports: [{ port: 22, protocol: 'tcp' }, { port: 445, protocol: 'tcp' }] };
    d.reconfigure(next, true);
    // 135 left: its follow-up (one more probe) is out, under the policy that raised it.
    const left = probes(alarms).filter((a) => a.destinationPort === 135);
    assert.deepEqual(left.map((a) => [a.phase, a.count, a.ruleName]), [['first', 1, 'test'], ['follow-up', 1, 'test']]);
    d.observe(seg('198.18.0.1', '198.18.0.2', 445, TcpFlag.SYN, 3 * S), 0, 3);
    d.observe(seg('198.18.0.1', '198.18.0.2', 22, TcpFlag.SYN, 3 * S), 0, 4);
    d.observe(seg('198.18.0.1', '198.18.0.2', 135, TcpFlag.SYN, 3 * S), 0, 5); // no longer a policy port
    d.flush();
    const kept = probes(alarms).filter((a) => a.destinationPort === 445);
    assert.deepEqual(kept.map((a) => [a.phase, a.count]), [['first', 1], ['follow-up', 1]], 'one first alarm across the reload');
    const added = probes(alarms).filter((a) => a.destinationPort === 22);
    assert.deepEqual(added.map((a) => [a.phase, a.ruleName, a.portsTouched]), [['first', 'next', [22, 445]]]);
    assert.equal(added[0]!.severity, 'high', 'the source had touched 445 already: two ports');
    assert.equal(d.counters.probes, 5, 'counters carry over');
    assert.equal(d.counters.alarms, probes(alarms).length);
  });

  it('a new port of a live reconfiguration waits for admit()', () => {
    const { d, alarms } = detector({ admitAll: false });
    d.admit(445, 'tcp');
    d.reconfigure({ ...policy, ports: [{ port: 22, protocol: 'tcp' }, { port: 445, protocol: 'tcp' }] });
    d.observe(seg('198.18.0.1', '198.18.0.2', 22, TcpFlag.SYN, 1 * S), 0, 0);
    d.observe(seg('198.18.0.1', '198.18.0.2', 445, TcpFlag.SYN, 1 * S), 0, 1);
    d.admit(22, 'tcp');
    d.observe(seg('198.18.0.1', '198.18.0.2', 22, TcpFlag.SYN, 2 * S), 0, 2);
    d.flush();
    assert.deepEqual(probes(alarms).map((a) => [a.destinationPort, a.origin.packet]), [[445, 1], [22, 2]]);
  });

  it('marks a key whose handshake completed (bare ACK after the SYN), even with no accept()', () => {
    const { d, alarms } = detector();
    d.observe(seg('198.18.0.1', '198.18.0.2', 445, TcpFlag.SYN, 1 * S, 7000), 0, 0);
    d.observe(seg('198.18.0.1', '198.18.0.2', 445, TcpFlag.ACK, 1 * S + 100, 7000), 0, 1);
    d.observe(seg('198.18.0.7', '198.18.0.2', 445, TcpFlag.ACK, 1 * S + 100, 7000), 0, 2); // no SYN seen: an ack probe
    d.flush();
    const all = probes(alarms).filter((a) => a.kinds !== ProbeKind.ack);
    assert.equal(all.length, 2);
    assert.equal(all[0]!.handshakeCompleted, false);
    assert.equal(all[1]!.phase, 'follow-up');
    assert.equal(all[1]!.count, 0);
    assert.equal(all[1]!.handshakeCompleted, true);
    // It describes the real flow of the captured ACK: its source port, its packet.
    assert.deepEqual([all[1]!.sourcePort, all[1]!.origin.packet, all[1]!.startMicros], [7000, 1, 1 * S + 100]);
    assert.equal(d.counters.probes, 2);
  });

  it('sums new sources beyond the per-port rate into flood alarms that name a sample of them', () => {
    const { d, alarms } = detector({ newSourceRate: 2, maxTrackedKeys: 100000 }); // burst 20
    // 100 spoofed sources within one second on one port, then one more 10 s later
    for (let i = 0; i < 100; i++) d.observe(seg(`198.18.9.${i}`, '198.18.0.2', 445, TcpFlag.SYN, i * 1000), 0, i);
    assert.equal(probes(alarms).length, 20);
    const floods = alarms.filter((a) => a.action === 'honeypot-flood');
    assert.equal(floods.length, 1);
    assert.equal(floods[0]!.action === 'honeypot-flood' && floods[0]!.reason, 'new-source-rate');
    assert.deepEqual(floods[0]!.action === 'honeypot-flood' && floods[0]!.sampleSources, ['198.18.9.20']);
    // another port has its own bucket
    d.observe(seg('198.18.9.1', '198.18.0.2', 135, TcpFlag.SYN, 200_000), 0, 100);
    assert.equal(probes(alarms).length, 21);
    // tokens come back with time: 10 s later at 2/s, a new source is tracked again
    d.observe(seg('198.18.10.1', '198.18.0.2', 445, TcpFlag.SYN, 10 * S), 0, 101);
    assert.equal(probes(alarms).length, 22);
    d.flush();
    const flood = alarms.filter((a) => a.action === 'honeypot-flood');
    assert.equal(flood.reduce((n, a) => n + a.count, 0), 80);
    const last = flood[flood.length - 1]!;
    assert.ok(last.action === 'honeypot-flood' && last.sampleSources.length === 8);
  });
});
