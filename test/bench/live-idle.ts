/**
 * Idle footprint (issue 10 part 6): `honeyport run` with default options on
 * the bench's veth pair, no traffic, then its resident set and the CPU it
 * burns while nothing arrives (every thread, from /proc/PID/stat over
 * `IDLE_SECONDS`). Targets: RSS <= 64 MB, CPU <= 0.1 % of one core. Measures
 * only; the table states the verdict.
 */
import { join } from 'node:path';
import type { BenchNet } from './live-net.js';
import { cpuSeconds, cpuSecondsExact, peakRssMiB, residentParts, rssMiB, sleep, terminate, type ResidentParts } from './live-proc.js';
import { TRIM_SETTLE_MS } from '../../src/sensor/memory-trim.js';
import { HoneyportUnderTest } from './live-sensor.js';

/** Long enough that a 10 ms clock tick is 0.05 % of the window at most. */
export const IDLE_SECONDS = Number(process.env.HONEYPORT_LIVE_BENCH_IDLE_SECONDS ?? 60);
/**
 * After "ready": start-up's one-off work is not idle — the JIT, V8's memory
 * reducer (5–10 s after ready) and the quiet-spell trim (TRIM_SETTLE_MS).
 */
const SETTLE_MS = TRIM_SETTLE_MS + 3000;

export interface IdleResult {
  readonly backend: string;
  readonly seconds: number;
  /** From schedstat when the kernel has it (exactCpu), else from clock ticks. */
  readonly cpuPercent: number;
  readonly exactCpu: boolean;
  /** The same from /proc/PID/stat clock ticks (10 ms samples). */
  readonly tickCpuPercent: number;
  readonly rssMiB: number;
  readonly peakRssMiB: number;
  readonly parts: ResidentParts;
}

export async function idlePass(net: BenchNet, dir: string, policy: string, extraArgs: readonly string[] = [], backend = 'afpacket'): Promise<IdleResult> {
  const hp = await HoneyportUnderTest.start(net, policy, join(dir, `state-idle-${Date.now()}`), undefined, 60_000 + IDLE_SECONDS * 1000, extraArgs);
  try {
    await sleep(SETTLE_MS);
    const ticks0 = cpuSeconds(hp.child.pid);
    const exact0 = cpuSecondsExact(hp.child.pid);
    const t0 = performance.now();
    await sleep(IDLE_SECONDS * 1000);
    const ticks = cpuSeconds(hp.child.pid) - ticks0;
    const exact = cpuSecondsExact(hp.child.pid) - exact0;
    const seconds = (performance.now() - t0) / 1000;
    const cpu = Number.isFinite(exact) ? exact : ticks;
    const result = { backend, seconds, cpuPercent: (100 * cpu) / seconds, tickCpuPercent: (100 * ticks) / seconds, exactCpu: Number.isFinite(exact), rssMiB: rssMiB(hp.child.pid), peakRssMiB: peakRssMiB(hp.child.pid), parts: residentParts(hp.child.pid) };
    await hp.stop();
    return result;
  } finally {
    if (!hp.child.exited) await terminate(hp.child, 2000);
  }
}

const MB = 1e6 / 2 ** 20;
export function idleTargets(r: IdleResult): string[] {
  const rssMB = r.rssMiB / MB;
  return [
    `idle RSS <= 64 MB, default options (${r.backend}): ${rssMB <= 64 ? 'met' : 'NOT met'} (${rssMB.toFixed(1)} MB; peak ${(r.peakRssMiB / MB).toFixed(1)} MB)`,
    `  of which (MB): node executable ${(r.parts.nodeBinary / MB).toFixed(1)}, libraries and addon ${(r.parts.libraries / MB).toFixed(1)}, packet ring ${(r.parts.ring / MB).toFixed(1)}, anonymous (V8 heap, malloc, stacks) ${(r.parts.anonymous / MB).toFixed(1)}; PSS ${(r.parts.pss / MB).toFixed(1)}`,
    `idle CPU <= 0.1 % of one core (${r.backend}): ${r.cpuPercent <= 0.1 ? 'met' : 'NOT met'} (${r.cpuPercent.toFixed(3)} % over ${r.seconds.toFixed(0)} s, ${r.exactCpu ? 'schedstat' : 'clock ticks'}; ${r.tickCpuPercent.toFixed(3)} % in clock ticks)`,
  ];
}
