import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../../src/config/config-error.js';
import { backoffMs } from '../../src/deliver/backoff.js';
import type { Entry, LossInfo } from '../../src/deliver/entry.js';
import { DiskSpool } from '../../src/deliver/spool/disk-spool.js';
import { MemorySpool } from '../../src/deliver/spool/memory-spool.js';
import type { Spool } from '../../src/deliver/spool/spool.js';

const lockHolder = fileURLToPath(new URL('../lock/lock-holder.js', import.meta.url));
const entry = (i: number, pad = 0): Entry => ({ record: `{"n":${i}${pad ? `,"pad":"${'x'.repeat(pad)}"` : ''}}`, timeMicros: 1000 + i });
const num = (e: Entry): number => (JSON.parse(e.record) as { n: number }).n;

async function drainAll(s: Spool, batch = 7): Promise<number[]> {
  const out: number[] = [];
  for (let c = await s.peek(batch); c; c = await s.peek(batch)) {
    out.push(...c.entries.map(num));
    s.commit(c.cursor);
  }
  return out;
}

describe('deliver: disk spool', () => {
  let dir: string;
  beforeEach(async () => (dir = await mkdtemp(join(tmpdir(), 'honeyport-spool-'))));
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it('returns entries in order across segments and removes consumed segments', async () => {
    const s = await DiskSpool.open(dir, 1 << 20, () => assert.fail('no loss'));
    for (let i = 0; i < 3000; i++) s.append([entry(i, 60)]);
    await s.flush();
    assert.equal(s.count, 3000);
    assert.ok((await readdir(dir)).filter((f) => f.endsWith('.seg')).length > 1, 'several segments');
    assert.deepEqual(await drainAll(s, 100), Array.from({ length: 3000 }, (_, i) => i));
    assert.equal(s.count, 0);
    await s.close();
    assert.equal((await readdir(dir)).filter((f) => f.endsWith('.seg')).length, 1);
  });

  it('recovers after a crash: uncommitted entries come back, a torn last line is cut off', async () => {
    const s = await DiskSpool.open(dir, 1 << 20, () => undefined);
    for (let i = 0; i < 50; i++) s.append([entry(i)]);
    await s.flush();
    const c = (await s.peek(20))!;
    s.commit(c.cursor);
    // Simulated crash: everything is on disk as after close(), but the lock
    // names a dead process and the last write was torn.
    await s.close();
    await writeFile(join(dir, 'lock'), '999999999\n');
    const segs = (await readdir(dir)).filter((f) => f.endsWith('.seg'));
    await appendFile(join(dir, segs[segs.length - 1]!), '1050\t{"n":50');
    const again = await DiskSpool.open(dir, 1 << 20, () => undefined);
    assert.equal(again.count, 30);
    again.append([entry(51)]);
    assert.deepEqual(await drainAll(again), [...Array.from({ length: 30 }, (_, i) => i + 20), 51]);
    await again.close();
  });

  it('refuses a spool directory another process holds, and takes it once that process is killed', async () => {
    const child = spawn(process.execPath, [lockHolder, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout!.on('data', (d: Buffer) => d.toString().includes('locked') && resolve()));
    try {
      await assert.rejects(DiskSpool.open(dir, 1 << 20, () => undefined), (e: unknown) => e instanceof ConfigError && e.message.includes(`in use by process ${child.pid}`));
    } finally {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
    await (await DiskSpool.open(dir, 1 << 20, () => undefined)).close();
  });

  it('starts despite a stale pid lock file whose pid was reused by a live process', async () => {
    await writeFile(join(dir, 'lock'), '1\n');
    await (await DiskSpool.open(dir, 1 << 20, () => undefined)).close();
  });

  it('drops the oldest segments when full and reports how many and when', async () => {
    const losses: LossInfo[] = [];
    const s = await DiskSpool.open(dir, 512 * 1024, (l) => losses.push(l));
    for (let i = 0; i < 10_000; i++) s.append([entry(i, 100)]);
    await s.flush();
    assert.ok(s.bytes <= 512 * 1024, `bounded (${s.bytes})`);
    const lost = losses.reduce((a, l) => a + l.count, 0);
    assert.ok(lost > 0);
    assert.equal(lost + s.count, 10_000, 'every entry is either kept or counted as lost');
    assert.equal(losses[0]!.firstMicros, 1000);
    const kept = await drainAll(s, 500);
    assert.equal(kept[0], lost, 'the oldest were dropped, the rest kept in order');
    assert.equal(kept[kept.length - 1], 9999);
    await s.close();
  });
});

describe('deliver: memory spool and backoff', () => {
  it('memory spool keeps order and drops the oldest beyond its bound', () => {
    const losses: LossInfo[] = [];
    const s = new MemorySpool(10 * 40, (l) => losses.push(l));
    for (let i = 0; i < 20; i++) s.append([entry(i)]);
    assert.ok(s.count < 20);
    assert.equal(losses.reduce((a, l) => a + l.count, 0) + s.count, 20);
  });
  it('backoff doubles up to the ceiling, with jitter in the upper half', () => {
    assert.equal(backoffMs(1, 100, 10_000, () => 0), 50);
    assert.equal(backoffMs(1, 100, 10_000, () => 1), 100);
    assert.equal(backoffMs(4, 100, 10_000, () => 1), 800);
    assert.equal(backoffMs(40, 100, 10_000, () => 1), 10_000);
  });
});
