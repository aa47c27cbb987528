/**
 * The tunnels a decoded segment came through, outermost first: part of the
 * decoder's reusable result (TcpSegment.tunnel), so a tunnelled frame costs
 * no allocation either. `depth` 0 means the frame was not tunnelled; only
 * layers[0..depth) are meaningful, and only until the next decode().
 *
 * What a layer records is what names the overlay the inner addresses live
 * in: the encapsulation, its virtual network id (VXLAN/Geneve VNI, GRE key,
 * ERSPAN session) and the outer endpoints. Fields that change per inner flow
 * (the outer UDP source port is a hash of the inner flow, GRE sequence
 * numbers) are left out on purpose: `identityA/B` digest the layers so a
 * detector can key on "which overlay" and these per-flow fields must not
 * split one scan into many keys.
 *
 * summary() copies the layers into a small immutable object for an alarm;
 * it allocates, so it is called once per new key, never per packet.
 */
import { mix } from '../net/word-hash.js';

/** Tunnels decoded inside one another beyond this are counted (tunnelTooDeep) and the frame is malformed. */
export const MAX_TUNNEL_DEPTH = 4;

export const enum TunnelType {
  /** IP protocol 4: IPv4 inside IPv4 or IPv6 (Linux ipip, ip6tnl mode ipip6). */
  Ipv4InIp = 1,
  /** IP protocol 41: IPv6 inside IPv4 or IPv6 (Linux sit, ip6tnl mode ip6ip6). */
  Ipv6InIp = 2,
  /** GRE (RFC 2784/2890) carrying IPv4, IPv6 or Ethernet (gre, gretap, ip6gre, ip6gretap). */
  Gre = 3,
  /** ERSPAN type I, II or III inside GRE: a mirrored Ethernet frame (erspan, ip6erspan). */
  Erspan = 4,
  /** VXLAN (RFC 7348), UDP destination port 4789. */
  Vxlan = 5,
  /** Geneve (RFC 8926), UDP destination port 6081. */
  Geneve = 6,
}

export type TunnelTypeName = 'ipv4-in-ip' | 'ipv6-in-ip' | 'gre' | 'erspan' | 'vxlan' | 'geneve';

const TYPE_NAMES: readonly TunnelTypeName[] = ['ipv4-in-ip', 'ipv4-in-ip', 'ipv6-in-ip', 'gre', 'erspan', 'vxlan', 'geneve'];

export function tunnelTypeName(t: TunnelType): TunnelTypeName {
  return TYPE_NAMES[t]!;
}

/** What the id of a layer is called in an alarm, by type (none for IP-in-IP). */
export function tunnelIdName(t: TunnelTypeName): 'vni' | 'key' | 'session_id' | undefined {
  if (t === 'vxlan' || t === 'geneve') return 'vni';
  if (t === 'gre') return 'key';
  if (t === 'erspan') return 'session_id';
  return undefined;
}

/** One layer of an alarm's tunnel description (immutable, allocated per key). */
export interface TunnelLayerSummary {
  readonly type: TunnelTypeName;
  /** Outer IP version of this layer. */
  readonly family: 4 | 6;
  /** Outer addresses, 16 bytes (IPv4 in bytes 0..3). */
  readonly source: Uint8Array;
  readonly destination: Uint8Array;
  /** VNI, GRE key or ERSPAN session id; absent when the encapsulation carries none. */
  readonly id?: number;
}

export interface TunnelSummary {
  /** Layers, outermost first; its length is the depth. */
  readonly layers: readonly TunnelLayerSummary[];
}

export class TunnelLayer {
  type: TunnelType = TunnelType.Gre;
  family: 4 | 6 = 4;
  readonly src = new Uint8Array(16);
  readonly dst = new Uint8Array(16);
  /** -1: none. */
  id = -1;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

export class TunnelInfo {
  depth = 0;
  readonly layers: readonly TunnelLayer[] = Array.from({ length: MAX_TUNNEL_DEPTH }, () => new TunnelLayer());
  /**
   * Two independent 32-bit digests of every layer's type, id and outer
   * addresses (0 and 0 when not tunnelled; identityA is never 0 otherwise).
   * 64 bits: two different overlays share an identity with odds ~2^-64.
   */
  identityA = 0;
  identityB = 0;

  /**
   * Records the next layer from an outer IP header at `ipOff` (addresses at
   * fixed offsets by family). The caller has checked depth < MAX_TUNNEL_DEPTH.
   */
  push(d: Uint8Array, ipOff: number, family: 4 | 6, type: TunnelType, id: number): void {
    const l = this.layers[this.depth]!;
    l.type = type;
    l.family = family;
    l.id = id;
    const src = l.src;
    const dst = l.dst;
    const width = family === 4 ? 4 : 16;
    const so = family === 4 ? ipOff + 12 : ipOff + 8;
    const dO = family === 4 ? ipOff + 16 : ipOff + 24;
    for (let i = 0; i < width; i++) {
      src[i] = d[so + i]!;
      dst[i] = d[dO + i]!;
    }
    for (let i = width; i < 16; i++) {
      src[i] = 0;
      dst[i] = 0;
    }
    // Two independent digests (FNV-1a and MurmurHash3's mix), so that two layers' stacks do not collide in both together.
    let a = this.depth === 0 ? FNV_OFFSET : this.identityA;
    let b = this.depth === 0 ? 0x9747b28c : this.identityB;
    const head = (type << 24) | (family << 16) | (this.depth << 8);
    a = Math.imul(a ^ head, FNV_PRIME);
    b = mix(b, head);
    a = Math.imul(a ^ (id | 0), FNV_PRIME);
    b = mix(b, id | 0);
    for (let i = 0; i < width; i++) {
      a = Math.imul(a ^ src[i]!, FNV_PRIME);
      a = Math.imul(a ^ dst[i]!, FNV_PRIME);
    }
    for (let i = 0; i < width; i += 4) {
      b = mix(b, (src[i]! << 24) | (src[i + 1]! << 16) | (src[i + 2]! << 8) | src[i + 3]!);
      b = mix(b, (dst[i]! << 24) | (dst[i + 1]! << 16) | (dst[i + 2]! << 8) | dst[i + 3]!);
    }
    this.identityA = a >>> 0 || 1;
    this.identityB = b >>> 0;
    this.depth++;
  }

  /** An immutable copy of the layers for an alarm (allocates; once per key). */
  summary(): TunnelSummary {
    const layers: TunnelLayerSummary[] = [];
    for (let i = 0; i < this.depth; i++) {
      const l = this.layers[i]!;
      layers.push({
        type: tunnelTypeName(l.type),
        family: l.family,
        source: l.src.slice(),
        destination: l.dst.slice(),
        ...(l.id >= 0 ? { id: l.id } : {}),
      });
    }
    return { layers };
  }
}
