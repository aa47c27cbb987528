/**
 * Delivery throughput: alarms/s through the file sink and over syslog TCP to
 * a local receiver (a child process parsing octet-counted frames), and how
 * long a disk spool of 100,000 alarms takes to drain to a recovering HTTP
 * receiver, with the event-loop delay seen meanwhile (what capture would feel).
 * Run alone: node dist/test/bench/delivery-bench.js
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { deliveryConfigFromFlags } from '../../src/config/output-flag.js';
import type { DeliveryConfig } from '../../src/config/sensor-config.js';
import { Delivery } from '../../src/deliver/delivery.js';
import { formatEcs } from '../../src/deliver/format-ecs.js';
import { ctx, probeAlarm } from '../deliver/alarms.js';
import { HttpReceiver } from '../deliver/http-receiver.js';

export interface DeliveryBenchRow {
  readonly name: string;
  readonly alarms: number;
  readonly seconds: number;
  readonly alarmsPerSecond: number;
  /** Alarms/s the issue asks for, when it sets one. */
  readonly target?: number;
  readonly note: string;
}

const quiet = { onNotice: (): void => undefined };

async function until(cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('delivery bench: timed out');
    await new Promise((r) => setTimeout(r, 2));
  }
}

function row(name: string, alarms: number, seconds: number, note: string, target?: number): DeliveryBenchRow {
  return { name, alarms, seconds, alarmsPerSecond: alarms / seconds, ...(target ? { target } : {}), note };
}

/** Publishes n alarms in bursts of 1000 (as a capture batch would) and waits until the sink has them all. */
async function publishAll(d: Delivery, n: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i += 1000) {
    for (let j = i; j < Math.min(n, i + 1000); j++) d.publish(probeAlarm(j % 60000));
    const wait = d.waitForRoom();
    if (wait) await wait;
    else await new Promise((r) => setImmediate(r));
  }
  await until(() => d.stats()[0]!.delivered >= n, 120_000);
  return (performance.now() - t0) / 1000;
}

function formatOnly(n: number): DeliveryBenchRow {
  const t0 = performance.now();
  let bytes = 0;
  for (let i = 0; i < n; i++) bytes += formatEcs(probeAlarm(i % 60000), ctx).length;
  const s = (performance.now() - t0) / 1000;
  return row('format ECS only (no sink)', n, s, `${(bytes / n).toFixed(0)} bytes/alarm`);
}

async function fileSink(dir: string, n: number): Promise<DeliveryBenchRow> {
  const path = join(dir, 'alarms.json');
  const d = await Delivery.open(deliveryConfigFromFlags([`file:${path}`]), ctx, quiet);
  const s = await publishAll(d, n);
  await d.close(5000);
  const size = (await stat(path)).size;
  return row('file sink (format + write)', n, s, `${(size / 2 ** 20).toFixed(0)} MiB written`, 50_000);
}

/** A receiver in its own process, so it does not share the sender's CPU time slice. */
function startSyslogReceiver(expected: number): Promise<{ port: number; done: Promise<number> }> {
  const script = `
const net = require('node:net');
let count = 0, buf = Buffer.alloc(0);
const server = net.createServer((s) => s.on('data', (d) => {
  buf = buf.length ? Buffer.concat([buf, d]) : d;
  let at = 0;
  for (;;) {
    const sp = buf.indexOf(32, at);
    if (sp < 0) break;
    const len = Number(buf.toString('latin1', at, sp));
    if (sp + 1 + len > buf.length) break;
    at = sp + 1 + len;
    count++;
  }
  buf = buf.subarray(at);
  if (count >= ${expected}) { process.stdout.write('done ' + count + '\\n'); process.exit(0); }
}));
server.listen(0, '127.0.0.1', () => process.stdout.write('port ' + server.address().port + '\\n'));
setTimeout(() => process.exit(2), 120000);
`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const done = new Promise<number>((res) => child.once('exit', () => res(Number(/done (\d+)/.exec(out)?.[1] ?? 0))));
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /port (\d+)/.exec(out);
      if (m) resolve({ port: Number(m[1]), done });
    });
    child.once('error', reject);
  });
}

async function syslogTcp(n: number): Promise<DeliveryBenchRow> {
  const rx = await startSyslogReceiver(n);
  const d = await Delivery.open(deliveryConfigFromFlags([`syslog+tcp://127.0.0.1:${rx.port}`]), ctx, quiet);
  const s = await publishAll(d, n);
  const received = await rx.done;
  await d.close(5000);
  return row('syslog TCP (octet counting)', n, s, `receiver counted ${received} messages`, 20_000);
}

async function spoolDrain(dir: string, n: number): Promise<DeliveryBenchRow[]> {
  const receiver = new HttpReceiver();
  await receiver.start();
  receiver.refuse = true;
  const base = deliveryConfigFromFlags([receiver.url], { spoolDir: join(dir, 'spool'), spoolMaxBytes: '1GiB' });
  const config: DeliveryConfig = { ...base, sinks: base.sinks.map((c) => ({ ...c, queue: { ...c.queue, retryInitialMs: 50, retryMaxMs: 100 } })) };
  const d = await Delivery.open(config, ctx, quiet);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) d.publish(probeAlarm(i % 60000));
  await d.sync(10_000);
  const spoolSeconds = (performance.now() - t0) / 1000;
  const loop = monitorEventLoopDelay({ resolution: 10 });
  receiver.refuse = false;
  loop.enable();
  const t1 = performance.now();
  await until(() => d.idle, 300_000);
  const drainSeconds = (performance.now() - t1) / 1000;
  loop.disable();
  await d.close(5000);
  await receiver.stop();
  const lines = receiver.lines.length;
  return [
    row('publish into disk spool (sink down)', n, spoolSeconds, 'format + append + fsync'),
    row('spool drain to HTTP (NDJSON, 500/POST)', n, drainSeconds, `${lines} received; event-loop delay p99 ${(loop.percentile(99) / 1e6).toFixed(1)} ms, max ${(loop.max / 1e6).toFixed(1)} ms`),
  ];
}

export async function runDeliveryBench(alarms = Number(process.env.BENCH_ALARMS ?? 100_000)): Promise<DeliveryBenchRow[]> {
  const dir = await mkdtemp(join(tmpdir(), 'honeyport-delivery-bench-'));
  try {
    return [formatOnly(alarms), await fileSink(dir, alarms), await syslogTcp(alarms), ...(await spoolDrain(dir, alarms))];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function deliveryBenchTable(rows: readonly DeliveryBenchRow[]): string {
  const lines = [
    '| delivery                                 | alarms  | seconds | alarms/s | target   | notes',
    '|------------------------------------------|---------|---------|----------|----------|------',
  ];
  for (const r of rows) {
    const target = r.target ? `${r.alarmsPerSecond >= r.target ? 'met' : 'NOT met'} ${r.target / 1000}k` : '';
    lines.push(`| ${r.name.padEnd(40)} | ${String(r.alarms).padStart(7)} | ${r.seconds.toFixed(2).padStart(7)} | ${r.alarmsPerSecond.toFixed(0).padStart(8)} | ${target.padEnd(8)} | ${r.note}`);
  }
  return `${lines.join('\n')}\n`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.stdout.write(deliveryBenchTable(await runDeliveryBench()));
}
