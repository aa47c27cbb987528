import assert from 'node:assert/strict';
import { LinkType } from '../../src/source/frame-batch.js';
import { TcpFlag } from '../../src/decode/segment.js';
import { MAX_TUNNEL_DEPTH, TunnelType } from '../../src/decode/tunnel.js';
import { ethernet, fragmentIpv4, fragmentIpv6, ipv4, ipv6, tcp } from '../helpers/frame-builder.js';
import { erspan, geneve, gre, udp, vxlan } from '../helpers/tunnel-builder.js';
import { addr, decodeAt, DecodeStatus, fresh } from './harness.js';

const GRE = 47;
const UDP = 17;
const syn = tcp({ srcPort: 40001, dstPort: 445, flags: TcpFlag.SYN });
const inner4 = ipv4({ src: '10.0.0.5', dst: '10.0.0.1', ttl: 63, payload: syn });
const inner6 = ipv6({ src: 'fd00:aa::5', dst: 'fd00:aa::1', hopLimit: 62, payload: syn });
const outer4 = (protocol: number, payload: Uint8Array): Uint8Array => ethernet(ipv4({ src: '198.18.0.1', dst: '198.18.0.2', protocol, payload }));
const outer6 = (nextHeader: number, payload: Uint8Array): Uint8Array => ethernet(ipv6({ src: 'fd00:18::1', dst: 'fd00:18::2', nextHeader, payload }));

/** Decodes and checks the inner IPv4 SYN; returns the decoder for more checks. */
function expectInner4(frame: Uint8Array): ReturnType<typeof fresh> {
  const d = fresh();
  assert.equal(decodeAt(d, frame, LinkType.ETHERNET), DecodeStatus.Segment);
  const s = d.segment;
  assert.equal(s.family, 4);
  assert.equal(addr(s, 'src'), '10.0.0.5');
  assert.equal(addr(s, 'dst'), '10.0.0.1');
  assert.equal(s.dstPort, 445);
  assert.equal(s.ttl, 63);
  assert.equal(s.flags, TcpFlag.SYN);
  assert.equal(d.counters.tunnelled, 1);
  return d;
}

function expectInner6(frame: Uint8Array): ReturnType<typeof fresh> {
  const d = fresh();
  assert.equal(decodeAt(d, frame, LinkType.ETHERNET), DecodeStatus.Segment);
  assert.equal(d.segment.family, 6);
  assert.equal(addr(d.segment, 'src'), 'fd00:aa:0:0:0:0:0:5');
  assert.equal(d.segment.ttl, 62);
  return d;
}

function layer(d: ReturnType<typeof fresh>, i = 0): { type: number; id: number; src: string; dst: string } {
  const l = d.segment.tunnel.layers[i]!;
  return { type: l.type, id: l.id, src: addr({ family: l.family, src: l.src, dst: l.dst }, 'src'), dst: addr({ family: l.family, src: l.src, dst: l.dst }, 'dst') };
}

describe('decode: tunnels', () => {
  it('IP-in-IP and IPv6-in-IP, over IPv4 and IPv6 outer headers', () => {
    let d = expectInner4(outer4(4, inner4));
    assert.deepEqual(layer(d), { type: TunnelType.Ipv4InIp, id: -1, src: '198.18.0.1', dst: '198.18.0.2' });
    d = expectInner6(outer4(41, inner6));
    assert.equal(layer(d).type, TunnelType.Ipv6InIp);
    d = expectInner4(outer6(4, inner4));
    assert.deepEqual(layer(d), { type: TunnelType.Ipv4InIp, id: -1, src: 'fd00:18:0:0:0:0:0:1', dst: 'fd00:18:0:0:0:0:0:2' });
    expectInner6(outer6(41, inner6));
    // ip6tnl puts a Destination Options header (tunnel encapsulation limit) before the inner packet.
    const limit = ethernet(ipv6({ src: 'fd00:18::1', dst: 'fd00:18::2', nextHeader: 4, extensions: [{ type: 'destination', options: [4, 1, 4, 1, 1, 0] }], payload: inner4 }));
    expectInner4(limit);
  });

  it('GRE with IPv4, IPv6 and Ethernet payloads, checksum, key and sequence fields', () => {
    let d = expectInner4(outer4(GRE, gre(inner4, { protocol: 0x0800 })));
    assert.deepEqual(layer(d), { type: TunnelType.Gre, id: -1, src: '198.18.0.1', dst: '198.18.0.2' });
    d = expectInner4(outer4(GRE, gre(inner4, { protocol: 0x0800, checksum: true, key: 0xfffffffe, sequence: 9 })));
    assert.equal(layer(d).id, 0xfffffffe);
    expectInner6(outer6(GRE, gre(inner6, { protocol: 0x86dd, key: 7 })));
    d = expectInner4(outer4(GRE, gre(ethernet(inner4, { vlans: [33] }), { protocol: 0x6558, key: 5 })));
    assert.equal(layer(d).id, 5);
    assert.equal(d.segment.vlanOuter, 0, 'a tag inside the tunnel is not the captured frame\'s');
  });

  it('ERSPAN types I, II and III (with and without the platform subheader) carry the session id', () => {
    const frame = ethernet(inner4);
    let d = expectInner4(outer4(GRE, gre(frame, { protocol: 0x88be })));
    assert.deepEqual([layer(d).type, layer(d).id], [TunnelType.Erspan, -1]);
    d = expectInner4(outer4(GRE, gre(erspan(frame, { type: 2, session: 0x3ff }), { protocol: 0x88be, sequence: 1 })));
    assert.deepEqual([layer(d).type, layer(d).id], [TunnelType.Erspan, 0x3ff]);
    d = expectInner4(outer4(GRE, gre(erspan(frame, { type: 3, session: 17 }), { protocol: 0x22eb, sequence: 1 })));
    assert.equal(layer(d).id, 17);
    d = expectInner4(outer4(GRE, gre(erspan(frame, { type: 3, session: 18, platform: true }), { protocol: 0x22eb, sequence: 1 })));
    assert.equal(layer(d).id, 18);
  });

  it('VXLAN on UDP 4789 and Geneve on UDP 6081 (options skipped), VNI recorded', () => {
    let d = expectInner4(outer4(UDP, udp(vxlan(ethernet(inner4), { vni: 0xabcdef }), { dstPort: 4789, srcPort: 51234 })));
    assert.deepEqual(layer(d), { type: TunnelType.Vxlan, id: 0xabcdef, src: '198.18.0.1', dst: '198.18.0.2' });
    d = expectInner6(outer6(UDP, udp(vxlan(ethernet(inner6), { vni: 1 }), { dstPort: 4789 })));
    d = expectInner4(outer4(UDP, udp(geneve(ethernet(inner4), { vni: 300, protocol: 0x6558, optionWords: 3 }), { dstPort: 6081 })));
    assert.deepEqual([layer(d).type, layer(d).id], [TunnelType.Geneve, 300]);
    expectInner6(outer4(UDP, udp(geneve(inner6, { vni: 2, protocol: 0x86dd }), { dstPort: 6081 })));
  });

  it('nested tunnels record every layer, outermost first, up to the stated depth', () => {
    // VXLAN inside GRE inside IPv6.
    const vx = ipv4({ src: '198.19.0.1', dst: '198.19.0.2', protocol: UDP, payload: udp(vxlan(ethernet(inner4), { vni: 42 }), { dstPort: 4789 }) });
    const d = expectInner4(outer6(GRE, gre(vx, { protocol: 0x0800, key: 3 })));
    assert.equal(d.segment.tunnel.depth, 2);
    assert.deepEqual(layer(d, 0), { type: TunnelType.Gre, id: 3, src: 'fd00:18:0:0:0:0:0:1', dst: 'fd00:18:0:0:0:0:0:2' });
    assert.deepEqual(layer(d, 1), { type: TunnelType.Vxlan, id: 42, src: '198.19.0.1', dst: '198.19.0.2' });

    let pkt = inner4;
    for (let i = 0; i < MAX_TUNNEL_DEPTH; i++) pkt = ipv4({ src: '198.18.0.1', dst: '198.18.0.2', protocol: 4, payload: pkt });
    const ok = fresh();
    assert.equal(decodeAt(ok, pkt, LinkType.RAW), DecodeStatus.Segment);
    assert.equal(ok.segment.tunnel.depth, MAX_TUNNEL_DEPTH);
    const deep = fresh();
    assert.equal(decodeAt(deep, ipv4({ src: '198.18.0.1', dst: '198.18.0.2', protocol: 4, payload: pkt }), LinkType.RAW), DecodeStatus.Malformed);
    assert.deepEqual([deep.counters.tunnelTooDeep, deep.counters.malformed], [1, 1]);
  });

  it('an untunnelled frame after a tunnelled one has depth 0 and no identity', () => {
    const d = fresh();
    assert.equal(decodeAt(d, outer4(4, inner4), LinkType.ETHERNET), DecodeStatus.Segment);
    assert.notEqual(d.segment.tunnel.identityA, 0);
    assert.equal(decodeAt(d, ethernet(inner4), LinkType.ETHERNET), DecodeStatus.Segment);
    assert.deepEqual([d.segment.tunnel.depth, d.segment.tunnel.identityA, d.segment.tunnel.identityB], [0, 0, 0]);
  });

  it('identity: the same overlay gives the same words whatever the outer UDP port; another VNI or endpoint differs', () => {
    const ident = (frame: Uint8Array): string => {
      const d = fresh();
      assert.equal(decodeAt(d, frame, LinkType.ETHERNET), DecodeStatus.Segment);
      return `${d.segment.tunnel.identityA}/${d.segment.tunnel.identityB}`;
    };
    const vx = (vni: number, srcPort: number, src = '198.18.0.1'): Uint8Array =>
      ethernet(ipv4({ src, dst: '198.18.0.2', protocol: UDP, payload: udp(vxlan(ethernet(inner4), { vni }), { dstPort: 4789, srcPort }) }));
    assert.equal(ident(vx(100, 1000)), ident(vx(100, 2000)));
    assert.notEqual(ident(vx(100, 1000)), ident(vx(200, 1000)));
    assert.notEqual(ident(vx(100, 1000)), ident(vx(100, 1000, '198.18.0.9')));
    assert.notEqual(ident(outer4(4, inner4)), ident(outer4(GRE, gre(inner4, { protocol: 0x0800 }))));
  });

  it('an inner datagram fragmented inside the tunnel is reassembled', () => {
    const frags = fragmentIpv4(inner4, 8).map((f) => outer4(UDP, udp(vxlan(ethernet(f), { vni: 9 }), { dstPort: 4789 })));
    const d = fresh();
    const st = frags.map((f) => decodeAt(d, f, LinkType.ETHERNET));
    assert.equal(st.at(-1), DecodeStatus.Segment);
    assert.equal(d.segment.reassembled, true);
    assert.equal(d.segment.tunnel.layers[0]!.id, 9);
  });

  it('fragments of two overlays reusing the same inner addresses and IP id are two datagrams, not one conflict', () => {
    const a = ipv4({ src: '10.0.0.5', dst: '10.0.0.1', id: 77, payload: tcp({ srcPort: 1, dstPort: 445, flags: TcpFlag.SYN }) });
    const b = ipv4({ src: '10.0.0.5', dst: '10.0.0.1', id: 77, payload: tcp({ srcPort: 2, dstPort: 139, flags: TcpFlag.SYN }) });
    const wrap = (vni: number) => (f: Uint8Array): Uint8Array => outer4(UDP, udp(vxlan(ethernet(f), { vni }), { dstPort: 4789 }));
    const fa = fragmentIpv4(a, 8).map(wrap(100));
    const fb = fragmentIpv4(b, 8).map(wrap(200));
    const d = fresh();
    const done: string[] = [];
    for (let i = 0; i < fa.length; i++) {
      for (const f of [fa[i]!, fb[i]!]) {
        if (decodeAt(d, f, LinkType.ETHERNET) === DecodeStatus.Segment) done.push(`${d.segment.dstPort}@${d.segment.tunnel.layers[0]!.id}`);
      }
    }
    assert.deepEqual(done, ['445@100', '139@200']);
    assert.equal(d.counters.fragmentOverlaps, 0);
  });

  it('an outer datagram fragmented around GRE or IP-in-IP is reassembled, then decoded (IPv4 and IPv6 outer)', () => {
    const big = ipv4({ src: '10.0.0.5', dst: '10.0.0.1', ttl: 63, payload: tcp({ srcPort: 40001, dstPort: 445, flags: TcpFlag.SYN, payload: 1400 }) });
    const g4 = ipv4({ src: '198.18.0.1', dst: '198.18.0.2', id: 9, protocol: GRE, payload: gre(ethernet(big), { protocol: 0x6558, key: 33 }) });
    const ipip = ipv4({ src: '198.18.0.1', dst: '198.18.0.2', id: 10, protocol: 4, payload: big });
    for (const pieces of [fragmentIpv4(g4, 1000), fragmentIpv4(g4, 8).reverse(), fragmentIpv4(ipip, 16)]) {
      const d = fresh();
      const st = pieces.map((f) => decodeAt(d, ethernet(f), LinkType.ETHERNET));
      assert.equal(st.at(-1), DecodeStatus.Segment);
      assert.ok(st.slice(0, -1).every((x) => x === DecodeStatus.Pending));
      assert.deepEqual([addr(d.segment, 'src'), d.segment.dstPort, d.segment.ttl, d.segment.reassembled, d.segment.payloadLength], ['10.0.0.5', 445, 63, true, 1400]);
      assert.deepEqual([layer(d).src, layer(d).dst], ['198.18.0.1', '198.18.0.2']);
      assert.deepEqual([d.counters.reassembled, d.counters.truncated, d.counters.malformed], [1, 0, 0]);
    }
    // Fragmented VXLAN is not held (its endpoints must not fragment; a later UDP fragment cannot be told from DNS).
    const vx = ipv4({ src: '198.18.0.1', dst: '198.18.0.2', id: 11, protocol: UDP, payload: udp(vxlan(ethernet(big), { vni: 33 }), { dstPort: 4789 }) });
    const dv = fresh();
    assert.ok(fragmentIpv4(vx, 1000).every((f) => decodeAt(dv, ethernet(f), LinkType.ETHERNET) === DecodeStatus.NotTcp));
    assert.equal(dv.fragmentsInProgress, 0);
    const g6 = ipv6({ src: 'fd00:18::1', dst: 'fd00:18::2', nextHeader: GRE, payload: gre(big, { protocol: 0x0800, key: 4 }) });
    const d = fresh();
    const st = fragmentIpv6(g6, 512).map((f) => decodeAt(d, ethernet(f), LinkType.ETHERNET));
    assert.equal(st.at(-1), DecodeStatus.Segment);
    assert.deepEqual(layer(d), { type: TunnelType.Gre, id: 4, src: 'fd00:18:0:0:0:0:0:1', dst: 'fd00:18:0:0:0:0:0:2' });
    // The live sensor's decoder does not follow tunnels: the fragments are not even held.
    const live = fresh({ followTunnels: false });
    assert.ok(fragmentIpv4(g4, 1000).every((f) => decodeAt(live, ethernet(f), LinkType.ETHERNET) === DecodeStatus.NotTcp));
    assert.equal(live.fragmentsInProgress, 0);
  });

  it('outer fragments that disagree on the inner headers discard the datagram (two readings of the probe)', () => {
    const gt = (port: number): Uint8Array =>
      ipv4({ src: '198.18.0.1', dst: '198.18.0.2', id: 5, protocol: GRE, payload: gre(ethernet(ipv4({ src: '10.0.0.5', dst: '10.0.0.1', payload: tcp({ srcPort: 1, dstPort: port, flags: TcpFlag.SYN, payload: 64 }) })), { protocol: 0x6558 }) });
    const a = fragmentIpv4(gt(445), 32);
    const b = fragmentIpv4(gt(139), 32);
    const d = fresh();
    // b's second piece holds the inner TCP ports: a different reading of bytes a's pieces already gave.
    const st = [a[0]!, a[1]!, b[1]!, ...a.slice(2)].map((f) => decodeAt(d, ethernet(f), LinkType.ETHERNET));
    assert.ok(!st.includes(DecodeStatus.Segment), `statuses ${st}`);
    assert.equal(d.counters.fragmentOverlaps, 1);
  });

  it('not tunnels: UDP to other ports, GRE version 1, ARP inside VXLAN, other GRE payloads', () => {
    const cases = [
      outer4(UDP, udp(vxlan(ethernet(inner4), { vni: 1 }), { dstPort: 8472 })),
      outer4(GRE, gre(inner4, { protocol: 0x880b, flags: 0x2001 })),
      outer4(UDP, udp(vxlan(ethernet(new Uint8Array(28), { etherType: 0x0806 }), { vni: 1 }), { dstPort: 4789 })),
      outer4(GRE, gre(new Uint8Array(40), { protocol: 0x8847 })),
    ];
    for (const f of cases) {
      const d = fresh();
      assert.equal(decodeAt(d, f, LinkType.ETHERNET), DecodeStatus.NotTcp);
      assert.equal(d.counters.malformed, 0);
    }
  });

  it('every encapsulation cut at every byte (truncated and malformed before the inner TCP flags, the probe after) or with any byte changed (never thrown)', () => {
    const eth = ethernet(inner4);
    const frames: [string, Uint8Array][] = [
      ['ipip', outer4(4, inner4)],
      ['sit', outer4(41, inner6)],
      ['ip6tnl', outer6(4, inner4)],
      ['gre key seq csum', outer4(GRE, gre(inner4, { protocol: 0x0800, key: 1, sequence: 2, checksum: true }))],
      ['gretap over IPv6', outer6(GRE, gre(eth, { protocol: 0x6558 }))],
      ['erspan II', outer4(GRE, gre(erspan(eth, { type: 2, session: 5 }), { protocol: 0x88be, sequence: 1 }))],
      ['erspan III platform', outer6(GRE, gre(erspan(eth, { type: 3, session: 5, platform: true }), { protocol: 0x22eb, sequence: 1 }))],
      ['vxlan over IPv6', outer6(UDP, udp(vxlan(eth, { vni: 1 }), { dstPort: 4789 }))],
      ['geneve options', outer4(UDP, udp(geneve(eth, { vni: 1, protocol: 0x6558, optionWords: 2 }), { dstPort: 6081 }))],
      ['nested', outer4(GRE, gre(ipv6({ src: 'fd00::1', dst: 'fd00::2', nextHeader: UDP, payload: udp(vxlan(eth, { vni: 1 }), { dstPort: 4789 }) }), { protocol: 0x86dd }))],
    ];
    // Any byte of any of them set to 0x00, 0xff or 0x45: never an exception, and every Malformed counted once.
    const d = fresh();
    let malformed = 0;
    for (const [, whole] of frames) {
      for (let i = 0; i < whole.length; i++) {
        for (const v of [0x00, 0xff, 0x45]) {
          const f = whole.slice();
          f[i] = v;
          if (decodeAt(d, f, LinkType.ETHERNET) === DecodeStatus.Malformed) malformed++;
        }
      }
    }
    assert.equal(d.counters.malformed, malformed);
    for (const [name, whole] of frames) {
      // The inner SYN has a bare 20-byte TCP header: its flags end 6 bytes before the frame does.
      const flagsEnd = whole.length - 6;
      for (let n = 0; n <= whole.length; n++) {
        const d = fresh();
        const st = decodeAt(d, whole.subarray(0, n), LinkType.ETHERNET);
        if (n >= flagsEnd) {
          assert.equal(st, DecodeStatus.Segment, `${name} cut at ${n}`);
          assert.equal(d.segment.dstPort, 445, `${name} cut at ${n}`);
        } else {
          assert.equal(st, DecodeStatus.Malformed, `${name} cut at ${n}`);
          assert.deepEqual([d.counters.truncated, d.counters.malformed], [1, 1], `${name} cut at ${n}`);
        }
      }
    }
  });

  it('damaged tunnel headers are malformed, cut ones truncated, never thrown', () => {
    const malformed = [
      outer4(UDP, udp(vxlan(ethernet(inner4), { vni: 1, flags: 0 }), { dstPort: 4789 })), // no I flag
      outer4(UDP, udp(geneve(inner4, { vni: 1, protocol: 0x0800, version: 1 }), { dstPort: 6081 })),
      outer4(UDP, udp(geneve(inner4.subarray(0, 4), { vni: 1, protocol: 0x0800, optionWords: 63 }), { dstPort: 6081 })), // options overrun the datagram
      outer4(GRE, gre(inner4, { protocol: 0x0800, flags: 0x4000 })), // RFC 1701 routing
      outer4(GRE, gre(erspan(ethernet(inner4), { type: 2, session: 1, version: 2 }), { protocol: 0x88be, sequence: 1 })),
      outer4(GRE, new Uint8Array([0x20, 0, 8, 0, 1])), // key flag, datagram ends in the key
      outer4(4, new Uint8Array([0x60, 0, 0, 0])), // IPv4-in-IP carrying an IPv6 version nibble
    ];
    for (const [i, f] of malformed.entries()) {
      const d = fresh();
      assert.equal(decodeAt(d, f, LinkType.ETHERNET), DecodeStatus.Malformed, `case ${i}`);
      assert.equal(d.counters.malformed, 1, `case ${i}`);
    }
    const whole = outer4(UDP, udp(vxlan(ethernet(inner4), { vni: 1 }), { dstPort: 4789 }));
    // Every cut before the inner TCP flags: truncated and malformed; never an exception.
    const flagsEnd = 14 + 20 + 8 + 8 + 14 + 20 + 14;
    for (let n = 14; n < whole.length; n++) {
      const d = fresh();
      const st = decodeAt(d, whole.subarray(0, n), LinkType.ETHERNET);
      if (n < flagsEnd) {
        assert.equal(st, DecodeStatus.Malformed, `cut at ${n}`);
        assert.equal(d.counters.truncated, 1, `cut at ${n}`);
      } else assert.equal(st, DecodeStatus.Segment, `cut at ${n}`);
    }
  });
});
