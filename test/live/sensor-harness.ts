/**
 * Drives `honeyport run` and the attack tools for the live sensor tests:
 * starts the sensor inside a namespace and waits for `ready`, captures the
 * same traffic with tcpdump, reads that capture independently of honeyport's
 * decoder, and sums alarms per key so that live, wire and replay can be
 * compared. Every child has a deadline.
 */
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { accessSync, chmodSync, constants, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { stageReadableCopy, type StagedCopy } from '../helpers/stage-readable.js';
import { canonicalV6, createTopology, destroyTopology, runIn, spawnIn, type RunResult, type Topology } from './netns.js';

/** Repository root, from dist/test/live/. */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CLI = join(REPO_ROOT, 'dist/src/cli/main.js');
export const NATIVE_ADDON = join(REPO_ROOT, 'build/Release/honeyport_native.node');
export const REQUIRED_TOOLS = ['ip', 'nmap', 'hping3', 'tcpdump', 'python3'] as const;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function onPath(tool: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    try {
      accessSync(join(dir, tool), constants.X_OK);
      return true;
    } catch {
      // next
    }
  }
  return false;
}

/** Why the live sensor suites cannot run here, or undefined when they can. */
export function liveSkipReason(): string | undefined {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, raw sockets)';
  const missing = REQUIRED_TOOLS.filter((t) => !onPath(t));
  if (missing.length > 0) return `missing tools: ${missing.join(', ')}`;
  if (!existsSync(NATIVE_ADDON)) return `native addon not built (${NATIVE_ADDON})`;
  if (!existsSync(CLI)) return `CLI not built (${CLI})`;
  try {
    execFileSync(process.execPath, [CLI, 'run', '--help'], { stdio: 'pipe', timeout: 10_000 });
  } catch {
    return '`honeyport run` is not available in this build';
  }
  return undefined;
}

/**
 * The `before` of every live sensor suite: skips it, printing why, when live
 * tests cannot run here (`extraReason` adds a suite's own condition);
 * otherwise builds the namespaces and a scratch directory. A failure to
 * build namespaces as root fails the suite rather than skipping it.
 */
export function liveSetup(ctx: Mocha.Context, dirPrefix: string, extraReason?: () => string | undefined): { topo: Topology; dir: string } {
  const reason = liveSkipReason() ?? extraReason?.();
  if (reason !== undefined) {
    console.log(`      skipped: ${reason}`);
    ctx.skip();
  }
  return { topo: createTopology(), dir: mkdtempSync(join(tmpdir(), dirPrefix)) };
}

/** What a live sensor suite's hooks share with its tests (see liveSensorSuite). */
export interface LiveSensorSuite {
  /** The namespaces (valid inside tests: the suite is skipped without them). */
  readonly topo: Topology;
  /** The suite's scratch directory. */
  readonly dir: string;
  /** The test's sensor: its transcript is printed when the test fails, and it is killed after each test. */
  sensor: SensorProcess | undefined;
}

/**
 * The hooks every live sensor suite needs, registered once: namespaces and a
 * scratch directory before (or a printed skip), the sensor killed after each
 * test (its transcript printed on failure), everything removed after.
 */
export function liveSensorSuite(dirPrefix: string): LiveSensorSuite {
  let topo: Topology | undefined;
  let dir = '';
  const suite = {
    get topo(): Topology {
      assert.ok(topo, 'the suite set up its namespaces');
      return topo;
    },
    get dir(): string {
      return dir;
    },
    sensor: undefined as SensorProcess | undefined,
  };
  before(function () {
    ({ topo, dir } = liveSetup(this, dirPrefix));
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed' && suite.sensor) console.log(suite.sensor.transcript());
    suite.sensor?.kill();
  });
  after(function () {
    if (topo) destroyTopology(topo);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  return suite;
}

// ---- policy files -----------------------------------------------------------

export interface PolicyPort {
  readonly port: number;
  readonly protocol: 'tcp' | 'tcp6';
}

export interface PolicySpec {
  readonly name: string;
  readonly ports: readonly PolicyPort[];
  readonly whitelist?: readonly string[];
}

/** JSON is YAML too: the policy loader reads either. */
export function writePolicy(file: string, spec: PolicySpec): void {
  writeFileSync(file, `${JSON.stringify({ name: spec.name, os: 'linux', ports: spec.ports, whitelist: spec.whitelist ?? [] }, null, 2)}\n`);
}

// ---- alarms -----------------------------------------------------------------

export interface EcsAlarm {
  readonly '@timestamp': string;
  readonly message?: string;
  readonly event: { readonly action: string; readonly count: number; readonly start: string; readonly end: string };
  readonly source?: { readonly ip: string; readonly port: number };
  readonly destination: { readonly ip?: string; readonly port: number };
  readonly network: { readonly type: 'ipv4' | 'ipv6' };
  readonly honeyport: {
    readonly alarm: 'first' | 'follow-up' | 'connection';
    readonly kinds?: readonly string[];
    readonly reassembled?: boolean;
    readonly connection?: {
      readonly handshake_completed: boolean;
      /** Connections the port holder accepted (0: reset before accept()). */
      readonly accepted: number;
      readonly bytes: number;
      readonly first_bytes: string;
      readonly duration_ms: number;
    };
  };
}

/** Parses JSON lines; a line that is not a JSON object fails loudly with its text. */
export function parseDocuments(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        throw new Error(`sensor stdout line is not JSON: ${l.slice(0, 200)}`);
      }
    });
}

/** A sensor state document (src/state/), not an alarm. */
export const isStateDocument = (d: unknown): boolean => (d as { event?: { kind?: unknown } }).event?.kind === 'state';

/** The alarms among the JSON lines (state documents left out). */
export function parseAlarms(stdout: string): EcsAlarm[] {
  return parseDocuments(stdout).filter((d) => !isStateDocument(d)) as unknown as EcsAlarm[];
}

/** The detector's key: (source, destination, port) — the protocol follows from the address family. */
export function key(source: string, destination: string, port: number): string {
  return `${source} > ${destination}:${port}`;
}

export function alarmKey(a: EcsAlarm): string {
  if (a.event.action === 'honeypot-flood') return `flood:${a.destination.port}/${a.network.type}`;
  return key(a.source?.ip ?? '?', a.destination.ip ?? '?', a.destination.port);
}

export interface KeyTally {
  count: number;
  alarms: number;
  firsts: number;
  readonly kinds: Set<string>;
  readonly types: Set<string>;
  connections: number;
  reassembled: boolean;
  /** Earliest event.start, ms since the epoch. */
  firstStartMs: number;
}

export function tally(alarms: readonly EcsAlarm[], where: (a: EcsAlarm) => boolean = () => true): Map<string, KeyTally> {
  const out = new Map<string, KeyTally>();
  for (const a of alarms) {
    if (!where(a)) continue;
    const k = alarmKey(a);
    let t = out.get(k);
    if (!t) {
      t = { count: 0, alarms: 0, firsts: 0, kinds: new Set(), types: new Set(), connections: 0, reassembled: false, firstStartMs: Infinity };
      out.set(k, t);
    }
    t.count += a.event.count;
    t.alarms += 1;
    if (a.honeyport.alarm === 'first') t.firsts += 1;
    for (const kind of a.honeyport.kinds ?? []) t.kinds.add(kind);
    t.types.add(a.network.type);
    if (a.honeyport.connection?.handshake_completed === true) t.connections += 1;
    if (a.honeyport.reassembled === true) t.reassembled = true;
    t.firstStartMs = Math.min(t.firstStartMs, Date.parse(a.event.start));
  }
  return out;
}

/** key → summed count, sorted by key: the shape live, wire and replay are compared in. */
export function counts(t: Map<string, KeyTally>): Record<string, number> {
  return Object.fromEntries([...t.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, v.count]));
}

// ---- the sensor -------------------------------------------------------------

export interface SensorOptions {
  readonly policyFile: string;
  readonly interfaces: readonly string[];
  readonly stateDir: string;
  readonly window?: string;
  readonly serverAddresses?: readonly string[];
  /** More `run` arguments (e.g. `--output` specs). */
  readonly extraArgs?: readonly string[];
  /** Node options before the CLI (e.g. `--import` of a fault-injecting module). */
  readonly nodeArgs?: readonly string[];
}

export interface SensorExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface SensorStop extends SensorExit {
  /** From SIGTERM to exit. */
  readonly exitMs: number;
  /** From SIGTERM to the `honeyport: stopped:` line, if it came. */
  readonly stoppedLineMs: number | undefined;
}

const READY_TIMEOUT_MS = 15_000;
/** An orderly stop (flush, release ports) takes well under a second; SIGKILL after this. */
export const STOP_TIMEOUT_MS = 5_000;

/** One `honeyport run` inside a namespace. */
export class SensorProcess {
  stdout = '';
  stderr = '';
  readonly exited: Promise<SensorExit>;
  private exit: SensorExit | undefined;

  private constructor(
    readonly ns: string,
    readonly options: SensorOptions,
    private readonly child: ChildProcess,
  ) {
    child.stdout!.on('data', (d: Buffer) => (this.stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((resolve) =>
      child.on('close', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      }),
    );
  }

  /** Starts the sensor and waits for `honeyport: ready`; throws with its stderr otherwise. */
  static async start(ns: string, o: SensorOptions): Promise<SensorProcess> {
    // --user root: the same run whether or not this machine has a `honeyport` user to drop to (sensor-privdrop.test.ts tests the drop).
    const args = [...(o.nodeArgs ?? []), CLI, 'run', '--user', 'root', '--policy', o.policyFile, '--window', o.window ?? '2s', '--state-dir', o.stateDir];
    for (const i of o.interfaces) args.push('--interface', i);
    for (const s of o.serverAddresses ?? []) args.push('--server-address', s);
    // The same attack suites run against either backend: HONEYPORT_TEST_CAPTURE=pcap.
    if (process.env.HONEYPORT_TEST_CAPTURE) args.push('--capture', process.env.HONEYPORT_TEST_CAPTURE);
    args.push(...(o.extraArgs ?? []));
    const sensor = new SensorProcess(ns, o, spawnIn(ns, process.execPath, args));
    const ready = await sensor.waitForStderr(/^honeyport: ready$/m, READY_TIMEOUT_MS);
    if (!ready) {
      sensor.kill();
      await sensor.exited;
      throw new Error(`sensor not ready within ${READY_TIMEOUT_MS} ms (exit ${JSON.stringify(sensor.exit)}); stderr:\n${sensor.stderr}`);
    }
    return sensor;
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  /** The sensor's pid (`ip netns exec` execs into node: the same process). */
  get pid(): number {
    return this.child.pid!;
  }

  /** Resolves true once `re` matches stderr after offset `from`; false on timeout or exit. */
  async waitForStderr(re: RegExp, timeoutMs: number, from = 0): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      if (re.test(this.stderr.slice(from))) return true;
      if (!this.running) return re.test(this.stderr.slice(from));
      await sleep(20);
    }
    return re.test(this.stderr.slice(from));
  }

  /** The sensor's start-up line for a port (`honeyport: port 445/tcp on 0.0.0.0: …`). */
  portLine(port: number, protocol: 'tcp' | 'tcp6'): string | undefined {
    return this.stderr.split('\n').find((l) => l.startsWith(`honeyport: port ${port}/${protocol} `));
  }

  /** Closes the reading end of the sensor's stdout, as `| head -1` does once it has its line. */
  closeStdout(): void {
    this.child.stdout!.destroy();
  }

  hup(): void {
    this.child.kill('SIGHUP');
  }

  /** `honeyport status --state-dir …`, parsed. */
  async status(): Promise<Record<string, unknown>> {
    const r = await runIn(this.ns, process.execPath, [CLI, 'status', '--state-dir', this.options.stateDir], 10_000);
    if (r.code !== 0) throw new Error(`status exited ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  }

  /**
   * SIGTERM, then waits for exit (SIGKILL after STOP_TIMEOUT_MS). Alarms
   * written before a SIGKILL are still in `stdout`, so callers can check them
   * before asserting the clean exit (see `assertCleanStop`).
   */
  async stop(): Promise<SensorStop> {
    const t0 = Date.now();
    let stoppedLineMs: number | undefined;
    if (this.running) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      const watch = setInterval(() => {
        if (stoppedLineMs === undefined && /^honeyport: stopped:/m.test(this.stderr)) stoppedLineMs = Date.now() - t0;
      }, 10);
      await this.exited;
      clearTimeout(timer);
      clearInterval(watch);
    }
    return { ...this.exit!, exitMs: Date.now() - t0, stoppedLineMs };
  }

  /** For cleanup after a failure. */
  kill(): void {
    if (this.running) this.child.kill('SIGKILL');
  }

  alarms(): EcsAlarm[] {
    return parseAlarms(this.stdout);
  }

  /** Everything the sensor printed, for failure messages. */
  transcript(): string {
    return `--- sensor stderr ---\n${this.stderr}--- sensor stdout (${this.stdout.split('\n').length - 1} lines) ---\n${this.stdout.slice(0, 6000)}`;
  }
}

/** SIGTERM must end the sensor with exit code 0 (after flushing), promptly. */
export function assertCleanStop(stop: SensorStop): void {
  const detail = `SIGTERM → "stopped:" line after ${stop.stoppedLineMs ?? 'never'} ms, exit after ${stop.exitMs} ms` +
    (stop.signal === 'SIGKILL' ? ` (killed by the test after ${STOP_TIMEOUT_MS} ms)` : '');
  assert.deepEqual({ code: stop.code, signal: stop.signal }, { code: 0, signal: null }, `sensor exits 0 on SIGTERM: ${detail}`);
}

// ---- tcpdump ----------------------------------------------------------------

export class Tcpdump {
  private stderr = '';
  private readonly closed: Promise<void>;

  private constructor(
    readonly file: string,
    private readonly child: ChildProcess,
  ) {
    child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    child.stdout!.resume();
    this.closed = new Promise((resolve) => child.on('close', () => resolve()));
  }

  /** Captures TCP on `iface` in `ns` into `file` (Ethernet, full packets); waits until it listens. */
  static async start(ns: string, iface: string, file: string): Promise<Tcpdump> {
    // -Z root: stay root so the file in a root-owned directory can be written.
    // --immediate-mode: without it packets wait in libpcap's ring for a block
    // timeout (up to 1 s) and a capture stopped soon after a scan misses them.
    const t = new Tcpdump(file, spawnIn(ns, 'tcpdump', ['-i', iface, '-n', '-U', '--immediate-mode', '-s', '0', '-Z', 'root', '-w', file]));
    const until = Date.now() + 10_000;
    while (!t.stderr.includes('listening on')) {
      if (Date.now() > until || t.child.exitCode !== null) {
        t.child.kill('SIGKILL');
        throw new Error(`tcpdump did not start: ${t.stderr}`);
      }
      await sleep(20);
    }
    return t;
  }

  async stop(): Promise<string> {
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await this.closed;
    clearTimeout(timer);
    return this.stderr;
  }
}

// ---- reading a capture (independently of honeyport's decoder) ---------------

export interface WirePacket {
  /** Capture time, ms since the epoch (fractional). */
  readonly timeMs: number;
  readonly family: 4 | 6;
  readonly source: string;
  readonly destination: string;
  readonly sourcePort: number;
  readonly destinationPort: number;
  /** TCP flags byte; undefined when a first fragment is too short to hold it. */
  readonly flags: number | undefined;
  /** First fragment of a fragmented datagram. */
  readonly fragmented: boolean;
  /** TCP payload bytes (0 for a first fragment too short to tell). */
  readonly payload: number;
}

const FIN = 0x01;
const SYN = 0x02;
const PSH = 0x08;
const ACK = 0x10;
const URG = 0x20;

/** The probe definitions of the spec, written out again on purpose (not imported). */
export function wireKind(flags: number): 'syn' | 'fin' | 'null' | 'xmas' | undefined {
  if ((flags & (SYN | ACK)) === SYN) return 'syn';
  const base = flags & 0x3f;
  if (base === FIN) return 'fin';
  if (base === 0) return 'null';
  if (base === (FIN | PSH | URG)) return 'xmas';
  return undefined;
}

function v6Text(b: Buffer, at: number): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(at + i).toString(16));
  return canonicalV6(groups.join(':'));
}

/**
 * TCP packets of a classic pcap file with Ethernet link type. Non-first IPv4
 * fragments are skipped: a fragmented datagram is represented by its first
 * fragment (whose first 8 bytes hold the ports).
 */
export function readPcap(file: string): WirePacket[] {
  const buf = readFileSync(file);
  const magic = buf.readUInt32LE(0);
  if (magic !== 0xa1b2c3d4 && magic !== 0xa1b23c4d) throw new Error(`${file}: not a little-endian classic pcap`);
  const subsecond = magic === 0xa1b2c3d4 ? 1e-3 : 1e-6;
  const linktype = buf.readUInt32LE(20);
  if (linktype !== 1) throw new Error(`${file}: link type ${linktype}, expected Ethernet`);
  const out: WirePacket[] = [];
  let at = 24;
  while (at + 16 <= buf.length) {
    const timeMs = buf.readUInt32LE(at) * 1000 + buf.readUInt32LE(at + 4) * subsecond;
    const caplen = buf.readUInt32LE(at + 8);
    const frame = at + 16;
    at = frame + caplen;
    if (at > buf.length) break; // truncated last record (tcpdump killed mid-write)
    let l3 = frame + 14;
    let type = buf.readUInt16BE(frame + 12);
    if (type === 0x8100) {
      type = buf.readUInt16BE(frame + 16);
      l3 += 4;
    }
    if (type === 0x0800) {
      if (buf[l3 + 9] !== 6) continue;
      const frag = buf.readUInt16BE(l3 + 6);
      if ((frag & 0x1fff) !== 0) continue;
      const l4 = l3 + (buf[l3]! & 0x0f) * 4;
      const end = Math.min(at, l3 + buf.readUInt16BE(l3 + 2));
      if (end - l4 < 4) continue;
      const tcpHeader = end - l4 >= 13 ? (buf[l4 + 12]! >> 4) * 4 : end - l4;
      out.push({
        timeMs,
        family: 4,
        source: `${buf[l3 + 12]}.${buf[l3 + 13]}.${buf[l3 + 14]}.${buf[l3 + 15]}`,
        destination: `${buf[l3 + 16]}.${buf[l3 + 17]}.${buf[l3 + 18]}.${buf[l3 + 19]}`,
        sourcePort: buf.readUInt16BE(l4),
        destinationPort: buf.readUInt16BE(l4 + 2),
        flags: end - l4 >= 14 ? buf[l4 + 13] : undefined,
        fragmented: (frag & 0x2000) !== 0,
        payload: Math.max(0, end - l4 - tcpHeader),
      });
    } else if (type === 0x86dd) {
      if (buf[l3 + 6] !== 6) continue; // the attack tools used here add no extension headers
      const l4 = l3 + 40;
      if (at - l4 < 14) continue;
      out.push({
        timeMs,
        family: 6,
        source: v6Text(buf, l3 + 8),
        destination: v6Text(buf, l3 + 24),
        sourcePort: buf.readUInt16BE(l4),
        destinationPort: buf.readUInt16BE(l4 + 2),
        flags: buf[l4 + 13],
        fragmented: false,
        payload: Math.max(0, buf.readUInt16BE(l3 + 4) - (buf[l4 + 12]! >> 4) * 4),
      });
    }
  }
  return out;
}

/**
 * Probe counts per key as seen on the wire: packets from `source` to a policy
 * port over that port's family that are probes by the spec's definition (a
 * fragmented first fragment too short to show its flags counts as a probe when
 * `fragmentsAreProbes`; nmap -f sends nothing else fragmented).
 */
export function wireCounts(
  packets: readonly WirePacket[],
  ports: readonly PolicyPort[],
  sources: readonly string[],
  fragmentsAreProbes = false,
): Record<string, number> {
  const out = new Map<string, number>();
  for (const p of packets) {
    if (!sources.includes(p.source)) continue;
    const policy = ports.find((q) => q.port === p.destinationPort);
    if (!policy || (policy.protocol === 'tcp') !== (p.family === 4)) continue;
    const probe = p.flags === undefined ? fragmentsAreProbes && p.fragmented : wireKind(p.flags) !== undefined;
    if (!probe) continue;
    const k = key(p.source, p.destination, p.destinationPort);
    out.set(k, (out.get(k) ?? 0) + 1);
  }
  return Object.fromEntries([...out.entries()].sort(([a], [b]) => a.localeCompare(b)));
}

// ---- tools ------------------------------------------------------------------

export interface NmapResult extends RunResult {
  /** Ports nmap reported `open` (from its greppable output). */
  readonly open: number[];
}

/** nmap, bounded: no DNS, no host discovery, one retry, -T4, greppable output. */
export async function nmap(ns: string, args: readonly string[], target: string): Promise<NmapResult> {
  const r = await runIn(ns, 'nmap', ['-n', '-Pn', '-T4', '--max-retries', '1', '--host-timeout', '20s', '-oG', '-', ...args, target], 30_000);
  const open: number[] = [];
  for (const m of r.stdout.matchAll(/(\d+)\/open\//g)) open.push(Number(m[1]));
  return { ...r, open: open.sort((a, b) => a - b) };
}

/** hping3, bounded by count, interval and a deadline; its exit code says only whether replies came. */
export function hping3(ns: string, args: readonly string[], target: string): Promise<RunResult> {
  return runIn(ns, 'hping3', [...args, target], 20_000);
}

/** Runs a short python3 program inside `ns`. */
export function python(ns: string, program: string, args: readonly string[], timeoutMs = 15_000): Promise<RunResult> {
  return runIn(ns, 'python3', ['-c', program, ...args], timeoutMs);
}

/**
 * What a test that runs the sensor as another user sets up: a namespace of
 * its own (`ns`, lo up), a copy of the command line that user can read
 * (the checkout may sit under a 0700 home; under the sanitizer pass the ASan
 * addon too), and a scratch directory of `dirMode`. The caller removes all
 * three in its `after`.
 */
export function otherUserTestbed(ns: string, dirPrefix: string, dirMode: number): { staged: StagedCopy; dir: string } {
  execFileSync('ip', ['netns', 'add', ns]);
  execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  const asan = process.env.HONEYPORT_NATIVE === 'asan' ? ['native/build/Release/honeyport_native_asan.node'] : [];
  const staged = stageReadableCopy(['dist/src', 'build/Release/honeyport_native.node', ...asan], { dependencies: true });
  const dir = mkdtempSync(join(tmpdir(), dirPrefix));
  chmodSync(dir, dirMode);
  return { staged, dir };
}
