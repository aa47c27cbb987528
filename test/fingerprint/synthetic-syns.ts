/**
 * Seeded SYNs for the differential test against p0f: each one built to
 * match a signature of the database (TTL, layout, MSS, window rule, scale,
 * quirks, payload), then, half of the time, bent in one place (TTL, window,
 * a quirk, an option length, the layout) so that exact, fuzzy, generic and
 * unknown outcomes, and malformed option lists, all occur. Inputs no
 * fixture holds.
 */
import { ethernet, ipv4, ipv6, tcp } from '../helpers/frame-builder.js';
import { Quirk } from '../../src/fingerprint/quirks.js';
import type { SynSignature } from '../../src/fingerprint/signature-file.js';

export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function synthesize(sig: SynSignature, index: number, rnd: () => number): Uint8Array {
  const int = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const q = sig.quirks;
  const v6 = sig.version === 6 || (sig.version === 0 && rnd() < 0.3);
  let ttl = sig.randomTtl ? int(Math.max(1, sig.ttl - 30), sig.ttl) : sig.ttl - int(0, 20);
  const mss = sig.mss >= 0 ? sig.mss : int(1200, 1460);
  let scale = sig.scale >= 0 ? sig.scale : int(0, 14);
  if (q & Quirk.exws) scale = int(15, 255);
  const w = sig.window;
  let window =
    w.kind === 'value' ? w.value : w.kind === 'modulo' ? w.value * int(1, Math.max(1, Math.floor(65535 / w.value))) :
    w.kind === 'mss' ? mss * w.value : w.kind === 'mtu' ? (mss + 40) * w.value : int(0, 65535);
  if (window > 65535) window = int(0, 65535);
  const ts1 = q & Quirk['ts1-'] ? 0 : int(1, 0xffffffff);
  const ts2 = q & Quirk['ts2+'] ? int(1, 0xffffffff) : 0;
  let opts: number[] = [];
  for (const k of sig.layout) {
    if (k === 0) {
      opts.push(0, ...new Array(sig.eolPad).fill(0));
      if (q & Quirk['opt+'] && sig.eolPad > 1) opts[opts.length - 1 - int(0, sig.eolPad - 2)] = int(1, 255);
    } else if (k === 1) opts.push(1);
    else if (k === 2) opts.push(2, 4, mss >> 8, mss & 255);
    else if (k === 3) opts.push(3, 3, scale);
    else if (k === 4) opts.push(4, 2);
    else if (k === 5) opts.push(5, 10, 0, 0, 0, 1, 0, 0, 0, 2);
    else if (k === 8) opts.push(8, 10, ts1 >>> 24, (ts1 >>> 16) & 255, (ts1 >>> 8) & 255, ts1 & 255, ts2 >>> 24, (ts2 >>> 16) & 255, (ts2 >>> 8) & 255, ts2 & 255);
    else opts.push(k, 2);
  }
  if (q & Quirk.bad && opts.length > 1) opts[1] = pick([0, 1, 7, 41, 200]);
  let flags = 0x02;
  if (q & Quirk['urgf+']) flags |= 0x20;
  if (q & Quirk['pushf+']) flags |= 0x08;
  let ecnIp = 0;
  if (q & Quirk.ecn) {
    if (rnd() < 0.5) flags |= 0xc0;
    else ecnIp = int(1, 3);
  }
  let ack = q & Quirk['ack+'] ? (int(0, 127) * 2 + 1) * 0x1000000 + int(0, 0xffffff) : rnd() < 0.5 ? 0 : int(0, 127) * 2 * 0x1000000 + int(0, 0xffffff);
  let seq = q & Quirk['seq-'] ? 0 : int(1, 0xffffffff);
  let urgent = q & Quirk['uptr+'] ? int(1, 65535) : 0;
  let payload = sig.payload === 1 || (sig.payload === -1 && rnd() < 0.3) ? int(1, 40) : 0;
  let df = (q & Quirk.df) !== 0;
  let id = q & Quirk['id-'] ? 0 : df && !(q & Quirk['id+']) ? 0 : int(1, 65535);
  let mbz = (q & Quirk['0+']) !== 0;
  let flow = q & Quirk.flow ? int(1, 0xfffff) : 0;

  // Half of the SYNs are bent in one place.
  if (rnd() < 0.5) {
    switch (int(0, 11)) {
      case 0: ttl = int(1, 255); break;
      case 1: window = int(0, 65535); break;
      case 2: df = !df; break;
      case 3: id = id === 0 ? int(1, 65535) : 0; break;
      case 4: flags ^= 0xc0; break;
      case 5: ack ^= 0x1000000; break;
      case 6: seq = seq === 0 ? 1 : 0; break;
      case 7: urgent = urgent ? 0 : 7; break;
      case 8: payload = payload ? 0 : 5; break;
      case 9: if (opts.length > 1) opts[int(0, opts.length - 1)] = int(0, 255); break;
      case 10: opts = opts.slice(0, int(0, opts.length)); break;
      default: mbz = !mbz; flow = flow ? 0 : 1; break;
    }
  }
  if (opts.length > 40) opts = opts.slice(0, 40);
  const seg = tcp({ srcPort: 1024 + index, dstPort: 445, flags, seq: seq >>> 0, ack: ack >>> 0, window, urgent, options: opts, payload });
  if (v6) {
    const packet = ipv6({ src: 'fd00:18::1', dst: 'fd00:18::2', payload: seg, hopLimit: ttl });
    // Traffic class (its ECN bits) and flow label, which the builder leaves zero.
    packet[0] = 0x60;
    packet[1] = ((ecnIp & 15) << 4) | (flow >>> 16);
    packet[2] = (flow >>> 8) & 255;
    packet[3] = flow & 255;
    return ethernet(packet);
  }
  const packet = ipv4({ src: '198.18.0.1', dst: '198.18.0.2', payload: seg, ttl, id, dontFragment: df });
  if (mbz) packet[6]! |= 0x80;
  packet[1] = ecnIp;
  return ethernet(packet);
}
