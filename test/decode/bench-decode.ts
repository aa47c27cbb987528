/**
 * Decoder throughput (a benchmark, not a test): decodes a batch of typical
 * frames (Ethernet / IPv4 / TCP ACK with 100..1400 payload bytes) in a loop.
 * Run: node dist/test/decode/bench-decode.js [seconds]
 */
import { Decoder } from '../../src/decode/decoder.js';
import { LinkType } from '../../src/source/frame-batch.js';
import { ethernet, ipv4, ipv6, tcp } from '../helpers/frame-builder.js';
import { gre, udp, vxlan } from '../helpers/tunnel-builder.js';

export interface BenchResult {
  name: string;
  framesPerSecond: number;
}

function batch(make: (i: number) => Uint8Array, n: number): { data: Buffer; offs: Uint32Array; lens: Uint32Array } {
  const frames = Array.from({ length: n }, (_, i) => make(i));
  const data = Buffer.concat(frames.map((f) => Buffer.from(f)));
  const offs = new Uint32Array(n);
  const lens = new Uint32Array(n);
  let o = 0;
  frames.forEach((f, i) => {
    offs[i] = o;
    lens[i] = f.length;
    o += f.length;
  });
  return { data, offs, lens };
}

function run(name: string, make: (i: number) => Uint8Array, seconds: number): BenchResult {
  const n = 4096;
  const { data, offs, lens } = batch(make, n);
  const dec = new Decoder();
  let frames = 0;
  let sink = 0;
  const t0 = process.hrtime.bigint();
  const limit = BigInt(Math.round(seconds * 1e9));
  for (;;) {
    for (let i = 0; i < n; i++) {
      sink += dec.decode(data, offs[i], lens[i], LinkType.ETHERNET, i, 0);
    }
    frames += n;
    if ((frames & 0xffff) === 0 && process.hrtime.bigint() - t0 > limit) break;
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (sink !== frames) throw new Error(`unexpected statuses (${sink} != ${frames})`);
  return { name, framesPerSecond: frames / secs };
}

export function benchDecoder(seconds = 2): BenchResult[] {
  const ack4 = (i: number): Uint8Array =>
    ethernet(
      ipv4({
        src: `10.0.${(i >> 8) & 255}.${i & 255}`,
        dst: '10.1.0.1',
        payload: tcp({ srcPort: 1024 + i, dstPort: 443, flags: 0x10, payload: 100 + ((i * 37) % 1300) }),
      }),
    );
  const ack6 = (i: number): Uint8Array =>
    ethernet(
      ipv6({
        src: `fd00::${(i & 0xffff).toString(16)}`,
        dst: 'fd00::1',
        payload: tcp({ srcPort: 1024 + i, dstPort: 443, flags: 0x10, payload: 100 + ((i * 37) % 1300) }),
      }),
      { vlans: [10] },
    );
  // A mirror session's frames: the same ACKs inside VXLAN, and inside VXLAN inside GRE.
  const vx = (i: number): Uint8Array =>
    ethernet(ipv4({ src: '198.18.0.1', dst: '198.18.0.2', protocol: 17, payload: udp(vxlan(ack4(i), { vni: 7 }), { srcPort: 49152 + (i & 1023), dstPort: 4789 }) }));
  const greVx = (i: number): Uint8Array =>
    ethernet(ipv4({ src: '198.18.0.1', dst: '198.18.0.2', protocol: 47, payload: gre(vx(i).subarray(14), { protocol: 0x0800, key: 9 }) }));
  return [
    run('ethernet/ipv4/tcp-ack', ack4, seconds),
    run('ethernet/vlan/ipv6/tcp-ack', ack6, seconds),
    run('vxlan/ethernet/ipv4/tcp-ack', vx, seconds),
    run('gre/vxlan/ethernet/ipv4/tcp-ack', greVx, seconds),
  ];
}

if (process.argv[1]?.endsWith('bench-decode.js')) {
  const secs = Number(process.argv[2] ?? 2);
  for (const r of benchDecoder(secs)) {
    console.log(`${r.name}: ${(r.framesPerSecond / 1e6).toFixed(1)} M frames/s`);
  }
}
