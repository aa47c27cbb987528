/**
 * The two captures under test, each a child in the server namespace:
 * `honeyport run` (alarm lines read as they arrive, stamped with the
 * monotonic clock) and `tcpdump -w /dev/null` (its exit summary parsed).
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { BenchNet } from './live-net.js';
import { cpuSeconds, runIn, startIn, terminate, waitFor, type Child } from './live-proc.js';

/** The command the bench runs: the compiled tree, or HONEYPORT_BENCH_CLI (e.g. dist/bundle/honeyport.cjs, what bin/ and the .deb run). */
export const CLI = process.env.HONEYPORT_BENCH_CLI ?? fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

const READY_MS = 15_000;

export interface CaptureCounters {
  readonly received: number;
  readonly kernelDrops: number;
  readonly handoffDrops: number;
  readonly delivered: number;
}

export interface HoneyportStatus {
  readonly capture: CaptureCounters;
  readonly alarms: { readonly total: number; readonly flood: number };
  readonly trackedKeys?: number;
}

export function writeBenchPolicy(file: string, port: number, protocol: 'tcp' | 'tcp6'): string {
  writeFileSync(file, `${JSON.stringify({ name: 'honeyport-live-bench', os: 'linux', ports: [{ port, protocol }], whitelist: [] })}\n`);
  return file;
}

const SOURCE_IP = '"source":{"ip":"';

export class HoneyportUnderTest {
  lines = 0;
  floodLines = 0;
  /** First alarm per watched source → monotonic ns when its line arrived. */
  readonly alarmedAt = new Map<string, bigint>();
  private readonly watched = new Set<string>();
  private rest = '';

  private constructor(
    private readonly net: BenchNet,
    private readonly stateDir: string,
    readonly child: Child,
  ) {}

  /** ringMiB undefined: the default ring (what an operator gets without --ring-size); extraArgs go last. */
  static async start(net: BenchNet, policyFile: string, stateDir: string, ringMiB: number | undefined, deadlineMs: number, extraArgs: readonly string[] = []): Promise<HoneyportUnderTest> {
    const ring = ringMiB === undefined ? [] : ['--ring-size', String(ringMiB)];
    // HONEYPORT_BENCH_NODE_ARGS: V8 flags for the sensor alone (NODE_OPTIONS refuses --trace-deopt, --log-*).
    const nodeArgs = (process.env.HONEYPORT_BENCH_NODE_ARGS ?? '').split(' ').filter((a) => a.length > 0);
    const args = [...nodeArgs, CLI, 'run', '--user', 'root', '--policy', policyFile, '--interface', net.server.iface, '--window', '60s', '--state-dir', stateDir, ...ring, ...extraArgs];
    let self: HoneyportUnderTest | undefined;
    const child = startIn(net.server.ns, process.execPath, args, deadlineMs, (d) => self!.onStdout(d));
    self = new HoneyportUnderTest(net, stateDir, child);
    if (!(await waitFor(() => /^honeyport: ready$/m.test(child.stderr) || child.exited, READY_MS)) || child.exited) {
      await terminate(child, 1000);
      throw new Error(`honeyport did not become ready: ${child.stderr.slice(-2000)}`);
    }
    return self;
  }

  /** Alarm lines from these sources get their arrival time noted. */
  watch(sources: Iterable<string>): void {
    for (const s of sources) this.watched.add(s);
  }

  private onStdout(chunk: Buffer): void {
    const now = process.hrtime.bigint();
    const text = this.rest + chunk.toString();
    let from = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', from)) {
      this.onLine(text, from, nl, now);
      from = nl + 1;
    }
    this.rest = text.slice(from);
  }

  private onLine(text: string, from: number, end: number, now: bigint): void {
    // A sensor state document (src/state/) is not an alarm line.
    const state = text.indexOf('"kind":"state"', from);
    if (state >= 0 && state < end) return;
    this.lines++;
    const action = text.indexOf('"action":"honeypot-', from);
    if (action >= 0 && action < end && text.startsWith('flood', action + 19)) this.floodLines++;
    if (this.watched.size === 0) return;
    const at = text.indexOf(SOURCE_IP, from);
    if (at < 0 || at > end) return;
    const start = at + SOURCE_IP.length;
    const src = text.slice(start, text.indexOf('"', start));
    if (this.watched.has(src) && !this.alarmedAt.has(src)) this.alarmedAt.set(src, now);
  }

  async status(): Promise<HoneyportStatus> {
    const r = await runIn(this.net.server.ns, process.execPath, [CLI, 'status', '--state-dir', this.stateDir], 10_000);
    if (r.code !== 0) throw new Error(`honeyport status exited ${r.code}: ${r.stderr.slice(0, 500)}`);
    return JSON.parse(r.stdout) as HoneyportStatus;
  }

  /**
   * SIGTERM: pending follow-ups and floods are flushed to stdout first. The
   * CPU time is sampled until the process is gone, so that flush (alarms of
   * the traffic just measured) is paid for too.
   */
  async stop(): Promise<{ code: number | null; stoppedLine: string | undefined; lastCpuSeconds: number }> {
    let lastCpuSeconds = cpuSeconds(this.child.pid);
    const sample = setInterval(() => {
      try {
        lastCpuSeconds = cpuSeconds(this.child.pid);
      } catch {
        // gone
      }
    }, 5);
    const { code } = await terminate(this.child);
    clearInterval(sample);
    return { code, stoppedLine: this.child.stderr.split('\n').find((l) => l.startsWith('honeyport: stopped:')), lastCpuSeconds };
  }
}

/**
 * tcpdump's equivalent of the kernel filter honeyport builds for one IPv4
 * port: SYN without ACK and the stealth flag sets (FIN, NULL, XMAS) to the
 * port, plus IPv4 fragments it cannot judge; inbound only (-Q in).
 */
export function tcpdumpFilter(port: number): string {
  const flags = '((tcp[13] & 0x12) == 0x02 or (tcp[13] & 0x3f) == 0x01 or (tcp[13] & 0x3f) == 0 or (tcp[13] & 0x3f) == 0x29)';
  return `(ip and tcp dst port ${port} and ${flags}) or (ip and (ip[6:2] & 0x3fff) != 0)`;
}

export interface TcpdumpSummary {
  readonly captured: number;
  readonly receivedByFilter: number;
  readonly kernelDrops: number;
}

export class TcpdumpUnderTest {
  private constructor(readonly child: Child) {}

  static async start(net: BenchNet, port: number, ringMiB: number, deadlineMs: number): Promise<TcpdumpUnderTest> {
    // -B is KiB; -Z root keeps it from switching user (nothing to gain here).
    const args = ['-i', net.server.iface, '-n', '-Q', 'in', '-B', String(ringMiB * 1024), '-Z', 'root', '-w', '/dev/null', tcpdumpFilter(port)];
    const child = startIn(net.server.ns, 'tcpdump', args, deadlineMs);
    if (!(await waitFor(() => child.stderr.includes('listening on') || child.exited, READY_MS)) || child.exited) {
      await terminate(child, 1000);
      throw new Error(`tcpdump did not start: ${child.stderr.slice(-2000)}`);
    }
    return new TcpdumpUnderTest(child);
  }

  async stop(): Promise<TcpdumpSummary> {
    await terminate(this.child);
    const n = (what: string): number => Number(new RegExp(`^(\\d+) packets? ${what}$`, 'm').exec(this.child.stderr)?.[1] ?? NaN);
    return { captured: n('captured'), receivedByFilter: n('received by filter'), kernelDrops: n('dropped by kernel') };
  }
}

/**
 * A plain listener on the honeypot port for tcpdump's passes, so the server's
 * stack answers the flood exactly as when honeyport holds the port (SYN
 * cookies and SYN-ACKs rather than RSTs).
 */
export async function holdPort(net: BenchNet, port: number, deadlineMs: number): Promise<Child> {
  const code = `require('net').createServer((s) => s.destroy()).listen(${port}, '0.0.0.0', () => process.stderr.write('listening\\n'));`;
  const child = startIn(net.server.ns, process.execPath, ['-e', code], deadlineMs);
  if (!(await waitFor(() => child.stderr.includes('listening') || child.exited, READY_MS)) || child.exited) {
    await terminate(child, 1000);
    throw new Error(`port holder did not start: ${child.stderr}`);
  }
  return child;
}
