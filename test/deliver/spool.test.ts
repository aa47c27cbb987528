import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFile, mkdtemp, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../../src/config/config-error.js';
import { backoffMs } from '../../src/deliver/backoff.js';
import type { Entry } from '../../src/deliver/entry.js';
import { DiskSpool } from '../../src/deliver/spool/disk-spool.js';
import { MemorySpool } from '../../src/deliver/spool/memory-spool.js';
import type { Spool } from '../../src/deliver/spool/spool.js';
import { MAGIC } from '../../src/deliver/spool/record-frame.js';

const lockHolder = fileURLToPath(new URL('../lock/lock-holder.js', import.meta.url));
const entry = (i: number, pad = 0): Entry => ({ record: `{"n":${i}${pad ? `,"pad":"${'x'.repeat(pad)}"` : ''}}`, timeMicros: 1000 + i });
const num = (e: Entry): number => (JSON.parse(e.record) as { n: number }).n;
const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

async function drainAll(s: Spool, batch = 7): Promise<number[]> {
  const out: number[] = [];
  for (let c = await s.peek(batch); c; c = await s.peek(batch)) {
    out.push(...c.entries.map(num));
    s.commit(c.cursor);
  }
  return out;
}

async function segments(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.endsWith('.seg')).sort();
}

async function segmentBytes(dir: string): Promise<number> {
  let n = 0;
  for (const f of await segments(dir)) n += (await stat(join(dir, f))).size;
  return n;
}

/** Writes 0..n-1 to a fresh spool in `dir` and closes it (as a killed process would leave it, minus the lock). */
async function filled(dir: string, n: number, pad = 0): Promise<void> {
  const s = await DiskSpool.open(dir, 1 << 20);
  for (let i = 0; i < n; i++) s.append([entry(i, pad)]);
  await s.close();
}

/** Where record `i` (0-based) starts in a single-segment spool, and its size. */
async function recordOffset(dir: string, i: number): Promise<{ file: string; at: number; size: number }> {
  const [seg] = await segments(dir);
  const file = join(dir, seg!);
  const buf = await readFile(file);
  const starts: number[] = [];
  for (let at = buf.indexOf(MAGIC); at >= 0; at = buf.indexOf(MAGIC, at + 1)) starts.push(at);
  starts.push(buf.length);
  return { file, at: starts[i]!, size: starts[i + 1]! - starts[i]! };
}

async function overwrite(file: string, at: number, bytes: Buffer): Promise<void> {
  const fh = await open(file, 'r+');
  await fh.write(bytes, 0, bytes.length, at);
  await fh.close();
}

describe('deliver: disk spool', () => {
  let dir: string;
  beforeEach(async () => (dir = await mkdtemp(join(tmpdir(), 'honeyport-spool-'))));
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it('returns entries in order across segments and removes consumed segments', async () => {
    const s = await DiskSpool.open(dir, 1 << 20);
    for (let i = 0; i < 3000; i++) s.append([entry(i, 60)]);
    await s.flush();
    assert.equal(s.count, 3000);
    assert.ok((await segments(dir)).length > 1, 'several segments');
    assert.deepEqual(await drainAll(s, 100), range(0, 3000));
    assert.equal(s.count, 0);
    await s.close();
    assert.equal((await segments(dir)).length, 1);
    assert.equal(s.losses.pending, 0);
  });

  it('recovers after a crash: uncommitted entries come back, a torn last record is cut off and counted', async () => {
    const s = await DiskSpool.open(dir, 1 << 20);
    for (let i = 0; i < 50; i++) s.append([entry(i)]);
    await s.flush();
    const c = (await s.peek(20))!;
    s.commit(c.cursor);
    await s.close();
    const segs = await segments(dir);
    // A write torn by SIGKILL: half a frame at the tail.
    const whole = await readFile(join(dir, segs[segs.length - 1]!));
    await appendFile(join(dir, segs[segs.length - 1]!), whole.subarray(whole.length - 20, whole.length - 5));
    const again = await DiskSpool.open(dir, 1 << 20);
    assert.equal(again.count, 30);
    assert.equal(again.losses.pending, 1, 'the torn record is counted lost');
    again.append([entry(51)]);
    assert.deepEqual(await drainAll(again), [...range(20, 50), 51]);
    await again.close();
  });

  it('skips a corrupted record, counts exactly one loss and delivers the rest', async () => {
    await filled(dir, 100);
    const { file, at, size } = await recordOffset(dir, 40);
    await overwrite(file, at + size - 3, Buffer.from('X')); // one byte of record 40's JSON
    const s = await DiskSpool.open(dir, 1 << 20);
    assert.equal(s.count, 99);
    const l = s.losses.take()!;
    assert.equal(l.count, 1);
    assert.deepEqual(l.reasons, { damaged: 1 });
    assert.deepEqual(await drainAll(s), [...range(0, 40), ...range(41, 100)]);
    await s.close();
  });

  it('skips a NUL-filled stretch over several records and counts them exactly from the sequence numbers', async () => {
    await filled(dir, 100);
    const { file, at, size } = await recordOffset(dir, 10);
    await overwrite(file, at + 3, Buffer.alloc(Math.floor(size * 5)));
    const s = await DiskSpool.open(dir, 1 << 20);
    const kept = await drainAll(s);
    assert.deepEqual(kept, [...range(0, 10), ...range(16, 100)]);
    assert.equal(s.losses.take()!.count, 6, 'records 10..15 were hit');
    await s.close();
  });

  it('never delivers a record whose length field is damaged (no huge allocation either)', async () => {
    await filled(dir, 20);
    const { file, at } = await recordOffset(dir, 5);
    await overwrite(file, at + 4, Buffer.from([0xff, 0xff, 0xff, 0x7f]));
    const s = await DiskSpool.open(dir, 1 << 20);
    assert.deepEqual(await drainAll(s), [...range(0, 5), ...range(6, 20)]);
    assert.equal(s.losses.take()!.count, 1);
    await s.close();
  });

  it('converts a segment of the line format of earlier versions instead of losing it', async () => {
    const lines = range(0, 30).map((i) => `${1000 + i}\t${entry(i).record}\n`).join('');
    await writeFile(join(dir, '000000000001.seg'), `${lines}1030\t{"n":30`); // with a torn last line
    await writeFile(join(dir, 'head.json'), JSON.stringify({ segment: 1, offset: lines.indexOf('1010\t'), index: 10 }));
    const s = await DiskSpool.open(dir, 1 << 20);
    assert.deepEqual(await drainAll(s), range(10, 30));
    assert.equal(s.losses.pending, 0);
    await s.close();
  });

  it('a segment damaged or cut short while open is skipped and counted, never a hang', async () => {
    const s = await DiskSpool.open(dir, 1 << 20);
    s.append(range(0, 20).map((i) => entry(i)));
    await s.flush();
    const { file, at, size } = await recordOffset(dir, 3);
    await overwrite(file, at + size - 2, Buffer.from('#'));
    const { at: cut } = await recordOffset(dir, 12);
    const { truncate } = await import('node:fs/promises');
    await truncate(file, cut + 5);
    const got = await drainAll(s, 5);
    assert.deepEqual(got, [...range(0, 3), ...range(4, 12)]);
    assert.equal(got.length + s.losses.pending, 20, 'delivered + lost = written');
    await s.close();
  });

  it('refuses a spool directory another process holds, and takes it once that process is killed', async () => {
    const child = spawn(process.execPath, [lockHolder, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout!.on('data', (d: Buffer) => d.toString().includes('locked') && resolve()));
    try {
      await assert.rejects(DiskSpool.open(dir, 1 << 20), (e: unknown) => e instanceof ConfigError && e.message.includes(`in use by process ${child.pid}`));
    } finally {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
    await (await DiskSpool.open(dir, 1 << 20)).close();
  });

  it('starts despite a stale pid lock file whose pid was reused by a live process', async () => {
    await writeFile(join(dir, 'lock'), '1\n');
    await (await DiskSpool.open(dir, 1 << 20)).close();
  });

  it('applies the bound per record: one large batch never overshoots, and the oldest go first', async () => {
    const max = 64 * 1024;
    const s = await DiskSpool.open(dir, max);
    s.append(Array.from({ length: 5000 }, (_, i) => entry(i, 100)));
    await s.flush();
    const onDisk = await segmentBytes(dir);
    assert.ok(onDisk <= max, `on disk ${onDisk} <= ${max}`);
    assert.ok(onDisk >= max * 0.8, `the bound holds useful data (${onDisk} bytes)`);
    const lost = s.losses.pending;
    assert.equal(lost + s.count, 5000, 'every entry is either kept or counted lost');
    const kept = await drainAll(s, 500);
    assert.deepEqual(kept, range(lost, 5000), 'the oldest were dropped, the rest kept in order');
    const l = s.losses.take()!;
    assert.deepEqual(l.reasons, { spool_full: lost });
    assert.equal(l.firstMicros, 1000);
    assert.equal(l.lastMicros, 1000 + lost - 1);
    await s.close();
  });

  it('keeps the loss count outside the bounded data and across a restart', async () => {
    const s = await DiskSpool.open(dir, 16 * 1024);
    s.append(Array.from({ length: 2000 }, (_, i) => entry(i, 50)));
    await s.flush();
    const lost = s.losses.pending;
    assert.ok(lost > 1000);
    await s.close();
    const again = await DiskSpool.open(dir, 16 * 1024);
    assert.equal(again.losses.pending, lost);
    assert.equal(again.losses.lostThisRun, 0, 'this run lost nothing itself');
    await again.close();
  });

  it('counts the records of a chunk in flight as delivered when the bound evicted them meanwhile', async () => {
    const s = await DiskSpool.open(dir, 16 * 1024);
    s.append(Array.from({ length: 50 }, (_, i) => entry(i, 50)));
    await s.flush();
    const c = (await s.peek(10))!;
    s.append(Array.from({ length: 2000 }, (_, i) => entry(50 + i, 50)));
    await s.flush();
    const lostBefore = s.losses.pending;
    s.commit(c.cursor); // delivered after all
    assert.equal(s.losses.pending, lostBefore);
    assert.equal(lostBefore + s.count + 10, 2050);
    await s.close();
  });
});

describe('deliver: memory spool and backoff', () => {
  it('memory spool keeps order and drops the oldest beyond its bound, counted outside it', async () => {
    const s = new MemorySpool(10 * 40);
    for (let i = 0; i < 20; i++) s.append([entry(i)]);
    assert.ok(s.count < 20);
    assert.equal(s.losses.pending + s.count, 20);
    assert.deepEqual(await drainAll(s), range(s.losses.pending, 20));
  });
  it('backoff doubles up to the ceiling, with jitter in the upper half', () => {
    assert.equal(backoffMs(1, 100, 10_000, () => 0), 50);
    assert.equal(backoffMs(1, 100, 10_000, () => 1), 100);
    assert.equal(backoffMs(4, 100, 10_000, () => 1), 800);
    assert.equal(backoffMs(40, 100, 10_000, () => 1), 10_000);
  });
});
