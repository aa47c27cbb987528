/**
 * Writes the benchmark capture: classic pcap, Ethernet, a realistic mix —
 * mostly established TCP (ACK/PSH-ACK with payload) over IPv4 and IPv6,
 * SYNs to ordinary ports, UDP, and SYN probes of the default policy's ports
 * from a few thousand sources. Deterministic (seeded), written in large chunks.
 */
import { createWriteStream } from 'node:fs';

const ETH = 14;
const MIX = { established: 0.86, otherSyn: 0.05, udp: 0.05, probe: 0.03, probe6: 0.01 };
const PROBE_PORTS = [88, 135, 139, 445, 1433, 3389, 5985, 5986];

export interface BenchCaptureStats {
  packets: number;
  probes: number;
  bytes: number;
  /** Timestamp of the last packet: where the next file of a rotated set starts. */
  endMicros: number;
}

const START_MICROS = 1_700_000_000 * 1e6;

export async function generateBenchCapture(path: string, packets: number, seed = 42, startMicros = START_MICROS): Promise<BenchCaptureStats> {
  let s = seed >>> 0;
  const rnd = (): number => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 0x100000000);
  const out = createWriteStream(path);
  const chunk = Buffer.alloc(8 << 20);
  let used = 0;
  const flush = async (): Promise<void> => {
    const copy = Buffer.from(chunk.subarray(0, used));
    used = 0;
    if (!out.write(copy)) await new Promise<void>((r) => out.once('drain', () => r()));
  };
  const hdr = Buffer.alloc(24);
  hdr.writeUInt32LE(0xa1b2c3d4, 0);
  hdr.writeUInt16LE(2, 4);
  hdr.writeUInt16LE(4, 6);
  hdr.writeUInt32LE(262144, 16);
  hdr.writeUInt32LE(1, 20);
  out.write(hdr);
  let probes = 0;
  let bytes = 24;
  let tsUsec = startMicros;
  for (let i = 0; i < packets; i++) {
    tsUsec += Math.floor(rnd() * 40);
    const r = rnd();
    const v6 = r >= 1 - MIX.probe6 || (r < MIX.established && rnd() < 0.15);
    let flags = 0x10;
    let payload = 0;
    let dport = 443;
    let sport = 1024 + Math.floor(rnd() * 60000);
    let proto = 6;
    if (r < MIX.established) {
      flags = rnd() < 0.5 ? 0x18 : 0x10;
      payload = flags === 0x18 ? 64 + Math.floor(rnd() * 1300) : 0;
      dport = [443, 80, 22, 5432][Math.floor(rnd() * 4)]!;
      if (rnd() < 0.5) [sport, dport] = [dport, sport];
    } else if (r < MIX.established + MIX.otherSyn) {
      flags = 0x02;
      dport = [443, 80, 22, 8080][Math.floor(rnd() * 4)]!;
    } else if (r < MIX.established + MIX.otherSyn + MIX.udp) {
      proto = 17;
      dport = 53;
      payload = 40;
    } else {
      flags = 0x02;
      dport = v6 ? 445 : PROBE_PORTS[Math.floor(rnd() * PROBE_PORTS.length)]!;
      if (!v6) probes++;
    }
    const l4 = proto === 6 ? 20 : 8;
    const ipLen = (v6 ? 40 : 20) + l4 + payload;
    const caplen = Math.min(ETH + ipLen, 128); // a snap length, as real sensors capture
    if (used + 16 + caplen > chunk.length) await flush();
    const rec = used;
    chunk.writeUInt32LE(Math.floor(tsUsec / 1e6), rec);
    chunk.writeUInt32LE(tsUsec % 1e6, rec + 4);
    chunk.writeUInt32LE(caplen, rec + 8);
    chunk.writeUInt32LE(ETH + ipLen, rec + 12);
    const f = rec + 16;
    chunk.fill(0, f, f + caplen);
    chunk.writeUInt32BE(0x02000000, f); chunk.writeUInt16BE(0x0001, f + 4);
    chunk.writeUInt32BE(0x02000000, f + 6); chunk.writeUInt16BE(0x0002, f + 10);
    const src = Math.floor(rnd() * (r >= 1 - MIX.probe - MIX.probe6 ? 3000 : 60000));
    let l4at: number;
    if (v6) {
      chunk.writeUInt16BE(0x86dd, f + 12);
      const ip = f + ETH;
      chunk.writeUInt32BE(0x60000000, ip);
      chunk.writeUInt16BE(l4 + payload, ip + 4);
      chunk[ip + 6] = proto;
      chunk[ip + 7] = 64;
      chunk.writeUInt32BE(0xfd000018, ip + 8); chunk.writeUInt32BE(src, ip + 20);
      chunk.writeUInt32BE(0xfd000018, ip + 24); chunk.writeUInt32BE(2, ip + 36);
      l4at = ip + 40;
    } else {
      chunk.writeUInt16BE(0x0800, f + 12);
      const ip = f + ETH;
      chunk[ip] = 0x45;
      chunk.writeUInt16BE(ipLen, ip + 2);
      chunk.writeUInt16BE(0x4000, ip + 6);
      chunk[ip + 8] = 64;
      chunk[ip + 9] = proto;
      chunk.writeUInt32BE(((198 << 24) | (18 << 16) | (src + 256)) >>> 0, ip + 12);
      chunk.writeUInt32BE(((198 << 24) | (19 << 16) | 2) >>> 0, ip + 16);
      l4at = ip + 20;
    }
    chunk.writeUInt16BE(sport, l4at);
    chunk.writeUInt16BE(dport, l4at + 2);
    if (proto === 6) {
      chunk[l4at + 12] = 0x50;
      chunk[l4at + 13] = flags;
    } else {
      chunk.writeUInt16BE(l4 + payload, l4at + 4);
    }
    used += 16 + caplen;
    bytes += 16 + caplen;
  }
  await flush();
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  return { packets, probes, bytes, endMicros: tsUsec };
}

/**
 * A rotated set, as `tcpdump -C`/`-G` leaves it: `files` captures of
 * `packetsEach` packets in `dir`, named `bench.pcap`, `bench.pcap1` …, each
 * starting where the previous one ended (one timeline; probe windows span
 * the cuts). Different seeds, so no two files are alike.
 */
export async function generateRotatedSet(dir: string, files: number, packetsEach: number, seed = 42): Promise<string[]> {
  const paths: string[] = [];
  let start = START_MICROS;
  for (let k = 0; k < files; k++) {
    const path = `${dir}/bench.pcap${k === 0 ? '' : k}`;
    start = (await generateBenchCapture(path, packetsEach, seed + k, start)).endMicros;
    paths.push(path);
  }
  return paths;
}
