import assert from 'node:assert/strict';
import { LinkType } from '../../src/source/frame-batch.js';
import { TcpFlag } from '../../src/decode/segment.js';
import { MAX_EXT_HEADERS } from '../../src/decode/ipv6-chain.js';
import { ethernet, fragmentIpv6, ipv6, type Ipv6Extension, Proto, tcp } from '../helpers/frame-builder.js';
import { addr, decodeAt, DecodeStatus, fresh } from './harness.js';

const ETH = LinkType.ETHERNET;
const syn = tcp({ srcPort: 50000, dstPort: 22, flags: TcpFlag.SYN | TcpFlag.ECE | TcpFlag.CWR, payload: 10 });

function pkt(extensions: Ipv6Extension[], payload: Uint8Array = syn, nextHeader: number = Proto.TCP): Uint8Array {
  return ipv6({ src: 'fd00:18::3', dst: 'fd00:18::1', hopLimit: 64, extensions, payload, nextHeader });
}

function expectSyn(d: ReturnType<typeof fresh>, status: DecodeStatus, reassembled = false): void {
  assert.equal(status, DecodeStatus.Segment);
  const s = d.segment;
  assert.equal(s.family, 6);
  assert.equal(addr(s, 'src'), 'fd00:18:0:0:0:0:0:3');
  assert.deepEqual([s.srcPort, s.dstPort, s.flags, s.payloadLength, s.ttl, s.reassembled], [50000, 22, 0xc2, 10, 64, reassembled]);
}

describe('decode: IPv6 extension headers', () => {
  const single: Array<[string, Ipv6Extension]> = [
    ['hop-by-hop', { type: 'hopByHop', options: [5, 2, 0, 0] }], // router alert
    ['routing type 0', { type: 'routing', routingType: 0, addresses: ['fd00::9', 'fd00:18::1'] }],
    ['routing type 2, segments left 0', { type: 'routing', routingType: 2, segmentsLeft: 0, addresses: ['fd00::77'] }],
    ['destination options (home address)', { type: 'destination', options: [0xc9, 16, ...new Array(16).fill(0xab)] }],
    ['authentication header', { type: 'ah', icvLength: 12 }],
    ['atomic fragment', { type: 'fragment', offset: 0, more: false, id: 77 }],
  ];
  for (const [name, ext] of single) {
    it(`walks ${name}`, () => {
      const d = fresh();
      expectSyn(d, decodeAt(d, ethernet(pkt([ext])), ETH));
    });
  }

  it('walks a chain of every kind', () => {
    const d = fresh();
    const chain: Ipv6Extension[] = [
      { type: 'hopByHop' },
      { type: 'destination', options: [1, 0] },
      { type: 'routing', addresses: ['fd00::5'] },
      { type: 'fragment', id: 5 },
      { type: 'ah', icvLength: 16 },
      { type: 'destination', options: new Array(30).fill(0) },
    ];
    expectSyn(d, decodeAt(d, ethernet(pkt(chain)), ETH));
    assert.equal(d.counters.ipv6Fragments, 0, 'an atomic fragment is not a fragment');
  });

  it(`accepts ${MAX_EXT_HEADERS} extension headers and rejects one more`, () => {
    const d = fresh();
    const many = (n: number): Ipv6Extension[] => Array.from({ length: n }, () => ({ type: 'destination' }) as Ipv6Extension);
    expectSyn(d, decodeAt(d, ethernet(pkt(many(MAX_EXT_HEADERS))), ETH));
    assert.equal(decodeAt(d, ethernet(pkt(many(MAX_EXT_HEADERS + 1))), ETH), DecodeStatus.Malformed);
  });

  it('no next header (59), mobility (135), ESP (50) and UDP end the walk as NotTcp', () => {
    const d = fresh();
    assert.equal(decodeAt(d, ethernet(pkt([{ type: 'destination' }], new Uint8Array(0), Proto.NONE)), ETH), DecodeStatus.NotTcp);
    assert.equal(decodeAt(d, ethernet(pkt([{ type: 'raw', code: Proto.MOBILITY, bytes: [0, 5, 0, 0, 0, 0, 0] }], syn)), ETH), DecodeStatus.NotTcp);
    assert.equal(decodeAt(d, ethernet(pkt([], new Uint8Array(24), Proto.ESP)), ETH), DecodeStatus.NotTcp);
    assert.equal(decodeAt(d, ethernet(pkt([{ type: 'hopByHop' }], new Uint8Array(8), Proto.UDP)), ETH), DecodeStatus.NotTcp);
    assert.equal(d.counters.malformed, 0);
  });

  it('an extension header running past the payload length is malformed; past the capture, truncated', () => {
    const d = fresh();
    const p = pkt([{ type: 'destination', options: new Array(30).fill(0) }], new Uint8Array(0), Proto.NONE);
    const lying = Uint8Array.from(p);
    lying[5] = 16; // payload length 16 < the 32-byte header
    assert.equal(decodeAt(d, ethernet(lying), ETH), DecodeStatus.Malformed);
    assert.equal(d.counters.truncated, 0);
    assert.equal(decodeAt(d, ethernet(p).subarray(0, 14 + 40 + 20), ETH), DecodeStatus.Malformed);
    assert.equal(d.counters.truncated, 1);
    assert.equal(d.counters.malformed, 2);
  });

  it('BIG TCP: payload length 0 with a Jumbo Payload option uses the option', () => {
    const d = fresh();
    const big = tcp({ srcPort: 1, dstPort: 2, flags: TcpFlag.ACK, payload: 70000 });
    const p = ipv6({ src: 'fd00::1', dst: 'fd00::2', payloadLength: 0, extensions: [{ type: 'hopByHop', jumbo: 8 + big.length }], payload: big });
    assert.equal(decodeAt(d, ethernet(p), ETH), DecodeStatus.Segment);
    assert.equal(d.segment.payloadLength, 70000);
    // Cut by a snap length: the option still gives the true length.
    assert.equal(decodeAt(d, ethernet(p).subarray(0, 200), ETH), DecodeStatus.Segment);
    assert.equal(d.segment.payloadLength, 70000);
    assert.equal(d.counters.truncated, 1);
  });

  it('payload length 0 without a jumbo option falls back to the captured bytes', () => {
    const d = fresh();
    const p = ipv6({ src: 'fd00::1', dst: 'fd00::2', payloadLength: 0, payload: tcp({ srcPort: 1, dstPort: 2, payload: 100 }) });
    assert.equal(decodeAt(d, ethernet(p), ETH), DecodeStatus.Segment);
    assert.equal(d.segment.payloadLength, 100);
  });
});

describe('decode: IPv6 fragment reassembly', () => {
  // 82 bytes of IPv6 payload: TCP header 24 + 58.
  const whole = pkt([], tcp({ srcPort: 50000, dstPort: 22, flags: 0xc2, options: [2, 4, 5, 0xb4], payload: 10 + 48 }));

  function check(d: ReturnType<typeof fresh>, st: DecodeStatus): void {
    assert.equal(st, DecodeStatus.Segment);
    assert.equal(d.segment.reassembled, true);
    assert.deepEqual([d.segment.dstPort, d.segment.flags, d.segment.payloadLength, d.segment.ttl], [22, 0xc2, 58, 64]);
    assert.equal(addr(d.segment, 'dst'), 'fd00:18:0:0:0:0:0:1');
  }

  it('in order and out of order', () => {
    for (const order of [
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
      [10, 3, 7, 1, 0, 9, 2, 8, 6, 4, 5],
    ]) {
      const d = fresh();
      const frags = fragmentIpv6(whole, 8).map((f) => ethernet(f));
      assert.equal(frags.length, order.length);
      const st = order.map((i) => decodeAt(d, frags[i], ETH));
      assert.ok(st.slice(0, -1).every((s) => s === DecodeStatus.Pending));
      check(d, st[st.length - 1]);
      assert.equal(d.counters.ipv6Fragments, frags.length);
    }
  });

  it('keeps hop-by-hop and routing headers in the unfragmentable part', () => {
    const d = fresh();
    const p = pkt([{ type: 'hopByHop' }, { type: 'routing', routingType: 2, segmentsLeft: 0, addresses: ['fd00::4'] }], whole.subarray(40));
    const st = fragmentIpv6(p, 24).map((f) => decodeAt(d, ethernet(f), ETH));
    check(d, st[st.length - 1]);
  });

  it('finds TCP behind a destination options header inside the fragmentable part', () => {
    const d = fresh();
    const p = pkt([{ type: 'destination', options: new Array(14).fill(0) }], whole.subarray(40));
    const frags = fragmentIpv6(p, 16);
    assert.equal(frags[0][40], Proto.DSTOPTS, 'fragment header says destination options follow');
    const st = frags.map((f) => decodeAt(d, ethernet(f), ETH));
    check(d, st[st.length - 1]);
  });

  it('duplicates and identical overlaps are accepted; conflicting overlaps discard (RFC 5722)', () => {
    let d = fresh();
    let frags = fragmentIpv6(whole, [
      { offset: 0, length: 32 },
      { offset: 0, length: 32 },
      { offset: 24, length: 24 },
      { offset: 48, length: 34 },
    ]).map((f) => ethernet(f));
    check(d, frags.map((f) => decodeAt(d, f, ETH))[3]);

    d = fresh();
    const conflicting = Uint8Array.from(whole.subarray(40 + 8, 40 + 16));
    conflicting[1] ^= 1; // destination port low byte
    frags = fragmentIpv6(whole, [
      { offset: 0, length: 8 },
      { offset: 0, length: 16, data: Uint8Array.from([...whole.subarray(40, 48), ...conflicting]) },
      { offset: 8, length: 74 },
    ]).map((f) => ethernet(f));
    const st = frags.map((f) => decodeAt(d, f, ETH));
    assert.equal(st[0], DecodeStatus.Pending);
    assert.equal(st[1], DecodeStatus.Pending, 'bytes 8..16 were new, bytes 0..8 agree');
    assert.equal(st[2], DecodeStatus.Malformed, 'now 8..16 disagree');
    assert.equal(d.counters.fragmentOverlaps, 1);
  });

  it('a non-final fragment whose length is not a multiple of 8 is malformed', () => {
    const d = fresh();
    const frags = fragmentIpv6(whole, [{ offset: 0, length: 20, more: true }]);
    assert.equal(decodeAt(d, ethernet(frags[0]), ETH), DecodeStatus.Malformed);
  });

  it('ICMPv6 / UDP fragments are NotTcp and not stored', () => {
    const d = fresh();
    const udp = pkt([], new Uint8Array(100), Proto.UDP);
    for (const f of fragmentIpv6(udp, 32)) assert.equal(decodeAt(d, ethernet(f), ETH), DecodeStatus.NotTcp);
    assert.equal(d.fragmentsInProgress, 0);
  });

  it('keys by (src, dst, identification): same id from another source is another datagram', () => {
    const d = fresh();
    const a = fragmentIpv6(whole, 48, 9);
    const other = fragmentIpv6(ipv6({ src: 'fd00::99', dst: 'fd00:18::1', payload: whole.subarray(40) }), 48, 9);
    assert.equal(decodeAt(d, ethernet(a[0]), ETH), DecodeStatus.Pending);
    assert.equal(decodeAt(d, ethernet(other[1]), ETH), DecodeStatus.Pending);
    check(d, decodeAt(d, ethernet(a[1]), ETH));
  });
});
