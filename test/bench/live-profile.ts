/**
 * Where the live sensor's CPU goes (root; run under the live lock): on the
 * bench's veth pair, `honeyport run` idles for a few seconds, then takes one
 * max-rate trafgen SYN flood while `perf record` samples it. Prints CPU
 * seconds idle and per million packets and leaves perf.data for
 * `perf report`. A measuring tool, not part of `npm run bench`.
 *
 *   node --perf-basic-prof dist/test/bench/live-profile.js [packets] [perf.data]
 *   (NODE_OPTIONS=--perf-basic-prof makes the sensor's JIT frames readable)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBenchNet, destroyBenchNet } from './live-net.js';
import { cpuSeconds, sleep, terminate } from './live-proc.js';
import { HoneyportUnderTest, writeBenchPolicy } from './live-sensor.js';
import { synFloodConfig, trafgen, writeConfig } from './live-traffic.js';

const PORT = 445;
const packets = Number(process.argv[2] ?? 1_000_000);
const perfData = process.argv[3];
const IDLE_S = 5;

const dir = mkdtempSync(join(tmpdir(), 'honeyport-live-profile-'));
const net = createBenchNet();
try {
  const policy = writeBenchPolicy(join(dir, 'policy.json'), PORT, 'tcp');
  const config = writeConfig(join(dir, 'syn.cfg'), synFloodConfig(net, 4, PORT));
  const hp = await HoneyportUnderTest.start(net, policy, join(dir, 'state'), 64, 600_000);
  try {
    const idle0 = cpuSeconds(hp.child.pid);
    await sleep(IDLE_S * 1000);
    const idle = cpuSeconds(hp.child.pid) - idle0;
    const perf = perfData ? spawn('perf', ['record', '-F', '999', '-g', '-o', perfData, '-p', String(hp.child.pid)], { stdio: 'ignore' }) : undefined;
    await sleep(300);
    const s0 = await hp.status();
    const cpu0 = cpuSeconds(hp.child.pid);
    const run = await trafgen(net, config, packets, undefined, 600_000);
    await sleep(1500);
    const s1 = await hp.status();
    const cpu = cpuSeconds(hp.child.pid) - cpu0;
    perf?.kill('SIGINT');
    if (perf) await new Promise((r) => perf.on('close', r));
    const captured = s1.capture.delivered - s0.capture.delivered;
    process.stdout.write(
      `idle: ${(idle / IDLE_S).toFixed(3)} CPU-s per s\n` +
        `flood: ${packets} offered at ${(run.count / run.wallSeconds / 1e3).toFixed(0)} kpps, ${captured} captured, ` +
        `kernel drops ${s1.capture.kernelDrops - s0.capture.kernelDrops}, hand-off drops ${s1.capture.handoffDrops - s0.capture.handoffDrops}, ` +
        `${cpu.toFixed(2)} CPU-s = ${(cpu / (captured / 1e6)).toFixed(3)} per Mpkt over ${run.wallSeconds.toFixed(1)} s, ${hp.lines} alarm lines\n`,
    );
    await hp.stop();
  } finally {
    if (!hp.child.exited) await terminate(hp.child, 2000);
  }
} finally {
  destroyBenchNet(net);
  rmSync(dir, { recursive: true, force: true });
}
