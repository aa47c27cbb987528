/**
 * Where an idle sensor's resident memory is, for the idle footprint work
 * (issue 10 part 6): `honeyport run` with default options on the bench's
 * veth pair as in the idle pass, then at `HP_ANATOMY_AT_S` (default 25) s
 * after ready every mapping of /proc/PID/smaps with its Rss (anonymous ones
 * largest first), and from inside the process (a preloaded CommonJS file)
 * process.memoryUsage(), V8's heap spaces and code statistics at the same
 * moment. Root; run under /tmp/honeyport-live.lock. Extra arguments go to
 * `honeyport run`. Measures only.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBenchNet, destroyBenchNet } from './live-net.js';
import { rssMiB, sleep, terminate } from './live-proc.js';
import { HoneyportUnderTest, writeBenchPolicy } from './live-sensor.js';

const AT_S = Number(process.env.HP_ANATOMY_AT_S ?? 25);

const PRELOAD = `
const v8 = require('node:v8');
const fs = require('node:fs');
const at = Date.now() + ${AT_S * 1000} - 1000;
setTimeout(() => {
  const spaces = v8.getHeapSpaceStatistics().map((s) => ({ name: s.space_name, size: s.space_size, used: s.space_used_size, physical: s.physical_space_size }));
  fs.writeFileSync(process.env.HP_ANATOMY_OUT, JSON.stringify({ memory: process.memoryUsage(), spaces, heap: v8.getHeapStatistics(), code: v8.getHeapCodeStatistics() }));
}, at - Date.now()).unref();
`;

interface Mapping {
  readonly range: string;
  readonly perms: string;
  readonly name: string;
  readonly sizeKiB: number;
  rssKiB: number;
  anonKiB: number;
}

function mappings(pid: number): Mapping[] {
  const out: Mapping[] = [];
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const header = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (header) {
      const size = (Number.parseInt(header[2]!, 16) - Number.parseInt(header[1]!, 16)) / 1024;
      out.push({ range: `${header[1]}-${header[2]}`, perms: header[3]!, name: header[4] ?? '', sizeKiB: size, rssKiB: 0, anonKiB: 0 });
      continue;
    }
    const m = /^(Rss|Anonymous):\s+(\d+) kB$/.exec(line);
    const last = out[out.length - 1];
    if (m && last) {
      if (m[1] === 'Rss') last.rssKiB = Number(m[2]);
      else last.anonKiB = Number(m[2]);
    }
  }
  return out;
}

const dir = mkdtempSync(join(tmpdir(), 'honeyport-anatomy-'));
const preload = join(dir, 'anatomy.cjs');
const report = join(dir, 'anatomy.json');
writeFileSync(preload, PRELOAD);
process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --require ${preload}`.trim();
process.env.HP_ANATOMY_OUT = report;
const net = createBenchNet();
try {
  const hp = await HoneyportUnderTest.start(net, writeBenchPolicy(join(dir, 'policy.json'), 445, 'tcp'), join(dir, 'state'), undefined, 60_000 + AT_S * 1000, process.argv.slice(2));
  try {
    await sleep(AT_S * 1000);
    const maps = mappings(hp.child.pid);
    const rss = rssMiB(hp.child.pid);
    const inside = JSON.parse(readFileSync(report, 'utf8')) as {
      memory: NodeJS.MemoryUsage;
      spaces: { name: string; size: number; used: number; physical: number }[];
      code: Record<string, number>;
    };
    const MiB = (b: number) => (b / 2 ** 20).toFixed(2);
    const lines = [`RSS ${rss.toFixed(1)} MiB at ${AT_S} s after ready`];
    const anon = maps.filter((m) => m.anonKiB > 0).sort((a, b) => b.anonKiB - a.anonKiB);
    lines.push(`anonymous ${(anon.reduce((s, m) => s + m.anonKiB, 0) / 1024).toFixed(1)} MiB in ${anon.length} mappings, largest first (size / rss / anon KiB):`);
    for (const m of anon.slice(0, 40)) lines.push(`  ${m.range} ${m.perms} ${String(m.sizeKiB).padStart(8)} ${String(m.rssKiB).padStart(7)} ${String(m.anonKiB).padStart(7)} ${m.name}`);
    // Big typed arrays and pools are mmap'd apart by malloc: each is one anonymous mapping, resident only where written.
    const big = maps.filter((m) => m.name === '' && m.sizeKiB >= 1024).sort((a, b) => b.sizeKiB - a.sizeKiB);
    lines.push('anonymous mappings of 1 MiB or more, resident or not (size / rss KiB):');
    for (const m of big) lines.push(`  ${m.range} ${m.perms} ${String(m.sizeKiB).padStart(8)} ${String(m.rssKiB).padStart(7)}`);
    const byName = new Map<string, number>();
    for (const m of maps) byName.set(m.name || '(anon)', (byName.get(m.name || '(anon)') ?? 0) + m.rssKiB);
    lines.push('rss by mapping name (KiB):');
    for (const [name, kib] of [...byName].sort((a, b) => b[1] - a[1]).slice(0, 15)) lines.push(`  ${String(kib).padStart(7)} ${name}`);
    const mem = inside.memory;
    lines.push(`inside: rss ${MiB(mem.rss)}, heapTotal ${MiB(mem.heapTotal)}, heapUsed ${MiB(mem.heapUsed)}, external ${MiB(mem.external)}, arrayBuffers ${MiB(mem.arrayBuffers)} MiB`);
    for (const s of inside.spaces) lines.push(`  space ${s.name}: size ${MiB(s.size)}, used ${MiB(s.used)}, physical ${MiB(s.physical)} MiB`);
    lines.push(`  code: ${Object.entries(inside.code).map(([k, v]) => `${k} ${MiB(v)}`).join(', ')} MiB`);
    process.stdout.write(`${lines.join('\n')}\n`);
    await hp.stop();
  } finally {
    if (!hp.child.exited) await terminate(hp.child, 2000);
  }
} finally {
  destroyBenchNet(net);
  rmSync(dir, { recursive: true, force: true });
}
