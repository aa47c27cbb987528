/** Runs a command under GNU time and returns wall seconds, CPU seconds and peak RSS. */
import { spawnSync } from 'node:child_process';

export interface Measurement {
  wallSeconds: number;
  cpuSeconds: number;
  peakRssMiB: number;
  stdout: string;
  exitCode: number;
}

export function measure(cmd: string, args: readonly string[], stdoutToNull = true): Measurement {
  const r = spawnSync('/usr/bin/time', ['-f', 'HPTIME %e %U %S %M', cmd, ...args], {
    encoding: 'utf8',
    maxBuffer: 1 << 30,
    stdio: ['ignore', stdoutToNull ? 'ignore' : 'pipe', 'pipe'],
  });
  const line = r.stderr.split('\n').find((l) => l.startsWith('HPTIME '));
  if (!line) throw new Error(`${cmd} did not run under /usr/bin/time: ${r.stderr.slice(0, 500)}`);
  const [wall, user, sys, rssKb] = line.split(' ').slice(1).map(Number) as [number, number, number, number];
  return { wallSeconds: wall, cpuSeconds: user + sys, peakRssMiB: rssKb / 1024, stdout: r.stdout ?? '', exitCode: r.status ?? -1 };
}
