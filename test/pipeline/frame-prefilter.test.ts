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

  it('passes tunnels whatever they carry (the probe is behind headers it does not walk), skips other UDP', () => {
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
