/**
 * Writes fixtures/crafted/*: small hand-made captures for the edge cases the
 * live tools cannot produce (or not reliably), each with its .expect.json
 * written from what this generator put in, not from a dissector.
 *
 *   npx tsc -p tsconfig.json && node dist/test/fixtures-gen/craft-fixtures.js
 *
 * Deterministic: the same bytes on every run (fixed addresses, ports, IDs
 * and timestamps), so regenerating leaves git clean unless this file changed.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { TcpFlag } from '../../src/decode/segment.js';
import { ticksFor, writePcap, writePcapng, type PcapFrame, type PcapngBlock } from '../helpers/capture-writer.js';
import {
  EtherType,
  Link,
  bsdLoop,
  bsdNull,
  ethernet,
  fragmentIpv4,
  fragmentIpv6,
  ipv4,
  ipv6,
  mssOption,
  sll,
  tcp,
  type Ipv6Extension,
} from '../helpers/frame-builder.js';
import type { NetworkType, ProbeKind } from '../helpers/tshark.js';
import { POLICY_PATH, type ExpectFile, type ExpectedProbe } from './expect-file.js';

const OUT_DIR = 'fixtures/crafted';

const A4 = '198.18.0.1'; // attacker
const S4 = '198.18.0.2'; // server
const W4 = '198.18.0.3'; // whitelisted
const A6 = 'fd00:18::1';
const S6 = 'fd00:18::2';
const W6 = 'fd00:18::3';

/** 2023-11-14T22:13:20Z: every crafted capture starts here. */
const T0 = 1_700_000_000_000_000;

const { FIN, SYN, RST, PSH, ACK, URG, ECE, CWR } = TcpFlag;

interface Fixture {
  readonly name: string;
  readonly bytes: Buffer;
  readonly probes: ExpectedProbe[];
  readonly whitelisted?: number;
  readonly damaged?: boolean;
  /** One line for the README. */
  readonly about: string;
}

function probe(source: string, destination: string, port: number, type: NetworkType, packets: number, kinds: ProbeKind[]): ExpectedProbe {
  return { source, destination, port, type, packets, kinds };
}

// Source ports are distinct per packet so that nothing depends on flow state.
let nextSourcePort = 40000;
function sport(): number {
  return nextSourcePort++;
}

function seg4(src: string, dst: string, dstPort: number, flags: number, extra: { payload?: number; id?: number; options?: number[] } = {}): Uint8Array {
  return ipv4({
    src,
    dst,
    id: extra.id ?? 0x1000,
    payload: tcp({ srcPort: sport(), dstPort, flags, options: extra.options ?? mssOption(1460), payload: extra.payload ?? 0 }),
  });
}

function seg6(src: string, dst: string, dstPort: number, flags: number, extensions: Ipv6Extension[] = [], payload = 0): Uint8Array {
  return ipv6({ src, dst, extensions, payload: tcp({ srcPort: sport(), dstPort, flags, options: mssOption(1440), payload }) });
}

/** Ethernet frames 1 ms apart from T0 (or at the given offsets, in µs). */
function etherPcap(packets: Uint8Array[], offsets?: number[]): Buffer {
  return writePcap(
    packets.map((p, i) => ({ data: ethernet(p), tsMicros: T0 + (offsets?.[i] ?? i * 1000) })),
    { linktype: Link.ETHERNET },
  );
}

function framesPcap(linktype: number, frames: Uint8Array[]): Buffer {
  return writePcap(
    frames.map((data, i) => ({ data, tsMicros: T0 + i * 1000 })),
    { linktype },
  );
}

function build(): Fixture[] {
  const fx: Fixture[] = [];

  // ---- VLAN tags ----------------------------------------------------------
  fx.push({
    name: 'vlan-qinq-8021ad-syn.pcap',
    about: 'SYNs behind an 802.1ad+802.1Q (QinQ) tag pair, a double 802.1Q tag, and a single 802.1Q tag',
    bytes: writePcap(
      [
        ethernet(seg4(A4, S4, 445, SYN), { vlans: [{ id: 100, tpid: EtherType.QINQ }, 200] }),
        ethernet(seg4(A4, S4, 3389, SYN), { vlans: [10, 20] }),
        ethernet(seg4(A4, S4, 135, SYN), { vlans: [{ id: 30, pcp: 5, dei: true }] }),
        ethernet(seg6(A6, S6, 5985, SYN), { vlans: [{ id: 100, tpid: EtherType.QINQ }, 200] }),
      ].map((data, i) => ({ data, tsMicros: T0 + i * 1000 })),
    ),
    probes: [
      probe(A4, S4, 135, 'ipv4', 1, ['syn']),
      probe(A4, S4, 445, 'ipv4', 1, ['syn']),
      probe(A4, S4, 3389, 'ipv4', 1, ['syn']),
      probe(A6, S6, 5985, 'ipv6', 1, ['syn']),
    ],
  });

  // ---- IPv4 fragments -----------------------------------------------------
  {
    // 24-byte TCP header (MSS option) in 8-byte fragments: ports in the
    // first, flags in the second, the option in the third.
    const a = fragmentIpv4(seg4(A4, S4, 445, SYN, { id: 0x2001 }), 8);
    const b = fragmentIpv4(seg4(A4, S4, 139, SYN, { id: 0x2002, payload: 16 }), 8);
    fx.push({
      name: 'ipv4-tiny-frags-ooo.pcap',
      about: 'IPv4 SYNs cut into 8-byte fragments (TCP header across three of them), sent out of order and interleaved',
      bytes: etherPcap([a[1]!, b[4]!, a[2]!, b[2]!, b[0]!, a[0]!, b[3]!, b[1]!]),
      probes: [probe(A4, S4, 139, 'ipv4', 1, ['syn']), probe(A4, S4, 445, 'ipv4', 1, ['syn'])],
    });
  }
  {
    const pkt = seg4(A4, S4, 3389, SYN, { id: 0x2101, payload: 8 });
    // 32 bytes of IP payload: [0,16) [8,24) [16,32) overlap but agree, and [0,16) comes twice.
    const frags = fragmentIpv4(pkt, [
      { offset: 0, length: 16 },
      { offset: 8, length: 16 },
      { offset: 0, length: 16 },
      { offset: 16, length: 16 },
    ]);
    fx.push({
      name: 'ipv4-overlap-identical.pcap',
      about: 'IPv4 SYN in overlapping fragments whose overlapping bytes agree (and one fragment repeated): one probe',
      bytes: etherPcap(frags),
      probes: [probe(A4, S4, 3389, 'ipv4', 1, ['syn'])],
    });
  }
  {
    // Two readings of byte 13 (the flags): the first fragment says ACK, a
    // later overlapping one says SYN (and the reverse for the second
    // datagram). honeyport drops such datagrams (src/decode/fragments.ts),
    // as Linux does; tshark reassembles one reading. A plain SYN from
    // another source shows the file is read at all.
    const ackFirst = seg4(A4, S4, 445, ACK, { id: 0x2201 });
    const synFirst = seg4(A4, S4, 139, SYN, { id: 0x2202 });
    const rewrite = (pkt: Uint8Array, flags: number): number[] => {
      const body = Array.from(pkt.subarray(20 + 8, 20 + 16));
      body[13 - 8] = flags;
      return body;
    };
    const d1 = fragmentIpv4(ackFirst, [
      { offset: 0, length: 16 },
      { offset: 8, length: 8, data: rewrite(ackFirst, SYN), more: true },
      { offset: 16, length: 8 },
    ]);
    const d2 = fragmentIpv4(synFirst, [
      { offset: 0, length: 16 },
      { offset: 8, length: 8, data: rewrite(synFirst, ACK), more: true },
      { offset: 16, length: 8 },
    ]);
    fx.push({
      name: 'ipv4-overlap-conflict.pcap',
      about:
        'IPv4 fragments that overlap with different TCP flags (ACK then SYN, SYN then ACK): both datagrams are dropped, only the control SYN from 198.18.0.20 counts; tshark differs by design',
      bytes: etherPcap([...d1, ...d2, seg4('198.18.0.20', S4, 135, SYN)]),
      probes: [probe('198.18.0.20', S4, 135, 'ipv4', 1, ['syn'])],
    });
  }

  // ---- IPv6 extension headers and fragments -----------------------------
  fx.push({
    name: 'ipv6-ext-chain-syn.pcap',
    about: 'IPv6 SYN behind hop-by-hop, routing (type 0, segments left 0) and destination options headers; one with only a destination options header',
    bytes: etherPcap([
      seg6(A6, S6, 5985, SYN, [
        { type: 'hopByHop', options: [1, 2, 0, 0] },
        { type: 'routing', routingType: 0, segmentsLeft: 0, addresses: ['fd00:18::99'] },
        { type: 'destination', options: [1, 4, 0, 0, 0, 0] },
      ]),
      seg6(A6, S6, 5986, SYN, [{ type: 'destination', options: [1, 2, 0, 0] }]),
    ]),
    probes: [probe(A6, S6, 5985, 'ipv6', 1, ['syn']), probe(A6, S6, 5986, 'ipv6', 1, ['syn'])],
  });
  {
    const whole = seg6(A6, S6, 5986, SYN, [{ type: 'hopByHop', options: [1, 2, 0, 0] }], 40);
    const frags = fragmentIpv6(whole, 16, 0x0c0ffee1);
    const atomic = seg6(A6, S6, 5985, SYN, [{ type: 'fragment', offset: 0, more: false, id: 0x0c0ffee2 }]);
    fx.push({
      name: 'ipv6-frag-syn.pcap',
      about: 'IPv6 SYN (hop-by-hop first) in 16-byte fragments, last fragment first; plus an atomic fragment (offset 0, M=0) SYN',
      bytes: etherPcap([...frags.slice(1).reverse(), frags[0]!, atomic]),
      probes: [probe(A6, S6, 5985, 'ipv6', 1, ['syn']), probe(A6, S6, 5986, 'ipv6', 1, ['syn'])],
    });
  }

  // ---- TCP flag combinations ----------------------------------------------
  fx.push({
    name: 'syn-payload.pcap',
    about: 'SYN carrying 100 bytes of payload, and SYN+PSH with payload',
    bytes: etherPcap([seg4(A4, S4, 445, SYN, { payload: 100 }), seg4(A4, S4, 139, SYN | PSH, { payload: 32 })]),
    probes: [probe(A4, S4, 139, 'ipv4', 1, ['syn']), probe(A4, S4, 445, 'ipv4', 1, ['syn'])],
  });
  fx.push({
    name: 'syn-ece-cwr.pcap',
    about: 'ECN-setup SYN (SYN+ECE+CWR) over IPv4 and IPv6',
    bytes: etherPcap([seg4(A4, S4, 445, SYN | ECE | CWR), seg6(A6, S6, 5985, SYN | ECE | CWR)]),
    probes: [probe(A4, S4, 445, 'ipv4', 1, ['syn']), probe(A6, S6, 5985, 'ipv6', 1, ['syn'])],
  });
  fx.push({
    name: 'syn-fin.pcap',
    about: 'SYN+FIN, SYN+RST and SYN+FIN+PSH+URG: all SYN without ACK',
    bytes: etherPcap([seg4(A4, S4, 445, SYN | FIN), seg4(A4, S4, 139, SYN | RST), seg4(A4, S4, 3389, SYN | FIN | PSH | URG)]),
    probes: [
      probe(A4, S4, 139, 'ipv4', 1, ['syn']),
      probe(A4, S4, 445, 'ipv4', 1, ['syn']),
      probe(A4, S4, 3389, 'ipv4', 1, ['syn']),
    ],
  });
  {
    const B4 = '198.18.0.12';
    fx.push({
      name: 'stealth-fin-null-xmas.pcap',
      about:
        'FIN, NULL, XMAS and XMAS+CWR / FIN+ECE probes; then FIN+ACK and FIN+PSH+URG+ACK (ack, no SYN before), FIN+PSH and URG (odd); RST is no probe',
      bytes: etherPcap([
        seg4(A4, S4, 135, FIN),
        seg4(A4, S4, 139, 0),
        seg4(A4, S4, 445, FIN | PSH | URG),
        seg4(A4, S4, 3389, FIN | PSH | URG | CWR),
        seg4(B4, S4, 135, FIN | ECE),
        seg6(A6, S6, 5985, 0),
        seg6(A6, S6, 5986, FIN | PSH | URG),
        // ack (no SYN of their 4-tuple before), no probe (RST), odd:
        seg4(A4, S4, 135, FIN | ACK),
        seg4(A4, S4, 135, RST),
        seg4(A4, S4, 139, FIN | PSH),
        seg4(A4, S4, 139, URG),
        seg4(A4, S4, 445, FIN | PSH | URG | ACK),
      ]),
      probes: [
        probe(A4, S4, 135, 'ipv4', 2, ['fin', 'ack']),
        probe(A4, S4, 139, 'ipv4', 3, ['null', 'odd']),
        probe(A4, S4, 445, 'ipv4', 2, ['xmas', 'ack']),
        probe(A4, S4, 3389, 'ipv4', 1, ['xmas']),
        probe(B4, S4, 135, 'ipv4', 1, ['fin']),
        probe(A6, S6, 5985, 'ipv6', 1, ['null']),
        probe(A6, S6, 5986, 'ipv6', 1, ['xmas']),
      ],
    });
  }
  fx.push({
    name: 'no-probe-handshake-replies.pcap',
    about:
      'SYN+ACK, ACK, PSH+ACK with data and FIN+ACK to honeypot ports with no SYN before them: ack probes; RST+ACK, SYN to port 22, SYN to 5985 over IPv4 and to 445 over IPv6 (wrong version): no probes',
    bytes: etherPcap([
      seg4(A4, S4, 445, SYN | ACK),
      seg4(A4, S4, 445, ACK),
      seg4(A4, S4, 3389, RST | ACK),
      seg4(A4, S4, 139, PSH | ACK, { payload: 20 }),
      seg4(A4, S4, 135, FIN | ACK),
      seg4(A4, S4, 22, SYN),
      seg4(A4, S4, 5985, SYN),
      seg6(A6, S6, 445, SYN),
      seg6(A6, S6, 5986, SYN | ACK),
    ]),
    probes: [
      probe(A4, S4, 135, 'ipv4', 1, ['ack']),
      probe(A4, S4, 139, 'ipv4', 1, ['ack']),
      probe(A4, S4, 445, 'ipv4', 2, ['ack']),
      probe(A6, S6, 5986, 'ipv6', 1, ['ack']),
    ],
  });

  // ---- whitelist ----------------------------------------------------------
  fx.push({
    name: 'whitelist-mapped.pcap',
    about:
      'SYNs from whitelisted 198.18.0.3, from ::ffff:198.18.0.3 (IPv4-mapped, matches the IPv4 entry) and fd00:18::3; ::ffff:198.18.0.4 and 198.18.0.1 are not whitelisted',
    bytes: etherPcap([
      seg4(W4, S4, 445, SYN),
      seg6('::ffff:c612:3', S6, 5985, SYN),
      seg6(W6, S6, 5986, SYN),
      seg6('::ffff:c612:4', S6, 5985, SYN),
      seg4(A4, S4, 445, SYN),
    ]),
    probes: [probe('198.18.0.1', S4, 445, 'ipv4', 1, ['syn']), probe('::ffff:198.18.0.4', S6, 5985, 'ipv6', 1, ['syn'])],
    whitelisted: 3,
  });

  // ---- dedup and severity inputs -----------------------------------------
  {
    const B4 = '198.18.0.21';
    fx.push({
      name: 'one-source-two-ports.pcap',
      about: 'one source probes 445 twice and 3389 once (severity high); another source probes 445 once',
      bytes: etherPcap([seg4(B4, S4, 445, SYN), seg4(B4, S4, 3389, SYN), seg4(B4, S4, 445, SYN), seg4('198.18.0.22', S4, 445, SYN)]),
      probes: [
        probe(B4, S4, 445, 'ipv4', 2, ['syn']),
        probe(B4, S4, 3389, 'ipv4', 1, ['syn']),
        probe('198.18.0.22', S4, 445, 'ipv4', 1, ['syn']),
      ],
    });
  }
  {
    const B4 = '198.18.0.30';
    // Seconds after T0: 0, 10, 59.9 | 60.1, 119.9 | 125, 200.
    const at = [0, 10_000_000, 59_900_000, 60_100_000, 119_900_000, 125_000_000, 200_000_000];
    fx.push({
      name: 'window-boundary.pcap',
      about: 'seven SYNs from one source to 445 at 0, 10, 59.9, 60.1, 119.9, 125 and 200 s: alarms split by the 60 s window, counts sum to 7',
      bytes: etherPcap(
        at.map(() => seg4(B4, S4, 445, SYN)),
        at,
      ),
      probes: [probe(B4, S4, 445, 'ipv4', 7, ['syn'])],
    });
  }

  // ---- link types ---------------------------------------------------------
  fx.push({
    name: 'linktype-null.pcap',
    about: 'LINKTYPE_NULL (BSD loopback, little-endian AF): IPv4, and IPv6 with AF 30 (macOS), 28 (FreeBSD) and 24 (NetBSD)',
    bytes: framesPcap(Link.NULL, [
      bsdNull(seg4(A4, S4, 445, SYN)),
      bsdNull(seg6(A6, S6, 5985, SYN), { family: 30 }),
      bsdNull(seg6('fd00:18::11', S6, 5985, SYN), { family: 28 }),
      bsdNull(seg6('fd00:18::12', S6, 5985, SYN), { family: 24 }),
    ]),
    probes: [
      probe(A4, S4, 445, 'ipv4', 1, ['syn']),
      probe(A6, S6, 5985, 'ipv6', 1, ['syn']),
      probe('fd00:18::11', S6, 5985, 'ipv6', 1, ['syn']),
      probe('fd00:18::12', S6, 5985, 'ipv6', 1, ['syn']),
    ],
  });
  fx.push({
    name: 'linktype-loop.pcap',
    about: 'LINKTYPE_LOOP (OpenBSD loopback, network-order AF): IPv4 and IPv6 SYNs',
    bytes: framesPcap(Link.LOOP, [bsdLoop(seg4(A4, S4, 139, SYN)), bsdLoop(seg6(A6, S6, 5986, SYN))]),
    probes: [probe(A4, S4, 139, 'ipv4', 1, ['syn']), probe(A6, S6, 5986, 'ipv6', 1, ['syn'])],
  });
  fx.push({
    name: 'linktype-raw.pcap',
    about: 'LINKTYPE_RAW (101): IPv4 and IPv6 SYNs, no link header',
    bytes: framesPcap(Link.RAW, [seg4(A4, S4, 445, SYN), seg6(A6, S6, 5985, SYN)]),
    probes: [probe(A4, S4, 445, 'ipv4', 1, ['syn']), probe(A6, S6, 5985, 'ipv6', 1, ['syn'])],
  });
  fx.push({
    name: 'linktype-ipv4.pcap',
    about: 'LINKTYPE_IPV4 (228): an IPv4 SYN',
    bytes: framesPcap(Link.IPV4, [seg4(A4, S4, 3389, SYN)]),
    probes: [probe(A4, S4, 3389, 'ipv4', 1, ['syn'])],
  });
  fx.push({
    name: 'linktype-ipv6.pcap',
    about: 'LINKTYPE_IPV6 (229): an IPv6 SYN',
    bytes: framesPcap(Link.IPV6, [seg6(A6, S6, 5986, SYN)]),
    probes: [probe(A6, S6, 5986, 'ipv6', 1, ['syn'])],
  });
  fx.push({
    name: 'linktype-sll.pcap',
    about: 'LINKTYPE_LINUX_SLL (v1, 16-byte header): IPv4 and IPv6 SYNs',
    bytes: framesPcap(Link.LINUX_SLL, [sll(seg4(A4, S4, 135, SYN)), sll(seg6(A6, S6, 5986, SYN))]),
    probes: [probe(A4, S4, 135, 'ipv4', 1, ['syn']), probe(A6, S6, 5986, 'ipv6', 1, ['syn'])],
  });

  // ---- file formats -------------------------------------------------------
  {
    const frames: PcapFrame[] = [seg4(A4, S4, 445, SYN), seg4(A4, S4, 445, SYN), seg6(A6, S6, 5985, SYN)].map((p, i) => ({
      data: ethernet(p),
      tsNanos: BigInt(T0) * 1000n + BigInt(i) * 1_000_000_123n,
    }));
    fx.push({
      name: 'pcap-nanosecond-bigendian.pcap',
      about: 'classic pcap, nanosecond magic (a1b23c4d), big-endian headers, sub-microsecond timestamps',
      bytes: writePcap(frames, { nano: true, bigEndian: true }),
      probes: [probe(A4, S4, 445, 'ipv4', 2, ['syn']), probe(A6, S6, 5985, 'ipv6', 1, ['syn'])],
    });
  }
  {
    const blocks: PcapngBlock[] = [
      { type: 'idb', linktype: Link.ETHERNET },
      { type: 'idb', linktype: Link.RAW, tsresol: 9 },
      { type: 'epb', iface: 0, ticks: ticksFor(T0), data: ethernet(seg4(A4, S4, 445, SYN)) },
      { type: 'other', blockType: 0x00000099, body: Uint8Array.of(1, 2, 3, 4, 5) },
      { type: 'epb', iface: 1, ticks: ticksFor(T0 + 1000, 9), data: seg4('198.18.0.40', S4, 3389, SYN) },
      { type: 'epb', iface: 1, ticks: ticksFor(T0 + 2000, 9), data: seg6(A6, S6, 5985, SYN) },
      { type: 'spb', data: ethernet(seg4('198.18.0.41', S4, 139, SYN)) },
      { type: 'epb', iface: 0, ticks: ticksFor(T0 + 4000), data: ethernet(seg4(A4, S4, 22, SYN)) },
    ];
    fx.push({
      name: 'pcapng-two-interfaces.pcapng',
      about:
        'pcapng: interface 0 Ethernet with µs timestamps, interface 1 raw IP with ns (if_tsresol 9); an unknown block, a simple packet block, and a SYN to 22 (no probe)',
      bytes: writePcapng([{ blocks }]),
      probes: [
        probe(A4, S4, 445, 'ipv4', 1, ['syn']),
        probe('198.18.0.40', S4, 3389, 'ipv4', 1, ['syn']),
        probe('198.18.0.41', S4, 139, 'ipv4', 1, ['syn']),
        probe(A6, S6, 5985, 'ipv6', 1, ['syn']),
      ],
    });
  }

  // ---- compressed and damaged files ---------------------------------------
  const tiny = fx.find((f) => f.name === 'ipv4-tiny-frags-ooo.pcap')!;
  fx.push({
    ...tiny,
    name: 'ipv4-tiny-frags-ooo.pcap.gz',
    about: 'gzip-compressed copy of ipv4-tiny-frags-ooo.pcap',
    bytes: gzipSync(tiny.bytes, { level: 9 }),
  });
  {
    const full = etherPcap([seg4('198.18.0.50', S4, 445, SYN), seg4('198.18.0.51', S4, 445, SYN), seg4('198.18.0.52', S4, 445, SYN)]);
    const recordLen = (full.length - 24) / 3;
    fx.push({
      name: 'truncated-mid-record.pcap',
      about: 'three SYN records, the file cut 20 bytes into the third record\'s data: two probes, then damage',
      bytes: full.subarray(0, 24 + 2 * recordLen + 16 + 20),
      probes: [probe('198.18.0.50', S4, 445, 'ipv4', 1, ['syn']), probe('198.18.0.51', S4, 445, 'ipv4', 1, ['syn'])],
      damaged: true,
    });
    fx.push({
      name: 'truncated-mid-header.pcap',
      about: 'the same three records, the file cut 8 bytes into the third record header',
      bytes: full.subarray(0, 24 + 2 * recordLen + 8),
      probes: [probe('198.18.0.50', S4, 445, 'ipv4', 1, ['syn']), probe('198.18.0.51', S4, 445, 'ipv4', 1, ['syn'])],
      damaged: true,
    });
  }

  // ---- connections: ACK-class segments that belong to one are no probes ----
  // (Last, so that the source ports of every fixture above stay as they were.)
  {
    const flow = (src: string, srcPort: number, dst: string, dstPort: number, flags: number, payload = 0): Uint8Array =>
      ipv4({ src, dst, id: 0x1000, payload: tcp({ srcPort, dstPort, flags, options: mssOption(1460), payload }) });
    const C = '198.18.0.7'; // the server's own peer
    const H = '198.18.0.9'; // hping3 -S, then -S -A from the same port
    const ms = 1000;
    const packets: [Uint8Array, number][] = [
      [flow(A4, 50001, S4, 445, SYN), 0],
      [flow(A4, 50001, S4, 445, ACK), 1 * ms],
      [flow(A4, 50001, S4, 445, PSH | ACK, 20), 2 * ms],
      [flow(A4, 50001, S4, 445, FIN | ACK), 3 * ms],
      [flow(A4, 50001, S4, 445, ACK), 4 * ms],
      [flow(S4, 139, C, 8080, SYN), 5 * ms],
      [flow(C, 8080, S4, 139, SYN | ACK), 6 * ms],
      [flow(C, 8080, S4, 139, PSH | ACK, 20), 7 * ms],
      [flow(C, 8080, S4, 139, FIN | ACK), 8 * ms],
      [flow(H, 1904, S4, 3389, SYN), 9 * ms],
      [flow(H, 1904, S4, 3389, SYN | ACK), 10 * ms],
      [flow(A4, 50001, S4, 445, FIN | ACK), 240_000 * ms],
      [flow(A4, 50001, S4, 445, ACK), 300_001 * ms],
      [flow(A4, 50001, S4, 445, RST | ACK), 300_002 * ms],
    ];
    fx.push({
      name: 'connection-segments.pcap',
      about:
        'a connection to 445 (SYN, ACK, data, FIN+ACK, ACK; a FIN+ACK 4 min later): only its SYN is a probe, an ACK 5 min 1 ms after the SYN is an ack probe, the RST+ACK none; the server\'s own connection from port 139 (SYN out, SYN-ACK, data and FIN+ACK back): no probe; a SYN-ACK after the sender\'s own SYN (hping3 -S -A): an ack probe',
      bytes: etherPcap(packets.map(([p]) => p), packets.map(([, t]) => t)),
      probes: [probe(A4, S4, 445, 'ipv4', 2, ['syn', 'ack']), probe(H, S4, 3389, 'ipv4', 2, ['syn', 'ack'])],
    });
  }
  return fx;
}

function main(): void {
  mkdirSync(OUT_DIR, { recursive: true });
  const fixtures = build();
  const lines: string[] = [];
  for (const f of fixtures) {
    const path = join(OUT_DIR, f.name);
    writeFileSync(path, f.bytes);
    const expect: ExpectFile = {
      policy: POLICY_PATH,
      window: '60s',
      serverAddress: [],
      probes: f.probes,
      whitelisted: f.whitelisted ?? 0,
      damaged: f.damaged ?? false,
    };
    writeFileSync(`${path}.expect.json`, `${JSON.stringify(expect, null, 2)}\n`);
    lines.push(`| ${f.name} | ${f.about} |`);
    console.log(`${path}: ${f.bytes.length} bytes, ${f.probes.length} key(s)`);
  }
  // `--table` prints the README's table of crafted fixtures.
  if (process.argv.includes('--table')) console.log(`| file | contents |\n|---|---|\n${lines.join('\n')}`);
}

main();
