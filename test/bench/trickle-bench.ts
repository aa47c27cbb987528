/**
 * Delivery cost per alarm when alarms trickle in, as they do live: one
 * alarm per event-loop turn (a ring block raises a few at most), so every
 * alarm pays the whole path alone — publish, format, the sink's pump, its
 * queue, one write. Measured as CPU time per alarm over the same loop with no
 * alarm (the turns themselves subtracted), for the stdout sink writing to
 * /dev/null and the file sink. Run alone: node dist/test/bench/trickle-bench.js
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { deliveryConfigFromFlags } from '../../src/config/output-flag.js';
import { Delivery } from '../../src/deliver/delivery.js';
import { ctx, probeAlarm } from '../deliver/alarms.js';

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

async function cpuOfTurns(n: number, each: (i: number) => void): Promise<number> {
  const t = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    each(i);
    await turn();
  }
  const d = process.cpuUsage(t);
  return d.user + d.system;
}

export interface TrickleRow {
  readonly sink: string;
  readonly usPerAlarm: number[];
}

export async function runTrickleBench(alarms = 20_000, rounds = 3): Promise<TrickleRow[]> {
  const dir = await mkdtemp(join(tmpdir(), 'honeyport-trickle-'));
  const rows: TrickleRow[] = [];
  try {
    for (const sink of ['stdout', 'file']) {
      const us: number[] = [];
      for (let r = 0; r < rounds; r++) {
        const out = createWriteStream('/dev/null');
        const config = deliveryConfigFromFlags(sink === 'stdout' ? [] : [`file:${join(dir, `alarms-${r}.json`)}`]);
        const delivery = await Delivery.open(config, ctx, { stdout: out, onNotice: () => undefined });
        const idle = await cpuOfTurns(alarms, () => undefined);
        const busy = await cpuOfTurns(alarms, (i) => delivery.publish(probeAlarm(r * alarms + i)));
        await delivery.close(10_000);
        out.destroy();
        us.push((busy - idle) / alarms);
      }
      rows.push({ sink, usPerAlarm: us });
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return rows;
}

export function trickleTable(rows: readonly TrickleRow[]): string {
  return rows.map((r) => `${r.sink}: ${r.usPerAlarm.map((u) => u.toFixed(1)).join(', ')} µs CPU per alarm (one alarm per event-loop turn)\n`).join('');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  // [alarms] [rounds]: a fresh process with 1,600 and 1 measures the cold path, as a live run meets it.
  process.stdout.write(trickleTable(await runTrickleBench(Number(process.argv[2] ?? 20_000), Number(process.argv[3] ?? 3))));
}
