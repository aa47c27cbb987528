import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deliveryConfigFromFlags } from '../../src/config/output-flag.js';
import type { DeliveryConfig } from '../../src/config/sensor-config.js';
import { ConfigError, Delivery } from '../../src/deliver/delivery.js';
import { alarmNumber, ctx, probeAlarm } from './alarms.js';
import { HttpReceiver, orderAndDuplicates } from './http-receiver.js';
import { makeCertificates, opensslMissing } from './rsyslog.js';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { until, quickRetries } from './delivery-helpers.js';

const here = fileURLToPath(new URL('.', import.meta.url));

/** Fast retries so an outage of a few hundred ms is crossed quickly. */
const quick = (config: DeliveryConfig, batchRecords = 100): DeliveryConfig => quickRetries(config, batchRecords, 150);

function numbers(r: HttpReceiver): number[] {
  return r.lines.map((l) => alarmNumber(JSON.parse(l) as { source: { ip: string } }));
}

describe('deliver: HTTP sink with an outage', function () {
  this.timeout(30_000);
  let receiver: HttpReceiver;
  let dir: string;
  const notices: string[] = [];
  const onNotice = (m: string): void => void notices.push(m);

  beforeEach(async () => {
    receiver = new HttpReceiver();
    await receiver.start();
    dir = await mkdtemp(join(tmpdir(), 'honeyport-deliver-'));
  });
  afterEach(async () => {
    await receiver.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('delivers every alarm in order once the receiver recovers from 503s', async () => {
    const N = 3000;
    receiver.refuse = true;
    const d = await Delivery.open(quick(deliveryConfigFromFlags([receiver.url], { spoolDir: join(dir, 'spool') })), ctx, { onNotice });
    for (let i = 0; i < N; i++) d.publish(probeAlarm(i));
    assert.ok(await until(() => receiver.refused >= 3, 5000), `the sink retried during the outage: ${receiver.refused} ${JSON.stringify(d.stats())} ${notices.join(' / ')}`);
    await d.sync();
    const during = d.stats()[0]!;
    assert.equal(during.delivered, 0);
    assert.equal(during.spooled, N);
    receiver.refuse = false;
    assert.ok(await until(() => d.idle, 10_000), 'the spool drained');
    await d.close(1000);
    const s = d.stats()[0]!;
    assert.equal(s.delivered, N);
    assert.equal(s.dropped, 0);
    assert.ok(s.retried > 0);
    const r = orderAndDuplicates(numbers(receiver), N);
    assert.deepEqual(r.missing, []);
    assert.equal(r.outOfOrder, 0);
    assert.equal(r.duplicates, 0, 'a refused batch was not accepted, so nothing is sent twice');
    assert.equal(receiver.headers[0]!['content-type'], 'application/x-ndjson');
  });

  it('when the spool fills, drops the oldest and delivers an alarm saying how many were lost', async () => {
    receiver.refuse = true;
    const config = deliveryConfigFromFlags([receiver.url], { spoolDir: join(dir, 'spool'), spoolMaxBytes: '200KiB' });
    const d = await Delivery.open(quick(config), ctx, { onNotice });
    for (let i = 0; i < 1000; i++) d.publish(probeAlarm(i));
    await d.sync();
    receiver.refuse = false;
    assert.ok(await until(() => d.idle, 10_000));
    await d.close(500);
    const docs = receiver.lines.map((l) => JSON.parse(l) as { event: { action: string }; honeyport: { lost?: { count: number } }; source: { ip: string } });
    const loss = docs.filter((x) => x.event.action === 'honeyport-alarms-lost');
    const lost = loss.reduce((a, x) => a + x.honeyport.lost!.count, 0);
    const alarms = docs.filter((x) => x.event.action !== 'honeyport-alarms-lost').map(alarmNumber);
    assert.ok(loss.length >= 1 && lost > 0, 'a loss alarm arrived');
    assert.equal(lost + new Set(alarms).size, 1000, 'every alarm either arrived or is counted as lost');
    assert.equal(alarms[0], lost, 'the oldest were dropped');
    assert.equal(d.stats()[0]!.dropped, lost);
  });

  it('keeps other sinks flowing while one is down', async () => {
    receiver.refuse = true;
    const file = join(dir, 'alarms.json');
    const d = await Delivery.open(quick(deliveryConfigFromFlags([receiver.url, `file:${file}`], { spoolDir: join(dir, 'spool') })), ctx, { onNotice });
    for (let i = 0; i < 500; i++) d.publish(probeAlarm(i));
    const fileStats = (): number => d.stats()[1]!.delivered;
    assert.ok(await until(() => fileStats() === 500, 5000), 'the file sink delivered while HTTP was refused');
    assert.equal(d.stats()[0]!.delivered, 0);
    await d.close(200);
    assert.equal((await readFile(file, 'utf8')).trim().split('\n').length, 500);
    assert.ok(d.stats()[0]!.queued > 0, 'undelivered alarms stay in the spool');
  });

  it('loses nothing when the sender is killed with SIGKILL during the outage and restarted', async () => {
    receiver.refuse = true;
    const spoolDir = join(dir, 'spool');
    const publisher = join(here, 'publisher.js');
    const run = (from: number, count: number, drain: boolean): { child: ChildProcess; out: Promise<string>; synced: Promise<void> } => {
      const child = spawn(process.execPath, [publisher, receiver.url, spoolDir, String(from), String(count), ...(drain ? ['--drain'] : [])], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      const synced = new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('synced\n')) resolve();
        });
        child.once('exit', (code) => (out.includes('synced\n') ? undefined : reject(new Error(`publisher exited ${code}: ${err}`))));
      });
      const done = new Promise<string>((resolve) => child.once('exit', () => resolve(out)));
      return { child, out: done, synced };
    };
    const first = run(0, 1500, false);
    await first.synced;
    first.child.kill('SIGKILL');
    await first.out;
    assert.equal(receiver.lines.length, 0);
    const second = run(1500, 500, true);
    await second.synced;
    receiver.refuse = false;
    const out = await second.out;
    const stats = JSON.parse(out.split('\n').filter(Boolean).pop()!) as { delivered: number; dropped: number }[];
    assert.equal(stats[0]!.dropped, 0);
    const r = orderAndDuplicates(numbers(receiver), 2000);
    assert.deepEqual(r.missing, []);
    assert.equal(r.outOfOrder, 0);
    assert.ok(r.duplicates <= 100, `at most one batch re-sent (${r.duplicates})`);
  });

  it('loses nothing and re-sends at most the batch in flight when killed with SIGKILL mid-drain', async () => {
    receiver.refuse = true;
    const spoolDir = join(dir, 'spool');
    const publisher = join(here, 'publisher.js');
    const start = (from: number, count: number, drain: boolean): { child: ChildProcess; exited: Promise<string> } => {
      const child = spawn(process.execPath, [publisher, receiver.url, spoolDir, String(from), String(count), ...(drain ? ['--drain'] : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr!.on('data', () => undefined);
      return { child, exited: new Promise((resolve) => child.once('exit', () => resolve(out))) };
    };
    const first = start(0, 2000, false);
    assert.ok(await until(() => receiver.refused > 0, 10_000));
    // The outage ends; the receiver is slow, so the drain is well under way when the kill comes.
    receiver.delayMs = 20;
    receiver.refuse = false;
    assert.ok(await until(() => receiver.lines.length >= 500, 10_000), `drain under way (${receiver.lines.length})`);
    first.child.kill('SIGKILL');
    await first.exited;
    receiver.delayMs = 0;
    const second = start(2000, 0, true);
    const out = await second.exited;
    const stats = JSON.parse(out.split('\n').filter(Boolean).pop()!) as { delivered: number; dropped: number; recovered: number }[];
    assert.equal(stats[0]!.dropped, 0);
    const r = orderAndDuplicates(numbers(receiver), 2000);
    assert.deepEqual(r.missing, []);
    assert.equal(r.outOfOrder, 0);
    assert.ok(r.duplicates <= 100, `at most the batch in flight re-sent (${r.duplicates})`);
  });

  it('after a SIGKILL mid-write, delivers an intact, gap-free prefix of what was written', async () => {
    receiver.refuse = true;
    const spoolDir = join(dir, 'spool');
    const publisher = join(here, 'publisher.js');
    const first = spawn(process.execPath, [publisher, receiver.url, spoolDir, '0', '60000'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const exited = new Promise((r) => first.once('exit', r));
    // Killed while the 60,000 alarms are still being written to the spool.
    assert.ok(await until(() => receiver.refused > 0, 20_000));
    first.kill('SIGKILL');
    await exited;
    receiver.refuse = false;
    const second = spawn(process.execPath, [publisher, receiver.url, spoolDir, '0', '0', '--drain'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    second.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    second.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    await new Promise((r) => second.once('exit', r));
    const stats = JSON.parse(out.split('\n').filter(Boolean).pop()!) as { delivered: number; dropped: number; recovered: number }[];
    const got = numbers(receiver); // every line parsed: nothing damaged was sent
    assert.ok(got.length > 0, 'some alarms were durable before the kill');
    const r = orderAndDuplicates(got, Math.max(...got) + 1);
    assert.deepEqual(r.missing, [], 'no gap: what survived is a prefix');
    assert.equal(r.outOfOrder, 0);
    assert.ok(stats[0]!.dropped <= 1, `at most a torn last record is lost (${stats[0]!.dropped}): ${err}`);
  });

  it('refuses to open without the credential environment variable', async () => {
    delete process.env.HONEYPORT_TEST_MISSING_TOKEN;
    const config = deliveryConfigFromFlags([`splunk+http://127.0.0.1:${receiver.port}/services/collector/event?token_env=HONEYPORT_TEST_MISSING_TOKEN`]);
    await assert.rejects(Delivery.open(config, ctx, { onNotice }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /^http-127\.0\.0\.1-\d+_services_collector_event: environment variable HONEYPORT_TEST_MISSING_TOKEN .* is not set$/);
      return true;
    });
  });

  it('refuses to open when nothing listens on the port', async () => {
    const port = receiver.port;
    await receiver.stop();
    await assert.rejects(Delivery.open(deliveryConfigFromFlags([`http://127.0.0.1:${port}/x`]), ctx, { onNotice }), /cannot connect to 127\.0\.0\.1:\d+ failed: .*ECONNREFUSED/);
    await receiver.start();
  });

  it('starts and spools when the receiver is down at start and a disk spool is configured (a restart during an outage)', async () => {
    const port = receiver.port;
    await receiver.stop();
    const config = quick(deliveryConfigFromFlags([`http://127.0.0.1:${port}/ingest`], { spoolDir: join(dir, 'spool') }));
    const d = await Delivery.open(config, ctx, { onNotice });
    assert.equal(notices.filter((m) => /^warning: .*cannot connect to 127\.0\.0\.1:\d+ failed: .*ECONNREFUSED.*starting anyway/.test(m)).length, 1, notices.join(' / '));
    for (let i = 0; i < 300; i++) d.publish(probeAlarm(i));
    await d.sync();
    assert.equal(d.stats()[0]!.delivered, 0);
    await receiver.start(port);
    assert.ok(await until(() => d.idle, 10_000), JSON.stringify(d.stats()));
    await d.close(500);
    const r = orderAndDuplicates(numbers(receiver), 300);
    assert.deepEqual(r.missing, []);
    assert.equal(r.outOfOrder, 0);
    assert.equal(d.stats()[0]!.dropped, 0);
  });

  it('sends Splunk HEC envelopes with the token from the environment', async () => {
    process.env.HONEYPORT_TEST_HEC = 'abc-123';
    const config = deliveryConfigFromFlags([`splunk+${receiver.url}?token_env=HONEYPORT_TEST_HEC`]);
    const d = await Delivery.open(config, ctx, { onNotice });
    d.publish(probeAlarm(7));
    assert.ok(await until(() => receiver.lines.length === 1, 5000));
    await d.close(500);
    assert.equal(receiver.headers[0]!.authorization, 'Splunk abc-123');
    const env = JSON.parse(receiver.lines[0]!) as { time: number; sourcetype: string; event: { event: { id: string }; source: { ip: string } } };
    assert.equal(env.sourcetype, 'honeyport:alarm');
    assert.equal(env.time, probeAlarm(7).endMicros / 1e6);
    assert.equal(alarmNumber(env.event), 7);
  });

  it('sends Elasticsearch _bulk create actions keyed by event.id', async () => {
    const config = deliveryConfigFromFlags([`elasticsearch+${receiver.url.replace('/ingest', '/_bulk')}?index=honeyport-alarms`]);
    const d = await Delivery.open(config, ctx, { onNotice });
    d.publish(probeAlarm(1));
    d.publish(probeAlarm(2));
    assert.ok(await until(() => receiver.lines.length === 4, 5000));
    await d.close(500);
    const [a1, d1] = receiver.lines.map((l) => JSON.parse(l) as Record<string, unknown>) as [{ create: { _index: string; _id: string } }, { event: { id: string } }];
    assert.equal(a1.create._index, 'honeyport-alarms');
    assert.equal(a1.create._id, d1.event.id);
  });

  it('verifies the HTTPS receiver against the configured CA', async function () {
    const missing = opensslMissing();
    if (missing) {
      process.stdout.write(`      (skipped: ${missing})\n`);
      this.skip();
    }
    const certs = await makeCertificates(join(dir, 'certs'));
    const bodies: string[] = [];
    const server = createHttpsServer({ cert: await readFile(certs.serverCert), key: await readFile(certs.serverKey) }, (req, res) => {
      let b = '';
      req.on('data', (d: Buffer) => (b += d.toString()));
      req.on('end', () => {
        bodies.push(b);
        res.end('{}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      await assert.rejects(Delivery.open(deliveryConfigFromFlags([`https://127.0.0.1:${port}/hook`]), ctx, { onNotice }), /TLS connection to 127\.0\.0\.1:\d+ failed: .*(self-signed|unable to get local issuer|certificate)/i);
      await assert.rejects(Delivery.open(deliveryConfigFromFlags([`https://127.0.0.1:${port}/hook?ca=${certs.otherCa}`]), ctx, { onNotice }), /TLS connection .* failed/);
      // A connect that proves the configuration wrong stays an error even with a spool to fall back on.
      await assert.rejects(Delivery.open(deliveryConfigFromFlags([`https://127.0.0.1:${port}/hook?ca=${certs.otherCa}`], { spoolDir: join(dir, 'spool-tls') }), ctx, { onNotice }), /TLS connection .* failed/);
      const d = await Delivery.open(deliveryConfigFromFlags([`https://127.0.0.1:${port}/hook?ca=${certs.ca}`]), ctx, { onNotice });
      d.publish(probeAlarm(9));
      assert.ok(await until(() => bodies.length === 1, 5000));
      await d.close(500);
      assert.equal(alarmNumber(JSON.parse(bodies[0]!.trim()) as { source: { ip: string } }), 9);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
