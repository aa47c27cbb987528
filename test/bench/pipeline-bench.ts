/**
 * The live per-packet path without the kernel: ring-block-sized batches of
 * Ethernet/IPv4 SYNs from random spoofed sources to one decoy port (the live
 * bench's flood, as the AF_PACKET ring hands it over) fed through the probe
 * pipeline exactly as the sensor does (no prefilter, ifindex table), timed
 * in process CPU time. No root, no network: the quick A/B loop for the
 * detector and decoder hot path, and the profile behind the live numbers
 * (`node --cpu-prof dist/test/bench/pipeline-bench.js`). Measures and
 * prints; asserts nothing.
 *
 *   node dist/test/bench/pipeline-bench.js [packets, default 4,000,000]
 *   (an A/B of two builds: pipeline-ab.js)
 */
import { pathToFileURL } from 'node:url';
import { GCProfiler } from 'node:v8';
import type { Alarm } from '../../src/alarm/alarm.js';
import { ProbePipeline } from '../../src/pipeline/probe-pipeline.js';
import { defaultPolicy } from '../../src/policy/recommended.js';
import { FrameBatch, LinkType } from '../../src/source/frame-batch.js';

const FRAME = 54; // Ethernet + IPv4 + TCP, no options
/**
 * Frames per batch: about one 256 KiB ring block of minimal frames by
 * default; HONEYPORT_BENCH_BATCH sets another (the live default ring's
 * 16 KiB blocks hold ~110). The frames stay 131,072 distinct ones either way.
 */
const BATCH = Number(process.env.HONEYPORT_BENCH_BATCH ?? 2048);
const IFINDEX = 3;

/** One batch of SYNs to `port` from pseudo-random sources (xorshift; the same each run). */
function synBatch(port: number, seed: number): FrameBatch {
  const b = new FrameBatch(BATCH);
  b.data = Buffer.alloc(BATCH * FRAME);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < BATCH; i++) {
    const o = i * FRAME;
    const d = b.data;
    d.writeUInt16BE(0x0800, o + 12);
    d[o + 14] = 0x45;
    d.writeUInt16BE(40, o + 16);
    d[o + 22] = 64;
    d[o + 23] = 6;
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    d.writeUInt32BE((0xc6130000 | (x & 0xffff)) >>> 0, o + 26); // spoofed source in 198.19/16, as trafgen sends
    d.writeUInt32BE(0xc6120001, o + 30); // 198.18.0.1
    d.writeUInt16BE(1024 + (x & 0x7fff), o + 34);
    d.writeUInt16BE(port, o + 36);
    d[o + 46] = 0x50; // data offset 5
    d[o + 47] = 0x02; // SYN
    b.offset[i] = o;
    b.caplen[i] = FRAME;
    b.wirelen[i] = FRAME;
    b.linktype[i] = LinkType.ETHERNET;
    b.iface[i] = IFINDEX;
  }
  b.count = BATCH;
  return b;
}

function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

export interface PipelineBenchResult {
  readonly packets: number;
  readonly nsPerPacket: number;
  readonly alarms: number;
  /** Young-generation collections per million packets: what the hot path still allocates (the alarms' share included). */
  readonly scavengesPerMpkt: number;
}

/** Feeds `packets` flood SYNs at `ratePps` of packet time (the clock the detector sees). */
export function runPipelineBench(packets: number, ratePps = 120_000): PipelineBenchResult {
  let alarms = 0;
  const pipeline = new ProbePipeline(
    { policy: defaultPolicy(), windowMicros: 60e6, maxTrackedKeys: 100_000, newSourceRate: 100, serverAddresses: [] },
    { onAlarm: (_a: Alarm) => { alarms++; }, admitAll: true, seed: 1 },
  );
  const table = new Int32Array(16).fill(-1);
  table[IFINDEX] = 0;
  const batches = Array.from({ length: Math.ceil((64 * 2048) / BATCH) }, (_, i) => synBatch(445, 0x9e3779b9 * (i + 1)));
  const step = 1e6 / ratePps;
  let ts = 1.7e15;
  let sent = 0;
  const gc = new GCProfiler();
  gc.start();
  const started = cpuMicros();
  for (let k = 0; sent < packets; k++) {
    const b = batches[k % batches.length]!;
    for (let i = 0; i < b.count; i++) {
      b.tsMicros[i] = ts;
      ts += step;
    }
    b.firstIndex = sent;
    pipeline.feed(b, table);
    sent += b.count;
  }
  const spent = cpuMicros() - started;
  const scavenges = gc.stop().statistics.filter((s) => s.gcType === 'Scavenge').length;
  return { packets: sent, nsPerPacket: (spent * 1000) / sent, alarms, scavengesPerMpkt: scavenges / (sent / 1e6) };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const packets = Number(process.argv[2] ?? 4_000_000);
  for (let run = 0; run < 3; run++) {
    const r = runPipelineBench(packets);
    process.stdout.write(`pipeline: ${r.packets} flood SYNs, ${r.nsPerPacket.toFixed(0)} ns CPU per packet, ${r.alarms} alarms, ${r.scavengesPerMpkt.toFixed(1)} scavenges per Mpkt\n`);
  }
}
