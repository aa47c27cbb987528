import assert from 'node:assert/strict';
import type { ProtectedPort } from '../../src/policy/policy.js';
import { BpfVm, type BpfAncillary } from '../../src/capture/bpf-vm.js';
import { PacketType, encode } from '../../src/capture/bpf-program.js';
import {
  DEFAULT_SNAP_LENGTH, buildCaptureFilter, passesKernelFlagRule, type CaptureFilterOptions,
} from '../../src/capture/filter-builder.js';
import {
  EtherType, Proto, ethernet, fragmentIpv4, ipv4, ipv6, sll, sll2, tcp, type Ipv6Extension, type VlanTag,
} from '../helpers/frame-builder.js';

/** A UDP header + zero payload (the frame builder has no UDP); checksum 0 = none. */
function udp(s: { srcPort: number; dstPort: number; payload: number }): Uint8Array {
  const u = new Uint8Array(8 + s.payload);
  const len = u.length;
  u.set([s.srcPort >> 8, s.srcPort & 0xff, s.dstPort >> 8, s.dstPort & 0xff, len >> 8, len & 0xff], 0);
  return u;
}

const F = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10, URG: 0x20, ECE: 0x40, CWR: 0x80 } as const;

const V4_PORTS = [22, 445, 3389];
const V6_PORTS = [2222, 8080];
const PORTS: ProtectedPort[] = [
  ...V4_PORTS.map((port) => ({ port, protocol: 'tcp' as const })),
  ...V6_PORTS.map((port) => ({ port, protocol: 'tcp6' as const })),
];
const SRC4 = '198.18.0.2';
const DST4 = '198.18.0.1';
const SRC6 = 'fd00::2';
const DST6 = 'fd00::1';

interface Seg { dport: number; flags: number; payload?: number; options?: number[] }
const seg = (s: Seg): Uint8Array =>
  tcp({ srcPort: 40000, dstPort: s.dport, flags: s.flags, payload: s.payload ?? 0, options: s.options ?? [] });
const v4 = (s: Seg, extra: { options?: number[]; dontFragment?: boolean } = {}): Uint8Array =>
  ipv4({ src: SRC4, dst: DST4, payload: seg(s), ...extra });
const v6 = (s: Seg, extensions: Ipv6Extension[] = []): Uint8Array =>
  ipv6({ src: SRC6, dst: DST6, payload: seg(s), extensions });

/** Runs `filter` over an Ethernet frame; returns the kept length (0 = dropped). */
function verdict(vm: BpfVm, frame: Uint8Array, anc?: BpfAncillary): number {
  return vm.run(frame, 0, frame.length, frame.length, anc);
}

describe('capture filter: probes pass', () => {
  const vm = new BpfVm(buildCaptureFilter({ ports: PORTS }));
  const probeFlags: [string, number][] = [
    ['SYN', F.SYN],
    ['SYN+ECE+CWR', F.SYN | F.ECE | F.CWR],
    ['SYN+FIN', F.SYN | F.FIN],
    ['SYN+RST', F.SYN | F.RST],
    ['SYN+PSH+URG', F.SYN | F.PSH | F.URG],
    ['FIN', F.FIN],
    ['NULL', 0],
    ['XMAS', F.FIN | F.PSH | F.URG],
    ['XMAS+ECE', F.FIN | F.PSH | F.URG | F.ECE],
    ['NULL+CWR', F.CWR],
    // ACK-class (the SYN memory in user space decides whether one belongs to a connection) and odd flags.
    ['ACK', F.ACK],
    ['SYN-ACK', F.SYN | F.ACK],
    ['SYN-ACK+ECE', F.SYN | F.ACK | F.ECE],
    ['PSH-ACK', F.PSH | F.ACK],
    ['FIN-ACK', F.FIN | F.ACK],
    ['XMAS+ACK', F.FIN | F.PSH | F.URG | F.ACK],
    ['URG', F.URG],
    ['PSH', F.PSH],
    ['FIN+URG', F.FIN | F.URG],
    ['FIN+PSH', F.FIN | F.PSH],
    ['ALL six', 0x3f],
  ];

  for (const [name, flags] of probeFlags) {
    it(`${name} to every tcp port over IPv4 and every tcp6 port over IPv6`, () => {
      for (const dport of V4_PORTS) {
        const f = ethernet(v4({ dport, flags }));
        assert.equal(verdict(vm, f), f.length, `IPv4 port ${dport}`);
      }
      for (const dport of V6_PORTS) {
        const f = ethernet(v6({ dport, flags }));
        assert.equal(verdict(vm, f), f.length, `IPv6 port ${dport}`);
      }
    });
  }

  it('a SYN with payload passes, cut to the snap length', () => {
    const f = ethernet(v4({ dport: 445, flags: F.SYN, payload: 600 }));
    assert.equal(verdict(vm, f), DEFAULT_SNAP_LENGTH);
    const g = ethernet(v6({ dport: 8080, flags: F.SYN, payload: 600 }));
    assert.equal(verdict(vm, g), DEFAULT_SNAP_LENGTH);
  });

  it('IPv4 with options: the TCP header is found behind them', () => {
    for (const optLen of [4, 20, 40]) {
      // NOPs: a filter that ignored IHL would read port 0x0101 and flags 0x01 here
      const options = new Array<number>(optLen).fill(1);
      const syn = ethernet(v4({ dport: 3389, flags: F.SYN }, { options }));
      assert.equal(verdict(vm, syn), syn.length, `${optLen} option bytes`);
      const rst = ethernet(v4({ dport: 3389, flags: F.RST | F.ACK }, { options }));
      assert.equal(verdict(vm, rst), 0, `${optLen} option bytes, RST-ACK`);
    }
  });

  it('the snap length keeps whole headers: 3 tags + 40 bytes of IP options + 40 bytes of TCP options', () => {
    const f = ethernet(
      v4({ dport: 22, flags: F.SYN, payload: 100, options: [2, 4, 5, 0xb4, ...new Array<number>(36).fill(1)] }, { options: new Array<number>(40).fill(1) }),
      { vlans: [1, 2, 3] },
    );
    assert.ok(f.length > DEFAULT_SNAP_LENGTH);
    const headers = 14 + 12 + 60 + 60;
    assert.ok(verdict(vm, f) >= headers);
  });

  it('DF alone is not a fragment', () => {
    const rst = ethernet(v4({ dport: 22, flags: F.RST | F.ACK }, { dontFragment: true }));
    assert.equal(verdict(vm, rst), 0);
    const syn = ethernet(v4({ dport: 22, flags: F.SYN }, { dontFragment: true }));
    assert.equal(verdict(vm, syn), syn.length);
  });
});

describe('capture filter: everything else stays in the kernel', () => {
  const vm = new BpfVm(buildCaptureFilter({ ports: PORTS }));
  const rejected: [string, number][] = [
    ['RST', F.RST],
    ['RST-ACK', F.RST | F.ACK],
    ['RST+ECE', F.RST | F.ECE],
    ['RST-PSH-ACK', F.RST | F.PSH | F.ACK],
    ['RST-FIN-ACK', F.RST | F.FIN | F.ACK],
  ];

  for (const [name, flags] of rejected) {
    it(`${name} to the policy's ports`, () => {
      for (const dport of V4_PORTS) assert.equal(verdict(vm, ethernet(v4({ dport, flags, payload: 10 }))), 0, `IPv4 ${dport}`);
      for (const dport of V6_PORTS) assert.equal(verdict(vm, ethernet(v6({ dport, flags, payload: 10 }))), 0, `IPv6 ${dport}`);
    });
  }

  it('every one of the 256 flag bytes follows passesKernelFlagRule, over IPv4 and IPv6', () => {
    let passed = 0;
    for (let flags = 0; flags < 256; flags++) {
      const want = passesKernelFlagRule(flags);
      const f4 = ethernet(v4({ dport: 22, flags }));
      const f6 = ethernet(v6({ dport: 2222, flags }));
      assert.equal(verdict(vm, f4) > 0, want, `IPv4 flags 0x${flags.toString(16)}`);
      assert.equal(verdict(vm, f6) > 0, want, `IPv6 flags 0x${flags.toString(16)}`);
      if (want) passed++;
    }
    // All but the 16 × 4 (ECE/CWR) RST-bearing bytes without SYN.
    assert.equal(passed, 256 - 64);
  });

  it('the handshake\'s final ACK to a policy port passes (a connection reset before accept() is still seen)', () => {
    assert.ok(verdict(vm, ethernet(v4({ dport: 3389, flags: F.ACK }))) > 0);
    assert.ok(verdict(vm, ethernet(v6({ dport: 2222, flags: F.ACK }))) > 0);
    assert.equal(verdict(vm, ethernet(v4({ dport: 3390, flags: F.ACK }))), 0);
  });

  it('probes of other ports', () => {
    for (const dport of [1, 21, 23, 80, 443, 446, 3390, 65535]) {
      assert.equal(verdict(vm, ethernet(v4({ dport, flags: F.SYN }))), 0, `IPv4 ${dport}`);
      assert.equal(verdict(vm, ethernet(v6({ dport, flags: F.SYN }))), 0, `IPv6 ${dport}`);
    }
  });

  it('a tcp port over IPv6 and a tcp6 port over IPv4', () => {
    for (const dport of V4_PORTS) assert.equal(verdict(vm, ethernet(v6({ dport, flags: F.SYN }))), 0);
    for (const dport of V6_PORTS) assert.equal(verdict(vm, ethernet(v4({ dport, flags: F.SYN }))), 0);
  });

  it('the source port does not count', () => {
    const f = ethernet(ipv4({ src: SRC4, dst: DST4, payload: tcp({ srcPort: 22, dstPort: 50000, flags: F.SYN }) }));
    assert.equal(verdict(vm, f), 0);
  });

  it('UDP, ICMPv6 and ARP', () => {
    const u4 = ethernet(ipv4({ src: SRC4, dst: DST4, protocol: Proto.UDP, payload: udp({ srcPort: 1, dstPort: 22, payload: 8 }) }));
    assert.equal(verdict(vm, u4), 0);
    const u6 = ethernet(ipv6({ src: SRC6, dst: DST6, nextHeader: Proto.UDP, payload: udp({ srcPort: 1, dstPort: 2222, payload: 8 }) }));
    assert.equal(verdict(vm, u6), 0);
    const icmp6 = ethernet(ipv6({ src: SRC6, dst: DST6, nextHeader: Proto.ICMPV6, payload: [128, 0, 0, 0, 0, 1, 0, 1] }));
    assert.equal(verdict(vm, icmp6), 0);
    const arp = ethernet(new Uint8Array(28), { etherType: EtherType.ARP });
    assert.equal(verdict(vm, arp), 0);
  });

  it('IPv6 behind headers the host would not walk to TCP: ESP, No Next Header, Mobility', () => {
    for (const nh of [Proto.ESP, Proto.NONE, Proto.MOBILITY]) {
      const f = ethernet(ipv6({ src: SRC6, dst: DST6, nextHeader: nh, payload: new Uint8Array(64) }));
      assert.equal(verdict(vm, f), 0, `next header ${nh}`);
    }
  });

  it('outgoing frames (pkttype OUTGOING), also the outgoing copy on lo', () => {
    const f = ethernet(v4({ dport: 22, flags: F.SYN }));
    assert.equal(verdict(vm, f, { pktType: PacketType.OUTGOING }), 0);
    for (const pktType of [PacketType.HOST, PacketType.BROADCAST, PacketType.MULTICAST, PacketType.OTHERHOST]) {
      assert.equal(verdict(vm, f, { pktType }), f.length, `pkttype ${pktType}`);
    }
    const all = new BpfVm(buildCaptureFilter({ ports: PORTS }, { inboundOnly: false }));
    assert.equal(verdict(all, f, { pktType: PacketType.OUTGOING }), f.length);
  });

  it('a probe truncated before its flags (captured bytes end early) is dropped', () => {
    const f = ethernet(v4({ dport: 22, flags: F.SYN }));
    assert.equal(vm.run(f, 0, 14 + 20 + 13, f.length), 0);
    assert.equal(vm.run(f, 0, 14 + 20 + 14, f.length), f.length);
  });
});

describe('capture filter: what it cannot judge passes whole', () => {
  const vm = new BpfVm(buildCaptureFilter({ ports: PORTS }));

  it('every IPv4 fragment of TCP, first and later, whatever its port (nmap -f)', () => {
    const pkt = v4({ dport: 445, flags: F.SYN, payload: 400 });
    for (const size of [8, 16, 256]) {
      const frags = fragmentIpv4(pkt, size).map((p) => ethernet(p));
      assert.ok(frags.length >= 2);
      frags.forEach((f, i) => assert.equal(verdict(vm, f), f.length, `size ${size} fragment ${i}`));
    }
    // ACK to another port: the filter cannot know, so it still passes
    const other = fragmentIpv4(v4({ dport: 80, flags: F.ACK, payload: 64 }), 24).map((p) => ethernet(p));
    for (const f of other) assert.equal(verdict(vm, f), f.length);
    // kept whole, not cut to the probe snap length
    const big = fragmentIpv4(v4({ dport: 445, flags: F.SYN, payload: 1200 }), 600).map((p) => ethernet(p));
    assert.ok(big[0]!.length > DEFAULT_SNAP_LENGTH);
    for (const f of big) assert.equal(verdict(vm, f), f.length);
  });

  it('but not fragments of UDP', () => {
    const pkt = ipv4({ src: SRC4, dst: DST4, protocol: Proto.UDP, payload: udp({ srcPort: 1, dstPort: 22, payload: 100 }) });
    for (const f of fragmentIpv4(pkt, 32).map((p) => ethernet(p))) assert.equal(verdict(vm, f), 0);
  });

  const extensions: [string, Ipv6Extension[]][] = [
    ['hop-by-hop', [{ type: 'hopByHop' }]],
    ['routing', [{ type: 'routing', routingType: 0, segmentsLeft: 1, addresses: ['fd00::9'] }]],
    ['atomic fragment', [{ type: 'fragment', offset: 0, more: false }]],
    ['first fragment', [{ type: 'fragment', offset: 0, more: true }]],
    ['destination options', [{ type: 'destination' }]],
    ['AH', [{ type: 'ah', icvLength: 12 }]],
    ['hop-by-hop + destination + fragment', [{ type: 'hopByHop' }, { type: 'destination' }, { type: 'fragment' }]],
  ];
  for (const [name, ext] of extensions) {
    it(`IPv6 with ${name} before TCP`, () => {
      for (const flags of [F.SYN, F.ACK]) {
        const f = ethernet(v6({ dport: 8080, flags, payload: 300 }, ext));
        assert.ok(f.length > DEFAULT_SNAP_LENGTH);
        assert.equal(verdict(vm, f), f.length, `flags ${flags}`);
      }
    });
  }

  it('IPv6 with a 1 KiB destination options header before the SYN: kept whole', () => {
    const f = ethernet(v6({ dport: 2222, flags: F.SYN }, [{ type: 'destination', options: [1, 254, ...new Array<number>(254).fill(0), 1, 254, ...new Array<number>(254).fill(0), 1, 254, ...new Array<number>(254).fill(0), 1, 254, ...new Array<number>(254).fill(0)] }]));
    assert.ok(f.length > 1024);
    assert.equal(verdict(vm, f), f.length);
  });
});

describe('capture filter: VLAN tags', () => {
  const vm = new BpfVm(buildCaptureFilter({ ports: PORTS }));
  const tagSets: [string, VlanTag[]][] = [
    ['802.1Q (left in the frame, as in pcap files)', [100]],
    ['QinQ 802.1ad + 802.1Q', [{ id: 10, tpid: EtherType.QINQ }, 20]],
    ['QinQ 0x9100 + 802.1Q', [{ id: 10, tpid: EtherType.QINQ_OLD }, 20]],
    ['three tags', [{ id: 1, tpid: EtherType.QINQ }, 2, 3]],
  ];
  for (const [name, vlans] of tagSets) {
    it(`${name}: probes pass, teardown does not`, () => {
      const syn4 = ethernet(v4({ dport: 22, flags: F.SYN }), { vlans });
      const syn6 = ethernet(v6({ dport: 2222, flags: F.FIN | F.PSH | F.URG }), { vlans });
      assert.equal(verdict(vm, syn4), syn4.length);
      assert.equal(verdict(vm, syn6), syn6.length);
      assert.equal(verdict(vm, ethernet(v4({ dport: 22, flags: F.RST | F.ACK }), { vlans })), 0);
      assert.equal(verdict(vm, ethernet(v6({ dport: 2222, flags: F.RST }), { vlans })), 0);
      assert.equal(verdict(vm, ethernet(v4({ dport: 23, flags: F.SYN }), { vlans })), 0);
      const frag = fragmentIpv4(v4({ dport: 80, flags: F.ACK, payload: 64 }), 16).map((p) => ethernet(p, { vlans }));
      for (const f of frag) assert.equal(verdict(vm, f), f.length);
    });
  }

  it('more tags than walked: passed whole for user space (cannot hide behind tags)', () => {
    const f = ethernet(v4({ dport: 22, flags: F.SYN, payload: 300 }), { vlans: [1, 2, 3, 4] });
    assert.equal(verdict(vm, f), f.length);
    const none = new BpfVm(buildCaptureFilter({ ports: PORTS }, { maxVlanTags: 0 }));
    const one = ethernet(v4({ dport: 22, flags: F.RST | F.ACK, payload: 300 }), { vlans: [7] });
    assert.equal(verdict(none, one), one.length);
    assert.equal(verdict(vm, one), 0);
  });
});

describe('capture filter: link layers and policies', () => {
  it('linux-sll and linux-sll2 headers (replays of cooked captures)', () => {
    for (const link of ['linux-sll', 'linux-sll2'] as const) {
      const wrap = link === 'linux-sll' ? sll : sll2;
      const vm = new BpfVm(buildCaptureFilter({ ports: PORTS }, { link }));
      const cases: [Uint8Array, boolean][] = [
        [wrap(v4({ dport: 445, flags: F.SYN })), true],
        [wrap(v6({ dport: 8080, flags: F.SYN })), true],
        [wrap(v4({ dport: 445, flags: F.SYN }), { vlans: [5] }), true],
        [wrap(v4({ dport: 445, flags: F.RST | F.ACK })), false],
        [wrap(v6({ dport: 445, flags: F.SYN })), false],
      ];
      cases.forEach(([f, pass], i) => assert.equal(verdict(vm, f) > 0, pass, `${link} case ${i}`));
    }
  });

  it('network (SOCK_DGRAM, the any device): EtherType from skb->protocol', () => {
    const vm = new BpfVm(buildCaptureFilter({ ports: PORTS }, { link: 'network' }));
    const p4 = v4({ dport: 22, flags: F.SYN });
    const p6 = v6({ dport: 2222, flags: F.SYN });
    assert.equal(verdict(vm, p4, { protocol: EtherType.IPV4 }), p4.length);
    assert.equal(verdict(vm, p6, { protocol: EtherType.IPV6 }), p6.length);
    assert.equal(verdict(vm, p4, { protocol: EtherType.ARP }), 0);
    assert.equal(verdict(vm, p6, { protocol: EtherType.IPV4 }), 0);
    assert.equal(verdict(vm, v4({ dport: 22, flags: F.RST | F.ACK }), { protocol: EtherType.IPV4 }), 0);
    assert.equal(verdict(vm, p4, { protocol: EtherType.IPV4, pktType: PacketType.OUTGOING }), 0);
    // inner tag of a QinQ frame after the stack removed the outer one: TCI + EtherType at offset 0
    const tagged = Uint8Array.from([0x00, 0x14, 0x08, 0x00, ...p4]);
    assert.equal(verdict(vm, tagged, { protocol: 0x8100 }), tagged.length);
  });

  it('a policy with only tcp ports lets no IPv6 out, one with only tcp6 ports no IPv4', () => {
    const only4 = new BpfVm(buildCaptureFilter({ ports: [{ port: 22, protocol: 'tcp' }] }));
    assert.ok(verdict(only4, ethernet(v4({ dport: 22, flags: F.SYN }))) > 0);
    assert.equal(verdict(only4, ethernet(v6({ dport: 22, flags: F.SYN }))), 0);
    assert.equal(verdict(only4, ethernet(v6({ dport: 22, flags: F.SYN }, [{ type: 'hopByHop' }]))), 0);
    const only6 = new BpfVm(buildCaptureFilter({ ports: [{ port: 22, protocol: 'tcp6' }] }));
    assert.ok(verdict(only6, ethernet(v6({ dport: 22, flags: F.SYN }))) > 0);
    assert.equal(verdict(only6, ethernet(v4({ dport: 22, flags: F.SYN }))), 0);
    for (const f of fragmentIpv4(v4({ dport: 22, flags: F.SYN, payload: 64 }), 16)) {
      assert.equal(verdict(only6, ethernet(f)), 0);
    }
  });

  it('ten ports: each passes, the neighbours do not; the program stays small', () => {
    const ports = Array.from({ length: 10 }, (_, i): ProtectedPort => ({ port: 1000 + 7 * i, protocol: i % 2 ? 'tcp6' : 'tcp' }));
    const program = buildCaptureFilter({ ports });
    const vm = new BpfVm(program);
    for (const { port, protocol } of ports) {
      const mk = protocol === 'tcp' ? v4 : v6;
      assert.ok(verdict(vm, ethernet(mk({ dport: port, flags: F.SYN }))) > 0, `${port}`);
      assert.equal(verdict(vm, ethernet(mk({ dport: port + 1, flags: F.SYN }))), 0, `${port + 1}`);
    }
    assert.ok(program.length < 100, `${program.length} instructions`);
    assert.equal(encode(program).length, program.length * 8);
  });

  it('an empty port list drops everything; bad options are refused', () => {
    const vm = new BpfVm(buildCaptureFilter({ ports: [] }));
    assert.equal(verdict(vm, ethernet(v4({ dport: 22, flags: F.SYN }))), 0);
    const bad: CaptureFilterOptions[] = [{ snapLength: 10 }, { snapLength: 1.5 }, { maxVlanTags: 9 }, { snapLength: 200, undecidedSnapLength: 100 }];
    for (const opts of bad) assert.throws(() => buildCaptureFilter({ ports: PORTS }, opts), RangeError, JSON.stringify(opts));
    assert.throws(() => buildCaptureFilter({ ports: [{ port: 0, protocol: 'tcp' }] }), RangeError);
  });

  it('a custom snap length is what a probe keeps', () => {
    const vm = new BpfVm(buildCaptureFilter({ ports: PORTS }, { snapLength: 96 }));
    const f = ethernet(v4({ dport: 22, flags: F.SYN, payload: 200 }));
    assert.equal(verdict(vm, f), 96);
  });
});

describe('capture filter: devices without a link header (tun, WireGuard, IP tunnels)', () => {
  const vm = new BpfVm(buildCaptureFilter({ ports: PORTS }));
  // ARPHRD_NONE (tun, WireGuard), ARPHRD_RAWIP, ARPHRD_TUNNEL / TUNNEL6 / SIT: the frame starts at the IP header.
  const rawHatypes = [0xfffe, 519, 768, 769, 776];

  it('a probe in a raw IP frame passes when the device type says there is no Ethernet header', () => {
    for (const hatype of rawHatypes) {
      const a = v4({ dport: 445, flags: F.SYN });
      assert.equal(verdict(vm, a, { hatype, protocol: EtherType.IPV4 }), a.length, `IPv4 SYN, hatype ${hatype}`);
      const b = v6({ dport: 8080, flags: F.FIN });
      assert.equal(verdict(vm, b, { hatype, protocol: EtherType.IPV6 }), b.length, `IPv6 FIN, hatype ${hatype}`);
    }
  });

  it('a raw IP frame that is no probe of a policy port stays in the kernel, and Ethernet devices still parse Ethernet', () => {
    const hatype = 0xfffe;
    for (const f of [v4({ dport: 446, flags: F.SYN }), v4({ dport: 445, flags: F.RST | F.ACK })]) {
      assert.equal(verdict(vm, f, { hatype, protocol: EtherType.IPV4 }), 0);
    }
    const out = v4({ dport: 445, flags: F.SYN });
    assert.equal(verdict(vm, out, { hatype, protocol: EtherType.IPV4, pktType: PacketType.OUTGOING }), 0, 'outgoing');
    const e = ethernet(v4({ dport: 445, flags: F.SYN }));
    assert.equal(verdict(vm, e, { hatype: 1, protocol: EtherType.IPV4 }), e.length, 'ARPHRD_ETHER');
    assert.equal(verdict(vm, e, { hatype: 772, protocol: EtherType.IPV4 }), e.length, 'ARPHRD_LOOPBACK');
  });
});
