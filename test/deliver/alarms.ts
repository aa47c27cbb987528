/** Test alarms and a format context for delivery tests. */
import type { ProbeAlarm } from '../../src/alarm/alarm.js';
import type { FormatContext } from '../../src/deliver/format-ecs.js';

export const ctx: FormatContext = {
  ruleName: 'test-policy',
  observer: { hostname: 'sensor-test', version: '0.0.0-test' },
  inputs: ['capture.pcap'],
  mode: 'replay',
};

/** Alarm number i: its packet index is i, so event ids are distinct and deterministic. */
export function probeAlarm(i: number): ProbeAlarm {
  return {
    action: 'honeypot-port-probe',
    ruleName: 'test-policy',
    handshakeCompleted: false,
    vlan: 0,
    innerVlan: 0,
    phase: 'first',
    family: 4,
    source: new Uint8Array([198, 18, (i >> 8) & 255, i & 255]),
    destination: new Uint8Array([198, 19, 0, 1]),
    sourcePort: 40000 + (i % 20000),
    sourcePorts: [40000 + (i % 20000)],
    sourcePortsTruncated: false,
    destinationPort: 445,
    protocol: 'tcp',
    count: 1,
    startMicros: 1_700_000_000_000_000 + i * 1000,
    endMicros: 1_700_000_000_000_000 + i * 1000,
    kinds: 1,
    flags: 2,
    severity: i % 2 ? 'high' : 'medium',
    portsTouched: [445],
    reassembled: false,
    origin: { input: 0, packet: i, digest: i.toString(16).padStart(16, '0') },
  };
}

/** The alarm number of a delivered ECS document (its source address encodes it). */
export function alarmNumber(doc: { source: { ip: string } }): number {
  const [, , a, b] = doc.source.ip.split('.').map(Number) as [number, number, number, number];
  return a * 256 + b;
}
