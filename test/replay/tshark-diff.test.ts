/**
 * Differential test: honeyport's replay against tshark's dissection of the
 * same capture (with tshark's own IPv4/IPv6 reassembly). Per key (source,
 * destination, port, network type) the probe packet counts and kinds must
 * agree, over fixtures/ and over ../shared/pcaps/ when it is present.
 *
 * For a shared capture the policy is made from its most-probed destination
 * ports (at most 10, each bound to the IP version that probed it most), so
 * that the comparison covers the traffic the file actually has.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isCaptureName } from '../fixtures-gen/expect-file.js';
import {
  diffProbeMaps,
  loadProbePolicy,
  policyFromBusiestPorts,
  policyYaml,
  probesOf,
  probesOfAlarms,
  readTsharkSegments,
  runReplay,
  tsharkVersion,
  type ProbeKind,
  type ProbeMap,
} from '../helpers/tshark.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const CLI = join(ROOT, 'dist/src/cli/main.js');
const FIXTURE_POLICY = join(ROOT, 'fixtures/policies/test-linux.yaml');
const SHARED = process.env.HONEYPORT_SHARED_PCAPS ?? resolve(ROOT, '../shared/pcaps');
const WINDOW = '3600s';

/**
 * Where honeyport differs from tshark on purpose: probe packets tshark
 * counts that honeyport must not (per key; the key's entry goes when it
 * reaches 0). Everything else in these files must still agree.
 */
interface KnownDifference {
  /** Key -> probe packets only tshark counts. */
  readonly tsharkOnly: Readonly<Record<string, number>>;
  /** Key -> the kinds left once those packets are taken away (when it keeps packets). */
  readonly kindsAfter?: Readonly<Record<string, readonly ProbeKind[]>>;
  readonly why: string;
}

const KNOWN_DIFFERENCES: Record<string, KnownDifference> = {
  'fixtures/crafted/ipv4-overlap-conflict.pcap': {
    tsharkOnly: { '198.18.0.1|198.18.0.2|139|ipv4': 1, '198.18.0.1|198.18.0.2|445|ipv4': 1 },
    why: 'tshark reassembles the first of two conflicting readings of the TCP flags (a SYN to 139, an ACK-class probe to 445); honeyport drops datagrams whose fragments disagree',
  },
};

/** Removes the documented tshark-only probes; fails when tshark no longer reports them. */
function applyKnownDifferences(name: string, tshark: ProbeMap): void {
  const known = KNOWN_DIFFERENCES[name];
  if (!known) return;
  for (const [key, n] of Object.entries(known.tsharkOnly)) {
    const entry = tshark.get(key);
    assert.ok(entry !== undefined && entry.packets >= n, `${name}: tshark no longer reports ${n} probe(s) for ${key} (${known.why})`);
    entry.packets -= n;
    if (entry.packets === 0) tshark.delete(key);
    const kinds = known.kindsAfter?.[key];
    if (kinds !== undefined) entry.kinds = [...kinds];
  }
}

function capturesIn(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter(isCaptureName)
    .sort()
    .map((n) => join(dir, n));
}

/** Files tshark itself reports as damaged, from the MANIFEST's tshark_read_error column. */
function damagedInManifest(dir: string): Set<string> {
  const manifest = join(dir, 'MANIFEST.tsv');
  const out = new Set<string>();
  if (!existsSync(manifest)) return out;
  const [header, ...rows] = readFileSync(manifest, 'utf8').split('\n');
  const cols = (header ?? '').split('\t');
  const fileCol = cols.indexOf('file');
  const errCol = cols.indexOf('tshark_read_error');
  for (const row of rows) {
    const f = row.split('\t');
    if (fileCol >= 0 && errCol >= 0 && (f[errCol] ?? '').trim() !== '') out.add(f[fileCol]!);
  }
  return out;
}

function compare(file: string, policyFile: string, tshark: ProbeMap, damaged: boolean): void {
  const run = runReplay(file, { cliPath: CLI, policyFile, window: WINDOW });
  // A file tshark reads to the end may still be judged damaged by honeyport
  // (e.g. a record longer than the snap length); the alarms must agree anyway.
  const allowed = damaged ? [3] : [0, 3];
  assert.ok(allowed.includes(run.status ?? -1), `exit status ${run.status}; stderr:\n${run.stderr}`);
  assert.doesNotMatch(run.stderr, /\n\s+at .+:\d+:\d+\)?\n/, 'stack trace on stderr');
  assert.deepEqual(run.badLines, [], 'non-JSON lines on stdout');
  const { probes, floods, malformed } = probesOfAlarms(run.alarms);
  assert.deepEqual(malformed, [], 'alarms without the contract fields');
  assert.equal(floods, 0, 'flood alarms');
  assert.deepEqual(diffProbeMaps(tshark, probes), [], `honeyport (actual) vs tshark (expected) for ${file}`);
}

describe('honeyport replay vs tshark', function () {
  const version = tsharkVersion();
  before(function () {
    if (version === null) {
      console.log('    skipping: tshark is not installed (apt-get install tshark)');
      this.skip();
    }
    if (!existsSync(CLI)) {
      console.log(`    skipping: ${relative(ROOT, CLI)} is not built (npm run build)`);
      this.skip();
    }
  });

  describe('fixtures/', () => {
    const files = ['fixtures/live', 'fixtures/crafted', 'fixtures/scanners', 'fixtures/tunnels'].flatMap((d) => capturesIn(join(ROOT, d)));
    for (const file of files) {
      const rel = relative(ROOT, file);
      it(rel, () => {
        const read = readTsharkSegments(file);
        const { probes } = probesOf(read.segments, loadProbePolicy(FIXTURE_POLICY));
        applyKnownDifferences(rel, probes);
        compare(file, FIXTURE_POLICY, probes, read.damaged);
      });
    }
  });

  describe('../shared/pcaps/', function () {
    let tmp = '';
    const files = capturesIn(SHARED);
    const damaged = damagedInManifest(SHARED);
    before(function () {
      if (files.length === 0) {
        console.log(`    skipping: no public captures in ${SHARED}`);
        this.skip();
      }
      tmp = mkdtempSync(join(tmpdir(), 'honeyport-tshark-diff-'));
    });
    after(() => {
      if (tmp !== '') rmSync(tmp, { recursive: true, force: true });
    });
    for (const file of files) {
      it(basename(file), () => {
        const read = readTsharkSegments(file);
        const policy = policyFromBusiestPorts(read.segments);
        const policyFile = join(tmp, `${basename(file)}.yaml`);
        writeFileSync(policyFile, policyYaml(`diff-${basename(file)}`, policy));
        const { probes } = probesOf(read.segments, policy);
        applyKnownDifferences(basename(file), probes);
        compare(file, policyFile, probes, damaged.has(basename(file)) || read.damaged);
      });
    }
  });
});
