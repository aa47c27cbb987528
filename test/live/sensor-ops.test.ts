/**
 * The sensor as an operator and a hostile local user meet it, each fault
 * injected: a second sensor started beside the first, a thousand status
 * clients that send a byte and half-close (what `echo | nc -U` does), a
 * client that connects and never reads, a sink that accepts and never
 * answers — and SIGTERM after all of them must still flush, spool and exit 0.
 * One network namespace of its own (its loopback only).
 */
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnIn } from './netns.js';
import { CLI, liveSkipReason, sleep } from './sensor-harness.js';

/** The documented SIGTERM deadline (README "Signals") plus a margin for a busy machine. */
const STOP_DEADLINE_MS = 10_000;
const STOP_LIMIT_MS = STOP_DEADLINE_MS + 3_000;

interface Exit { code: number | null; signal: NodeJS.Signals | null }

/** One `honeyport run` (or any command) in the namespace, its output collected. */
class Child {
  stdout = '';
  stderr = '';
  exit: Exit | undefined;
  readonly exited: Promise<Exit>;
  constructor(readonly proc: ChildProcess) {
    proc.stdout!.on('data', (d: Buffer) => (this.stdout += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((resolve) => proc.on('close', (code, signal) => { this.exit = { code, signal }; resolve(this.exit); }));
  }

  get pid(): number {
    return this.proc.pid!;
  }

  /** True once `re` matches stderr; false when the child exited first or `ms` passed. */
  async waitFor(re: RegExp, ms: number): Promise<boolean> {
    const until = Date.now() + ms;
    while (Date.now() < until && !re.test(this.stderr) && this.exit === undefined) await sleep(20);
    return re.test(this.stderr);
  }

  /** SIGTERM; resolves with the exit and the time it took (SIGKILL after STOP_LIMIT_MS). */
  async stop(): Promise<Exit & { ms: number }> {
    const t0 = Date.now();
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), STOP_LIMIT_MS);
    const exit = await this.exited;
    clearTimeout(timer);
    return { ...exit, ms: Date.now() - t0 };
  }

  kill(): void {
    if (this.exit === undefined) this.proc.kill('SIGKILL');
  }
}

function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Connects to the status socket, sends one byte and half-closes; resolves when the sensor closed it (or after 5 s). */
function halfClosedClient(path: string): Promise<'closed' | 'timeout'> {
  return new Promise((resolve) => {
    const c = createConnection(path);
    const timer = setTimeout(() => { c.destroy(); resolve('timeout'); }, 5_000);
    c.on('error', () => undefined);
    c.on('data', () => undefined);
    c.once('connect', () => c.end('x'));
    c.once('close', () => { clearTimeout(timer); resolve('closed'); });
  });
}

describe('one sensor per network namespace, hostile status clients, SIGTERM deadline (live)', function () {
  this.timeout(120_000);
  const ns = `hp-ops-${randomBytes(3).toString('hex')}`;
  let dir = '';
  const children: Child[] = [];

  before(function () {
    const why = liveSkipReason();
    if (why) {
      console.log(`      skipped: ${why}`);
      this.skip();
    }
    execFileSync('ip', ['netns', 'add', ns]);
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    dir = mkdtempSync(join(tmpdir(), 'hp-ops-'));
  });

  afterEach(async () => {
    for (const c of children.splice(0)) {
      c.kill();
      await c.exited;
    }
  });

  after(() => {
    try { execFileSync('ip', ['netns', 'del', ns], { stdio: 'pipe' }); } catch { /* not created */ }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function policy(name: string, port: number): string {
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, `name: ${name}\nos: linux\nports:\n  - { port: ${port}, protocol: tcp }\n`);
    return file;
  }

  function spawnSensor(name: string, port: number, extra: string[] = []): Child {
    const c = new Child(spawnIn(ns, process.execPath, [CLI, 'run', '--user', 'root', '-p', policy(name, port), '-i', 'lo', '-w', '1s', '--state-dir', join(dir, `state-${name}`), ...extra]));
    children.push(c);
    return c;
  }

  async function startSensor(name: string, port: number, extra: string[] = []): Promise<Child> {
    const c = spawnSensor(name, port, extra);
    assert.ok(await c.waitFor(/^honeyport: ready$/m, 15_000), `sensor ${name} ready; stderr:\n${c.stderr}`);
    return c;
  }

  /** One completed connection to `port` on the namespace's loopback: a probe the sensor must report. */
  function probe(port: number): void {
    execFileSync('ip', ['netns', 'exec', ns, process.execPath, '-e',
      `const c=require("net").connect(${port},"127.0.0.1",()=>setTimeout(()=>c.destroy(),50));c.on("error",()=>{})`], { timeout: 10_000 });
  }

  function alarmsTo(c: Child, port: number): { event: { id: string; count: number } }[] {
    return c.stdout.split('\n').filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { event: { id: string; count: number }; destination?: { port: number } })
      .filter((a) => a.destination?.port === port);
  }

  it('refuses a second sensor with another state dir and policy before it opens anything, naming the first one\'s pid', async () => {
    const first = await startSensor('first', 14001);
    const second = spawnSensor('second', 14002);
    const exit = await Promise.race([second.exited, sleep(15_000).then(() => undefined)]);
    assert.ok(exit, `the second sensor exits; stderr:\n${second.stderr}`);
    assert.doesNotMatch(second.stderr, /^honeyport: port \d+/m, 'no port was opened');
    assert.equal(existsSync(join(dir, 'state-second')), false, 'its state directory was not even created');
    assert.equal(exit.code, 1, second.stderr);
    assert.match(second.stderr.trim(), new RegExp(`^honeyport: another honeyport sensor is running in this network namespace \\(pid ${first.pid}\\)[^\\n]*$`));
    const stop = await first.stop();
    assert.deepEqual([stop.code, stop.signal], [0, null], first.stderr);
  });

  it('1,000 half-closed status clients leave the fd count where it was; a silent client does not hold up SIGTERM, which exits 0 with the alarm out', async () => {
    const sensor = await startSensor('clients', 14003);
    const sock = join(dir, 'state-clients', 'honeyport.sock');
    await sleep(300); // let start-up settle before taking the baseline
    const before = fdCount(sensor.pid);
    const outcomes: string[] = [];
    for (let batch = 0; batch < 10; batch++) {
      outcomes.push(...(await Promise.all(Array.from({ length: 100 }, () => halfClosedClient(sock)))));
    }
    assert.equal(outcomes.filter((o) => o === 'timeout').length, 0, 'every client was answered or closed');
    let after = fdCount(sensor.pid);
    for (let i = 0; i < 100 && after > before + 2; i++) {
      await sleep(50);
      after = fdCount(sensor.pid);
    }
    console.log(`      fd count: ${before} before, ${after} after 1,000 half-closed clients`);
    assert.ok(after <= before + 2, `fd count ${before} before, ${after} after 1,000 clients`);

    // A client that connects and then neither reads nor closes.
    const silent: Socket = createConnection(sock);
    silent.on('error', () => undefined);
    silent.pause();
    await new Promise((r) => silent.once('connect', r));
    probe(14003);
    assert.ok(await sensor.waitFor(/./, 100));
    for (let i = 0; i < 100 && alarmsTo(sensor, 14003).length === 0; i++) await sleep(50);
    const stop = await sensor.stop();
    silent.destroy();
    assert.deepEqual([stop.code, stop.signal], [0, null], sensor.stderr);
    assert.match(sensor.stderr, /^honeyport: stopped: /m);
    assert.ok(stop.ms < STOP_LIMIT_MS, `exit after ${stop.ms} ms`);
    // The probe is counted once: its first alarm, then the connection's follow-up (count 0) flushed at the stop.
    assert.equal(alarmsTo(sensor, 14003).reduce((n, a) => n + a.event.count, 0), 1, sensor.stdout);
  });

  it('with a sink that accepts and never answers, SIGTERM spools the alarm and exits 0 within the deadline', async () => {
    const hang = new Child(spawnIn(ns, process.execPath, ['-e',
      'const s=require("net").createServer((c)=>{c.on("error",()=>{});c.resume()});s.listen(18080,"127.0.0.1",()=>console.error("listening"));setTimeout(()=>process.exit(0),60000)']));
    children.push(hang);
    assert.ok(await hang.waitFor(/listening/, 10_000), hang.stderr);
    const spool = join(dir, 'spool-hang');
    const sensor = await startSensor('hang', 14004, ['-o', 'stdout', '-o', 'http://127.0.0.1:18080/alarms', '--spool-dir', spool]);
    probe(14004);
    for (let i = 0; i < 100 && alarmsTo(sensor, 14004).length === 0; i++) await sleep(50);
    const [alarm] = alarmsTo(sensor, 14004);
    assert.ok(alarm, `the alarm reached stdout: ${sensor.stderr}`);
    const stop = await sensor.stop();
    assert.deepEqual([stop.code, stop.signal], [0, null], sensor.stderr);
    console.log(`      SIGTERM with a hung sink: exit ${stop.code} after ${stop.ms} ms`);
    assert.ok(stop.ms < STOP_LIMIT_MS, `exit after ${stop.ms} ms`);
    assert.match(sensor.stderr, /^honeyport: stopped: /m);
    const spooled = readdirSync(spool, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .some((e) => readFileSync(join(e.parentPath, e.name), 'utf8').includes(alarm.event.id));
    assert.ok(spooled, `alarm ${alarm.event.id} is in the spool; stderr:\n${sensor.stderr}`);
  });
});
