/**
 * event.id of an alarm: an RFC 9562 UUID.
 *
 * Replay: version 5 (name-based, SHA-1) over the alarm's content — policy,
 * key (family, source, destination, port, protocol), phase, first and last
 * probe time, count, and the digest of the first covered probe's TCP header
 * (flood alarms: port, phase, times, reason, count, sample). Replaying the
 * same capture therefore gives the same ids, so a SIEM may de-duplicate on
 * them (an Elasticsearch `create` answering 409 means "already indexed"), and
 * two alarms get one id only if they agree on all of that content, file
 * names and packet positions playing no part. An alarm that covers no probe
 * (a connection the port holder saw before capture did) is named by its
 * connection: source port and start time.
 *
 * Live: version 4 (random); nothing is replayed, so nothing needs to match.
 */
import { hash, randomUUID } from 'node:crypto';
import { formatAddress } from '../net/address.js';
import type { Alarm } from './alarm.js';

/** honeyport's namespace for version 5 ids (itself a random UUID, fixed forever: changing it changes every replay id). */
const NAMESPACE = Buffer.from('fe4a1bbad80d41968e54613e680a713d', 'hex');

/** Hex digit → the same digit with its top two bits set to the RFC 9562 variant 10 (8, 9, a or b). */
const VARIANT: Record<string, string> = Object.fromEntries([...'0123456789abcdef'].map((d, i) => [d, ((i & 3) | 8).toString(16)]));

/** namespace ‖ name is assembled here, so each id costs one one-shot hash and no Hash object. */
const scratch = Buffer.allocUnsafe(4096);

/** RFC 9562 §5.5: SHA-1 of namespace ‖ name, first 16 bytes, version 5, variant 10. */
export function uuidV5(name: string, namespace: Uint8Array = NAMESPACE): string {
  let input: Uint8Array;
  if (name.length * 3 <= scratch.length - 16) {
    scratch.set(namespace, 0);
    input = new Uint8Array(scratch.buffer, scratch.byteOffset, 16 + scratch.write(name, 16, 'utf8'));
  } else {
    input = Buffer.concat([namespace, Buffer.from(name, 'utf8')]);
  }
  const h = hash('sha1', input as Buffer, 'hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${VARIANT[h[16]!]}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The text the replay id is the hash of: every field that makes the alarm what it is, one per line. */
export function alarmIdName(a: Alarm): string {
  if (a.action === 'honeypot-flood') {
    return ['flood', a.ruleName, a.protocol, a.destinationPort, a.phase, a.startMicros, a.endMicros, a.reason, a.count, a.sampleSources.join(',')].join('\n');
  }
  const what = a.origin ? `probe ${a.origin.digest}` : `connection ${a.connection?.sourcePort ?? a.sourcePort}`;
  return [
    'probe', a.ruleName, a.family, formatAddress(a.family, a.source), formatAddress(a.family, a.destination), a.protocol, a.destinationPort,
    a.phase, a.startMicros, a.endMicros, a.count, what,
  ].join('\n');
}

export function alarmId(a: Alarm, mode: 'replay' | 'live'): string {
  return mode === 'live' ? randomUUID() : uuidV5(alarmIdName(a));
}
