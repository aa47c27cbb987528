/**
 * pipeline-bench.js for two builds in one process, alternating: the A/B for
 * a change to the flood packet path on a shared, noisy host. Run as
 * separate processes, the same build's ns per packet spread over ±20% here
 * (216–307 in one session); alternated inside one process, each build's
 * runs see the same host moments, and a 30–50 ns difference that separate
 * processes could not show stood out in every round. Each build is loaded
 * from its own tree (module instances, JIT feedback and tables are
 * separate); the order within a round alternates too. Measures and
 * prints; asserts nothing. Run it under the live lock, like any timing.
 *
 *   node dist/test/bench/pipeline-ab.js <tree A> <tree B> [rounds, default 8] [packets per run, default 3,000,000]
 *   (a tree: a checkout whose dist/ holds a build, e.g. a copy of dist/ from before the change)
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { runPipelineBench } from './pipeline-bench.js';

type Bench = { runPipelineBench: typeof runPipelineBench };

const [treeA, treeB, roundsArg, packetsArg] = process.argv.slice(2);
if (!treeA || !treeB) {
  process.stderr.write('usage: pipeline-ab.js <tree A> <tree B> [rounds] [packets per run]\n');
  process.exit(2);
}
const load = async (tree: string): Promise<Bench> => (await import(pathToFileURL(join(tree, 'dist/test/bench/pipeline-bench.js')).href)) as Bench;
const builds: [string, Bench][] = [['A', await load(treeA)], ['B', await load(treeB)]];
const rounds = Number(roundsArg ?? 8);
const packets = Number(packetsArg ?? 3_000_000);
const ns: Record<string, number[]> = { A: [], B: [] };
const alarms: Record<string, Set<number>> = { A: new Set(), B: new Set() };
for (let r = 0; r < rounds; r++) {
  for (const [name, bench] of r % 2 === 0 ? builds : [...builds].reverse()) {
    const result = bench.runPipelineBench(packets);
    ns[name]!.push(result.nsPerPacket);
    alarms[name]!.add(result.alarms);
  }
}
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
for (const [name] of builds) {
  const xs = ns[name]!;
  process.stdout.write(
    `${name}: ${xs.map((x) => x.toFixed(0)).join(' ')} ns CPU per flood packet; ` +
      `range ${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}, median ${median(xs).toFixed(0)}; alarms ${[...alarms[name]!].join(', ')}\n`,
  );
}
