import assert from 'node:assert/strict';
import { LinkType } from '../../src/source/frame-batch.js';
import { TcpFlag } from '../../src/decode/segment.js';
import { bsdLoop, bsdNull, ethernet, EtherType, ipv4, ipv6, sll, sll2, tcp } from '../helpers/frame-builder.js';
import { addr, decodeAt, DecodeStatus, fresh } from './harness.js';

const syn = tcp({ srcPort: 40001, dstPort: 445, flags: TcpFlag.SYN, payload: 3 });
const v4 = ipv4({ src: '198.18.0.2', dst: '198.18.0.1', ttl: 61, payload: syn });
const v6 = ipv6({ src: 'fd00::2', dst: 'fd00::1', hopLimit: 59, payload: syn });

function expectSyn4(dec = fresh(), frame: Uint8Array, lt: number, vlan = 0): ReturnType<typeof fresh> {
  assert.equal(decodeAt(dec, frame, lt, 5, vlan), DecodeStatus.Segment);
  const s = dec.segment;
  assert.equal(s.family, 4);
  assert.equal(addr(s, 'src'), '198.18.0.2');
  assert.equal(addr(s, 'dst'), '198.18.0.1');
  assert.equal(s.srcPort, 40001);
  assert.equal(s.dstPort, 445);
  assert.equal(s.flags, TcpFlag.SYN);
  assert.equal(s.payloadLength, 3);
  assert.equal(s.ttl, 61);
  assert.equal(s.tsMicros, 5);
  assert.equal(s.reassembled, false);
  return dec;
}

function expectSyn6(dec = fresh(), frame: Uint8Array, lt: number): ReturnType<typeof fresh> {
  assert.equal(decodeAt(dec, frame, lt), DecodeStatus.Segment);
  const s = dec.segment;
  assert.equal(s.family, 6);
  assert.equal(addr(s, 'src'), 'fd00:0:0:0:0:0:0:2');
  assert.equal(addr(s, 'dst'), 'fd00:0:0:0:0:0:0:1');
  assert.equal(s.dstPort, 445);
  assert.equal(s.ttl, 59);
  assert.equal(s.payloadLength, 3);
  return dec;
}

describe('decode: link layers', () => {
  it('Ethernet II with IPv4 and IPv6, ignoring padding after the datagram', () => {
    expectSyn4(fresh(), ethernet(v4), LinkType.ETHERNET);
    expectSyn6(fresh(), ethernet(v6), LinkType.ETHERNET);
    const padded = new Uint8Array(ethernet(v4).length + 20);
    padded.set(ethernet(v4));
    expectSyn4(fresh(), padded, LinkType.ETHERNET);
  });

  it('802.1Q, QinQ (0x88a8 and 0x9100) and three stacked tags record outer/inner ids', () => {
    let d = expectSyn4(fresh(), ethernet(v4, { vlans: [100] }), LinkType.ETHERNET);
    assert.deepEqual([d.segment.vlanOuter, d.segment.vlanInner], [100, 0]);
    d = expectSyn4(fresh(), ethernet(v4, { vlans: [{ id: 10, tpid: EtherType.QINQ, pcp: 7 }, { id: 20, dei: true }] }), LinkType.ETHERNET);
    assert.deepEqual([d.segment.vlanOuter, d.segment.vlanInner], [10, 20]);
    d = expectSyn6(fresh(), ethernet(v6, { vlans: [{ id: 4095, tpid: EtherType.QINQ_OLD }, 5, 6] }), LinkType.ETHERNET);
    assert.deepEqual([d.segment.vlanOuter, d.segment.vlanInner], [4095, 5]);
  });

  it('a VLAN id stripped by the capture layer is the outer one', () => {
    let d = expectSyn4(fresh(), ethernet(v4), LinkType.ETHERNET, 300);
    assert.deepEqual([d.segment.vlanOuter, d.segment.vlanInner], [300, 0]);
    d = expectSyn4(fresh(), ethernet(v4, { vlans: [7] }), LinkType.ETHERNET, 300);
    assert.deepEqual([d.segment.vlanOuter, d.segment.vlanInner], [300, 7]);
  });

  it('the tag count is bounded: 8 tags decode, 9 are malformed', () => {
    expectSyn4(fresh(), ethernet(v4, { vlans: [1, 2, 3, 4, 5, 6, 7, 8] }), LinkType.ETHERNET);
    const d = fresh();
    assert.equal(decodeAt(d, ethernet(v4, { vlans: [1, 2, 3, 4, 5, 6, 7, 8, 9] }), LinkType.ETHERNET), DecodeStatus.Malformed);
    assert.equal(d.counters.malformed, 1);
  });

  it('non-IP ethertypes (ARP, 802.3 length) are NotTcp and counted notIp', () => {
    const d = fresh();
    assert.equal(decodeAt(d, ethernet(new Uint8Array(28), { etherType: EtherType.ARP }), LinkType.ETHERNET), DecodeStatus.NotTcp);
    assert.equal(decodeAt(d, ethernet(new Uint8Array(46), { etherType: 46 }), LinkType.ETHERNET), DecodeStatus.NotTcp);
    assert.equal(d.counters.notIp, 2);
    assert.equal(d.counters.malformed, 0);
  });

  it('an ethertype that disagrees with the IP version nibble is malformed', () => {
    const d = fresh();
    assert.equal(decodeAt(d, ethernet(v6, { etherType: EtherType.IPV4 }), LinkType.ETHERNET), DecodeStatus.Malformed);
    assert.equal(decodeAt(d, ethernet(v4, { etherType: EtherType.IPV6 }), LinkType.ETHERNET), DecodeStatus.Malformed);
    assert.equal(d.counters.malformed, 2);
  });

  it('Linux SLL, including a VLAN tag inside (protocol 0x8100)', () => {
    expectSyn4(fresh(), sll(v4), LinkType.LINUX_SLL);
    expectSyn6(fresh(), sll(v6), LinkType.LINUX_SLL);
    const d = expectSyn4(fresh(), sll(v4, { vlans: [42] }), LinkType.LINUX_SLL);
    assert.equal(d.segment.vlanOuter, 42);
  });

  it('Linux SLL2 (protocol at offset 0), also with a tag inside', () => {
    expectSyn4(fresh(), sll2(v4), LinkType.LINUX_SLL2);
    expectSyn6(fresh(), sll2(v6), LinkType.LINUX_SLL2);
    const d = expectSyn6(fresh(), sll2(v6, { vlans: [9, 10] }), LinkType.LINUX_SLL2);
    assert.deepEqual([d.segment.vlanOuter, d.segment.vlanInner], [9, 10]);
  });

  it('raw IP: 101 by version nibble, 228 IPv4 only, 229 IPv6 only', () => {
    expectSyn4(fresh(), v4, LinkType.RAW);
    expectSyn6(fresh(), v6, LinkType.RAW);
    expectSyn4(fresh(), v4, LinkType.IPV4);
    expectSyn6(fresh(), v6, LinkType.IPV6);
    const d = fresh();
    assert.equal(decodeAt(d, v4, LinkType.IPV6), DecodeStatus.Malformed);
    assert.equal(decodeAt(d, v6, LinkType.IPV4), DecodeStatus.Malformed);
    const odd = Uint8Array.from(v4);
    odd[0] = 0x55;
    assert.equal(decodeAt(d, odd, LinkType.RAW), DecodeStatus.NotTcp);
    assert.equal(d.counters.notIp, 1);
  });

  it('BSD NULL in either byte order with every AF_INET6 value, and LOOP in network order', () => {
    expectSyn4(fresh(), bsdNull(v4), LinkType.NULL);
    expectSyn4(fresh(), bsdNull(v4, { littleEndian: false }), LinkType.NULL);
    for (const af of [24, 28, 30]) {
      expectSyn6(fresh(), bsdNull(v6, { family: af }), LinkType.NULL);
      expectSyn6(fresh(), bsdNull(v6, { family: af, littleEndian: false }), LinkType.NULL);
    }
    expectSyn4(fresh(), bsdLoop(v4), LinkType.LOOP);
    expectSyn6(fresh(), bsdLoop(v6), LinkType.LOOP);
    const d = fresh();
    assert.equal(decodeAt(d, bsdNull(v4, { family: 7 }), LinkType.NULL), DecodeStatus.NotTcp);
    // LOOP is network order only: a little-endian AF_INET is not IPv4 there.
    assert.equal(decodeAt(d, bsdNull(v4, { littleEndian: true }), LinkType.LOOP), DecodeStatus.NotTcp);
    assert.equal(d.counters.notIp, 2);
  });

  it('unknown link types are counted, not thrown', () => {
    const d = fresh();
    assert.equal(decodeAt(d, ethernet(v4), 147), DecodeStatus.NotTcp);
    assert.equal(d.counters.unknownLinktype, 1);
    assert.equal(d.counters.frames, 1);
  });

  it('a caplen larger than the buffer is treated as a cut capture', () => {
    const d = fresh();
    const f = Buffer.from(ethernet(v4));
    assert.equal(d.decode(f, 0, f.length + 100, LinkType.ETHERNET, 0), DecodeStatus.Segment);
    assert.equal(d.counters.truncated, 1);
  });
});
