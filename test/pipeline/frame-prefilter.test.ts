import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Decoder } from '../../src/decode/decoder.js';
import { DecodeStatus } from '../../src/decode/segment.js';
import { FramePrefilter } from '../../src/pipeline/frame-prefilter.js';
import { loadPolicyFile } from '../../src/policy/load.js';
import { defaultPolicy } from '../../src/policy/recommended.js';
import type { Policy } from '../../src/policy/policy.js';
import { readCapture } from '../../src/source/capture-file.js';
import { ethernet, fragmentIpv4, ipv4, ipv6, tcp } from '../helpers/frame-builder.js';
import { geneve, gre, udp, vxlan } from '../helpers/tunnel-builder.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function captures(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? captures(p) : /\.(pcap|pcapng)(\.gz)?$/.test(n) ? [p] : [];
  });
}

/** The prefilter may skip a frame only if decoding it yields nothing on a policy port. */
async function checkFile(file: string, policy: Policy): Promise<{ skipped: number; frames: number }> {
  const pre = new FramePrefilter(policy);
  const dec = new Decoder();
  const ports = new Set(policy.ports.map((p) => p.port));
  let skipped = 0;
  let frames = 0;
  try {
    for await (const b of readCapture(file)) {
      for (let i = 0; i < b.count; i++) {
        frames++;
        const skip = pre.skip(b.data, b.offset[i]!, b.caplen[i]!, b.linktype[i]!);
        const status = dec.decode(b.data, b.offset[i]!, b.caplen[i]!, b.linktype[i]!, b.tsMicros[i]!, b.vlan[i]!);
        if (!skip) continue;
        skipped++;
        assert.ok(status !== DecodeStatus.Segment || !ports.has(dec.segment.dstPort), `${file}: frame ${b.firstIndex + i} skipped but decodes to port ${dec.segment.dstPort}`);
        // A decoy port's own SYN makes its answer no probe: the detector must see it.
        assert.ok(status !== DecodeStatus.Segment || !ports.has(dec.segment.srcPort), `${file}: frame ${b.firstIndex + i} skipped but comes from port ${dec.segment.srcPort}`);
        assert.notEqual(status, DecodeStatus.Pending, `${file}: frame ${b.firstIndex + i} is a fragment`);
      }
    }
  } catch (err) {
    if ((err as Error).name !== 'CaptureDamagedError') throw err;
  }
  return { skipped, frames };
}

describe('replay frame prefilter', () => {
  it('never skips a frame that decodes to a policy port, over every fixture and two policies', async () => {
    const policies = [defaultPolicy(), await loadPolicyFile(join(ROOT, 'fixtures/policies/test-linux.yaml'))];
    let skipped = 0;
    let frames = 0;
    for (const file of captures(join(ROOT, 'fixtures'))) {
      for (const policy of policies) {
        const r = await checkFile(file, policy);
        skipped += r.skipped;
        frames += r.frames;
      }
    }
    assert.ok(skipped > 0 && skipped < frames, `skipped ${skipped} of ${frames}: the check must cover both outcomes`);
  });

  it('passes what it cannot judge: fragments, VLAN tags, IPv6 extension headers', () => {
    const policy: Policy = { name: 't', os: 'linux', ports: [{ port: 445, protocol: 'tcp' }], whitelist: [] };
    const pre = new FramePrefilter(policy);
    const b = (f: Uint8Array): Buffer => Buffer.from(f);
    const other = tcp({ srcPort: 1, dstPort: 80, flags: 0x10 });
    const probe = tcp({ srcPort: 1, dstPort: 445 });
    const skip = (f: Uint8Array): boolean => pre.skip(b(f), 0, f.length, 1);
    assert.equal(skip(ethernet(ipv4({ src: '198.18.0.1', dst: '198.18.0.2', payload: other }))), true);
    assert.equal(skip(ethernet(ipv4({ src: '198.18.0.1', dst: '198.18.0.2', payload: probe }))), false);
    assert.equal(skip(ethernet(ipv6({ src: 'fd00::1', dst: 'fd00::2', payload: other }))), true);
    assert.equal(skip(ethernet(ipv6({ src: 'fd00::1', dst: 'fd00::2', payload: other, extensions: [{ type: 'hopByHop' }] }))), false);
    assert.equal(skip(ethernet(ipv4({ src: '198.18.0.1', dst: '198.18.0.2', payload: other }), { vlans: [5] })), false);
    for (const f of fragmentIpv4(ipv4({ src: '198.18.0.1', dst: '198.18.0.2', payload: tcp({ srcPort: 1, dstPort: 80, payload: 40 }) }), 16)) {
      assert.equal(skip(ethernet(f)), false);
    }
    assert.equal(pre.skip(b(ipv4({ src: '198.18.0.1', dst: '198.18.0.2', payload: other })), 0, 40, 101), false); // raw IP: not judged
  });

  it('looks through one tunnel layer: skips what carries no probe, passes what does or what it cannot judge', () => {
    const policy: Policy = { name: 't', os: 'linux', ports: [{ port: 445, protocol: 'tcp' }], whitelist: [] };
    const pre = new FramePrefilter(policy);
    const to = (port: number): Uint8Array => ipv4({ src: '10.0.0.5', dst: '10.0.0.1', payload: tcp({ srcPort: 1, dstPort: port }) });
    const to6 = (port: number): Uint8Array => ipv6({ src: 'fd00:1::5', dst: 'fd00:1::1', payload: tcp({ srcPort: 1, dstPort: port }) });
    const skip = (f: Uint8Array): boolean => pre.skip(Buffer.from(f), 0, f.length, 1);
    const over4 = (protocol: number, payload: Uint8Array): Uint8Array => ethernet(ipv4({ src: '198.18.0.1', dst: '198.18.0.2', protocol, payload }));
    const over6 = (nextHeader: number, payload: Uint8Array): Uint8Array => ethernet(ipv6({ src: 'fd00::1', dst: 'fd00::2', nextHeader, payload }));
    const wraps: [string, (p: Uint8Array) => Uint8Array][] = [
      ['vxlan', (p) => over4(17, udp(vxlan(ethernet(p), { vni: 1 }), { dstPort: 4789 }))],
      ['vxlan over IPv6', (p) => over6(17, udp(vxlan(ethernet(p), { vni: 1 }), { dstPort: 4789 }))],
      ['geneve with options', (p) => over4(17, udp(geneve(ethernet(p), { vni: 1, protocol: 0x6558, optionWords: 2 }), { dstPort: 6081 }))],
      ['geneve IP', (p) => over4(17, udp(geneve(p, { vni: 1, protocol: p[0]! >> 4 === 6 ? 0x86dd : 0x0800 }), { dstPort: 6081 }))],
      ['gre key seq', (p) => over4(47, gre(p, { protocol: p[0]! >> 4 === 6 ? 0x86dd : 0x0800, key: 3, sequence: 4, checksum: true }))],
      ['gretap over IPv6', (p) => over6(47, gre(ethernet(p), { protocol: 0x6558 }))],
      ['ip-in-ip', (p) => (p[0]! >> 4 === 6 ? over4(41, p) : over4(4, p))],
    ];
    for (const [name, wrap] of wraps) {
      assert.equal(skip(wrap(to(80))), true, `${name}: to another port`);
      assert.equal(skip(wrap(to6(80))), true, `${name}: IPv6 to another port`);
      assert.equal(skip(wrap(to(445))), false, `${name}: to the decoy port`);
      assert.equal(skip(wrap(to6(445))), false, `${name}: IPv6 to the decoy port number`);
      for (const f of fragmentIpv4(to(80), 8)) assert.equal(skip(wrap(f)), false, `${name}: an inner fragment`);
    }
    // Random nestings, inner fragments, tags and cuts: a skipped frame never decodes to the decoy port.
    let seed = 12345;
    const rnd = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const dec = new Decoder();
    let skipped = 0;
    for (let i = 0; i < 3000; i++) {
      let p = rnd(2) ? to(rnd(2) ? 445 : 80) : to6(rnd(2) ? 445 : 80);
      if (rnd(4) === 0 && p[0]! >> 4 === 4) p = fragmentIpv4(p, 8)[rnd(3)]!;
      let f = wraps[rnd(wraps.length)]![1](p);
      if (rnd(3) === 0) f = wraps[rnd(wraps.length)]![1](f.subarray(14));
      if (rnd(4) === 0) f = f.subarray(0, 14 + rnd(f.length - 14));
      const s = skip(f);
      const st = dec.decode(Buffer.from(f), 0, f.length, 1, i);
      if (!s) continue;
      skipped++;
      assert.ok(st !== DecodeStatus.Pending && (st !== DecodeStatus.Segment || dec.segment.dstPort !== 445), `case ${i}`);
    }
    assert.ok(skipped > 300, `only ${skipped} skipped: the check must cover both outcomes`);
    const vx = (p: Uint8Array): Uint8Array => udp(vxlan(p, { vni: 1 }), { dstPort: 4789 });
    assert.equal(skip(over4(17, vx(ethernet(to(80), { vlans: [5] })))), false, 'a tag inside: not judged');
    assert.equal(skip(over4(47, gre(ipv4({ src: '198.19.0.1', dst: '198.19.0.2', protocol: 17, payload: vx(ethernet(to(80))) }), { protocol: 0x0800 }))), false, 'nested: not judged');
    assert.equal(skip(over4(47, gre(ethernet(to(80)), { protocol: 0x88be }))), false, 'ERSPAN: not judged');
    assert.equal(skip(over4(17, vx(ethernet(to(80))).subarray(0, 30))), false, 'cut inside the tunnel: not judged');
  });

  it('passes tunnels carrying a probe, skips other UDP', () => {
    const policy: Policy = { name: 't', os: 'linux', ports: [{ port: 445, protocol: 'tcp' }], whitelist: [] };
    const pre = new FramePrefilter(policy);
    const inner = ipv4({ src: '10.0.0.5', dst: '10.0.0.1', payload: tcp({ srcPort: 1, dstPort: 445 }) });
    const skip = (f: Uint8Array): boolean => pre.skip(Buffer.from(f), 0, f.length, 1);
    const over4 = (protocol: number, payload: Uint8Array): Uint8Array => ethernet(ipv4({ src: '198.18.0.1', dst: '198.18.0.2', protocol, payload }));
    const over6 = (nextHeader: number, payload: Uint8Array): Uint8Array => ethernet(ipv6({ src: 'fd00::1', dst: 'fd00::2', nextHeader, payload }));
    for (const over of [over4, over6]) {
      assert.equal(skip(over(4, inner)), false, 'IP-in-IP');
      assert.equal(skip(over(41, ipv6({ src: 'fd00:1::5', dst: 'fd00:1::1', payload: tcp({ srcPort: 1, dstPort: 445 }) }))), false, 'IPv6-in-IP');
      assert.equal(skip(over(47, gre(inner, { protocol: 0x0800 }))), false, 'GRE');
      assert.equal(skip(over(17, udp(vxlan(ethernet(inner), { vni: 1 }), { dstPort: 4789 }))), false, 'VXLAN');
      assert.equal(skip(over(17, udp(geneve(inner, { vni: 1, protocol: 0x0800 }), { dstPort: 6081 }))), false, 'Geneve');
      assert.equal(skip(over(17, udp(new Uint8Array(20), { dstPort: 53 }))), true, 'DNS');
    }
  });
});
