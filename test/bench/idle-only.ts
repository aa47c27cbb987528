/** `node dist/test/bench/idle-only.js [run flags...]`: just the idle footprint pass (root), for tuning. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { idlePass, idleTargets } from './live-idle.js';
import { createBenchNet, destroyBenchNet } from './live-net.js';
import { writeBenchPolicy } from './live-sensor.js';

const dir = mkdtempSync(join(tmpdir(), 'honeyport-idle-'));
const net = createBenchNet();
try {
  const r = await idlePass(net, dir, writeBenchPolicy(join(dir, 'policy.json'), 445, 'tcp'), process.argv.slice(2));
  process.stdout.write(`${idleTargets(r).join('\n')}\n`);
} finally {
  destroyBenchNet(net);
  rmSync(dir, { recursive: true, force: true });
}
