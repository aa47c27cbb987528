/**
 * The fields of a SYN that p0f v3's SYN signatures speak about, read from
 * the captured IP and TCP headers exactly as p0f 3.09b reads them (its
 * option walk, its quirk tests — including the one whose result differs
 * from its documentation: `ack+` is set when the lowest bit of the first
 * acknowledgment-number byte is, the effect of an operator-precedence slip
 * in p0f that its database was built with; a SYN with any other non-zero
 * ACK number is not `ack+` for p0f, so not for honeyport).
 *
 * `readSyn` writes into a reusable SynFields and allocates nothing; it
 * answers false for what p0f does not fingerprint: anything but a bare SYN
 * (SYN without ACK, FIN or RST), IPv4 fragments (honeyport reassembles them,
 * p0f does not look at them), IPv6 with extension headers, a TCP header cut
 * by the capture. Unlike p0f, a SYN whose payload the snap length cut is
 * still fingerprinted: its headers are whole.
 */
import { MAX_TCP_OPTIONS, Quirk } from './quirks.js';

/** p0f's MAX_DIST: a TTL further than this below the initial one makes a match fuzzy. */
export const MAX_DISTANCE = 35;

export class SynFields {
  version: 4 | 6 = 4;
  ttl = 0;
  ipOptionsLength = 0;
  /** IP header + TCP header length (p0f's tot_hdr). */
  headerLength = 0;
  mss = 0;
  window = 0;
  scale = 0;
  readonly layout = new Uint8Array(MAX_TCP_OPTIONS);
  layoutLength = 0;
  eolPad = 0;
  quirks = 0;
  /** TSval of a timestamp option (0: none or zero). */
  ts1 = 0;
  payload = 0;
  /** A 32-bit hash of the layout, to find the signatures with the same one. */
  layoutHash = 0;
}

const u16 = (d: Uint8Array, i: number): number => (d[i]! << 8) | d[i + 1]!;
const u32 = (d: Uint8Array, i: number): number => ((d[i]! << 24) | (d[i + 1]! << 16) | (d[i + 2]! << 8) | d[i + 3]!) >>> 0;

/** FNV-1a over an option layout: how signatures are bucketed (see matcher). */
export function layoutHash(layout: ArrayLike<number>, length: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < length; i++) h = Math.imul(h ^ layout[i]!, 0x01000193);
  return Math.imul(h ^ length, 0x01000193) >>> 0;
}

/**
 * Reads the SYN whose IP header starts at `ip` and TCP header spans
 * `tcp..tcpEnd` (as captured) in `d`; `payload` is the TCP payload length the
 * IP lengths state. False when p0f would not fingerprint it (see header).
 */
export function readSyn(out: SynFields, d: Uint8Array, ip: number, tcp: number, tcpEnd: number, payload: number): boolean {
  const flags = d[tcp + 13]!;
  if ((flags & 0x17) !== 0x02) return false; // SYN without ACK, FIN, RST
  const doff = (d[tcp + 12]! >> 4) << 2;
  if (doff < 20 || tcpEnd - tcp < doff) return false;
  let q = 0;
  const v = d[ip]! >> 4;
  if (v === 4) {
    const ihl = (d[ip]! & 0x0f) << 2;
    if (ihl < 20 || tcp !== ip + ihl || d[ip + 9] !== 6) return false;
    const fragment = u16(d, ip + 6);
    if (fragment & 0x3fff) return false;
    out.version = 4;
    out.ipOptionsLength = ihl - 20;
    out.headerLength = ihl + doff;
    if (d[ip + 1]! & 3) q |= Quirk.ecn;
    if (fragment & 0x8000) q |= Quirk['0+'];
    const id = u16(d, ip + 4);
    if (fragment & 0x4000) {
      q |= Quirk.df;
      if (id !== 0) q |= Quirk['id+'];
    } else if (id === 0) q |= Quirk['id-'];
    out.ttl = d[ip + 8]!;
  } else if (v === 6) {
    if (tcp !== ip + 40 || d[ip + 6] !== 6) return false;
    const verTos = u32(d, ip);
    out.version = 6;
    out.ipOptionsLength = 0;
    out.headerLength = 40 + doff;
    if (verTos & 0xfffff) q |= Quirk.flow;
    if ((verTos >>> 20) & 3) q |= Quirk.ecn;
    out.ttl = d[ip + 7]!;
  } else return false;

  if (flags & 0xc0 || d[tcp + 12]! & 0x01) q |= Quirk.ecn;
  if (u32(d, tcp + 4) === 0) q |= Quirk['seq-'];
  if (d[tcp + 8]! & 1) q |= Quirk['ack+']; // p0f's test, see the header
  if (flags & 0x20) q |= Quirk['urgf+'];
  else if (u16(d, tcp + 18) !== 0) q |= Quirk['uptr+'];
  if (flags & 0x08) q |= Quirk['pushf+'];
  out.window = u16(d, tcp + 14);
  out.payload = payload;

  // Options, walked as p0f walks them: a length byte read at the end of the
  // header is a byte past it (its value never changes the outcome).
  const end = tcp + doff;
  const at = (i: number): number => (i < d.length ? d[i]! : 0);
  const layout = out.layout;
  let n = 0;
  let i = tcp + 20;
  let mss = 0;
  let scale = 0;
  let ts1 = 0;
  let eolPad = 0;
  let aborted = false;
  while (i < end && n < MAX_TCP_OPTIONS) {
    const kind = d[i++]!;
    layout[n++] = kind;
    if (kind === 0) {
      eolPad = end - i;
      while (i < end) if (d[i++] !== 0) break;
      if (i !== end) {
        q |= Quirk['opt+'];
        i = end;
      }
    } else if (kind === 1) {
      // NOP
    } else if (kind === 2) {
      if (at(i) !== 4) q |= Quirk.bad;
      if (i + 3 > end) { aborted = true; break; }
      mss = u16(d, i + 1);
      i += 3;
    } else if (kind === 3) {
      if (at(i) !== 3) q |= Quirk.bad;
      if (i + 2 > end) { aborted = true; break; }
      scale = d[i + 1]!;
      if (scale > 14) q |= Quirk.exws;
      i += 2;
    } else if (kind === 4) {
      if (at(i) !== 2) q |= Quirk.bad;
      if (i + 1 > end) { aborted = true; break; }
      i++;
    } else if (kind === 5) {
      const len = at(i);
      if (len < 10 || len > 34 || i - 1 + len > end) { aborted = true; break; }
      i += len - 1;
    } else if (kind === 8) {
      if (at(i) !== 10) q |= Quirk.bad;
      if (i + 9 > end) { aborted = true; break; }
      ts1 = u32(d, i + 1);
      if (ts1 === 0) q |= Quirk['ts1-'];
      if (u32(d, i + 5) !== 0) q |= Quirk['ts2+'];
      i += 9;
    } else {
      const len = at(i);
      if (len < 2 || len > 40 || i - 1 + len > end) { aborted = true; break; }
      i += len - 1;
    }
  }
  if (aborted || i !== end) q |= Quirk.bad;
  out.layoutLength = n;
  out.layoutHash = layoutHash(layout, n);
  out.mss = mss;
  out.scale = scale;
  out.ts1 = ts1;
  out.eolPad = eolPad;
  out.quirks = q;
  return true;
}

/**
 * p0f's reading of the window as a multiple of the MSS or MTU: the
 * multiplier, or -1; `mtu` says which. Same tests in the same order as p0f
 * (a SYN has no peer MSS to try).
 */
export function windowMultiple(f: Pick<SynFields, 'window' | 'mss' | 'ts1' | 'version' | 'headerLength'>): { multiple: number; mtu: boolean } {
  const win = f.window;
  const mss = f.mss;
  if (win === 0 || mss < 100) return { multiple: -1, mtu: false };
  const tries: [number, boolean][] = [[mss, false]];
  if (f.ts1) tries.push([mss - 12, false]);
  tries.push([1460, false], [1448, false]);
  if (f.version === 6) tries.push([1440, false], [1428, false]);
  tries.push([mss + 40, true], [mss + f.headerLength, true]);
  if (f.version === 6) tries.push([mss + 60, true]);
  tries.push([1500, true]);
  for (const [div, mtu] of tries) if (div && win % div === 0) return { multiple: win / div, mtu };
  return { multiple: -1, mtu: false };
}

/** p0f's distance guess: hops below the next common initial TTL. */
export function guessDistance(ttl: number): number {
  return ttl <= 32 ? 32 - ttl : ttl <= 64 ? 64 - ttl : ttl <= 128 ? 128 - ttl : 255 - ttl;
}

const OPTION_NAME: Record<number, string> = { 1: 'nop', 2: 'mss', 3: 'ws', 4: 'sok', 5: 'sack', 8: 'ts' };

/**
 * The SYN in p0f's raw signature notation, exactly as `p0f` prints it in
 * `raw_sig` (e.g. `4:57+7:0:1460:1024,0:mss::0`): what an analyst copies
 * into a signature file for a stack nobody has described yet.
 */
export function rawSignature(f: SynFields, quirkList: string): string {
  const dist = guessDistance(f.ttl);
  const { multiple, mtu } = windowMultiple(f);
  const win = multiple > 0 ? `${mtu ? 'mtu' : 'mss'}*${multiple}` : String(f.window);
  let layout = '';
  for (let i = 0; i < f.layoutLength; i++) {
    const k = f.layout[i]!;
    const name = k === 0 ? `eol+${f.eolPad}` : (OPTION_NAME[k] ?? `?${k}`);
    layout += i ? `,${name}` : name;
  }
  return `${f.version}:${f.ttl}+${dist > MAX_DISTANCE ? '?' : dist}:${f.ipOptionsLength}:${f.mss}:${win},${f.scale}:${layout}:${quirkList}:${f.payload ? '+' : '0'}`;
}
