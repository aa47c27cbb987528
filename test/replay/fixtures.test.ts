/**
 * Every capture under fixtures/ replays to its expected alarms: per key
 * (source, destination, port, network type) the sum of `event.count` and
 * the probe kinds equal the .expect.json next to the capture; damaged files
 * exit with 3 after the alarms before the damage.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isCaptureName, type ExpectFile } from '../fixtures-gen/expect-file.js';
import { addProbe, canonicalIp, diffProbeMaps, PROBE_KIND_ORDER, probesOfAlarms, runReplay, type ProbeMap } from '../helpers/tshark.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const CLI = join(ROOT, 'dist/src/cli/main.js');
const FIXTURE_DIRS = ['fixtures/live', 'fixtures/crafted', 'fixtures/scanners', 'fixtures/tunnels'];

function capturesIn(dir: string): string[] {
  const abs = join(ROOT, dir);
  if (!existsSync(abs)) return [];
  return readdirSync(abs)
    .filter(isCaptureName)
    .sort()
    .map((n) => join(dir, n));
}

function loadExpect(capture: string): ExpectFile {
  return JSON.parse(readFileSync(join(ROOT, `${capture}.expect.json`), 'utf8')) as ExpectFile;
}

function expectedMap(e: ExpectFile): ProbeMap {
  const m: ProbeMap = new Map();
  for (const p of e.probes) addProbe(m, p.source, p.destination, p.port, p.type, p.packets, p.kinds);
  return m;
}

/** The "N whitelisted" figure of the run summary on stderr, when there is one. */
function whitelistedOf(stderr: string): number | null {
  const m = stderr.match(/(\d+) whitelisted/);
  return m ? Number(m[1]) : null;
}

const captures = FIXTURE_DIRS.flatMap(capturesIn);

describe('fixtures', () => {
  it('exist, and each capture has an expect file', () => {
    assert.ok(captures.length >= 30, `only ${captures.length} captures under ${FIXTURE_DIRS.join(', ')}`);
    const missing = captures.filter((c) => !existsSync(join(ROOT, `${c}.expect.json`)));
    assert.deepEqual(missing, []);
  });

  it('stay small (each < 200 KB, all < 2 MB)', () => {
    let total = 0;
    for (const c of captures) {
      const size = statSync(join(ROOT, c)).size;
      assert.ok(size < 200 * 1024, `${c} is ${size} bytes`);
      total += size;
    }
    assert.ok(total < 2 * 1024 * 1024, `fixtures total ${total} bytes`);
  });

  it('expect files are well-formed: canonical addresses, known kinds, positive counts', () => {
    for (const c of captures) {
      const e = loadExpect(c);
      assert.ok(existsSync(join(ROOT, e.policy)), `${c}: policy ${e.policy} missing`);
      assert.match(e.window, /^\d+(ms|s|m|h)$/, `${c}: window`);
      assert.equal(typeof e.damaged, 'boolean', `${c}: damaged`);
      assert.ok(Number.isInteger(e.whitelisted) && e.whitelisted >= 0, `${c}: whitelisted`);
      for (const p of e.probes) {
        assert.equal(canonicalIp(p.source), p.source, `${c}: source ${p.source} not canonical`);
        assert.equal(canonicalIp(p.destination), p.destination, `${c}: destination ${p.destination} not canonical`);
        assert.ok(p.type === 'ipv4' || p.type === 'ipv6', `${c}: type ${p.type}`);
        assert.equal(p.destination.includes(':') && !p.destination.startsWith('::ffff:'), p.type === 'ipv6', `${c}: type vs address`);
        assert.ok(Number.isInteger(p.packets) && p.packets > 0, `${c}: packets`);
        assert.ok(p.kinds.length > 0 && p.kinds.every((k) => PROBE_KIND_ORDER.includes(k)), `${c}: kinds`);
      }
    }
  });
});

describe('replay of fixtures matches their expected alarms', function () {
  before(function () {
    if (!existsSync(CLI)) {
      console.log(`    skipping: ${relative(ROOT, CLI)} is not built (npm run build)`);
      this.skip();
    }
  });

  for (const capture of captures) {
    it(capture, () => {
      const e = loadExpect(capture);
      const run = runReplay(join(ROOT, capture), {
        cliPath: CLI,
        policyFile: join(ROOT, e.policy),
        window: e.window,
        serverAddresses: e.serverAddress,
      });
      assert.equal(run.status, e.damaged ? 3 : 0, `exit status; stderr:\n${run.stderr}`);
      assert.doesNotMatch(run.stderr, /\n\s+at .+:\d+:\d+\)?\n/, 'stack trace on stderr');
      assert.deepEqual(run.badLines, [], 'non-JSON lines on stdout');
      const { probes, floods, malformed } = probesOfAlarms(run.alarms);
      assert.deepEqual(malformed, [], 'alarms without the contract fields');
      assert.equal(floods, 0, 'flood alarms');
      assert.deepEqual(diffProbeMaps(expectedMap(e), probes), []);
      const wl = whitelistedOf(run.stderr);
      if (wl !== null) assert.equal(wl, e.whitelisted, 'whitelisted probes in the summary');
    });
  }
});
