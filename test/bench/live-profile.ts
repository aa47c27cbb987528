/**
 * Where the live sensor's CPU goes (root; run under the live lock): on the
 * bench's veth pair, `honeyport run` idles for a few seconds, then takes one
 * max-rate trafgen SYN flood while `perf record` samples it. Prints CPU
 * seconds idle and per million packets and leaves perf.data for
 * `perf report`. Then, unless HONEYPORT_PROFILE_TCPDUMP=0, the same flood
 * once more through `tcpdump -w /dev/null` with the equivalent filter and
 * ring, so each run prints its own ratio. A measuring tool, not part of
 * `npm run bench`.
 *
 *   node --perf-basic-prof dist/test/bench/live-profile.js [packets] [perf.data]
 *   (NODE_OPTIONS=--perf-basic-prof makes the sensor's JIT frames readable)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBenchNet, destroyBenchNet } from './live-net.js';
import { cpuSeconds, sleep, terminate } from './live-proc.js';
import { holdPort, HoneyportUnderTest, TcpdumpUnderTest, writeBenchPolicy } from './live-sensor.js';
import { synFloodConfig, trafgen, writeConfig } from './live-traffic.js';

const PORT = 445;
const packets = Number(process.argv[2] ?? 1_000_000);
const perfData = process.argv[3];
const IDLE_S = 5;
const RING_MIB = 64;
const withTcpdump = process.env.HONEYPORT_PROFILE_TCPDUMP !== '0';

const dir = mkdtempSync(join(tmpdir(), 'honeyport-live-profile-'));
const net = createBenchNet();
try {
  const policy = writeBenchPolicy(join(dir, 'policy.json'), PORT, 'tcp');
  const config = writeConfig(join(dir, 'syn.cfg'), synFloodConfig(net, 4, PORT));
  const hp = await HoneyportUnderTest.start(net, policy, join(dir, 'state'), RING_MIB, 600_000);
  try {
    const idle0 = cpuSeconds(hp.child.pid);
    await sleep(IDLE_S * 1000);
    const idle = cpuSeconds(hp.child.pid) - idle0;
    const perf = perfData ? spawn('perf', ['record', '-F', '999', '-g', '-o', perfData, '-p', String(hp.child.pid)], { stdio: 'ignore' }) : undefined;
    await sleep(300);
    const s0 = await hp.status();
    const cpu0 = cpuSeconds(hp.child.pid);
    const switches0 = contextSwitches(hp.child.pid);
    const run = await trafgen(net, config, packets, undefined, 600_000);
    await sleep(1500);
    const switches = contextSwitches(hp.child.pid) - switches0;
    const s1 = await hp.status();
    const cpu = cpuSeconds(hp.child.pid) - cpu0;
    perf?.kill('SIGINT');
    if (perf) await new Promise((r) => perf.on('close', r));
    const captured = s1.capture.delivered - s0.capture.delivered;
    process.stdout.write(
      `idle: ${(idle / IDLE_S).toFixed(3)} CPU-s per s\n` +
        `flood: ${packets} offered at ${(run.count / run.wallSeconds / 1e3).toFixed(0)} kpps, ${captured} captured, ` +
        `kernel drops ${s1.capture.kernelDrops - s0.capture.kernelDrops}, hand-off drops ${s1.capture.handoffDrops - s0.capture.handoffDrops}, ` +
        `${cpu.toFixed(2)} CPU-s = ${(cpu / (captured / 1e6)).toFixed(3)} per Mpkt over ${run.wallSeconds.toFixed(1)} s, ${hp.lines} alarm lines, ` +
        `${Math.round(switches / (captured / 1e6)).toLocaleString('en')} context switches per Mpkt (all threads)\n`,
    );
    await hp.stop();
    if (withTcpdump) {
      const tcpdumpPerMpkt = await tcpdumpPass(config);
      process.stdout.write(`ratio: ${(cpu / (captured / 1e6) / tcpdumpPerMpkt).toFixed(1)}x tcpdump\n`);
    }
  } finally {
    if (!hp.child.exited) await terminate(hp.child, 2000);
  }
} finally {
  destroyBenchNet(net);
  rmSync(dir, { recursive: true, force: true });
}

/** The same flood through tcpdump (the port held by a plain listener, as for honeyport): its CPU-s per Mpkt. */
async function tcpdumpPass(config: string): Promise<number> {
  const holder = await holdPort(net, PORT, 600_000);
  try {
    const td = await TcpdumpUnderTest.start(net, PORT, RING_MIB, 600_000);
    try {
      await sleep(500);
      const cpu0 = cpuSeconds(td.child.pid);
      const run = await trafgen(net, config, packets, undefined, 600_000);
      // libpcap's ring blocks retire after up to a second when not full.
      await sleep(1500);
      const cpu = cpuSeconds(td.child.pid) - cpu0;
      const s = await td.stop();
      const perMpkt = cpu / (s.captured / 1e6);
      process.stdout.write(
        `tcpdump: ${packets} offered at ${(run.count / run.wallSeconds / 1e3).toFixed(0)} kpps, ${s.captured} captured, ` +
          `kernel drops ${s.kernelDrops}, ${cpu.toFixed(2)} CPU-s = ${perMpkt.toFixed(3)} per Mpkt\n`,
      );
      return perMpkt;
    } finally {
      if (!td.child.exited) await terminate(td.child, 2000);
    }
  } finally {
    await terminate(holder, 2000);
  }
}

/** Voluntary and involuntary context switches of every thread of `pid` so far (each wake-up is one). */
function contextSwitches(pid: number): number {
  let n = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
      for (const m of status.matchAll(/^(?:non)?voluntary_ctxt_switches:\s+(\d+)$/gm)) n += Number(m[1]);
    } catch {
      // the thread ended meanwhile
    }
  }
  return n;
}
