/**
 * Many files: a rotated set (16 files of 250,000 packets by default, one
 * timeline) replayed sequentially (`--jobs 0`) and in parallel (default
 * jobs), alternately, several times each; the alarm lines of the two must be
 * identical. tcpdump's filter pass over the same files, one run per file, as
 * the floor. BENCH_FILES / BENCH_FILE_PACKETS / BENCH_REPEATS size it.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { EcsFormatter } from '../../src/deliver/format-ecs.js';
import { LineWriter } from '../../src/deliver/line-writer.js';
import { replay } from '../../src/pipeline/replay.js';
import { defaultPolicy } from '../../src/policy/recommended.js';
import { generateRotatedSet } from './generate-capture.js';
import { measure, type Measurement } from './measure.js';

export interface ManyFilesOptions {
  readonly cli: string;
  readonly tcpdumpFilter: string;
}

function range(ms: readonly Measurement[], pick: (m: Measurement) => number, digits = 2): string {
  const v = ms.map(pick);
  const lo = Math.min(...v).toFixed(digits);
  const hi = Math.max(...v).toFixed(digits);
  return lo === hi ? lo : `${lo}–${hi}`;
}

/**
 * The main thread's busy time (event-loop utilisation) for an in-process
 * replay of `paths` writing its alarms to /dev/null: the critical path a
 * parallel run cannot go below, whatever the cores. On a loaded machine wall
 * time mostly measures the other processes; this does not.
 */
async function mainThreadBusyMs(paths: readonly string[], workers: number): Promise<number> {
  const policy = defaultPolicy();
  const ecs = new EcsFormatter({ ruleName: policy.name, observer: { hostname: 'bench', version: '0' }, inputs: paths, mode: 'replay' });
  const { createWriteStream } = await import('node:fs');
  const sink = createWriteStream('/dev/null');
  const out = new LineWriter(sink);
  const before = performance.eventLoopUtilization();
  await replay({
    files: paths,
    workers,
    detection: { policy, windowMicros: 60_000_000, maxTrackedKeys: 100_000, newSourceRate: 100, serverAddresses: [] },
    onAlarm: (a) => out.write(ecs.format(a).json),
    afterBatch: () => (out.shouldFlush ? out.flush() : undefined),
  });
  await out.flush();
  const busy = performance.eventLoopUtilization(before).active;
  sink.destroy();
  return busy;
}

export interface ManyFilesReport {
  readonly text: string;
  /** Issue 11 item 3 as one line, for the bench's closing summary. */
  readonly target: string;
}

export async function manyFilesBenchTable(o: ManyFilesOptions): Promise<ManyFilesReport> {
  const files = Number(process.env.BENCH_FILES ?? 16);
  const each = Number(process.env.BENCH_FILE_PACKETS ?? 250_000);
  const repeats = Number(process.env.BENCH_REPEATS ?? 3);
  const dir = join(tmpdir(), `honeyport-bench-rotated-${files}x${each}`);
  const paths = Array.from({ length: files }, (_, k) => join(dir, `bench.pcap${k === 0 ? '' : k}`));
  if (!paths.every((p) => existsSync(p))) {
    mkdirSync(dir, { recursive: true });
    process.stderr.write(`bench: generating ${files} files of ${each} packets into ${dir}\n`);
    await generateRotatedSet(dir, files, each);
  }
  const seq: Measurement[] = [];
  const par: Measurement[] = [];
  for (let i = 0; i < repeats; i++) {
    seq.push(measure(process.execPath, [o.cli, 'replay', '--quiet', '--jobs', '0', dir], false));
    par.push(measure(process.execPath, [o.cli, 'replay', '--quiet', dir], false));
  }
  const digest = (m: Measurement): string => createHash('sha256').update(m.stdout).digest('hex');
  const same = [...seq, ...par].every((m) => digest(m) === digest(seq[0]!));
  const alarms = seq[0]!.stdout.split('\n').filter(Boolean).length;
  const script = `for f in "$@"; do tcpdump -r "$f" -w /dev/null '${o.tcpdumpFilter}' 2>/dev/null || exit 1; done`;
  const td = Array.from({ length: repeats }, () => measure('sh', ['-c', script, 'sh', ...paths]));
  const jobs = Math.max(1, availableParallelism() - 1);
  const busySeq: number[] = [];
  const busyPar: number[] = [];
  for (let i = 0; i < repeats; i++) {
    busySeq.push(await mainThreadBusyMs(paths, 0));
    busyPar.push(await mainThreadBusyMs(paths, jobs));
  }
  const ms = (v: number[]): string => `${Math.min(...v).toFixed(0)}–${Math.max(...v).toFixed(0)} ms`;
  const row = (name: string, ms: Measurement[], note: string): string =>
    `| ${name.padEnd(38)} | ${range(ms, (m) => m.wallSeconds).padStart(9)} | ${range(ms, (m) => m.cpuSeconds).padStart(9)} | ${range(ms, (m) => m.peakRssMiB, 0).padStart(7)} | ${note}\n`;
  const ratio = (a: Measurement[], b: Measurement[]): string => (Math.min(...a.map((m) => m.wallSeconds)) / Math.min(...b.map((m) => m.wallSeconds))).toFixed(2);
  const target =
    `many files (${files} × ${each.toLocaleString('en')} packets) on every core, alarms byte-identical to a sequential run: ${same ? 'met' : 'NOT met'} ` +
    `(${jobs} worker${jobs === 1 ? '' : 's'}; parallel/sequential wall ${ratio(par, seq)}, best runs)`;
  const text =
    `${files} files of ${each} packets, one timeline (${dir}); ${repeats} runs each, alternating\n\n` +
    '| run                                    | wall s    | cpu s     | MiB     | notes\n' +
    '|----------------------------------------|-----------|-----------|---------|------\n' +
    row('honeyport replay --jobs 0 (sequential)', seq, `${alarms} alarms`) +
    row(`honeyport replay (parallel, ${jobs} job${jobs === 1 ? '' : 's'})`, par, `alarms ${same ? 'byte-identical to sequential' : 'DIFFER from sequential'}`) +
    row('tcpdump -r -w /dev/null <filter>, x files', td, '') +
    `\nparallel/sequential wall (best runs): ${ratio(par, seq)}; parallel/tcpdump: ${ratio(par, td)}\n` +
    `main thread busy, in process (the critical path): sequential ${ms(busySeq)}, parallel ${ms(busyPar)}\n`;
  return { text, target };
}
