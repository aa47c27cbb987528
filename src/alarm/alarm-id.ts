/**
 * event.id of an alarm: an RFC 9562 UUID.
 *
 * Replay: version 5 (name-based, SHA-1) over the alarm's content — policy,
 * key (family, source, destination, port, protocol), VLAN tags, phase, first and last
 * probe time, count, and the digest of the first covered probe's TCP header
 * (flood alarms: port, phase, times, reason, count, sample), and for a
 * tunnelled probe its tunnel layers (type, id, outer addresses; nothing is
 * added for an untunnelled one, so its id is what it always was). Replaying the
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
import type { Alarm } from './alarm.js';

/** honeyport's namespace for version 5 ids (itself a random UUID, fixed forever: changing it changes every replay id). */
const NAMESPACE = Buffer.from('fe4a1bbad80d41968e54613e680a713d', 'hex');

/** Hex digit → the same digit with its top two bits set to the RFC 9562 variant 10 (8, 9, a or b). */
const VARIANT: Record<string, string> = Object.fromEntries([...'0123456789abcdef'].map((d, i) => [d, ((i & 3) | 8).toString(16)]));

/** The hashed name is written here in binary (no string building): one one-shot hash per id. */
const NAME_BYTES = 8192;
const scratch = Buffer.allocUnsafe(16 + NAME_BYTES);
const scratchView = new DataView(scratch.buffer, scratch.byteOffset, scratch.byteLength);

function v5(input: Uint8Array): string {
  const h = hash('sha1', input as Buffer, 'hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${VARIANT[h[16]!]}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** RFC 9562 §5.5: SHA-1 of namespace ‖ name, first 16 bytes, version 5, variant 10. */
export function uuidV5(name: string | Uint8Array, namespace: Uint8Array = NAMESPACE): string {
  const bytes = typeof name === 'string' ? Buffer.from(name, 'utf8') : name;
  return v5(Buffer.concat([namespace, bytes]));
}

/**
 * Writes an alarm's identifying content after the namespace: numbers as
 * doubles, addresses as 16 bytes, strings length-prefixed, so no two
 * different contents give the same bytes.
 */
class NameWriter {
  at = 16;
  constructor(
    readonly buf: Buffer,
    /** The same bytes: a DataView write is one builtin call, Buffer#writeDoubleBE a JavaScript function with bounds checks. */
    private readonly view: DataView,
  ) {
    buf.set(NAMESPACE, 0);
  }
  num(n: number): this {
    this.view.setFloat64(this.at, n); // big-endian, as writeDoubleBE
    this.at += 8;
    return this;
  }
  str(s: string): this {
    const buf = this.buf;
    const at = this.at + 4;
    // Names, phases and digests are short ASCII: copied here, they skip a
    // native call each (UTF-8 of ASCII is the same bytes); anything else is encoded.
    let len = s.length;
    for (let i = 0; i < len; i++) {
      const c = s.charCodeAt(i);
      if (c > 0x7f) {
        len = buf.write(s, at, 'utf8');
        break;
      }
      buf[at + i] = c;
    }
    buf.writeUInt32BE(len, this.at);
    this.at = at + len;
    return this;
  }
  bytes(b: Uint8Array): this {
    const buf = this.buf;
    const at = this.at;
    for (let i = 0; i < 16; i++) buf[at + i] = b[i]!; // no subarray view per address
    this.at = at + 16;
    return this;
  }
}

/** Bytes an alarm's name can take at most (strings at 3 UTF-8 bytes per unit). */
function worstCase(a: Alarm): number {
  const text = a.ruleName.length + (a.action === 'honeypot-flood' ? a.sampleSources.reduce((n, x) => n + x.length, 0) + 40 : 60);
  const strings = a.action === 'honeypot-flood' ? 6 + a.sampleSources.length : 6;
  // Per tunnel layer: a type string (≤ 12 ASCII + 4), three numbers and two addresses.
  const tunnel = a.action === 'honeypot-flood' || a.tunnel === undefined ? 0 : 16 + a.tunnel.layers.length * (16 + 3 * 8 + 2 * 16);
  return text * 3 + strings * 4 + 16 * 8 + 2 * 16 + tunnel;
}

/** The replay id: version 5 over the alarm's identifying content (see the header). */
function contentId(a: Alarm): string {
  const worst = worstCase(a);
  const big = worst > NAME_BYTES ? Buffer.allocUnsafe(16 + worst) : undefined;
  const w = big ? new NameWriter(big, new DataView(big.buffer, big.byteOffset, big.byteLength)) : new NameWriter(scratch, scratchView);
  w.str(a.action).str(a.ruleName).str(a.protocol).num(a.destinationPort).str(a.phase).num(a.startMicros).num(a.endMicros).num(a.count);
  if (a.action === 'honeypot-flood') {
    w.str(a.reason).num(a.sampleSources.length);
    for (const s of a.sampleSources) w.str(s);
  } else {
    w.num(a.family).bytes(a.source).bytes(a.destination).num(a.vlan).num(a.innerVlan);
    if (a.origin.digest !== undefined) w.str('probe').str(a.origin.digest);
    else w.str('connection').num(a.connection?.sourcePort ?? a.sourcePort);
    if (a.tunnel !== undefined) {
      w.str('tunnel').num(a.tunnel.layers.length);
      for (const l of a.tunnel.layers) w.str(l.type).num(l.id ?? -1).num(l.family).bytes(l.source).bytes(l.destination);
    }
  }
  return v5(new Uint8Array(w.buf.buffer, w.buf.byteOffset, w.at));
}

export function alarmId(a: Alarm, mode: 'replay' | 'live'): string {
  return mode === 'live' ? randomUUID() : contentId(a);
}
