/**
 * Exit codes and summaries that tell the truth about delivery: any alarm
 * dropped by any sink → exit 1, with numbers that add up; a reader of stdout
 * that goes away is one stderr line and exit 1, and the other sinks still
 * get every alarm.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer, type AddressInfo } from 'node:net';
import { generateBenchCapture } from '../bench/generate-capture.js';
import { HttpReceiver } from '../deliver/http-receiver.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = join(ROOT, 'dist/src/cli/main.js');

interface Run { code: number | null; stdout: string; stderr: string }

/** Runs the CLI; with `firstLineOnly`, stdout is closed after its first line (as `| head -1` does). */
function hp(args: string[], firstLineOnly = false): Promise<Run> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout.on('data', (d: Buffer) => {
    if (firstLineOnly && stdout.includes('\n')) return;
    stdout += d.toString();
    if (firstLineOnly && stdout.includes('\n')) {
      stdout = stdout.slice(0, stdout.indexOf('\n') + 1);
      child.stdout.destroy();
    }
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve) =>
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}

describe('command line: delivery exit codes and summaries', function () {
  this.timeout(90_000);
  let dir: string;
  let capture: string;
  let receiver: HttpReceiver;
  /** Alarms the capture raises (plain replay). */
  let alarms = 0;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hp-cli-delivery-'));
    capture = join(dir, 'many.pcap');
    await generateBenchCapture(capture, 100_000);
    const r = await hp(['replay', '-q', capture]);
    alarms = r.stdout.trim().split('\n').length;
    assert.ok(alarms > 1000, `enough alarms to fill a pipe (${alarms})`);
  });
  after(async () => rm(dir, { recursive: true, force: true }));
  beforeEach(async () => {
    receiver = new HttpReceiver();
    await receiver.start();
  });
  afterEach(async () => receiver.stop());

  it('replay without a spool against a receiver answering 503: exit 1, and produced = delivered + dropped + left', async () => {
    receiver.refuse = true;
    const r = await hp(['replay', capture, '-o', receiver.url, '--drain-timeout', '1s']);
    assert.equal(r.code, 1, r.stderr);
    const m = /sink \S+: (\d+) alarms = (\d+) delivered \+ (\d+) dropped \+ (\d+) left in the spool/.exec(r.stderr);
    assert.ok(m, r.stderr);
    const [produced, delivered, dropped, left] = m.slice(1).map(Number) as [number, number, number, number];
    assert.equal(produced, alarms);
    assert.equal(delivered, 0);
    assert.equal(dropped, alarms);
    assert.equal(left, 0);
    assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
  });

  it('replay whose receiver recovers delivers everything and exits 0', async () => {
    const r = await hp(['replay', capture, '-o', receiver.url]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`${alarms} alarms = ${alarms} delivered \\+ 0 dropped \\+ 0 left in the spool`));
    assert.equal(receiver.lines.length, alarms);
  });

  it('replay | head -1 with a second file sink: every alarm in the file, one stderr line, exit 1', async () => {
    const file = join(dir, 'alarms.json');
    const r = await hp(['replay', '-q', capture, '-o', 'stdout', '-o', `file:${file}`], true);
    assert.equal(r.code, 1, r.stderr);
    assert.equal((await readFile(file, 'utf8')).trim().split('\n').length, alarms, 'the file sink got every alarm');
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /^honeyport: sink stdout: output closed \(EPIPE\)/);
  });

  it('plain replay | head -1: one stderr line, exit 1', async () => {
    const r = await hp(['replay', '-q', capture], true);
    assert.equal(r.code, 1, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /^honeyport: stdout closed \(EPIPE\)/);
  });

  it('replay to syslog+tcp exits even when the receiver never closes its side after our FIN', async () => {
    let bytes = 0;
    const held: import('node:net').Socket[] = [];
    // allowHalfOpen: the receiver reads everything and answers our FIN with nothing.
    const server = createServer({ allowHalfOpen: true }, (s) => {
      held.push(s);
      s.on('data', (d: Buffer) => (bytes += d.length));
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const started = Date.now();
      const r = await hp(['replay', capture, '-o', `syslog+tcp://127.0.0.1:${port}`]);
      const took = Date.now() - started;
      assert.equal(r.code, 0, r.stderr);
      assert.ok(took < 15_000, `exited in ${took} ms`);
      assert.match(r.stderr, new RegExp(`${alarms} alarms = ${alarms} delivered`));
      assert.ok(bytes > 0);
    } finally {
      for (const s of held) s.destroy();
      server.close();
    }
  });
});
