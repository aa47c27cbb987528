import assert from 'node:assert/strict';
import { LinkType } from '../../src/source/frame-batch.js';
import { TcpFlag } from '../../src/decode/segment.js';
import { ethernet, fragmentIpv4, ipv4, mssOption, Proto, tcp } from '../helpers/frame-builder.js';
import { addr, decodeAt, DecodeStatus, fresh } from './harness.js';

const ETH = LinkType.ETHERNET;
const SRC = '198.18.0.66';
const DST = '198.18.0.1';

function synPacket(opts: { payload?: number; id?: number; flags?: number; dstPort?: number } = {}): Uint8Array {
  return ipv4({
    src: SRC,
    dst: DST,
    id: opts.id ?? 0x4242,
    ttl: 50,
    payload: tcp({ srcPort: 55555, dstPort: opts.dstPort ?? 3389, flags: opts.flags ?? TcpFlag.SYN, options: mssOption(1460), payload: opts.payload ?? 0 }),
  });
}

describe('decode: IPv4 and TCP', () => {
  it('reads ports, flags, TTL and payload length from IP lengths', () => {
    const d = fresh();
    const pkt = ipv4({ src: SRC, dst: DST, ttl: 33, payload: tcp({ srcPort: 1, dstPort: 65535, flags: TcpFlag.ACK | TcpFlag.PSH, payload: 100 }) });
    assert.equal(decodeAt(d, ethernet(pkt), ETH), DecodeStatus.Segment);
    const s = d.segment;
    assert.deepEqual([s.srcPort, s.dstPort, s.flags, s.payloadLength, s.ttl], [1, 65535, 0x18, 100, 33]);
    assert.equal(addr(s, 'src'), SRC);
  });

  it('skips IPv4 options (IHL > 5)', () => {
    const d = fresh();
    const pkt = ipv4({ src: SRC, dst: DST, options: [0x07, 0x0b, 0x04, ...new Array(8).fill(0)], payload: tcp({ srcPort: 7, dstPort: 445, payload: 5 }) });
    assert.equal(pkt[0] & 0x0f, 8);
    assert.equal(decodeAt(d, ethernet(pkt), ETH), DecodeStatus.Segment);
    assert.deepEqual([d.segment.srcPort, d.segment.dstPort, d.segment.payloadLength], [7, 445, 5]);
  });

  it('never rejects for a bad IP header or TCP checksum', () => {
    const d = fresh();
    const pkt = synPacket();
    pkt[10] ^= 0xff;
    pkt[20 + 16] ^= 0xff;
    assert.equal(decodeAt(d, ethernet(pkt), ETH), DecodeStatus.Segment);
  });

  it('a capture cut by a snap length still yields the segment when the flags were captured', () => {
    const d = fresh();
    const frame = ethernet(synPacket({ payload: 500 }));
    assert.equal(decodeAt(d, frame.subarray(0, 14 + 20 + 14), ETH), DecodeStatus.Segment);
    assert.equal(d.segment.payloadLength, 500 + 0, 'payload length comes from the IP length, not caplen');
    assert.equal(d.counters.truncated, 1);
    assert.equal(d.counters.malformed, 0);
    assert.equal(decodeAt(d, frame.subarray(0, 14 + 20 + 13), ETH), DecodeStatus.Malformed);
    assert.equal(d.counters.truncated, 2);
    assert.equal(d.counters.malformed, 1);
  });

  it('treats a zero total length (TSO capture) as "use the captured bytes"', () => {
    const d = fresh();
    const pkt = ipv4({ src: SRC, dst: DST, totalLength: 0, payload: tcp({ srcPort: 1, dstPort: 2, flags: TcpFlag.ACK, payload: 3000 }) });
    assert.equal(decodeAt(d, ethernet(pkt), ETH), DecodeStatus.Segment);
    assert.equal(d.segment.payloadLength, 3000);
  });

  it('rejects impossible headers: version, IHL < 5, total < IHL, TCP data offset < 5 or beyond the datagram', () => {
    const bad: Uint8Array[] = [];
    let p = synPacket();
    p[0] = 0x55;
    bad.push(p);
    bad.push(ipv4({ src: SRC, dst: DST, ihl: 4, payload: tcp({ srcPort: 1, dstPort: 2 }) }));
    bad.push(ipv4({ src: SRC, dst: DST, totalLength: 19, payload: tcp({ srcPort: 1, dstPort: 2 }) }));
    bad.push(ipv4({ src: SRC, dst: DST, payload: tcp({ srcPort: 1, dstPort: 2, dataOffset: 4 }) }));
    bad.push(ipv4({ src: SRC, dst: DST, payload: tcp({ srcPort: 1, dstPort: 2, dataOffset: 15 }) }));
    bad.push(ipv4({ src: SRC, dst: DST, totalLength: 30, payload: tcp({ srcPort: 1, dstPort: 2 }) }));
    const d = fresh();
    for (const b of bad) assert.equal(decodeAt(d, ethernet(b), ETH), DecodeStatus.Malformed);
    assert.equal(d.counters.malformed, 6);
  });

  it('non-TCP is NotTcp', () => {
    const d = fresh();
    assert.equal(decodeAt(d, ethernet(ipv4({ src: SRC, dst: DST, protocol: Proto.UDP, payload: new Uint8Array(12) })), ETH), DecodeStatus.NotTcp);
    assert.equal(d.counters.malformed, 0);
  });
});

describe('decode: IPv4 fragment reassembly', () => {
  const whole = synPacket({ payload: 40 }); // TCP 24 + 40 = 64 bytes of IP payload

  function expectReassembledSyn(d: ReturnType<typeof fresh>, status: DecodeStatus): void {
    assert.equal(status, DecodeStatus.Segment);
    const s = d.segment;
    assert.equal(s.reassembled, true);
    assert.deepEqual([s.srcPort, s.dstPort, s.flags, s.payloadLength, s.ttl], [55555, 3389, TcpFlag.SYN, 40, 50]);
    assert.equal(addr(s, 'src'), SRC);
    assert.equal(addr(s, 'dst'), DST);
  }

  it('in order, 8-byte fragments (the TCP header split across three): segment on the last', () => {
    const d = fresh();
    const frags = fragmentIpv4(whole, 8).map((f) => ethernet(f));
    assert.equal(frags.length, 8);
    for (const f of frags.slice(0, -1)) assert.equal(decodeAt(d, f, ETH, 10), DecodeStatus.Pending);
    expectReassembledSyn(d, decodeAt(d, frags[frags.length - 1], ETH, 11));
    assert.equal(d.segment.tsMicros, 11);
    assert.equal(d.counters.ipv4Fragments, 8);
    assert.equal(d.counters.reassembled, 1);
    assert.equal(d.fragmentsInProgress, 0);
  });

  it('out of order: the last fragment first, the header fragment last', () => {
    const d = fresh();
    const frags = fragmentIpv4(whole, 16).map((f) => ethernet(f));
    const order = [3, 1, 2, 0];
    const st = order.map((i) => decodeAt(d, frags[i], ETH));
    assert.deepEqual(st.slice(0, 3), [DecodeStatus.Pending, DecodeStatus.Pending, DecodeStatus.Pending]);
    expectReassembledSyn(d, st[3]);
  });

  it('duplicated fragments are accepted as retransmissions', () => {
    const d = fresh();
    const frags = fragmentIpv4(whole, 16).map((f) => ethernet(f));
    const st = [0, 0, 1, 1, 2, 3].map((i) => decodeAt(d, frags[i], ETH));
    expectReassembledSyn(d, st[5]);
    assert.equal(d.counters.fragmentOverlaps, 0);
  });

  it('overlapping fragments with identical bytes are accepted', () => {
    const d = fresh();
    const frags = fragmentIpv4(whole, [
      { offset: 0, length: 24 },
      { offset: 16, length: 32 }, // overlaps 16..24 with the same bytes
      { offset: 8, length: 48 }, // covers the middle again
      { offset: 48, length: 16, more: false },
    ]).map((f) => ethernet(f));
    const st = frags.map((f) => decodeAt(d, f, ETH));
    expectReassembledSyn(d, st[3]);
    assert.equal(d.counters.fragmentOverlaps, 0);
  });

  it('a conflicting overlap discards the datagram (offset-1 rewrite of the TCP flags)', () => {
    const d = fresh();
    const tcpPart = whole.subarray(20);
    const rewritten = Uint8Array.from(tcpPart.subarray(8, 16));
    rewritten[13 - 8] = TcpFlag.ACK; // flags byte lives at TCP offset 13
    const frags = fragmentIpv4(whole, [
      { offset: 0, length: 16 },
      { offset: 8, length: 8, data: rewritten },
      { offset: 16, length: 48 },
    ]).map((f) => ethernet(f));
    const st = frags.map((f) => decodeAt(d, f, ETH));
    assert.deepEqual(st.slice(0, 2), [DecodeStatus.Pending, DecodeStatus.Malformed]);
    assert.equal(d.counters.fragmentOverlaps, 1);
    // The rest arrives into a fresh, never-completing datagram: no segment either way.
    assert.equal(st[2], DecodeStatus.Pending);
    assert.equal(d.counters.reassembled, 0);
  });

  it('the rewrite cannot make up a SYN: ACK first, SYN-rewriting overlap second', () => {
    const d = fresh();
    const ackPkt = synPacket({ payload: 40, flags: TcpFlag.ACK });
    const synBytes = Uint8Array.from(ackPkt.subarray(20 + 8, 20 + 16));
    synBytes[5] = TcpFlag.SYN;
    const frags = fragmentIpv4(ackPkt, [
      { offset: 0, length: 16 },
      { offset: 8, length: 8, data: synBytes },
      { offset: 16, length: 48 },
    ]).map((f) => ethernet(f));
    const st = frags.map((f) => decodeAt(d, f, ETH));
    assert.ok(!st.includes(DecodeStatus.Segment));
    assert.equal(d.counters.fragmentOverlaps, 1);
  });

  it('a second last fragment with a different total length discards the datagram', () => {
    const d = fresh();
    const frags = fragmentIpv4(whole, [
      { offset: 48, length: 16, more: false },
      { offset: 40, length: 8, more: false },
    ]).map((f) => ethernet(f));
    assert.deepEqual(frags.map((f) => decodeAt(d, f, ETH)), [DecodeStatus.Pending, DecodeStatus.Malformed]);
    assert.equal(d.counters.fragmentOverlaps, 1);
  });

  it('a first fragment too short to hold the TCP flags still reassembles (tiny fragment)', () => {
    const d = fresh();
    const frags = fragmentIpv4(whole, [
      { offset: 0, length: 8 },
      { offset: 8, length: 56 },
    ]).map((f) => ethernet(f));
    expectReassembledSyn(d, frags.map((f) => decodeAt(d, f, ETH))[1]);
  });

  it('non-TCP fragments are NotTcp and not stored', () => {
    const d = fresh();
    const udp = ipv4({ src: SRC, dst: DST, protocol: Proto.UDP, payload: new Uint8Array(64) });
    for (const f of fragmentIpv4(udp, 16)) assert.equal(decodeAt(d, ethernet(f), ETH), DecodeStatus.NotTcp);
    assert.equal(d.fragmentsInProgress, 0);
    assert.equal(d.counters.ipv4Fragments, 4);
  });

  it('datagrams are keyed by (src, dst, id, proto): interleaved datagrams both complete', () => {
    const d = fresh();
    const a = fragmentIpv4(synPacket({ id: 1, dstPort: 445, payload: 40 }), 32).map((f) => ethernet(f));
    const b = fragmentIpv4(synPacket({ id: 2, dstPort: 22, payload: 40 }), 32).map((f) => ethernet(f));
    assert.equal(decodeAt(d, a[0], ETH), DecodeStatus.Pending);
    assert.equal(decodeAt(d, b[0], ETH), DecodeStatus.Pending);
    assert.equal(decodeAt(d, b[1], ETH), DecodeStatus.Segment);
    assert.equal(d.segment.dstPort, 22);
    assert.equal(decodeAt(d, a[1], ETH), DecodeStatus.Segment);
    assert.equal(d.segment.dstPort, 445);
  });

  it('times out in packet time', () => {
    const d = fresh({ fragmentTimeoutMicros: 1_000_000 });
    const frags = fragmentIpv4(whole, 32).map((f) => ethernet(f));
    assert.equal(decodeAt(d, frags[0], ETH, 0), DecodeStatus.Pending);
    assert.equal(decodeAt(d, frags[1], ETH, 1_000_001), DecodeStatus.Pending, 'the first half expired');
    assert.equal(d.counters.fragmentTimeouts, 1);
    assert.equal(decodeAt(d, frags[0], ETH, 1_500_000), DecodeStatus.Segment, 'within the timeout of the second');
  });

  it('evicts the oldest datagram when the table is full, and stays bounded', () => {
    const d = fresh({ maxFragmentDatagrams: 4 });
    const first = fragmentIpv4(synPacket({ id: 100, payload: 40 }), 32).map((f) => ethernet(f));
    assert.equal(decodeAt(d, first[0], ETH), DecodeStatus.Pending);
    for (let id = 0; id < 50; id++) {
      decodeAt(d, ethernet(fragmentIpv4(synPacket({ id, payload: 40 }), 32)[0]), ETH);
      assert.ok(d.fragmentsInProgress <= 4);
    }
    assert.equal(d.counters.fragmentEvictions, 47);
    assert.equal(decodeAt(d, first[1], ETH), DecodeStatus.Pending, 'the evicted datagram starts over');
  });

  it('rejects fragments beyond maxFragmentBytes', () => {
    const d = fresh({ maxFragmentBytes: 1000 });
    const big = ipv4({ src: SRC, dst: DST, payload: tcp({ srcPort: 1, dstPort: 2, payload: 1200 }) });
    const frags = fragmentIpv4(big, 512).map((f) => ethernet(f));
    assert.equal(decodeAt(d, frags[0], ETH), DecodeStatus.Pending);
    assert.equal(decodeAt(d, frags[1], ETH), DecodeStatus.Malformed);
  });

  it('bounds the holes a datagram may have (64 disjoint ranges)', () => {
    const d = fresh();
    const big = ipv4({ src: SRC, dst: DST, payload: tcp({ srcPort: 1, dstPort: 2, payload: 2000 }) });
    // Every other 8-byte piece: disjoint ranges that never merge.
    const pieces = Array.from({ length: 70 }, (_, i) => ({ offset: 16 + i * 16, length: 8, more: true }));
    const frags = fragmentIpv4(big, pieces).map((f) => ethernet(f));
    const st = frags.map((f) => decodeAt(d, f, ETH));
    assert.equal(st[63], DecodeStatus.Pending);
    assert.equal(st[64], DecodeStatus.Malformed);
    assert.equal(d.counters.fragmentEvictions, 1);
  });

  it('cuts a non-final fragment to a multiple of 8, as Linux does', () => {
    const d = fresh();
    const pieces = fragmentIpv4(whole, [
      { offset: 0, length: 20 }, // 20 is cut to 16
      { offset: 16, length: 48 },
    ]).map((f) => ethernet(f));
    expectReassembledSyn(d, pieces.map((f) => decodeAt(d, f, ETH))[1]);
  });
});
