import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deliveryConfigFromFlags } from '../../src/config/output-flag.js';
import { ConfigError, Delivery } from '../../src/deliver/delivery.js';
import { formatEcs } from '../../src/deliver/format-ecs.js';
import { octetCounted, syslogMessage } from '../../src/deliver/sinks/syslog/transport.js';
import { alarmNumber, ctx, probeAlarm } from './alarms.js';
import { Rsyslog, rsyslogMissing, type SyslogLine } from './rsyslog.js';

const quiet = { onNotice: (): void => undefined };

describe('deliver: syslog framing', () => {
  it('builds an RFC 5424 message with the alarm JSON as MSG', () => {
    const f = { json: '{"a":1}', id: 'x', timeMicros: 0, severity: 'high' as const, kind: 'probe' as const };
    const m = syslogMessage(f, 16, 'sensor-1', 'honeyport', '42', new Date('2024-05-01T12:00:00.123Z'));
    assert.equal(m, '<130>1 2024-05-01T12:00:00.123Z sensor-1 honeyport 42 probe - {"a":1}');
  });
  it('counts octets, not characters (RFC 6587)', () => {
    assert.equal(octetCounted(['abc', 'é']).toString(), '3 abc2 é');
  });
});

describe('deliver: syslog to a real rsyslogd', function () {
  this.timeout(30_000);
  let dir: string;
  let rs: Rsyslog;

  before(async function () {
    const missing = rsyslogMissing();
    if (missing) {
      process.stdout.write(`      (skipped: ${missing})\n`);
      this.skip();
    }
    dir = await mkdtemp(join(tmpdir(), 'honeyport-rsyslog-'));
    rs = new Rsyslog(dir);
    await rs.start();
  });
  after(async () => {
    await rs?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Every alarm arrived once, in order, byte for byte the ECS JSON. */
  function checkIntact(lines: readonly SyslogLine[], n: number, hostname: string): void {
    assert.equal(lines.length, n, 'one message per alarm');
    lines.forEach((l, i) => {
      assert.equal(l.msg, formatEcs(probeAlarm(i), ctx), `alarm ${i} intact`);
      assert.deepEqual(JSON.parse(l.msg), JSON.parse(formatEcs(probeAlarm(i), ctx)));
      assert.equal(l.hostname, hostname);
      assert.equal(l.appName, 'hp-test');
      assert.equal(l.facility, 'local3');
      assert.equal(l.severity, i % 2 ? 2 : 4);
      assert.equal(l.msgid, 'probe');
    });
  }

  async function send(spec: string, n: number): Promise<Delivery> {
    const d = await Delivery.open(deliveryConfigFromFlags([spec]), ctx, quiet);
    for (let i = 0; i < n; i++) d.publish(probeAlarm(i));
    return d;
  }

  it('delivers alarms over TCP with octet counting, intact and one per message', async () => {
    const d = await send(`syslog+tcp://127.0.0.1:${rs.tcpPort}?facility=local3&app_name=hp-test&hostname=sensor-tcp`, 500);
    const lines = await rs.lines('tcp', 500);
    await d.close(1000);
    checkIntact(lines, 500, 'sensor-tcp');
    assert.equal(d.stats()[0]!.delivered, 500);
  });

  it('delivers alarms over TLS with CA verification', async () => {
    const d = await send(`syslog+tls://127.0.0.1:${rs.tlsPort}?ca=${rs.certs.ca}&facility=local3&app_name=hp-test&hostname=sensor-tls`, 300);
    const lines = await rs.lines('tls', 300);
    await d.close(1000);
    checkIntact(lines, 300, 'sensor-tls');
  });

  it('presents a client certificate to a receiver that requires one', async () => {
    const c = rs.certs;
    const d = await send(`syslog+tls://127.0.0.1:${rs.mtlsPort}?ca=${c.ca}&cert=${c.clientCert}&key=${c.clientKey}&facility=local3&app_name=hp-test&hostname=sensor-mtls`, 50);
    const lines = await rs.lines('mtls', 50);
    await d.close(1000);
    checkIntact(lines, 50, 'sensor-mtls');
  });

  it('refuses at open a receiver that requires a client certificate when none is configured', async () => {
    const spec = `syslog+tls://127.0.0.1:${rs.mtlsPort}?ca=${rs.certs.ca}`;
    await assert.rejects(Delivery.open(deliveryConfigFromFlags([spec]), ctx, quiet), /refused after the handshake: .*client certificate/);
  });

  it('delivers alarms over UDP, one per datagram', async () => {
    const d = await send(`syslog+udp://127.0.0.1:${rs.udpPort}?facility=local3&app_name=hp-test&hostname=sensor-udp`, 100);
    const lines = await rs.lines('udp', 100);
    await d.close(1000);
    assert.equal(d.stats()[0]!.delivered, 100);
    // UDP may drop under load (a busy test machine): every datagram that
    // arrived must be one whole alarm, each at most once.
    assert.ok(lines.length >= 90, `most datagrams arrived (${lines.length})`);
    const seen = new Set<number>();
    for (const l of lines) {
      const n = alarmNumber(JSON.parse(l.msg) as { source: { ip: string } });
      assert.ok(!seen.has(n), `alarm ${n} once`);
      seen.add(n);
      assert.equal(l.msg, formatEcs(probeAlarm(n), ctx));
      assert.deepEqual([l.hostname, l.appName, l.facility, l.msgid], ['sensor-udp', 'hp-test', 'local3', 'probe']);
    }
  });

  it('refuses a receiver whose certificate the configured CA did not sign', async () => {
    await assert.rejects(Delivery.open(deliveryConfigFromFlags([`syslog+tls://127.0.0.1:${rs.tlsPort}?ca=${rs.certs.otherCa}`]), ctx, quiet), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, new RegExp(`^syslog-tls-127\\.0\\.0\\.1-${rs.tlsPort}: TLS connection to 127\\.0\\.0\\.1:${rs.tlsPort} failed: .*certificate`));
      return true;
    });
  });

  it('refuses a certificate that does not name the host', async () => {
    const spec = `syslog+tls://127.0.0.1:${rs.tlsPort}?ca=${rs.certs.ca}&server_name=siem.example`;
    await assert.rejects(Delivery.open(deliveryConfigFromFlags([spec]), ctx, quiet), /TLS connection .* failed: .*(altnames|Hostname|ERR_TLS_CERT_ALTNAME_INVALID)/);
  });

  it('refuses an unreadable CA file and a closed port at open', async () => {
    await assert.rejects(Delivery.open(deliveryConfigFromFlags([`syslog+tls://127.0.0.1:${rs.tlsPort}?ca=${dir}/nope.pem`]), ctx, quiet), /cannot read CA file .*nope\.pem: ENOENT/);
    const closed = rs.udpPort; // nothing listens on TCP there
    await assert.rejects(Delivery.open(deliveryConfigFromFlags([`syslog+tcp://127.0.0.1:${closed}`]), ctx, quiet), /cannot connect to 127\.0\.0\.1:\d+ failed: .*ECONNREFUSED/);
  });
});

describe('deliver: syslog over UDP keeps datagrams within max_message_bytes', function () {
  this.timeout(10_000);
  let sock: import('node:dgram').Socket;
  let port = 0;
  const got: Buffer[] = [];

  before(async () => {
    const { createSocket } = await import('node:dgram');
    sock = createSocket('udp4');
    sock.on('message', (m) => got.push(m));
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
    port = sock.address().port;
  });
  after(() => sock.close());
  beforeEach(() => void (got.length = 0));

  /** Alarm i, with `firstBytes` characters of connection bytes when given (a completed handshake). */
  function alarm(i: number, firstBytes = 0): ReturnType<typeof probeAlarm> {
    const a = probeAlarm(i);
    return firstBytes ? { ...a, handshakeCompleted: true, connection: { connections: 1, sourcePort: a.sourcePort, bytes: firstBytes, firstBytes: 'A'.repeat(firstBytes), durationMs: 5, closedBy: 'peer' } } : a;
  }

  async function sendAll(spec: string, alarms: ReturnType<typeof probeAlarm>[]): Promise<{ size: number; doc: { event: { id: string }; source: { ip: string }; honeyport: { shortened?: string[]; connection?: { first_bytes?: string } }; threat?: unknown } }[]> {
    const d = await Delivery.open(deliveryConfigFromFlags([spec]), ctx, quiet);
    for (const a of alarms) d.publish(a);
    const deadline = Date.now() + 5000;
    while (got.length < alarms.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await d.close(1000);
    return got.map((m) => {
      const text = m.toString('utf8');
      return { size: m.length, doc: JSON.parse(text.slice(text.indexOf('{'))) as never };
    });
  }

  it('by default (2048) drops only the connection bytes of an alarm too large, marks it, and leaves the others whole', async () => {
    const out = await sendAll(`syslog+udp://127.0.0.1:${port}`, [alarm(0), alarm(1, 1500)]);
    assert.equal(out.length, 2);
    out.sort((a, b) => alarmNumber(a.doc as never) - alarmNumber(b.doc as never));
    assert.ok(out.every((o) => o.size <= 2048), out.map((o) => o.size).join(','));
    assert.equal(out[0]!.doc.honeyport.shortened, undefined);
    assert.deepEqual(out[1]!.doc.honeyport.shortened, ['honeyport.connection.first_bytes']);
    assert.equal(out[1]!.doc.honeyport.connection!.first_bytes, undefined);
    assert.ok(out[1]!.doc.threat, 'nothing more than needed was dropped');
  });

  it('with max_message_bytes=1180 (RFC 5426, IPv6) every datagram fits, as whole JSON with its event.id', async () => {
    const alarms = [alarm(0), alarm(1, 600), alarm(2)];
    const out = await sendAll(`syslog+udp://127.0.0.1:${port}?max_message_bytes=1180`, alarms);
    assert.equal(out.length, 3);
    out.sort((a, b) => alarmNumber(a.doc as never) - alarmNumber(b.doc as never)); // UDP need not keep order
    for (const [i, o] of out.entries()) {
      assert.ok(o.size <= 1180, `datagram ${i}: ${o.size} bytes`);
      assert.ok(o.doc.honeyport.shortened && o.doc.honeyport.shortened.length > 0, 'marked as shortened');
      assert.equal(o.doc.event.id, (JSON.parse(formatEcs(alarms[i]!, ctx)) as { event: { id: string } }).event.id);
    }
    assert.ok(out[1]!.doc.honeyport.shortened!.includes('honeyport.connection'), String(out[1]!.doc.honeyport.shortened));
    assert.ok(!out[0]!.doc.honeyport.shortened!.includes('message'), 'an ordinary alarm keeps its message');
  });

  it('drops and counts an alarm that does not fit even shortened, and sends nothing larger', async () => {
    const notices: string[] = [];
    const d = await Delivery.open(deliveryConfigFromFlags([`syslog+udp://127.0.0.1:${port}?max_message_bytes=480`]), ctx, { onNotice: (m) => void notices.push(m) });
    d.publish(alarm(0));
    const deadline = Date.now() + 5000;
    while (d.stats()[0]!.dropped === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await d.close(500);
    const s = d.stats()[0]!;
    assert.equal(s.dropped, 1);
    assert.equal(s.produced, s.delivered + s.dropped + s.queued);
    assert.ok(got.every((m) => m.length <= 480), got.map((m) => m.length).join(','));
    assert.ok(notices.some((m) => /rejected 1 alarm for good \(message of \d+ bytes does not fit max_message_bytes 480/.test(m)), notices.join(' / '));
  });
});
