/**
 * The libpcap expression of the pcap backend against the AF_PACKET kernel
 * filter: libpcap compiles the expression (tcpdump -ddd over an empty
 * Ethernet capture), the interpreter runs both programs over the same
 * crafted frames, and every frame must get the same verdict (passed or not).
 * Skips, saying why, without tcpdump.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromTcpdumpDecimal } from '../../src/capture/bpf-program.js';
import { BpfVm } from '../../src/capture/bpf-vm.js';
import { buildCaptureFilter } from '../../src/capture/filter-builder.js';
import { buildPcapExpression } from '../../src/capture/pcap-expression.js';
import type { ProtectedPort } from '../../src/policy/policy.js';
import { Link, Proto, ethernet, fragmentIpv4, ipv4, ipv6, pcapFile, tcp, type Ipv6Extension } from '../helpers/frame-builder.js';

const PORTS: ProtectedPort[] = [
  { port: 22, protocol: 'tcp' }, { port: 445, protocol: 'tcp' },
  { port: 2222, protocol: 'tcp6' }, { port: 445, protocol: 'tcp6' },
];
const DPORTS = [22, 445, 2222, 80];

function tcpdumpWorks(): boolean {
  try {
    execFileSync('tcpdump', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Crafted frames: every flag byte to policy and other ports, IPv4 options, fragments, IPv6 extension headers, UDP. */
function frames(): { name: string; frame: Uint8Array }[] {
  const out: { name: string; frame: Uint8Array }[] = [];
  const seg = (dport: number, flags: number, payload = 0): Uint8Array => tcp({ srcPort: 40000, dstPort: dport, flags, payload });
  for (const dport of DPORTS) {
    for (let flags = 0; flags < 256; flags++) {
      out.push({ name: `v4 ${dport} flags ${flags}`, frame: ethernet(ipv4({ src: '198.18.0.2', dst: '198.18.0.1', payload: seg(dport, flags) })) });
      out.push({ name: `v6 ${dport} flags ${flags}`, frame: ethernet(ipv6({ src: 'fd00::2', dst: 'fd00::1', payload: seg(dport, flags) })) });
    }
    const opts = ipv4({ src: '198.18.0.2', dst: '198.18.0.1', payload: seg(dport, 0x02), options: [1, 1, 1, 1, 1, 1, 1, 0] });
    out.push({ name: `v4 options ${dport}`, frame: ethernet(opts) });
    const whole = ipv4({ src: '198.18.0.2', dst: '198.18.0.1', payload: seg(dport, 0x02, 64) });
    fragmentIpv4(whole, 24).forEach((f, i) => out.push({ name: `v4 fragment ${i} ${dport}`, frame: ethernet(f) }));
    const exts: Ipv6Extension[][] = [[{ type: 'hopByHop' }], [{ type: 'destination' }], [{ type: 'routing' }], [{ type: 'fragment' }], [{ type: 'ah' }]];
    for (const e of exts) out.push({ name: `v6 ${e[0]!.type} ${dport}`, frame: ethernet(ipv6({ src: 'fd00::2', dst: 'fd00::1', payload: seg(dport, 0x02), extensions: e })) });
    const udp = new Uint8Array([0x9c, 0x40, dport >> 8, dport & 0xff, 0, 8, 0, 0]);
    out.push({ name: `v4 udp ${dport}`, frame: ethernet(ipv4({ src: '198.18.0.2', dst: '198.18.0.1', payload: udp, protocol: Proto.UDP })) });
    out.push({ name: `v6 udp ${dport}`, frame: ethernet(ipv6({ src: 'fd00::2', dst: 'fd00::1', payload: udp, nextHeader: Proto.UDP })) });
  }
  return out;
}

describe('pcap backend filter expression', function () {
  this.timeout(20_000);
  let dir = '';
  before(function () {
    if (!tcpdumpWorks()) {
      console.log('      skipped: tcpdump is not installed (it compiles the libpcap expression)');
      this.skip();
    }
    dir = mkdtempSync(join(tmpdir(), 'honeyport-pcap-expr-'));
    writeFileSync(join(dir, 'empty.pcap'), pcapFile(Link.ETHERNET, []));
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const compile = (expr: string): BpfVm =>
    new BpfVm(fromTcpdumpDecimal(execFileSync('tcpdump', ['-ddd', '-r', join(dir, 'empty.pcap'), expr], { stdio: ['ignore', 'pipe', 'pipe'] }).toString()));

  for (const [name, ports] of [
    ['IPv4 and IPv6 ports', PORTS],
    ['IPv4 ports only', PORTS.filter((p) => p.protocol === 'tcp')],
    ['IPv6 ports only', PORTS.filter((p) => p.protocol === 'tcp6')],
  ] as const) {
    it(`passes exactly what the AF_PACKET filter passes (${name})`, () => {
      const pcap = compile(buildPcapExpression({ ports }));
      const kernel = new BpfVm(buildCaptureFilter({ ports }, { inboundOnly: false }));
      let passed = 0;
      const all = frames();
      for (const { name: frameName, frame } of all) {
        const k = kernel.run(frame, 0, frame.length, frame.length) > 0;
        const p = pcap.run(frame, 0, frame.length, frame.length) > 0;
        assert.equal(p, k, `${frameName}: libpcap ${p ? 'passes' : 'drops'}, AF_PACKET filter ${k ? 'passes' : 'drops'}`);
        if (p) passed++;
      }
      // Both programs passing nothing (or everything) would agree trivially.
      assert.ok(passed > 50 && passed < all.length / 2, `${passed} of ${all.length} passed`);
    });
  }

  it('passes nothing for a policy without ports', () => {
    const pcap = compile(buildPcapExpression({ ports: [] }));
    for (const { frame } of frames().slice(0, 600)) assert.equal(pcap.run(frame, 0, frame.length, frame.length), 0);
  });

  it('drops frames from the host\'s own addresses (our transmissions), whatever the port and flags, and no others', () => {
    const own = ['198.18.0.1', 'fd00::1', 'fe80::1%eth0'];
    const pcap = compile(buildPcapExpression({ ports: PORTS }, { ownAddresses: own }));
    const syn = (src: string, dst: string, v6: boolean): Uint8Array =>
      ethernet(v6 ? ipv6({ src, dst, payload: tcp({ srcPort: 40000, dstPort: 445, flags: 0x02 }) }) : ipv4({ src, dst, payload: tcp({ srcPort: 40000, dstPort: 445, flags: 0x02 }) }));
    const run = (f: Uint8Array): boolean => pcap.run(f, 0, f.length, f.length) > 0;
    // The server's own SYN (and, for a forwarded port number, its pure ACKs) to a remote decoy port number.
    assert.equal(run(syn('198.18.0.1', '198.18.0.2', false)), false, 'own IPv4 source');
    assert.equal(run(syn('fd00::1', 'fd00::2', true)), false, 'own IPv6 source');
    assert.equal(run(syn('fe80::1', 'fd00::2', true)), false, 'own link-local source (scope id dropped)');
    // Probes from anyone else still pass, also to one of our own addresses.
    assert.equal(run(syn('198.18.0.2', '198.18.0.1', false)), true, 'inbound IPv4 probe');
    assert.equal(run(syn('fd00::2', 'fd00::1', true)), true, 'inbound IPv6 probe');
    // Never `inbound`: libpcap runs the first frame after it sets a filter through its
    // userland interpreter, which cannot read the packet type and so drops that frame.
    assert.doesNotMatch(buildPcapExpression({ ports: PORTS }, { ownAddresses: own }), /inbound/);
  });

  it('refuses an own address that is not an IP address (the expression is code)', () => {
    assert.throws(() => buildPcapExpression({ ports: PORTS }, { ownAddresses: ['1.2.3.4 or tcp'] }), /not an IP address/);
  });
});
