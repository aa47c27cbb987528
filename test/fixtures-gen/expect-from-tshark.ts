/**
 * Writes fixtures/<dir>/<name>.expect.json for captures whose expectations
 * come from tshark's dissection (the live fixtures), or, with --check,
 * compares existing expect files (any dir) with tshark and prints the
 * differences (exit code 1 when there are any).
 *
 *   node dist/test/fixtures-gen/expect-from-tshark.js fixtures/live
 *   node dist/test/fixtures-gen/expect-from-tshark.js --check fixtures/live fixtures/crafted
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { diffProbeMaps, loadProbePolicy, sortedProbes, tsharkProbes, addProbe, type ProbeMap } from '../helpers/tshark.js';
import { type ExpectFile, isCaptureName, POLICY_PATH, expectPathOf } from './expect-file.js';

function expectedMap(e: ExpectFile): ProbeMap {
  const m: ProbeMap = new Map();
  for (const p of e.probes) addProbe(m, p.source, p.destination, p.port, p.type, p.packets, p.kinds);
  return m;
}

function main(argv: string[]): number {
  const check = argv[0] === '--check';
  const dirs = check ? argv.slice(1) : argv;
  if (dirs.length === 0) {
    console.error('usage: expect-from-tshark [--check] DIR...');
    return 2;
  }
  const policy = loadProbePolicy(POLICY_PATH);
  let problems = 0;
  for (const dir of dirs) {
    for (const name of readdirSync(dir).sort()) {
      if (!isCaptureName(name)) continue;
      const file = join(dir, name);
      const t = tsharkProbes(file, policy);
      if (check) {
        let e: ExpectFile;
        try {
          e = JSON.parse(readFileSync(expectPathOf(file), 'utf8')) as ExpectFile;
        } catch {
          console.log(`${file}: no expect file`);
          problems++;
          continue;
        }
        const diffs = diffProbeMaps(expectedMap(e), t.probes);
        if (e.whitelisted !== t.whitelisted) diffs.push(`whitelisted: expected ${e.whitelisted}, tshark ${t.whitelisted}`);
        if (e.damaged !== t.damaged) diffs.push(`damaged: expected ${e.damaged}, tshark ${t.damaged}`);
        console.log(`${file}: ${diffs.length === 0 ? 'agrees with tshark' : diffs.join('; ')}`);
        problems += diffs.length;
        continue;
      }
      const out: ExpectFile = {
        policy: POLICY_PATH,
        window: '60s',
        serverAddress: [],
        probes: sortedProbes(t.probes).map((p) => ({ ...p })),
        whitelisted: t.whitelisted,
        damaged: t.damaged,
      };
      writeFileSync(expectPathOf(file), `${JSON.stringify(out, null, 2)}\n`);
      const total = out.probes.reduce((n, p) => n + p.packets, 0);
      console.log(`${file}: ${out.probes.length} key(s), ${total} probe packet(s), ${out.whitelisted} whitelisted`);
    }
  }
  return problems > 0 ? 1 : 0;
}

process.exitCode = main(process.argv.slice(2));
