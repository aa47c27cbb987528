/**
 * Throughput of the native hand-off, measured, not asserted against a clock:
 * trafgen floods `lo` of a private network namespace while AfPacketSource
 * captures there and touches every frame. Prints packets/s, JS calls per
 * packet and CPU per million packets. Opt-in (HONEYPORT_BENCH=1), root only.
 *
 *   HONEYPORT_BENCH=1 [HONEYPORT_BENCH_PACKETS=2000000] npx mocha --no-config \
 *     --timeout 120000 dist/test/live/afpacket-throughput.test.js
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { loadNative } from '../../src/capture/native-binding.js';

function skipReason(): string | undefined {
  if (process.env.HONEYPORT_BENCH !== '1') return 'set HONEYPORT_BENCH=1 to run the throughput measurement';
  if (process.getuid?.() !== 0) return 'needs root';
  const loaded = loadNative();
  if (!loaded.ok) return loaded.reason;
  try {
    execFileSync('sh', ['-c', 'command -v trafgen'], { stdio: 'pipe' });
  } catch {
    return 'trafgen (netsniff-ng) is not installed';
  }
  return undefined;
}

interface BenchResult {
  trafgenExit: number;
  offered: number;
  frames: number;
  calls: number;
  spanMs: number;
  cpuSeconds: number;
  stats: Record<string, number>;
}

// Runs inside the namespace: capture on lo, flood it with trafgen (non-IP
// ethertype so the stack drops frames right after the taps), report.
function childScript(afpacketUrl: string): string {
  return `
    import { AfPacketSource } from ${JSON.stringify(afpacketUrl)};
    import { spawn } from 'node:child_process';
    const [count, cpus] = JSON.parse(process.argv[1]);
    const f = Buffer.alloc(8); f.writeUInt16LE(6, 0); f.writeUInt32LE(0xffff, 4);
    const s = new AfPacketSource({ interfaces: ['lo'], filter: f, ringBlockSize: 1 << 20, ringBlockCount: 64, blockTimeoutMs: 8 });
    let frames = 0, calls = 0, sum = 0, first = 0, last = 0;
    s.start((b) => {
      if (calls++ === 0) first = performance.now();
      last = performance.now();
      frames += b.count;
      for (let i = 0; i < b.count; i++) sum += b.data[b.offset[i] + 12] + b.caplen[i];
    });
    const cpu0 = process.cpuUsage();
    const tg = spawn('trafgen', ['-o', 'lo', '-n', String(count), '-P', String(cpus), '--no-sock-mem', '--notouch-irq', '-C',
      '{ fill(0x00, 12), 0x88, 0xb5, fill(0x41, 46) }'], { stdio: 'ignore' });
    const kill = setTimeout(() => tg.kill('SIGKILL'), 60000);
    tg.on('close', (code) => {
      clearTimeout(kill);
      setTimeout(() => {
        const cpu = process.cpuUsage(cpu0);
        const stats = s.stats(); s.close();
        process.stdout.write(JSON.stringify({ trafgenExit: code, offered: count, frames, calls, spanMs: last - first,
          cpuSeconds: (cpu.user + cpu.system) / 1e6, stats, sum: sum > 0 }) + '\\n');
      }, 300);
    });
  `;
}

describe('AfPacketSource throughput (opt-in benchmark)', function () {
  const ns = `hp-t-${randomBytes(3).toString('hex')}-bench`;
  let created = false;

  before(function () {
    const reason = skipReason();
    if (reason !== undefined) {
      console.log(`      skipped: ${reason}`);
      this.skip();
    }
    execFileSync('ip', ['netns', 'add', ns], { stdio: 'pipe' });
    created = true;
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up'], { stdio: 'pipe' });
  });

  after(function () {
    if (created) execFileSync('ip', ['netns', 'del', ns], { stdio: 'pipe' });
  });

  for (const cpus of [1, 2]) {
    it(`one JS call per ring block under a trafgen flood (${cpus} sender process(es))`, function () {
      this.timeout(120_000);
      const count = Number(process.env.HONEYPORT_BENCH_PACKETS ?? 2_000_000);
      const url = pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), '../../src/capture/afpacket.js')).href;
      const out = execFileSync(
        'ip',
        ['netns', 'exec', ns, process.execPath, '--input-type=module', '-e', childScript(url), JSON.stringify([count, cpus])],
        { stdio: ['ignore', 'pipe', 'pipe'], timeout: 100_000 },
      ).toString();
      const r = JSON.parse(out.trim().split('\n').pop()!) as BenchResult;
      const pps = r.frames / (r.spanMs / 1000);
      console.log(
        `      offered ${r.offered}, kernel received ${r.stats.received}, delivered ${r.frames} in ${r.calls} calls ` +
          `(${(r.calls / r.frames).toExponential(2)} calls/packet, ${Math.round(r.frames / r.calls)} frames/call), ` +
          `${Math.round(pps).toLocaleString('en')} packets/s, kernel drops ${r.stats.kernelDrops}, ` +
          `hand-off drops ${r.stats.handoffDrops}, CPU ${(r.cpuSeconds / (r.frames / 1e6)).toFixed(3)} s per million`,
      );
      assert.equal(r.trafgenExit, 0);
      assert.equal(r.stats.delivered, r.frames);
      assert.ok(r.frames > 0);
      assert.equal(r.frames + r.stats.handoffDrops, r.stats.received, 'every received frame delivered or counted');
      assert.ok(r.calls / r.frames < 0.01, 'many frames per JS call');
    });
  }
});
