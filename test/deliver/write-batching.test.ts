/**
 * What an alarm costs the stdout and file sinks in writes: the alarms of one
 * capture batch (published in one turn) go out as one write, and a steady
 * trickle of alarms (one per ring block under a flood) is gathered into a
 * write per linger interval instead of one write each; the linger grows while
 * the trickle lasts, never beyond SEND_LINGER_MAX_MS, and falls back once the
 * sink is quiet; a lone alarm after a quiet spell is not held back.
 */
import assert from 'node:assert/strict';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { deliveryConfigFromFlags } from '../../src/config/output-flag.js';
import { Delivery } from '../../src/deliver/delivery.js';
import { LINGER_ENOUGH, SEND_LINGER_MAX_MS, SEND_LINGER_MS } from '../../src/deliver/sink.js';
import { ctx, probeAlarm } from './alarms.js';

const quiet = { onNotice: (): void => undefined };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** A stdout stand-in that counts write calls and keeps the lines, and when each line arrived. */
class CountingStream extends Writable {
  writes = 0;
  text = '';
  readonly arrivedMs: number[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.writes++;
    const text = chunk.toString();
    this.text += text;
    const now = Date.now();
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) this.arrivedMs.push(now);
    cb();
  }
}

/** Publishes `each` alarms per `everyMs` for `forMs`; returns when each was published (alarm i is line i: sinks keep order). */
async function trickle(d: Delivery, first: number, everyMs: number, forMs: number, each = 1): Promise<number[]> {
  const publishedMs: number[] = [];
  const started = Date.now();
  while (Date.now() - started < forMs) {
    for (let k = 0; k < each; k++) {
      publishedMs.push(Date.now());
      d.publish(probeAlarm(first + publishedMs.length - 1));
    }
    await sleep(everyMs);
  }
  return publishedMs;
}

function waits(out: CountingStream, publishedMs: readonly number[], first: number): number[] {
  return publishedMs.map((p, i) => out.arrivedMs[first + i]! - p);
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

const lines = (text: string): number => text.split('\n').filter((l) => l.length > 0).length;

describe('deliver: writes per alarm on the stdout and file sinks', function () {
  this.timeout(20_000);

  it('stdout: N alarms published in one turn cost one write', async () => {
    const out = new CountingStream();
    const d = await Delivery.open(deliveryConfigFromFlags([]), ctx, { ...quiet, stdout: out });
    for (let i = 0; i < 40; i++) d.publish(probeAlarm(i));
    await d.sync();
    assert.equal(lines(out.text), 40);
    assert.equal(out.writes, 1);
    await d.close();
  });

  it('stdout: a trickle of one alarm per millisecond is gathered, not one write each', async () => {
    const out = new CountingStream();
    const d = await Delivery.open(deliveryConfigFromFlags([]), ctx, { ...quiet, stdout: out });
    const started = Date.now();
    let n = 0;
    while (Date.now() - started < 100) {
      d.publish(probeAlarm(n++));
      await sleep(1);
    }
    const elapsed = Date.now() - started;
    await d.sync();
    assert.equal(lines(out.text), n);
    // At most one write per linger interval, plus the first and the last.
    const bound = Math.ceil(elapsed / SEND_LINGER_MS) + 2;
    assert.ok(n > bound, `the trickle must be denser than the bound to test it (${n} alarms, bound ${bound})`);
    assert.ok(out.writes <= bound, `${out.writes} writes for ${n} alarms over ${elapsed} ms (bound ${bound})`);
    await d.close();
  });

  it('stdout: a sustained trickle is gathered into ever fewer writes, and no alarm waits beyond SEND_LINGER_MAX_MS', async () => {
    const out = new CountingStream();
    const d = await Delivery.open(deliveryConfigFromFlags([]), ctx, { ...quiet, stdout: out });
    const started = Date.now();
    const published = await trickle(d, 0, 1, 300);
    const elapsed = Date.now() - started;
    await d.sync();
    assert.equal(lines(out.text), published.length);
    // 5, 10, then 20 ms apart: at most one write per SEND_LINGER_MAX_MS once grown (a linger stuck at 5 ms: ~60 writes).
    const bound = Math.ceil(elapsed / SEND_LINGER_MAX_MS) + 4;
    assert.ok(out.writes <= bound, `${out.writes} writes for ${published.length} alarms over ${elapsed} ms (bound ${bound})`);
    // An unbounded linger would have reached 80-160 ms within the trickle; timers on a loaded host run a little late.
    const worst = Math.max(...waits(out, published, 0));
    assert.ok(worst <= SEND_LINGER_MAX_MS * 2 + 10, `an alarm waited ${worst} ms for its write (linger at most ${SEND_LINGER_MAX_MS} ms)`);
    await d.close();
  });

  it('stdout: after the trickle, a quiet spell brings the linger back down (a slower trickle is written at once)', async () => {
    const out = new CountingStream();
    const d = await Delivery.open(deliveryConfigFromFlags([]), ctx, { ...quiet, stdout: out });
    const fast = await trickle(d, 0, 1, 150);
    await d.sync();
    await sleep(SEND_LINGER_MAX_MS * 2);
    // One alarm per 8 ms: each comes after the last write plus SEND_LINGER_MS, so it goes at once; a
    // linger left at SEND_LINGER_MAX_MS would hold each ~10 ms on average.
    const slow = await trickle(d, fast.length, 8, 200);
    await d.sync();
    assert.equal(lines(out.text), fast.length + slow.length);
    const m = median(waits(out, slow, fast.length));
    assert.ok(m < SEND_LINGER_MS, `median wait ${m} ms in the slow trickle (at once expected)`);
    await d.close();
  });

  it('stdout: a dense trickle (batches of LINGER_ENOUGH or more) keeps the linger short', async () => {
    const out = new CountingStream();
    const d = await Delivery.open(deliveryConfigFromFlags([]), ctx, { ...quiet, stdout: out });
    // 16 alarms per millisecond: every 5 ms linger gathers far more than LINGER_ENOUGH.
    const published = await trickle(d, 0, 1, 200, Math.ceil(LINGER_ENOUGH / 2));
    await d.sync();
    assert.equal(lines(out.text), published.length);
    // Waits spread over 0..SEND_LINGER_MS (median ~2-3 ms); a linger grown to SEND_LINGER_MAX_MS: over 0..20 (median ~10).
    const m = median(waits(out, published, 0));
    assert.ok(m < SEND_LINGER_MAX_MS / 2, `median wait ${m} ms in a dense trickle (linger ${SEND_LINGER_MS} ms expected)`);
    await d.close();
  });

  it('stdout: a lone alarm after a quiet spell is written at once (no linger)', async () => {
    const out = new CountingStream();
    const d = await Delivery.open(deliveryConfigFromFlags([]), ctx, { ...quiet, stdout: out });
    d.publish(probeAlarm(0));
    await d.sync();
    await sleep(SEND_LINGER_MS * 3);
    d.publish(probeAlarm(1));
    // The pump runs in the next check phase; the write follows in the turns after.
    for (let i = 0; i < 5 && lines(out.text) < 2; i++) await turn();
    assert.equal(lines(out.text), 2, 'the second alarm is written within a few event-loop turns');
    await d.close();
  });

  it('stdout: a full batch is not held back by the linger', async () => {
    const out = new CountingStream();
    const batchRecords = 10;
    const config = deliveryConfigFromFlags([]);
    const d = await Delivery.open({ ...config, sinks: config.sinks.map((s) => ({ ...s, queue: { ...s.queue, batchRecords } })) }, ctx, { ...quiet, stdout: out });
    d.publish(probeAlarm(0));
    for (let i = 0; i < 5 && lines(out.text) < 1; i++) await turn();
    assert.equal(lines(out.text), 1);
    // Within the linger of that write: a full batch goes at once.
    for (let i = 1; i <= batchRecords; i++) d.publish(probeAlarm(i));
    for (let i = 0; i < 5 && lines(out.text) < 1 + batchRecords; i++) await turn();
    assert.equal(lines(out.text), 1 + batchRecords);
    await d.close();
  });

  describe('file sink', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'honeyport-batching-'));
    });
    afterEach(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    /** Counts FileHandle.write calls on handles of `path`'s sink while `body` runs. */
    async function countingFileWrites(body: () => Promise<void>): Promise<number> {
      const probe = await open(join(dir, 'probe'), 'w');
      const proto = Object.getPrototypeOf(probe) as { write: (...args: unknown[]) => Promise<unknown> };
      await probe.close();
      const original = proto.write;
      let writes = 0;
      proto.write = function (this: unknown, ...args: unknown[]) {
        writes++;
        return original.apply(this, args);
      };
      try {
        await body();
      } finally {
        proto.write = original;
      }
      return writes;
    }

    it('N alarms published in one turn cost one write', async () => {
      const path = join(dir, 'alarms.json');
      const writes = await countingFileWrites(async () => {
        const d = await Delivery.open(deliveryConfigFromFlags([`file:${path}`]), ctx, quiet);
        for (let i = 0; i < 40; i++) d.publish(probeAlarm(i));
        await d.sync();
        await d.close();
      });
      assert.equal(lines(await readFile(path, 'utf8')), 40);
      assert.equal(writes, 1);
    });

    it('a trickle of one alarm per millisecond is gathered, not one write each', async () => {
      const path = join(dir, 'alarms.json');
      let n = 0;
      let elapsed = 0;
      const writes = await countingFileWrites(async () => {
        const d = await Delivery.open(deliveryConfigFromFlags([`file:${path}`]), ctx, quiet);
        const started = Date.now();
        while (Date.now() - started < 100) {
          d.publish(probeAlarm(n++));
          await sleep(1);
        }
        elapsed = Date.now() - started;
        await d.sync();
        await d.close();
      });
      assert.equal(lines(await readFile(path, 'utf8')), n);
      const bound = Math.ceil(elapsed / SEND_LINGER_MS) + 2;
      assert.ok(n > bound, `the trickle must be denser than the bound to test it (${n} alarms, bound ${bound})`);
      assert.ok(writes <= bound, `${writes} writes for ${n} alarms over ${elapsed} ms (bound ${bound})`);
    });
  });
});
