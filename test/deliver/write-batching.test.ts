/**
 * What an alarm costs the stdout and file sinks in writes: the alarms of one
 * capture batch (published in one turn) go out as one write, and a steady
 * trickle of alarms (one per ring block under a flood) is gathered into a
 * write per linger interval instead of one write each; a lone alarm after a
 * quiet spell is not held back.
 */
import assert from 'node:assert/strict';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { deliveryConfigFromFlags } from '../../src/config/output-flag.js';
import { Delivery } from '../../src/deliver/delivery.js';
import { SEND_LINGER_MS } from '../../src/deliver/sink.js';
import { ctx, probeAlarm } from './alarms.js';

const quiet = { onNotice: (): void => undefined };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** A stdout stand-in that counts write calls and keeps the lines. */
class CountingStream extends Writable {
  writes = 0;
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.writes++;
    this.text += chunk.toString();
    cb();
  }
}

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
