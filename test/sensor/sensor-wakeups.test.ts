/**
 * Idle wake-ups of the live sensor (issue 10 part 6): time-driven work —
 * closing dedup windows, handing closed connections to the detector after
 * their delay, ending a reload's retirement — runs from one timer armed for
 * the nearest deadline, never from a periodic ticker. Measured by counting
 * the timer callbacks that run (setTimeout/setInterval wrapped) while a
 * sensor with a fake capture and loopback listeners sits idle, and checked
 * that each kind of deadline is still met without a ticker.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import type { Alarm, ProbeAlarm } from '../../src/alarm/alarm.js';
import type { CaptureCounters, LiveCapture, OnBatch } from '../../src/capture/live-capture.js';
import { Sensor } from '../../src/sensor/sensor.js';
import { FrameBatch, LinkType } from '../../src/source/frame-batch.js';
import { ethernet, ipv4, tcp } from '../helpers/frame-builder.js';
import { freePorts, policyOf } from '../ports/helpers.js';

const ZERO: CaptureCounters = { received: 0, kernelDrops: 0, queueFreezes: 0, handoffDrops: 0, delivered: 0, batches: 0, blocks: 0, outgoingSkipped: 0, unsupportedLink: 0, overflow: 0, malformedBlocks: 0, socketErrors: 0 };

class QuietCapture implements LiveCapture {
  onBatch: OnBatch | undefined;
  start(onBatch: OnBatch): void {
    this.onBatch = onBatch;
  }
  setFilter(): void {}
  stats(): CaptureCounters {
    return ZERO;
  }
  stampedBy(): Promise<number> {
    return Promise.resolve(Date.now() + this.clockLagMs);
  }
  /** How much later than capture this capture stamps its frames (0: in the kernel). */
  clockLagMs = 0;
  resume(): void {}
  close(): void {}
  /** One SYN from `src` to 127.0.0.1:`port`, captured now. */
  syn(port: number, srcPort = 40000): void {
    const f = ethernet(ipv4({ src: '198.18.9.1', dst: '127.0.0.1', payload: tcp({ srcPort, dstPort: port, flags: 0x02 }) }));
    const b = new FrameBatch(1);
    b.data = Buffer.from(f);
    b.caplen[0] = f.length;
    b.wirelen[0] = f.length;
    b.linktype[0] = LinkType.ETHERNET;
    b.tsMicros[0] = Date.now() * 1000;
    b.iface[0] = 1;
    b.count = 1;
    this.onBatch!(b);
  }
}

/** Counts timer callbacks run while installed (every timer of the process). */
class TimerCallbacks {
  count = 0;
  readonly #timeout = globalThis.setTimeout;
  readonly #interval = globalThis.setInterval;
  install(): void {
    const wrap = <T extends (...a: never[]) => unknown>(real: T): T =>
      ((cb: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) =>
        (real as unknown as (c: (...x: unknown[]) => void, m?: number, ...r: unknown[]) => unknown)(
          (...x: unknown[]) => {
            this.count++;
            cb(...x);
          },
          ms,
          ...args,
        )) as unknown as T;
    globalThis.setTimeout = wrap(this.#timeout);
    globalThis.setInterval = wrap(this.#interval);
  }
  uninstall(): void {
    globalThis.setTimeout = this.#timeout;
    globalThis.setInterval = this.#interval;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('live sensor wake-ups (fake capture, loopback listeners)', () => {
  let sensor: Sensor | undefined;
  const timers = new TimerCallbacks();

  afterEach(async () => {
    timers.uninstall();
    await sensor?.stop();
    sensor = undefined;
  });

  async function start(windowMs: number): Promise<{ capture: QuietCapture; alarms: Alarm[]; port: number }> {
    const [port] = await freePorts(1);
    const capture = new QuietCapture();
    const alarms: Alarm[] = [];
    timers.install(); // before start: the sensor's timers are created with the wrapped functions
    sensor = await Sensor.start({
      detection: { policy: policyOf([{ port: port!, protocol: 'tcp' }]), windowMicros: windowMs * 1000, maxTrackedKeys: 100, newSourceRate: 100, serverAddresses: [] },
      interfaces: ['lo'],
      ringBlockSize: 4096,
      ringBlockCount: 4,
      interfaceTable: new Map([[1, 'lo']]),
      onAlarm: (x) => alarms.push(x),
      bindAddresses: { tcp: ['127.0.0.1'], tcp6: ['::1'] },
      openCapture: () => capture,
    });
    return { capture, alarms, port: port! };
  }

  it('an idle sensor runs no timer at all', async function () {
    if (process.platform !== 'linux') this.skip();
    await start(300);
    await sleep(50); // start-up's own timers, if any, are done
    const before = timers.count;
    await sleep(600);
    // The sleep itself is one callback; a 100 ms ticker would add 6.
    assert.equal(timers.count - before, 1, `${timers.count - before - 1} sensor timer callbacks while idle`);
  });

  it('a dedup window still closes on time (follow-up alarm) and then nothing wakes', async function () {
    if (process.platform !== 'linux') this.skip();
    const { capture, alarms, port } = await start(300);
    capture.syn(port, 40001);
    capture.syn(port, 40002);
    assert.deepEqual(alarms.map((a) => (a as ProbeAlarm).phase), ['first']);
    const t0 = Date.now();
    while (alarms.length < 2 && Date.now() - t0 < 3000) await sleep(10);
    assert.deepEqual(alarms.map((a) => (a as ProbeAlarm).phase), ['first', 'follow-up']);
    const waited = Date.now() - t0;
    assert.ok(waited >= 250, `the follow-up came after the window (${waited} ms), not before`);
    const before = timers.count;
    await sleep(400);
    assert.ok(timers.count - before <= 2, `${timers.count - before} timer callbacks after the window closed`);
  });

  it('a closed connection still reaches the detector after its delay, with no ticker', async function () {
    if (process.platform !== 'linux') this.skip();
    const { alarms, port } = await start(60_000);
    await new Promise<void>((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port }, () => s.end());
      s.on('error', reject);
      s.on('close', () => resolve());
    });
    const t0 = Date.now();
    while (!alarms.some((a) => (a as ProbeAlarm).phase === 'connection') && Date.now() - t0 < 3000) await sleep(20);
    assert.ok(alarms.some((a) => (a as ProbeAlarm).phase === 'connection'), `alarms: ${alarms.map((a) => (a as ProbeAlarm).phase).join(', ')}`);
  });
});
