/**
 * State documents travel like alarms but are never counted as alarms:
 * faults injected — a receiver that refuses (503) when the document is
 * produced, then answers; the same outage across a restart (the document
 * spooled on disk, delivered by the next run); a closed stdout — and each
 * time the alarm equation (produced = delivered + dropped + left) holds for
 * alarms alone and the state documents have their own.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { deliveryConfigFromFlags } from '../../src/config/output-flag.js';
import type { DeliveryConfig } from '../../src/config/sensor-config.js';
import { Delivery, STATE_SPOOL_DIR, type DeliveryStats } from '../../src/deliver/delivery.js';
import { formatState } from '../../src/state/format-state.js';
import { ctx, probeAlarm } from '../deliver/alarms.js';
import { HttpReceiver } from '../deliver/http-receiver.js';
import { stateOf } from './states.js';
import { until, quickRetries } from '../deliver/delivery-helpers.js';

const quick = (config: DeliveryConfig): DeliveryConfig => quickRetries(config);

const adds = (s: DeliveryStats): void => assert.equal(s.produced + s.recovered, s.delivered + s.dropped + s.queued, `the numbers add up: ${JSON.stringify(s)}`);
const actions = (r: HttpReceiver): string[] => r.lines.map((l) => (JSON.parse(l) as { event: { action: string } }).event.action);
const publishState = (d: Delivery, trigger: 'start' | 'heartbeat'): void => d.publishState((f) => formatState(f, stateOf({ trigger })));

describe('state documents: delivery under faults', function () {
  this.timeout(30_000);
  let receiver: HttpReceiver;
  let dir: string;
  let notices: string[];
  const onNotice = (m: string): void => void notices.push(m);

  beforeEach(async () => {
    notices = [];
    receiver = new HttpReceiver();
    await receiver.start();
    dir = await mkdtemp(join(tmpdir(), 'honeyport-state-'));
  });
  afterEach(async () => {
    await receiver.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('a state document produced while the receiver refuses is spooled and delivered once it answers; alarms count apart', async () => {
    receiver.refuse = true;
    const d = await Delivery.open(quick(deliveryConfigFromFlags([receiver.url], { spoolDir: join(dir, 'spool') })), ctx, { onNotice, stateDocuments: true });
    publishState(d, 'start');
    d.publish(probeAlarm(1));
    assert.ok(await until(() => receiver.refused >= 2, 5000), 'the receiver refused both');
    await d.sync();
    assert.equal(d.stateStats()[0]!.queued, 1, 'the state document waits in its spool');
    assert.ok((await readdir(join(dir, 'spool', STATE_SPOOL_DIR))).length > 0, 'the state spool is on disk');
    receiver.refuse = false;
    assert.ok(await until(() => d.idle, 10_000), `drained: ${JSON.stringify(d.stateStats())}`);
    await d.close(1000);
    assert.deepEqual(actions(receiver).sort(), ['honeyport-sensor-state', 'honeypot-port-probe']);
    const [a, s] = [d.stats()[0]!, d.stateStats()[0]!];
    assert.deepEqual([a.produced, a.delivered, a.dropped, a.queued], [1, 1, 0, 0], 'the alarm counters hold the one alarm');
    assert.deepEqual([s.produced, s.delivered, s.dropped, s.queued], [1, 1, 0, 0], 'the state counters hold the one document');
    adds(a);
    adds(s);
    assert.ok(notices.some((m) => /state documents/.test(m)), `the state sink names its records: ${notices.join(' / ')}`);
  });

  it('a state document spooled during an outage is delivered by the next run, counted as recovered state, not as an alarm', async () => {
    receiver.refuse = true;
    const config = quick(deliveryConfigFromFlags([receiver.url], { spoolDir: join(dir, 'spool') }));
    const first = await Delivery.open(config, ctx, { onNotice, stateDocuments: true });
    publishState(first, 'start');
    publishState(first, 'heartbeat');
    await first.close(300);
    assert.equal(first.stateStats()[0]!.queued, 2, 'both left in the spool');
    assert.equal(first.stateStats()[0]!.dropped, 0);
    assert.equal(receiver.lines.length, 0);
    receiver.refuse = false;
    const next = await Delivery.open(config, ctx, { onNotice, stateDocuments: true });
    assert.ok(await until(() => next.idle, 10_000), `drained: ${JSON.stringify(next.stateStats())}`);
    await next.close(1000);
    assert.deepEqual(actions(receiver), ['honeyport-sensor-state', 'honeyport-sensor-state']);
    const [a, s] = [next.stats()[0]!, next.stateStats()[0]!];
    assert.deepEqual([s.recovered, s.delivered], [2, 2]);
    assert.deepEqual([a.recovered, a.produced, a.delivered], [0, 0, 0], 'no alarm was recovered or delivered');
  });

  it('a flood of state documents into a full state spool never evicts an alarm, and their loss is announced by its own notice', async () => {
    receiver.refuse = true;
    const d = await Delivery.open(quick(deliveryConfigFromFlags([receiver.url], { spoolDir: join(dir, 'spool'), spoolMaxBytes: '64KiB' })), ctx, { onNotice, stateDocuments: true });
    for (let i = 0; i < 10; i++) d.publish(probeAlarm(i));
    // About 1.5 KB each: 300 of them are several times the state spool's 64 KiB.
    for (let i = 0; i < 300; i++) publishState(d, 'heartbeat');
    await d.sync();
    receiver.refuse = false;
    assert.ok(await until(() => d.idle, 15_000), `drained: ${JSON.stringify(d.stateStats())}`);
    await d.close(1000);
    const [a, s] = [d.stats()[0]!, d.stateStats()[0]!];
    assert.deepEqual([a.produced, a.delivered, a.dropped], [10, 10, 0], 'every alarm delivered');
    assert.ok(s.dropped > 0 && s.delivered > 0, `some state documents lost to the bound, the newest kept: ${JSON.stringify(s)}`);
    adds(a);
    adds(s);
    const got = actions(receiver);
    assert.equal(got.filter((x) => x === 'honeypot-port-probe').length, 10);
    assert.equal(got.filter((x) => x === 'honeyport-alarms-lost').length, 0, 'no alarm loss is announced: none was lost');
    const notices = receiver.lines.map((l) => JSON.parse(l) as { event: { action: string }; honeyport: { lost?: { count: number } } }).filter((x) => x.event.action === 'honeyport-state-lost');
    assert.equal(notices.length, 1, 'one notice for the state documents lost');
    assert.equal(notices[0]!.honeyport.lost!.count, s.dropped);
  });

  it('a closed stdout drops state documents counted as state documents, the alarms as alarms', async () => {
    const out = new PassThrough();
    const d = await Delivery.open(deliveryConfigFromFlags([]), ctx, { onNotice, stdout: out, stateDocuments: true });
    out.destroy();
    publishState(d, 'start');
    d.publish(probeAlarm(1));
    d.publish(probeAlarm(2));
    await d.close(500);
    const [a, s] = [d.stats()[0]!, d.stateStats()[0]!];
    assert.deepEqual([a.produced, a.dropped], [2, 2]);
    assert.deepEqual([s.produced, s.dropped], [1, 1]);
    adds(a);
    adds(s);
  });

  it('replay opens no state sink and no state spool', async () => {
    const d = await Delivery.open(deliveryConfigFromFlags([receiver.url], { spoolDir: join(dir, 'spool') }), ctx, { onNotice });
    publishState(d, 'start');
    await d.close(500);
    assert.deepEqual(d.stateStats(), []);
    assert.deepEqual(await readdir(join(dir, 'spool')), [d.stats()[0]!.sink]);
  });
});
