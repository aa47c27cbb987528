/**
 * ACK-class segments to a decoy port are probes only when they belong to no
 * connection (no SYN of the 4-tuple in the 5 minutes before); RST-bearing
 * segments never are. Includes the SYN memory's bound: a spoofed SYN flood
 * fills it, and an evicted connection's later ACK is then counted (never
 * lost) by its key's follow-up.
 */
import assert from 'node:assert/strict';
import type { Alarm } from '../../src/alarm/alarm.js';
import { ProbeKind } from '../../src/alarm/alarm.js';
import { TcpFlag, type TcpSegment } from '../../src/decode/segment.js';
import { Detector, type DetectorOptions } from '../../src/detect/detector.js';
import { SYN_MEMORY_MICROS, SYN_MEMORY_WAYS, SynDirection, SynMemory } from '../../src/detect/syn-memory.js';
import type { Policy } from '../../src/policy/policy.js';
import { probeAlarms, tcpSegment } from '../helpers/detector-input.js';

const policy: Policy = { name: 'test', os: 'linux', ports: [{ port: 139, protocol: 'tcp' }, { port: 445, protocol: 'tcp' }, { port: 5985, protocol: 'tcp6' }], whitelist: [] };
const S = 1e6;
const { SYN, ACK, FIN, PSH, RST } = TcpFlag;

const seg = tcpSegment;

function detector(extra: Partial<DetectorOptions> = {}): { d: Detector; alarms: Alarm[] } {
  const alarms: Alarm[] = [];
  const d = new Detector({ policy, windowMicros: 60 * S, maxTrackedKeys: 1000, serverAddresses: [], onAlarm: (a) => alarms.push(a), seed: 7, ...extra });
  return { d, alarms };
}
const probes = probeAlarms;
const total = (alarms: Alarm[]): number => alarms.reduce((n, a) => n + a.count, 0);

describe('ACK-class segments and the SYN memory', () => {
  it('a completed connection (handshake, data, FIN, late ACKs) raises only its SYN alarm', () => {
    const { d, alarms } = detector();
    const c = (flags: number, t: number): TcpSegment => seg('198.18.0.1', 40001, '198.18.0.2', 445, flags, t);
    d.observe(c(SYN, 1 * S), 0, 0);
    d.observe(c(ACK, 1 * S + 10), 0, 1);
    d.observe(c(PSH | ACK, 1 * S + 20), 0, 2);
    d.observe(c(FIN | ACK, 2 * S), 0, 3);
    d.observe(c(ACK, 2 * S + 10), 0, 4);
    d.observe(c(FIN | ACK, 1 * S + SYN_MEMORY_MICROS), 0, 5); // a late FIN retransmission: still the connection's
    d.flush();
    assert.deepEqual(probes(alarms).map((a) => [a.phase, a.kinds, a.count, a.handshakeCompleted]), [['first', ProbeKind.syn, 1, false], ['follow-up', 0, 0, true]]);
    assert.equal(d.counters.probes, 1);
  });

  it('an ACK more than 5 minutes after the last SYN of its 4-tuple is an ack probe', () => {
    const { d, alarms } = detector();
    d.observe(seg('198.18.0.1', 40001, '198.18.0.2', 445, SYN, 1 * S), 0, 0);
    d.observe(seg('198.18.0.1', 40001, '198.18.0.2', 445, ACK, 1 * S + SYN_MEMORY_MICROS + 1), 0, 1);
    d.flush();
    assert.deepEqual(probes(alarms).map((a) => [a.phase, a.kinds]), [['first', ProbeKind.syn], ['first', ProbeKind.ack]]);
  });

  it('the 4-tuple decides: another source port, destination or port does not borrow a connection', () => {
    const { d, alarms } = detector();
    d.observe(seg('198.18.0.1', 40001, '198.18.0.2', 445, SYN, 1 * S), 0, 0);
    d.observe(seg('198.18.0.1', 40002, '198.18.0.2', 445, ACK, 2 * S), 0, 1); // other source port: same key, counted
    d.observe(seg('198.18.0.1', 40001, '198.18.0.2', 139, ACK, 2 * S), 0, 2); // other decoy port
    d.observe(seg('198.18.0.9', 40001, '198.18.0.2', 445, ACK, 2 * S), 0, 3); // other source
    d.observe(seg('198.18.0.1', 40001, '198.18.0.3', 445, ACK, 2 * S), 0, 4); // other destination
    d.flush();
    const all = probes(alarms);
    assert.equal(total(all), 5);
    assert.deepEqual(all.filter((a) => a.phase === 'first').map((a) => [a.destinationPort, a.kinds]), [[445, 1], [139, 16], [445, 16], [445, 16]]);
    assert.deepEqual(all.filter((a) => a.phase === 'follow-up').map((a) => [a.count, a.kinds, a.handshakeCompleted]), [[1, ProbeKind.ack, false]]);
  });

  it('a SYN-ACK to a decoy port is an ack probe unless it answers a SYN the decoy port sent', () => {
    const { d, alarms } = detector();
    // --scanflags SYNACK
    d.observe(seg('198.18.0.1', 50000, '198.18.0.2', 445, SYN | ACK, 1 * S), 0, 0);
    // hping3 -S then -S -A from the same port: the SYN-ACK follows the scanner's own SYN, it answers nothing.
    d.observe(seg('198.18.0.3', 1904, '198.18.0.2', 445, SYN, 1 * S), 0, 0);
    d.observe(seg('198.18.0.3', 1904, '198.18.0.2', 445, SYN | ACK, 1 * S + 10), 0, 0);
    // The server's own connection from local port 139 (a replay sees both directions): SYN out, SYN-ACK and data back.
    d.observe(seg('198.18.0.2', 139, '198.18.0.5', 8080, SYN, 2 * S), 0, 1);
    d.observe(seg('198.18.0.5', 8080, '198.18.0.2', 139, SYN | ACK, 2 * S + 100), 0, 2);
    d.observe(seg('198.18.0.5', 8080, '198.18.0.2', 139, PSH | ACK, 2 * S + 200), 0, 3);
    d.observe(seg('198.18.0.5', 8080, '198.18.0.2', 139, FIN | ACK, 2 * S + 300), 0, 4);
    d.flush();
    assert.deepEqual(probes(alarms).map((a) => [a.source[3], a.destinationPort, a.kinds, a.count]), [
      [1, 445, ProbeKind.ack, 1], [3, 445, ProbeKind.syn, 1], [3, 445, ProbeKind.ack, 1],
    ]);
  });

  it('RST-bearing segments are never probes, with or without a connection', () => {
    const { d, alarms } = detector();
    for (const flags of [RST, RST | ACK, RST | FIN | ACK, RST | PSH | ACK]) d.observe(seg('198.18.0.1', 40001, '198.18.0.2', 445, flags, 1 * S), 0, 0);
    d.flush();
    assert.equal(alarms.length, 0);
    assert.equal(d.counters.probes, 0);
  });

  it('severity: a lone ack probe is low; an ack from a source on two ports, or repeated acks, medium; odd is full weight', () => {
    const { d, alarms } = detector();
    d.observe(seg('198.18.0.1', 1, '198.18.0.2', 445, ACK, 1 * S), 0, 0);
    d.observe(seg('198.18.0.1', 1, '198.18.0.2', 445, ACK, 2 * S), 0, 1);
    d.observe(seg('198.18.0.1', 1, '198.18.0.2', 139, ACK, 3 * S), 0, 2);
    d.observe(seg('198.18.0.7', 1, '198.18.0.2', 445, TcpFlag.URG, 3 * S), 0, 3);
    d.flush();
    assert.deepEqual(probes(alarms).map((a) => [a.phase, a.destinationPort, a.severity]), [
      ['first', 445, 'low'], ['first', 139, 'medium'], ['first', 445, 'medium'], ['follow-up', 445, 'medium'],
    ]);
  });

  it('a spoofed SYN flood summed into flood alarms leaves the SYN memory alone: a real connection stays recognised', () => {
    // 256 ways: the 50 tracked SYNs of the burst fit, the 20,000 spoofed ones would not.
    const { d, alarms } = detector({ newSourceRate: 5, synMemoryBuckets: 64 });
    d.observe(seg('198.18.0.1', 40001, '198.18.0.2', 445, SYN, 1 * S), 0, 0);
    for (let i = 0; i < 20_000; i++) d.observe(seg(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, 1024 + (i % 50000), '198.18.0.2', 445, SYN, 1 * S + 1 + i), 0, 1 + i);
    d.observe(seg('198.18.0.1', 40001, '198.18.0.2', 445, ACK, 2 * S), 0, 20_001);
    d.flush();
    const real = probes(alarms).filter((a) => a.source[0] === 198);
    assert.deepEqual(real.map((a) => [a.phase, a.count, a.kinds, a.handshakeCompleted]), [['first', 1, ProbeKind.syn, false], ['follow-up', 0, 0, true]]);
    assert.equal(total(alarms), 20_001, 'every probe counted once');
  });

  it('when tracked SYNs overflow the memory, an evicted connection\'s ACK is counted by its key, never lost', () => {
    const buckets = 4; // 16 ways
    const { d, alarms } = detector({ synMemoryBuckets: buckets, newSourceRate: 50, maxTrackedKeys: 1000 });
    d.observe(seg('198.18.0.1', 40001, '198.18.0.2', 445, SYN, 1 * S), 0, 0);
    for (let i = 0; i < 400; i++) d.observe(seg(`10.0.${(i >> 8) & 255}.${i & 255}`, 2000 + i, '198.18.0.2', 445, SYN, 1 * S + 1 + i), 0, 1 + i);
    d.observe(seg('198.18.0.1', 40001, '198.18.0.2', 445, ACK, 2 * S), 0, 401);
    d.flush();
    const real = probes(alarms).filter((a) => a.source[0] === 198);
    assert.deepEqual(real.map((a) => [a.phase, a.count, a.kinds]), [['first', 1, ProbeKind.syn], ['follow-up', 1, ProbeKind.ack]]);
    assert.equal(total(alarms), 402, 'every probe counted once');
  });

  it('SynMemory: bounded table, renewed SYNs, the oldest way goes', () => {
    const m = new SynMemory(1, 1);
    assert.equal(m.bytes, SYN_MEMORY_WAYS * 16);
    const key = new Uint32Array(9);
    const IN = SynDirection.inbound;
    const at = (t: number): { tsMicros: number } => ({ tsMicros: t });
    for (let p = 0; p < 10; p++) m.remember(key, 3, p, IN, at(p * S));
    assert.equal(m.count(10 * S), SYN_MEMORY_WAYS);
    assert.ok(m.belongs(key, 3, 9, IN, at(10 * S)) && m.belongs(key, 3, 6, IN, at(10 * S)));
    assert.ok(!m.belongs(key, 3, 9, SynDirection.outbound, at(10 * S)), 'directions are apart');
    assert.ok(!m.belongs(key, 3, 5, IN, at(10 * S)), 'the oldest SYNs were evicted');
    m.remember(key, 3, 6, IN, at(20 * S)); // renewed: now the newest
    m.remember(key, 3, 100, IN, at(21 * S));
    assert.ok(m.belongs(key, 3, 6, IN, at(21 * S)) && !m.belongs(key, 3, 7, IN, at(21 * S)));
  });
});
