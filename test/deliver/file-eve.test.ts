import assert from 'node:assert/strict';
import { mkdtemp, readFile, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { deliveryConfigFromFlags } from '../../src/config/output-flag.js';
import { ConfigError, Delivery } from '../../src/deliver/delivery.js';
import { formatEcs } from '../../src/deliver/format-ecs.js';
import { formatEve } from '../../src/deliver/format-eve.js';
import { formatLoss } from '../../src/deliver/format-loss.js';
import { ctx, probeAlarm } from './alarms.js';

const quiet = { onNotice: (): void => undefined };

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('deliver: stdout and file sinks', () => {
  let dir: string;
  beforeEach(async () => (dir = await mkdtemp(join(tmpdir(), 'honeyport-file-'))));
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it('writes one ECS JSON line per alarm to stdout, in order', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (d: Buffer) => (text += d.toString()));
    const d = await Delivery.open(deliveryConfigFromFlags([]), ctx, { ...quiet, stdout: out });
    for (let i = 0; i < 2500; i++) d.publish(probeAlarm(i));
    await d.close(2000);
    const lines = text.trim().split('\n');
    assert.equal(lines.length, 2500);
    lines.forEach((l, i) => assert.equal(l, formatEcs(probeAlarm(i), ctx)));
    assert.deepEqual(d.stats(), [{ sink: 'stdout', produced: 2500, recovered: 0, delivered: 2500, retried: 0, spooled: 0, dropped: 0, queued: 0, lossUnannounced: 0, notices: 0 }]);
  });

  it('reopens its file after logrotate renamed it (SIGHUP)', async () => {
    const path = join(dir, 'alarms.json');
    const d = await Delivery.open(deliveryConfigFromFlags([`file:${path}`]), ctx, quiet);
    d.publish(probeAlarm(0));
    await until(() => d.stats()[0]!.delivered === 1);
    await rename(path, `${path}.1`);
    d.reopen();
    d.publish(probeAlarm(1));
    await until(() => d.stats()[0]!.delivered === 2);
    await d.close(1000);
    assert.equal((await readFile(`${path}.1`, 'utf8')).trim(), formatEcs(probeAlarm(0), ctx));
    assert.equal((await readFile(path, 'utf8')).trim(), formatEcs(probeAlarm(1), ctx));
  });

  it('rotates by size, keeping the configured number of old files', async () => {
    const path = join(dir, 'alarms.json');
    const d = await Delivery.open(deliveryConfigFromFlags([`file:${path}?rotate=20KiB&keep=2`]), ctx, quiet);
    for (let i = 0; i < 200; i++) {
      d.publish(probeAlarm(i));
      if (i % 10 === 9) await until(() => d.stats()[0]!.delivered === i + 1);
    }
    await d.close(1000);
    for (const p of [path, `${path}.1`, `${path}.2`]) assert.ok((await stat(p)).size <= 20 * 1024, p);
    await assert.rejects(stat(`${path}.3`));
    const last = (await readFile(path, 'utf8')).trim().split('\n').pop();
    assert.equal(last, formatEcs(probeAlarm(199), ctx));
  });

  it('refuses a file it cannot open, naming the sink', async () => {
    await assert.rejects(Delivery.open(deliveryConfigFromFlags([`file:${dir}/missing/alarms.json`]), ctx, quiet), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /^file-.*alarms\.json: cannot open .*alarms\.json for appending: .*ENOENT/);
      return true;
    });
  });
});

describe('deliver: EVE format', () => {
  it('writes a Suricata-style alert carrying the ECS event id', () => {
    const a = probeAlarm(3);
    const ecs = JSON.parse(formatEcs(a, ctx)) as { event: { id: string }; network: { community_id: string } };
    const eve = JSON.parse(formatEve(a, ctx)) as Record<string, any>;
    assert.equal(eve.event_type, 'alert');
    assert.equal(eve.timestamp, '2023-11-14T22:13:20.003000+0000');
    assert.deepEqual([eve.src_ip, eve.src_port, eve.dest_ip, eve.dest_port, eve.proto], ['198.18.0.3', 40003, '198.19.0.1', 445, 'TCP']);
    assert.equal(eve.community_id, ecs.network.community_id);
    assert.equal(eve.alert.action, 'allowed');
    assert.equal(eve.alert.signature_id, 9_100_445);
    assert.equal(eve.alert.signature, 'HONEYPORT probe of honeypot port 445/tcp');
    assert.equal(eve.alert.category, 'Detection of a Network Scan');
    assert.equal(eve.alert.severity, 1);
    assert.equal(eve.alert.metadata.honeyport.event_id, ecs.event.id);
    assert.equal(eve.honeyport, undefined, 'no top-level member outside Suricata\'s schema');
    assert.ok(Number.isSafeInteger(eve.flow_id) && eve.flow_id > 0, `flow_id ${eve.flow_id}`);
    const reverse = { ...a, source: a.destination, destination: a.source, sourcePort: a.destinationPort, destinationPort: a.sourcePort };
    assert.equal(JSON.parse(formatEve(reverse, ctx)).flow_id, eve.flow_id, 'one flow, one id, either direction');
    assert.notEqual(JSON.parse(formatEve({ ...a, sourcePort: a.sourcePort + 1 }, ctx)).flow_id, eve.flow_id);
  });

  it('a loss record says how many alarms were lost and when, in both formats', () => {
    const loss = { id: '0b7f5d1e-8f0a-4a55-9d1c-3d6f1c2a9b10', count: 42, firstMicros: 1_700_000_000_000_000, lastMicros: 1_700_000_060_000_000, reasons: { spool_full: 40, damaged: 2 } };
    const ecs = JSON.parse(formatLoss('ecs', 'syslog-x', loss, ctx).json) as Record<string, any>;
    assert.equal(ecs.event.action, 'honeyport-alarms-lost');
    assert.equal(ecs.event.id, loss.id, 'the ledger fixes the id, so a re-sent notice dedupes');
    assert.deepEqual(ecs.honeyport.lost.reasons, { spool_full: 40, damaged: 2 });
    assert.deepEqual([ecs.honeyport.lost.count, ecs.honeyport.lost.first_alarm, ecs.honeyport.lost.last_alarm], [42, '2023-11-14T22:13:20.000000Z', '2023-11-14T22:14:20.000000Z']);
    const eve = JSON.parse(formatLoss('eve', 'syslog-x', loss, ctx).json) as Record<string, any>;
    assert.equal(eve.event_type, 'alert');
    assert.equal(eve.alert.metadata.honeyport.lost.count, 42);
  });

  it('sends EVE to a sink configured with format=eve', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (d: Buffer) => (text += d.toString()));
    const d = await Delivery.open(deliveryConfigFromFlags(['stdout?format=eve']), ctx, { ...quiet, stdout: out });
    d.publish(probeAlarm(5));
    await d.close(1000);
    assert.equal(text.trim(), formatEve(probeAlarm(5), ctx));
  });
});
