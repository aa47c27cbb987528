/**
 * Parallel replay (worker threads read and prefilter, the main thread
 * detects) against the sequential one: byte-identical alarm lines on every
 * fixture replayed as one timeline and on a generated rotated set; a damaged
 * or missing file in the middle ends the same way; memory between the
 * threads stays bounded behind a slow consumer; progress covers all files.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EcsFormatter } from '../../src/deliver/format-ecs.js';
import { replay, type ReplayOptions, type ReplayProgress, type ReplayResult } from '../../src/pipeline/replay.js';
import { defaultPolicy } from '../../src/policy/recommended.js';
import type { Policy } from '../../src/policy/policy.js';
import { generateRotatedSet } from '../bench/generate-capture.js';
import { ethernet, ipv4, Link, pcapFile, tcp } from '../helpers/frame-builder.js';
import { CLI, fixtureCaptures, fixturePolicy, FIXTURE_POLICY, replayContext, ROOT } from '../helpers/replay-docs.js';

interface Run {
  readonly lines: string[];
  readonly result: ReplayResult;
}

async function run(files: readonly string[], policy: Policy, extra: Partial<ReplayOptions> = {}): Promise<Run> {
  const ecs = new EcsFormatter(replayContext(policy, files));
  const lines: string[] = [];
  const result = await replay({
    files,
    detection: { policy, windowMicros: 60_000_000, maxTrackedKeys: 100_000, newSourceRate: 100, serverAddresses: [] },
    onAlarm: (a) => lines.push(ecs.format(a).json),
    ...extra,
  });
  return { lines, result };
}

function sameRun(par: Run, seq: Run): void {
  assert.ok(seq.lines.length > 0, 'the sequential run raised no alarm: the comparison would prove nothing');
  assert.equal(par.lines.length, seq.lines.length);
  assert.deepEqual(par.lines, seq.lines);
  assert.equal(par.result.packets, seq.result.packets);
  assert.equal(par.result.bytes, seq.result.bytes);
  assert.deepEqual(par.result.decode, seq.result.decode);
  assert.deepEqual(par.result.detect, seq.result.detect);
  assert.deepEqual(par.result.damaged.map((d) => d.message), seq.result.damaged.map((d) => d.message));
}

function cli(args: readonly string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, 'replay', ...args], { encoding: 'utf8', maxBuffer: 256 << 20, timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('parallel replay', function () {
  this.timeout(120_000);
  let dir: string;
  let rotated: string[];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'honeyport-parallel-'));
    mkdirSync(join(dir, 'set'));
    rotated = await generateRotatedSet(join(dir, 'set'), 16, 6_000, 7);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('gives the sequential alarms, byte for byte, on every fixture replayed as one timeline', async () => {
    const files = fixtureCaptures();
    assert.ok(files.length >= 30);
    const policy = await fixturePolicy();
    const seq = await run(files, policy);
    assert.ok(seq.result.damaged.length > 0, 'the fixtures include damaged captures');
    const par = await run(files, policy, { workers: 3 });
    assert.equal(par.result.workers, 3);
    sameRun(par, seq);
  });

  it('gives the sequential alarms on a generated rotated set of 16 files, whatever the batch size and credits', async () => {
    const policy = defaultPolicy();
    const seq = await run(rotated, policy);
    assert.ok(seq.lines.some((l) => l.includes('"alarm":"follow-up"')), 'follow-ups (advance) are part of what must match');
    for (const extra of [{ workers: 1 }, { workers: 4 }, { workers: 2, batchSize: 97, credits: 1 }]) {
      const par = await run(rotated, policy, extra);
      assert.ok(par.result.workers > 0, 'it ran in parallel');
      sameRun(par, seq);
    }
    // And it was not trivially the same input: a different order gives other alarms.
    const shuffled = await run([...rotated].reverse(), policy, { workers: 2 });
    assert.notDeepEqual(shuffled.lines, seq.lines);
  });

  it('closes windows at the end of each source batch even when the prefilter dropped its last frames', async () => {
    // A SYN opens a window; traffic the prefilter drops runs past the window's end and ends
    // the batch; then the scanner's ACK. Sequentially the batch end (advance) closes the
    // window first, so the ACK finds none: the worker must report the batch's last time.
    const t0 = 1_700_000_000_000_000;
    const frame = (port: number, flags: number, proto = 6) =>
      ethernet(ipv4({ src: '198.18.0.9', dst: '198.19.0.2', protocol: proto, payload: proto === 6 ? tcp({ srcPort: 40000, dstPort: port, flags }) : new Uint8Array(12) }));
    const capture = (t: number) =>
      pcapFile(Link.ETHERNET, [
        { data: frame(445, 0x02), tsMicros: t },
        { data: frame(445, 0x02), tsMicros: t + 1_000_000 },
        { data: frame(443, 0x10), tsMicros: t + 70_000_000 },
        { data: frame(445, 0x10), tsMicros: t + 71_000_000 },
        { data: frame(53, 0, 17), tsMicros: t + 72_000_000 },
      ]);
    const files = [join(dir, 'a.pcap'), join(dir, 'b.pcap')];
    for (const [i, f] of files.entries()) writeFileSync(f, capture(t0 + i * 200_000_000));
    const policy = defaultPolicy();
    const seq = await run(files, policy, { batchSize: 3 });
    const par = await run(files, policy, { batchSize: 3, workers: 2 });
    sameRun(par, seq);
    assert.ok(seq.lines.every((l) => !l.includes('handshake_completed')), 'the window closed before the ACK');
  });

  it('fails with one error when a worker dies, and exits', () => {
    // A heap too small for the reader's 1 MiB buffer: the worker runs out of memory at its
    // first file. In a child process: a thread left running would keep it from exiting.
    const replayJs = join(ROOT, 'dist/src/pipeline/replay.js');
    const recommendedJs = join(ROOT, 'dist/src/policy/recommended.js');
    const script = `
      const { replay } = await import(${JSON.stringify(replayJs)});
      const { defaultPolicy } = await import(${JSON.stringify(recommendedJs)});
      const detection = { policy: defaultPolicy(), windowMicros: 60e6, maxTrackedKeys: 1e5, newSourceRate: 100, serverAddresses: [] };
      try {
        await replay({ files: ${JSON.stringify(rotated.slice(0, 4))}, detection, onAlarm: () => {}, workers: 2, workerHeapMiB: 1 });
        console.log('resolved');
      } catch (err) {
        console.log('rejected: ' + err.message);
      }`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.signal, null, 'the process exited by itself (no worker left running)');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^rejected: replay worker \d (failed|stopped)/);
  });

  it('replays hundreds of files as one timeline, as sequentially', async () => {
    const many = join(dir, 'many');
    mkdirSync(many);
    const files = await generateRotatedSet(many, 300, 60, 11);
    const policy = defaultPolicy();
    const seq = await run(files, policy);
    const par = await run(files, policy, { workers: 3 });
    assert.equal(par.result.files, 300);
    sameRun(par, seq);
  });

  it('keeps what waits between the threads bounded behind a slow consumer', async () => {
    const slow = () => new Promise<void>((r) => setTimeout(r, 2));
    const par = await run(rotated.slice(0, 6), defaultPolicy(), { workers: 3, credits: 2, batchSize: 256, afterBatch: slow });
    assert.ok(par.result.packets === 36_000);
    assert.ok(par.result.peakQueuedBatches >= 2, `workers ran ahead (${par.result.peakQueuedBatches})`);
    assert.ok(par.result.peakQueuedBatches <= 3 * 2, `at most workers x credits batches wait, saw ${par.result.peakQueuedBatches}`);
  });

  it('reports progress over all files, in both modes', async () => {
    const files = rotated.slice(0, 5);
    const total = files.reduce((a, f) => a + statSync(f).size, 0);
    for (const workers of [0, 2]) {
      const seen: ReplayProgress[] = [];
      await run(files, defaultPolicy(), { workers, onProgress: (p) => seen.push(p) });
      assert.ok(seen.length > 5, `mode ${workers}: ${seen.length} reports`);
      for (let i = 1; i < seen.length; i++) {
        assert.ok(seen[i]!.bytesRead >= seen[i - 1]!.bytesRead, `mode ${workers}: progress went back at ${i}`);
        assert.ok(seen[i]!.fileIndex >= seen[i - 1]!.fileIndex);
      }
      const last = seen.at(-1)!;
      assert.equal(last.totalBytes, total);
      assert.equal(last.files, 5);
      assert.equal(last.fileIndex, 4);
      assert.equal(last.bytesRead, total, `mode ${workers}: the last report covers every file`);
    }
  });

  it('ends like the sequential run when a file in the middle is damaged or missing (stdout, stderr, exit code)', () => {
    const good = fixtureCaptures().filter((f) => /nmap-sS\.pcap$|window-boundary\.pcap$/.test(f));
    assert.equal(good.length, 2);
    const cut = join(dir, 'cut.pcap');
    copyFileSync(good[0]!, cut);
    truncateSync(cut, statSync(cut).size - 7);
    const notCapture = join(dir, 'notes.txt');
    writeFileSync(notCapture, 'not a capture\n');
    for (const middle of [[cut], [cut, notCapture], [join(dir, 'missing.pcap')]]) {
      const files = [good[0]!, ...middle, good[1]!];
      const seq = cli(['-p', FIXTURE_POLICY, '-j', '0', ...files]);
      const par = cli(['-p', FIXTURE_POLICY, '-j', '2', ...files]);
      assert.ok(seq.status === 1 || seq.status === 3, `${middle}: ${seq.status} ${seq.stderr}`);
      assert.equal(par.status, seq.status, `${middle}: ${par.stderr}`);
      assert.equal(par.stdout, seq.stdout);
      // The summary's timing differs; everything else on stderr is the same.
      const untimed = (s: string) => s.replace(/ in \d+\.\d+ s \([^)]*\)/, '');
      assert.equal(untimed(par.stderr), untimed(seq.stderr));
      if (seq.status === 3) assert.match(par.stderr, /cut\.pcap: damaged at byte \d+/);
      // Whatever stops the run, the alarms of the files before it are written.
      const first = cli(['-p', FIXTURE_POLICY, good[0]!]).stdout;
      assert.ok(first.length > 0 && seq.stdout.startsWith(first), `${middle}: the first file's alarms are written`);
    }
  });

  it('replays a directory as its files in natural name order (tcpdump -C rotation names)', () => {
    const named = cli(['-q', '-j', '2', ...rotated]);
    const whole = cli(['-q', '-j', '2', join(dir, 'set')]);
    assert.equal(whole.status, 0, whole.stderr);
    assert.equal(whole.stdout, named.stdout);
    assert.ok(whole.stdout.length > 0);
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    const r = cli([empty]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^honeyport: .*empty: directory holds no files to replay\n$/);
  });

  it('ends with exit 1 and one line when the reader of stdout leaves, and does not hang', () => {
    const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} replay -q -j 2 ${rotated.map((f) => JSON.stringify(f)).join(' ')} | head -c 100 >/dev/null; echo "exit \${PIPESTATUS[0]}" >&2`;
    const r = spawnSync('bash', ['-c', cmd], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.signal, null, 'it ended');
    assert.match(r.stderr, /^honeyport: stdout closed \(EPIPE\): (\d+ alarms and )?whatever was buffered not written\nexit 1\n$/);
  });

  it('refuses a --jobs that is not a whole number from 0 to 256 (exit 2, one line)', () => {
    for (const bad of ['x', '-1', '257', '1.5', '']) {
      const r = cli(['-j', bad, rotated[0]!]);
      assert.equal(r.status, 2, bad);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /^honeyport: --jobs: ".*" is not a whole number from 0 to 256\n$/);
    }
  });

  it('shows one progress line on a terminal that counts over all files', function () {
    const script = spawnSync('script', ['--version'], { encoding: 'utf8' });
    if (script.status !== 0) this.skip();
    const big = rotated.slice(0, 16);
    const cmd = `${process.execPath} ${CLI} replay -q -j 2 ${big.join(' ')} >/dev/null`;
    const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stdout);
    const shown = [...r.stdout.matchAll(/replay bench\.pcap\d* \(file (\d+) of 16\): (\d+)% (\d+) packets, \d+ alarms/g)];
    assert.ok(shown.length >= 1, `no progress line in ${JSON.stringify(r.stdout.slice(0, 300))}`);
    for (let i = 1; i < shown.length; i++) assert.ok(Number(shown[i]![2]) >= Number(shown[i - 1]![2]), 'the percentage is over all files: it never restarts');
    assert.ok(r.stdout.endsWith('\r\x1b[2K') || !r.stdout.includes('replay bench'), 'the line is cleared at the end');
  });
});
