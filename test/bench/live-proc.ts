/**
 * Process plumbing for the live benchmark: children inside a namespace with a
 * hard deadline, and the CPU time and peak RSS of a running process read from
 * /proc (all threads included, so the capture thread counts too).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, readdirSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A child of `ip netns exec` (which execs in place: the pid is the command's own). */
export interface Child {
  readonly process: ChildProcess;
  readonly pid: number;
  stderr: string;
  readonly closed: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exited: boolean;
}

/**
 * Starts `cmd` in `ns`; SIGKILLed after `deadlineMs` whatever happens. stdout
 * is left to the caller when `onStdout` is given, else discarded.
 */
export function startIn(ns: string, cmd: string, args: readonly string[], deadlineMs: number, onStdout?: (chunk: Buffer) => void): Child {
  const p = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  if (p.pid === undefined) throw new Error(`could not start ${cmd}`);
  const killer = setTimeout(() => p.kill('SIGKILL'), deadlineMs);
  const child: Child = {
    process: p,
    pid: p.pid,
    stderr: '',
    exited: false,
    closed: new Promise((resolve) =>
      p.on('close', (code, signal) => {
        clearTimeout(killer);
        child.exited = true;
        resolve({ code, signal });
      }),
    ),
  };
  p.stderr!.on('data', (d: Buffer) => {
    // Only the head and the summary matter; keep the buffer bounded.
    child.stderr = (child.stderr + d.toString()).slice(-64 * 1024);
  });
  if (onStdout) p.stdout!.on('data', onStdout);
  else p.stdout!.resume();
  return child;
}

/** Runs to completion (or the deadline); resolves with exit status, stdout and wall time. */
export async function runIn(ns: string, cmd: string, args: readonly string[], deadlineMs: number): Promise<{ code: number | null; stdout: string; stderr: string; wallSeconds: number }> {
  let stdout = '';
  const t0 = performance.now();
  const c = startIn(ns, cmd, args, deadlineMs, (d) => (stdout += d.toString()));
  const { code } = await c.closed;
  return { code, stdout, stderr: c.stderr, wallSeconds: (performance.now() - t0) / 1000 };
}

/** SIGTERM, then SIGKILL after `graceMs`. */
export async function terminate(c: Child, graceMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (!c.exited) c.process.kill('SIGTERM');
  const t = setTimeout(() => c.process.kill('SIGKILL'), graceMs);
  const r = await c.closed;
  clearTimeout(t);
  return r;
}

export async function waitFor(cond: () => boolean, timeoutMs: number, stepMs = 20): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) return false;
    await sleep(stepMs);
  }
  return true;
}

let clockTicks: number | undefined;

/** utime + stime of the whole process (every thread), seconds. */
export function cpuSeconds(pid: number): number {
  clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name may hold spaces; fields are counted after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / clockTicks; // fields 14 and 15 of proc(5)
}

/**
 * CPU seconds the process's live threads ran, from each one's schedstat
 * (nanoseconds the scheduler counted, not 10 ms tick samples): an idle
 * budget of 0.1 % is 2 ticks in 20 s, too coarse to judge by ticks. Threads
 * that exited are not counted (the idle pass starts none); NaN when
 * schedstat is not there (kernel without CONFIG_SCHED_INFO).
 */
export function cpuSecondsExact(pid: number): number {
  let ns = 0;
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
    }
  } catch {
    return NaN;
  }
  return ns / 1e9;
}

function statusKiB(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

/** Peak resident set (VmHWM), MiB. */
export const peakRssMiB = (pid: number): number => statusKiB(pid, 'VmHWM') / 1024;

/** Current resident set, MiB. */
export const rssMiB = (pid: number): number => statusKiB(pid, 'VmRSS') / 1024;

/** Where a resident set lies, MiB: what each part is decides what can shrink it. */
export interface ResidentParts {
  /** Pages of the node executable itself (shared with every node process, counted in each one's RSS). */
  readonly nodeBinary: number;
  /** Shared libraries and the native addon. */
  readonly libraries: number;
  /** The packet ring(s): mappings of a socket. */
  readonly ring: number;
  /** Anonymous memory: the V8 heap, malloc, stacks. */
  readonly anonymous: number;
  /** Proportional set size: each shared page divided among the processes mapping it (smaps_rollup). */
  readonly pss: number;
}

/** Sums smaps `Rss:` per kind of mapping. */
export function residentParts(pid: number): ResidentParts {
  const kib = { nodeBinary: 0, libraries: 0, ring: 0, anonymous: 0 };
  let kind: keyof typeof kib = 'anonymous';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const header = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (header) {
      const name = header[1] ?? '';
      kind = name.startsWith('socket:') ? 'ring' : name === '' || name.startsWith('[') ? 'anonymous' : name === process.execPath || /\/node$/.test(name) ? 'nodeBinary' : 'libraries';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB$/.exec(line);
    if (rss) kib[kind] += Number(rss[1]);
  }
  const pss = /^Pss:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
  return { nodeBinary: kib.nodeBinary / 1024, libraries: kib.libraries / 1024, ring: kib.ring / 1024, anonymous: kib.anonymous / 1024, pss: pss ? Number(pss[1]) / 1024 : Number.NaN };
}

export function onPath(tool: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, tool), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Command lines of live test suites now running (another engineer's), if any. */
export function runningLiveSuites(): string[] {
  try {
    return execFileSync('pgrep', ['-af', 'dist/test/live'], { stdio: 'pipe' })
      .toString()
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.includes('pgrep'));
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}
