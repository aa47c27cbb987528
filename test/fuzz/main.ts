/**
 * `npm run fuzz`: a seeded, time-bounded fuzzing run of the reader, decoder,
 * detector, policy and config loaders (in process) and of `replay` and
 * `policy check` (child processes).
 *
 *   FUZZ_SECONDS  budget (default 60); FUZZ_SEED  first seed (default 1)
 *
 * Seeds are consecutive from FUZZ_SEED, one per input, so a run is
 * repeatable and a failure is reproduced by its target and seed (the split
 * between targets follows the clock, the input for a target and seed does
 * not). A failing input
 * is kept as test/fuzz-corpus/<target>/<seed>.<ext>, where the corpus test
 * (`npm test`) replays it from then on. Exits 1 when anything failed, after
 * the budget; an uncaught exception or a rejection escaping a target also
 * fails the run. About half the budget goes to child processes.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateCapture } from './generate-capture.js';
import { generateConfig, generatePolicy } from './generate-policy.js';
import { Rng } from './rng.js';
import { CHILD_RSS_LIMIT_MIB, FuzzFailure, TARGETS, type Target } from './targets.js';

const CORPUS = fileURLToPath(new URL('../../../test/fuzz-corpus/', import.meta.url));
const SECONDS = Number(process.env.FUZZ_SECONDS ?? 60);
const FIRST_SEED = Number(process.env.FUZZ_SEED ?? 1);
/** In-process memory bound: the loaders and reader must not grow the heap without limit. */
const IN_PROCESS_RSS_LIMIT_MIB = 1024;

function inputFor(target: Target, seed: number): Buffer {
  const rng = new Rng(seed * 7919 + target.name.length);
  if (target.ext === 'pcap') return generateCapture(rng);
  return target.name === 'config' ? generateConfig(rng) : generatePolicy(rng);
}

function keep(target: Target, seed: number, input: Buffer, why: string): string {
  const dir = join(CORPUS, target.name);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `seed-${seed}-${createHash('sha1').update(input).digest('hex').slice(0, 8)}.${target.ext}`);
  writeFileSync(file, input);
  writeFileSync(`${file}.why`, `${why}\n`);
  return file;
}

/** Inputs kept per target and run: one defect tends to fail many seeds. */
const KEEP_PER_TARGET = 3;

let current: { target: Target; seed: number; input: Buffer } | undefined;
let failures = 0;
const kept = new Map<string, number>();

function fail(why: string): void {
  failures++;
  if (!current) { process.stderr.write(`fuzz: ${why}\n`); return; }
  const n = kept.get(current.target.name) ?? 0;
  if (n >= KEEP_PER_TARGET) { process.stderr.write(`fuzz: FAIL ${current.target.name} seed ${current.seed}: ${why.split('\n')[0]}\n`); return; }
  kept.set(current.target.name, n + 1);
  const file = keep(current.target, current.seed, current.input, why);
  process.stderr.write(`fuzz: FAIL ${current.target.name} seed ${current.seed}: ${why.split('\n')[0]}\n  kept as ${file}\n`);
}

process.on('uncaughtException', (err) => { fail(`uncaught exception: ${err.stack ?? String(err)}`); process.exit(1); });
process.on('unhandledRejection', (err) => { fail(`unhandled rejection: ${String(err)}`); process.exit(1); });

async function main(): Promise<void> {
  const deadline = Date.now() + SECONDS * 1000;
  const inProcess = TARGETS.filter((t) => !t.child);
  const children = TARGETS.filter((t) => t.child);
  const runs = new Map<string, number>();
  const spent = { child: 0, inProcess: 0 };
  let seed = FIRST_SEED;
  process.stderr.write(`fuzz: ${SECONDS} s from seed ${FIRST_SEED}; child RSS bound ${CHILD_RSS_LIMIT_MIB} MiB, in-process ${IN_PROCESS_RSS_LIMIT_MIB} MiB\n`);
  while (Date.now() < deadline) {
    // Split the time evenly between cheap in-process runs and child processes.
    const pool = spent.child <= spent.inProcess ? children : inProcess;
    const target = pool[seed % pool.length]!;
    const input = inputFor(target, seed);
    current = { target, seed, input };
    const started = Date.now();
    try {
      await target.run(input);
    } catch (err) {
      fail(err instanceof FuzzFailure ? err.message : `unexpected: ${err instanceof Error ? err.stack : String(err)}`);
    }
    const rss = process.memoryUsage().rss / 2 ** 20;
    if (rss > IN_PROCESS_RSS_LIMIT_MIB) fail(`in-process RSS ${rss.toFixed(0)} MiB > ${IN_PROCESS_RSS_LIMIT_MIB} MiB`);
    spent[target.child ? 'child' : 'inProcess'] += Date.now() - started;
    runs.set(target.name, (runs.get(target.name) ?? 0) + 1);
    current = undefined;
    seed++;
  }
  const summary = [...runs].map(([n, c]) => `${n} ${c}`).join(', ');
  process.stderr.write(`fuzz: seeds ${FIRST_SEED}..${seed - 1}: ${summary}; ${failures} failure${failures === 1 ? '' : 's'}\n`);
  process.exitCode = failures > 0 ? 1 : 0;
}

await main();
