/**
 * HTTP receivers that refuse in the ways real ones do: 413 for a body too
 * large, 400 for one bad record in a batch, an answer trickled one byte at a
 * time. The sink must lose only what the receiver truly refuses, say so, and
 * never stall.
 */
import assert from 'node:assert/strict';
import { deliveryConfigFromFlags } from '../../src/config/output-flag.js';
import type { DeliveryConfig, SinkConfig } from '../../src/config/sensor-config.js';
import { Delivery } from '../../src/deliver/delivery.js';
import { alarmNumber, ctx, probeAlarm } from './alarms.js';
import { HttpReceiver, orderAndDuplicates } from './http-receiver.js';
import { until } from './delivery-helpers.js';

function tuned(config: DeliveryConfig, patch: (s: SinkConfig) => SinkConfig): DeliveryConfig {
  return { ...config, sinks: config.sinks.map((s) => patch({ ...s, queue: { ...s.queue, batchRecords: 100, retryInitialMs: 20, retryMaxMs: 100 } })) };
}

interface Doc { event: { action: string }; source: { ip: string }; honeyport: { lost?: { count: number; reasons: Record<string, number> } } }
const parse = (l: string): Doc => JSON.parse(l) as Doc;
const isAlarm = (d: Doc): boolean => d.event.action !== 'honeyport-alarms-lost';

describe('deliver: HTTP receivers that refuse', function () {
  this.timeout(30_000);
  let receiver: HttpReceiver;
  let notices: string[];
  const onNotice = (m: string): void => void notices.push(m);
  beforeEach(async () => {
    notices = [];
    receiver = new HttpReceiver();
    await receiver.start();
  });
  afterEach(async () => receiver.stop());

  it('413: splits the batch and retries the halves until the receiver takes them; nothing is lost', async () => {
    const N = 1000;
    receiver.judge = (lines) => (lines.length > 30 ? 413 : undefined);
    const d = await Delivery.open(tuned(deliveryConfigFromFlags([receiver.url]), (s) => s), ctx, { onNotice });
    for (let i = 0; i < N; i++) d.publish(probeAlarm(i));
    assert.ok(await until(() => d.idle, 20_000), JSON.stringify(d.stats()));
    await d.close(500);
    const r = orderAndDuplicates(receiver.lines.map((l) => alarmNumber(parse(l))), N);
    assert.deepEqual(r.missing, []);
    assert.equal(r.outOfOrder, 0);
    assert.equal(r.duplicates, 0);
    assert.ok(receiver.judged > 0, 'the receiver did refuse large bodies');
    const s = d.stats()[0]!;
    assert.equal(s.delivered, N);
    assert.equal(s.dropped, 0);
  });

  it('400 for one bad record: bisects to it, drops only it, counts it and announces it once', async () => {
    const N = 500;
    const poison = '198.18.1.44'; // alarm 300
    receiver.judge = (lines) => (lines.some((l) => l.includes(`"ip":"${poison}"`)) ? 400 : undefined);
    const d = await Delivery.open(tuned(deliveryConfigFromFlags([receiver.url]), (s) => s), ctx, { onNotice });
    for (let i = 0; i < N; i++) d.publish(probeAlarm(i));
    assert.ok(await until(() => d.idle, 20_000), JSON.stringify(d.stats()));
    await d.close(500);
    const docs = receiver.lines.map(parse);
    const got = docs.filter(isAlarm).map(alarmNumber);
    assert.deepEqual([...new Set(got)].sort((a, b) => a - b), Array.from({ length: N }, (_, i) => i).filter((i) => i !== 300));
    const lossDocs = docs.filter((x) => !isAlarm(x));
    assert.equal(lossDocs.length, 1, 'one notice');
    assert.deepEqual(lossDocs[0]!.honeyport.lost!.reasons, { rejected: 1 });
    const s = d.stats()[0]!;
    assert.equal(s.delivered, N - 1);
    assert.equal(s.dropped, 1);
    assert.equal(s.produced, s.delivered + s.dropped + s.queued);
    assert.equal(notices.filter((m) => /rejected 1 alarm for good \(HTTP 400/.test(m)).length, 1, notices.join(' / '));
  });

  it('a receiver trickling its answer one byte at a time hits the total deadline, and delivery resumes', async () => {
    receiver.trickleMs = 100;
    const base = deliveryConfigFromFlags([receiver.url]);
    const d = await Delivery.open(tuned(base, (s) => (s.type === 'http' ? { ...s, timeoutMs: 600 } : s)), ctx, { onNotice });
    d.publish(probeAlarm(1));
    assert.ok(await until(() => notices.some((m) => /no complete answer within 600 ms/.test(m)), 5000), `the request was cut off: ${notices.join(' / ')}`);
    receiver.trickleMs = 0;
    assert.ok(await until(() => receiver.lines.length > 0 && d.idle, 10_000), JSON.stringify(d.stats()));
    await d.close(500);
    assert.equal(alarmNumber(parse(receiver.lines[0]!)), 1);
  });
});
