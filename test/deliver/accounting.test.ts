/**
 * Fault tests for the delivery accounting: produced = delivered + dropped +
 * left in the spool, each drop announced once by a notice (delivered first
 * when the receiver recovers) and once on stderr, with distinct event ids.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deliveryConfigFromFlags } from '../../src/config/output-flag.js';
import type { DeliveryConfig } from '../../src/config/sensor-config.js';
import { Delivery, type DeliveryStats } from '../../src/deliver/delivery.js';
import { alarmNumber, ctx, probeAlarm } from './alarms.js';
import { HttpReceiver } from './http-receiver.js';
import { until, quickRetries } from './delivery-helpers.js';

const quick = (config: DeliveryConfig, batchRecords = 100): DeliveryConfig => quickRetries(config, batchRecords);

interface Doc {
  event: { action: string; id: string };
  honeyport: { lost?: { count: number; reasons: Record<string, number> } };
  source: { ip: string };
}

function received(r: HttpReceiver): { notices: Doc[]; alarms: number[]; ids: string[]; firstIsNotice: boolean } {
  const docs = r.lines.map((l) => JSON.parse(l) as Doc);
  const notices = docs.filter((d) => d.event.action === 'honeyport-alarms-lost');
  const alarms = docs.filter((d) => d.event.action !== 'honeyport-alarms-lost').map(alarmNumber);
  return { notices, alarms, ids: docs.map((d) => d.event.id), firstIsNotice: docs[0]?.event.action === 'honeyport-alarms-lost' };
}

const adds = (s: DeliveryStats): void => assert.equal(s.produced + s.recovered, s.delivered + s.dropped + s.queued, `the numbers add up: ${JSON.stringify(s)}`);

async function segmentBytes(dir: string): Promise<number> {
  let n = 0;
  for (const f of await readdir(dir)) if (f.endsWith('.seg')) n += (await stat(join(dir, f))).size;
  return n;
}

describe('deliver: loss accounting under faults', function () {
  this.timeout(60_000);
  let receiver: HttpReceiver;
  let dir: string;
  let notices: string[];
  const onNotice = (m: string): void => void notices.push(m);

  beforeEach(async () => {
    notices = [];
    receiver = new HttpReceiver();
    await receiver.start();
    dir = await mkdtemp(join(tmpdir(), 'honeyport-acct-'));
  });
  afterEach(async () => {
    await receiver.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('a 64 KiB disk spool under 503s stays bounded, and one notice with the exact count arrives first on recovery', async () => {
    const N = 5000;
    receiver.refuse = true;
    const spool = join(dir, 'spool');
    const d = await Delivery.open(quick(deliveryConfigFromFlags([receiver.url], { spoolDir: spool, spoolMaxBytes: '64KiB' })), ctx, { onNotice });
    let maxSeen = 0;
    const sinkDir = join(spool, d.stats()[0]!.sink);
    for (let i = 0; i < N; i++) {
      d.publish(probeAlarm(i));
      if (i % 500 === 499) {
        await d.sync();
        maxSeen = Math.max(maxSeen, await segmentBytes(sinkDir));
      }
    }
    await d.sync();
    maxSeen = Math.max(maxSeen, await segmentBytes(sinkDir));
    assert.ok(maxSeen <= 64 * 1024, `spool on disk ${maxSeen} bytes <= 64 KiB`);
    receiver.refuse = false;
    assert.ok(await until(() => d.idle, 20_000), `drained: ${JSON.stringify(d.stats())}`);
    await d.close(1000);
    const s = d.stats()[0]!;
    const r = received(receiver);
    assert.equal(r.notices.length, 1, 'one notice for the episode');
    assert.ok(r.firstIsNotice, 'the notice is delivered before the alarms that survived');
    assert.equal(r.notices[0]!.honeyport.lost!.count, s.dropped);
    assert.deepEqual(r.notices[0]!.honeyport.lost!.reasons, { spool_full: s.dropped });
    assert.equal(new Set(r.alarms).size + s.dropped, N, 'every alarm arrived or is counted lost');
    const avg = receiver.lines.reduce((a, l) => a + l.length, 0) / receiver.lines.length;
    assert.ok(new Set(r.alarms).size * avg >= 0.75 * 64 * 1024, `the bound holds useful data (${new Set(r.alarms).size} alarms of ~${avg.toFixed(0)} bytes kept)`);
    assert.equal(new Set(r.ids).size, r.ids.length, 'distinct event ids');
    adds(s);
    assert.equal(s.queued, 0);
    assert.equal(s.notices, 1);
    assert.equal(notices.filter((m) => /losing alarms/.test(m)).length, 1, `one stderr line for the episode: ${notices.join(' / ')}`);
  });

  it('a memory spool never reports more drops than alarms, and says so once', async () => {
    const N = 3000;
    receiver.refuse = true;
    const d = await Delivery.open(quick(deliveryConfigFromFlags([receiver.url], { spoolMaxBytes: '64KiB' })), ctx, { onNotice });
    for (let i = 0; i < N; i++) d.publish(probeAlarm(i));
    await d.sync();
    await new Promise((r) => setTimeout(r, 200));
    receiver.refuse = false;
    assert.ok(await until(() => d.idle, 20_000));
    await d.close(1000);
    const s = d.stats()[0]!;
    const r = received(receiver);
    assert.ok(s.dropped > 0 && s.dropped < N);
    assert.equal(r.notices.length, 1);
    assert.equal(r.notices[0]!.honeyport.lost!.count, s.dropped);
    assert.equal(new Set(r.alarms).size + s.dropped, N);
    adds(s);
    assert.equal(notices.filter((m) => /losing alarms/.test(m)).length, 1, notices.join(' / '));
    assert.ok(notices.length < 10, `a handful of stderr lines, not one per eviction (${notices.length})`);
  });

  it('a full disk (1 MiB tmpfs) is detected, counted as loss, announced, and shown in the stats', async function () {
    if (process.getuid?.() !== 0) {
      process.stdout.write('      (skipped: mounting a tmpfs needs root)\n');
      this.skip();
    }
    const mnt = join(dir, 'tmpfs');
    await mkdir(mnt);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]);
    } catch (err) {
      process.stdout.write(`      (skipped: cannot mount a tmpfs: ${(err as Error).message.split('\n')[0]})\n`);
      this.skip();
    }
    try {
      const N = 2000;
      receiver.refuse = true;
      const d = await Delivery.open(quick(deliveryConfigFromFlags([receiver.url], { spoolDir: mnt, spoolMaxBytes: '64MiB' })), ctx, { onNotice });
      for (let i = 0; i < N; i++) {
        d.publish(probeAlarm(i));
        if (i % 200 === 199) await d.sync();
      }
      await d.sync();
      const during = d.stats()[0]!;
      assert.ok(during.dropped > 0, `write errors counted as loss: ${JSON.stringify(during)}`);
      assert.match(during.error ?? '', /ENOSPC/, 'the stats (and so `status`) say why');
      adds(during);
      assert.equal(notices.filter((m) => /losing alarms .*ENOSPC/.test(m)).length, 1, notices.join(' / '));
      receiver.refuse = false;
      assert.ok(await until(() => d.idle, 20_000), JSON.stringify(d.stats()));
      await d.close(1000);
      const s = d.stats()[0]!;
      const r = received(receiver);
      adds(s);
      assert.equal(s.queued, 0);
      assert.equal(r.notices.reduce((a, n) => a + n.honeyport.lost!.count, 0), s.dropped, 'the notices count every loss');
      assert.equal(new Set(r.alarms).size + s.dropped, N, 'every alarm arrived or is counted lost; none silently');
    } finally {
      execFileSync('umount', [mnt]);
    }
  });
});
