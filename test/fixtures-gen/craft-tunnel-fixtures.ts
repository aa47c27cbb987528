/**
 * Writes fixtures/tunnels/crafted-shapes.pcap: tunnel shapes the fixture
 * script's devices do not produce (ERSPAN type I and type III with its
 * platform subheader, Geneve options around plain IP, GRE with checksum, key
 * and sequence behind the Destination Options header ip6tnl/ip6gre add,
 * three tunnels nested, a tag inside VXLAN, an inner datagram fragmented
 * inside GRE, outer datagrams fragmented around GRE (IPv4 and IPv6), a capture cut
 * after the inner TCP flags). Its expect file comes
 * from tshark like the others (expect-from-tshark fixtures/tunnels), so these
 * shapes are checked against an independent dissector too.
 *
 *   npx tsc -p tsconfig.json && node dist/test/fixtures-gen/craft-tunnel-fixtures.js
 *
 * Deterministic: fixed addresses, ports, ids and timestamps.
 */
import { writeFileSync } from 'node:fs';
import { TcpFlag } from '../../src/decode/segment.js';
import { writePcap, type PcapFrame } from '../helpers/capture-writer.js';
import { ethernet, fragmentIpv4, fragmentIpv6, ipv4, ipv6, mssOption, tcp } from '../helpers/frame-builder.js';
import { erspan, geneve, gre, udp, vxlan } from '../helpers/tunnel-builder.js';

const T0 = 1_700_000_000_000_000;
const { SYN, ACK } = TcpFlag;
const ENCAP_LIMIT = { type: 'destination' as const, options: [4, 1, 4, 1, 1, 0] };

/** Inner SYN from 10.9.N.5 (so every shape is a key of its own), or to 5985 over IPv6 from fd00:9:N::5. */
function syn4(n: number, flags: number = SYN): Uint8Array {
  return ipv4({ src: `10.9.${n}.5`, dst: '10.9.0.1', id: 0x4000 + n, payload: tcp({ srcPort: 40000 + n, dstPort: 445, flags, options: mssOption(1360) }) });
}
function syn6(n: number): Uint8Array {
  return ipv6({ src: `fd00:9:${n}::5`, dst: 'fd00:9::1', payload: tcp({ srcPort: 41000 + n, dstPort: 5985, flags: SYN }) });
}
const out4 = (protocol: number, payload: Uint8Array, src = '198.18.0.1'): Uint8Array => ipv4({ src, dst: '198.18.0.2', protocol, payload });
const out6 = (nextHeader: number, payload: Uint8Array, limit = false): Uint8Array =>
  ipv6({ src: 'fd00:18::1', dst: 'fd00:18::2', nextHeader, payload, ...(limit ? { extensions: [ENCAP_LIMIT] } : {}) });

function frames(): PcapFrame[] {
  const list: { data: Uint8Array; origLen?: number }[] = [];
  const add = (packet: Uint8Array): void => void list.push({ data: ethernet(packet) });
  add(out4(47, gre(ethernet(syn4(1)), { protocol: 0x88be }))); // ERSPAN type I
  add(out4(47, gre(erspan(ethernet(syn4(2)), { type: 3, session: 513, platform: true }), { protocol: 0x22eb, sequence: 7 })));
  add(out4(17, udp(geneve(syn4(3), { vni: 77, protocol: 0x0800, optionWords: 5 }), { dstPort: 6081, srcPort: 33333 })));
  add(out4(17, udp(geneve(syn6(4), { vni: 78, protocol: 0x86dd, optionWords: 1 }), { dstPort: 6081 })));
  add(out6(47, gre(syn4(5), { protocol: 0x0800, checksum: true, key: 0xdeadbeef, sequence: 1 }), true));
  add(out6(4, syn4(6), true)); // ip6tnl ipip6 with its tunnel encapsulation limit
  add(out6(41, syn6(7), true)); // ip6tnl ip6ip6
  // IPv4-in-IP inside GRE inside VXLAN: three layers.
  const ipip = out4(4, syn4(8), '198.19.8.1');
  const greIn = ipv6({ src: 'fd00:19:8::1', dst: 'fd00:19:8::2', nextHeader: 47, payload: gre(ipip, { protocol: 0x0800, key: 8 }) });
  add(out4(17, udp(vxlan(ethernet(greIn), { vni: 800 }), { dstPort: 4789 })));
  add(out4(17, udp(vxlan(ethernet(syn4(9), { vlans: [42] }), { vni: 900 }), { dstPort: 4789 }))); // a tag inside
  for (const f of fragmentIpv4(syn4(10), 8)) add(out4(47, gre(f, { protocol: 0x0800, key: 10 })));
  // The outer datagram fragmented around GRE (a SYN with 1,400 payload bytes), IPv4 and IPv6 outer.
  const big = (n: number): Uint8Array => ipv4({ src: `10.9.${n}.5`, dst: '10.9.0.1', payload: tcp({ srcPort: 40000 + n, dstPort: 445, flags: SYN, payload: 1400 }) });
  for (const f of fragmentIpv4(ipv4({ src: '198.18.0.1', dst: '198.18.0.2', id: 12, protocol: 47, payload: gre(ethernet(big(12)), { protocol: 0x6558, key: 12 }) }), 1000)) add(f);
  for (const f of fragmentIpv6(out6(47, gre(big(13), { protocol: 0x0800, key: 13 })), 1000).reverse()) add(f);
  // Cut after the inner TCP flags (a snap length): still a probe.
  const cut = ethernet(out4(17, udp(vxlan(ethernet(syn4(11)), { vni: 1100 }), { dstPort: 4789 })));
  list.push({ data: cut.subarray(0, cut.length - 8), origLen: cut.length });
  // Not probes: an ACK and a SYN-ACK through the same tunnels.
  add(out4(17, udp(geneve(syn4(3, ACK), { vni: 77, protocol: 0x0800, optionWords: 5 }), { dstPort: 6081 })));
  add(out6(4, syn4(6, SYN | ACK), true));
  return list.map((f, i) => ({ data: f.data, tsMicros: T0 + i * 1000, ...(f.origLen !== undefined ? { wirelen: f.origLen } : {}) }));
}

writeFileSync('fixtures/tunnels/crafted-shapes.pcap', writePcap(frames()));
console.log('fixtures/tunnels/crafted-shapes.pcap written; now: node dist/test/fixtures-gen/expect-from-tshark.js fixtures/tunnels');
