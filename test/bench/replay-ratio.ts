/**
 * Issue 11's replay targets as the bench judges them: honeyport's replay of
 * one capture against tcpdump's filter pass over the same file, measured
 * alternately (a 2-core VM's wall time moves ±30% from run to run, so one
 * pair proves nothing), judged on the medians. Wall time is the target's
 * unit; the CPU ratio is printed beside it because it is what the other
 * jobs on a shared host disturb least.
 */
import { measure, type Measurement } from './measure.js';

export interface ReplayRatio {
  readonly honeyport: readonly Measurement[];
  readonly tcpdump: readonly Measurement[];
  /** Median wall over median wall. */
  readonly wallRatio: number;
  readonly cpuRatio: number;
}

export const median = (v: readonly number[]): number => {
  const s = [...v].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

export function measureReplayRatio(cli: string, file: string, tcpdumpFilter: string, runs: number): ReplayRatio {
  const honeyport: Measurement[] = [];
  const tcpdump: Measurement[] = [];
  for (let i = 0; i < runs; i++) {
    honeyport.push(measure(process.execPath, [cli, 'replay', '--quiet', file]));
    tcpdump.push(measure('tcpdump', ['-r', file, '-w', '/dev/null', tcpdumpFilter]));
  }
  const wall = (ms: readonly Measurement[]): number => median(ms.map((m) => m.wallSeconds));
  const cpu = (ms: readonly Measurement[]): number => median(ms.map((m) => m.cpuSeconds));
  return { honeyport, tcpdump, wallRatio: wall(honeyport) / wall(tcpdump), cpuRatio: cpu(honeyport) / cpu(tcpdump) };
}

const range = (ms: readonly Measurement[], f: (m: Measurement) => number): string => {
  const v = ms.map(f);
  return `${Math.min(...v).toFixed(2)}–${Math.max(...v).toFixed(2)}`;
};

/** One line that says what was compared, the ratio, and the verdict against `target` (and the moonshot, if any). */
export function replayRatioLine(label: string, r: ReplayRatio, target: number, moonshot?: number): string {
  if (!Number.isFinite(r.wallRatio)) return `replay ${label}: n/a (tcpdump's pass took under GNU time's 10 ms resolution: use a larger BENCH_PACKETS)`;
  const verdict = r.wallRatio <= target ? 'met' : 'NOT met';
  const moon = moonshot === undefined ? '' : `; moonshot <= ${moonshot.toFixed(1)}x: ${r.wallRatio <= moonshot ? 'met' : 'not met'}`;
  return (
    `replay ${label}: wall ${r.wallRatio.toFixed(2)}x tcpdump's filter pass (target <= ${target.toFixed(1)}x: ${verdict}${moon}); ` +
    `CPU ${r.cpuRatio.toFixed(2)}x — honeyport wall ${range(r.honeyport, (m) => m.wallSeconds)} s, CPU ${range(r.honeyport, (m) => m.cpuSeconds)} s; ` +
    `tcpdump wall ${range(r.tcpdump, (m) => m.wallSeconds)} s, CPU ${range(r.tcpdump, (m) => m.cpuSeconds)} s (${r.honeyport.length} runs each, alternating, medians)`
  );
}
