/** Detector test inputs: one TCP segment from address text, and the alarm views the tests read. */
import type { Alarm, ProbeAlarm } from '../../src/alarm/alarm.js';
import { TcpSegment } from '../../src/decode/segment.js';
import { parseAddress } from '../../src/net/address.js';

/** A fresh segment (tests allocate freely; the detector copies what it keeps). */
export function tcpSegment(src: string, sport: number, dst: string, dport: number, flags: number, tsMicros: number): TcpSegment {
  const s = new TcpSegment();
  const a = parseAddress(src)!;
  const b = parseAddress(dst)!;
  s.family = a.family;
  s.src.set(a.bytes);
  s.dst.set(b.bytes);
  s.srcPort = sport;
  s.dstPort = dport;
  s.flags = flags;
  s.tsMicros = tsMicros;
  return s;
}

export const probeAlarms = (alarms: readonly Alarm[]): ProbeAlarm[] => alarms.filter((a): a is ProbeAlarm => a.action === 'honeypot-port-probe');
