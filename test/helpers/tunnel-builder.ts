/**
 * Test-only tunnel headers, built inside out like frame-builder: each takes
 * the bytes it carries and returns the bytes of the tunnel header plus them,
 * ready to be the payload of ipv4()/ipv6() with the matching protocol
 * (GRE 47, UDP 17, IP-in-IP 4, IPv6-in-IP 41).
 */

type Bytes = ArrayLike<number>;

function cat(head: Uint8Array, body: Bytes): Uint8Array {
  const out = new Uint8Array(head.length + body.length);
  out.set(head, 0);
  out.set(Array.from(body), head.length);
  return out;
}

export interface GreSpec {
  /** EtherType of the payload: 0x0800, 0x86dd, 0x6558 (Ethernet), 0x88be/0x22eb (ERSPAN). */
  protocol: number;
  key?: number;
  sequence?: number;
  checksum?: boolean;
  /** Overrides the first two bytes (flags and version). */
  flags?: number;
}

export function gre(payload: Bytes, spec: GreSpec): Uint8Array {
  const c = spec.checksum === true;
  const k = spec.key !== undefined;
  const s = spec.sequence !== undefined;
  const h = new Uint8Array(4 + (c ? 4 : 0) + (k ? 4 : 0) + (s ? 4 : 0));
  const flags = spec.flags ?? ((c ? 0x8000 : 0) | (k ? 0x2000 : 0) | (s ? 0x1000 : 0));
  h[0] = flags >> 8;
  h[1] = flags & 0xff;
  h[2] = spec.protocol >> 8;
  h[3] = spec.protocol & 0xff;
  let o = c ? 8 : 4;
  const put32 = (v: number): void => {
    h[o] = (v >>> 24) & 0xff;
    h[o + 1] = (v >>> 16) & 0xff;
    h[o + 2] = (v >>> 8) & 0xff;
    h[o + 3] = v & 0xff;
    o += 4;
  };
  if (k) put32(spec.key!);
  if (s) put32(spec.sequence!);
  return cat(h, payload);
}

/** ERSPAN type II (version 1) or III (version 2) header in front of a mirrored Ethernet frame. */
export function erspan(frame: Bytes, spec: { type: 2 | 3; session: number; version?: number; platform?: boolean }): Uint8Array {
  const h = new Uint8Array(spec.type === 2 ? 8 : spec.platform ? 20 : 12);
  h[0] = (spec.version ?? (spec.type === 2 ? 1 : 2)) << 4;
  h[2] = (spec.session >> 8) & 0x03;
  h[3] = spec.session & 0xff;
  if (spec.type === 3 && spec.platform) h[11] = 0x01;
  return cat(h, frame);
}

export function udp(payload: Bytes, spec: { srcPort?: number; dstPort: number }): Uint8Array {
  const h = new Uint8Array(8);
  const sp = spec.srcPort ?? 49152;
  const len = 8 + payload.length;
  h[0] = sp >> 8;
  h[1] = sp & 0xff;
  h[2] = spec.dstPort >> 8;
  h[3] = spec.dstPort & 0xff;
  h[4] = len >> 8;
  h[5] = len & 0xff;
  return cat(h, payload);
}

/** VXLAN header (flags: I set unless given) in front of an Ethernet frame. */
export function vxlan(frame: Bytes, spec: { vni: number; flags?: number }): Uint8Array {
  const h = new Uint8Array(8);
  h[0] = spec.flags ?? 0x08;
  h[4] = (spec.vni >> 16) & 0xff;
  h[5] = (spec.vni >> 8) & 0xff;
  h[6] = spec.vni & 0xff;
  return cat(h, frame);
}

/** Geneve header with `options` 4-byte words of options, in front of `payload` of `protocol`. */
export function geneve(payload: Bytes, spec: { vni: number; protocol: number; optionWords?: number; version?: number }): Uint8Array {
  const words = spec.optionWords ?? 0;
  const h = new Uint8Array(8 + words * 4);
  h[0] = ((spec.version ?? 0) << 6) | (words & 0x3f);
  h[2] = spec.protocol >> 8;
  h[3] = spec.protocol & 0xff;
  h[4] = (spec.vni >> 16) & 0xff;
  h[5] = (spec.vni >> 8) & 0xff;
  h[6] = spec.vni & 0xff;
  for (let i = 8; i < h.length; i++) h[i] = 0xa5;
  return cat(h, payload);
}
