/**
 * The metrics as a scraper sees them, without root: a real Sensor (loopback
 * listeners) fed through a fake capture backend, its metrics rendered by
 * SensorMetrics. Faults injected: a reload between two scrapes that drops a
 * port, renumbers the others and adds one (no counter may go down or vanish),
 * probes of every kind over both IP versions plus whitelisted and non-probe
 * segments (the per-port tally must add up to the detector's count). The
 * exposition is checked by Prometheus' own linter (`promtool check metrics`,
 * from Debian's prometheus package; skipped with a reason when absent).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { CaptureCounters, CaptureFilterSpec, LiveCapture, OnBatch } from '../../src/capture/live-capture.js';
import { SensorMetrics, type MetricsSnapshot } from '../../src/metrics/sensor-metrics.js';
import { ProbePipeline } from '../../src/pipeline/probe-pipeline.js';
import type { Policy } from '../../src/policy/policy.js';
import { Sensor } from '../../src/sensor/sensor.js';
import { FrameBatch, LinkType } from '../../src/source/frame-batch.js';
import { ethernet, ipv4, ipv6, tcp } from '../helpers/frame-builder.js';
import { freePorts, policyOf } from '../ports/helpers.js';

const F = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10, URG: 0x20, ECE: 0x40 } as const;

function frame(o: { src?: string; dst?: string; port: number; flags: number }): Uint8Array {
  const src = o.src ?? '198.18.7.1';
  const seg = tcp({ srcPort: 40000, dstPort: o.port, flags: o.flags });
  return src.includes(':') ? ethernet(ipv6({ src, dst: o.dst ?? '::1', payload: seg })) : ethernet(ipv4({ src, dst: o.dst ?? '127.0.0.1', payload: seg }));
}

function batchOf(frames: readonly Uint8Array[], tsMicros: number): FrameBatch {
  const b = new FrameBatch(frames.length);
  b.data = Buffer.concat(frames);
  let at = 0;
  frames.forEach((f, i) => {
    b.offset[i] = at;
    b.caplen[i] = f.length;
    b.wirelen[i] = f.length;
    b.linktype[i] = LinkType.ETHERNET;
    b.tsMicros[i] = tsMicros;
    b.iface[i] = 1;
    at += f.length;
  });
  b.count = frames.length;
  return b;
}

/** A capture backend that hands the sensor what the test gives it, and counts it as received. */
class FakeCapture implements LiveCapture {
  private onBatch: OnBatch | undefined;
  private received = 0;
  start(onBatch: OnBatch): void { this.onBatch = onBatch; }
  setFilter(_filter: CaptureFilterSpec): void {}
  stampedBy(): Promise<number> { return Promise.resolve(Date.now()); }
  resume(): void {}
  close(): void {}
  stats(): CaptureCounters {
    return { received: this.received, kernelDrops: 0, queueFreezes: 0, handoffDrops: 0, delivered: this.received, batches: 0, blocks: 0, outgoingSkipped: 0, unsupportedLink: 0, overflow: 0, malformedBlocks: 0, socketErrors: 0 };
  }
  deliver(frames: readonly Uint8Array[]): void {
    this.received += frames.length;
    this.onBatch!(batchOf(frames, Date.now() * 1000));
  }
}

interface Series { readonly type: string; readonly value: number }

/** Exposition text → "name{labels}" → type and value (the text format's sample lines, labels as written). */
function parseExposition(text: string): Map<string, Series> {
  const types = new Map<string, string>();
  const out = new Map<string, Series>();
  for (const line of text.split('\n')) {
    const t = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (t) types.set(t[1]!, t[2]!);
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$/.exec(line);
    assert.ok(m, `sample line: ${line}`);
    const base = m[1]!.replace(/_(bucket|sum|count)$/, '');
    out.set(`${m[1]}${m[2] ?? ''}`, { type: types.get(m[1]!) ?? types.get(base) ?? 'untyped', value: Number(m[3]) });
  }
  return out;
}

const sumOf = (series: Map<string, Series>, prefix: string): number =>
  [...series].filter(([k]) => k.startsWith(prefix)).reduce((n, [, s]) => n + s.value, 0);

describe('probe tally: probes by port, protocol and kind', () => {
  it('counts every probe the detector counts, once, under its port, protocol and kind; a reconfiguration keeps the totals', () => {
    const policy: Policy = { ...policyOf([{ port: 445, protocol: 'tcp' }, { port: 22, protocol: 'tcp6' }, { port: 3389, protocol: 'tcp' }]), whitelist: ['198.18.9.9'] };
    const p = new ProbePipeline({ policy, windowMicros: 60e6, maxTrackedKeys: 1000, newSourceRate: 100, serverAddresses: [] }, { onAlarm: () => undefined });
    const t = 1_700_000_000_000_000;
    p.feed(batchOf([
      frame({ port: 445, flags: F.SYN }),
      frame({ port: 445, flags: F.SYN | F.ECE }),
      frame({ port: 445, flags: F.FIN }),
      frame({ port: 445, flags: 0 }),
      frame({ port: 445, flags: F.FIN | F.PSH | F.URG }),
      frame({ port: 445, flags: F.SYN | F.ACK }), // answers no SYN of the decoy's: an `ack` probe
      frame({ port: 445, flags: F.ACK }), // follows the SYN above (same 4-tuple): a connection's, no probe
      frame({ port: 22, flags: F.SYN }), // 22 is tcp6: an IPv4 SYN is no probe of it
      frame({ src: 'fd00:18::7', port: 22, flags: F.SYN }),
      frame({ src: 'fd00:18::7', port: 22, flags: F.SYN }),
      frame({ port: 80, flags: F.SYN }), // not a policy port
      frame({ src: '198.18.9.9', port: 445, flags: F.SYN }), // whitelisted
    ], t), 0);
    assert.equal(p.detector.counters.whitelisted, 1);
    // Reconfigure: 445 leaves, 3389 moves to another slot, 135 comes in.
    p.detector.reconfigure(policyOf([{ port: 135, protocol: 'tcp' }, { port: 3389, protocol: 'tcp' }, { port: 22, protocol: 'tcp6' }]), true);
    p.feed(batchOf([frame({ port: 3389, flags: F.SYN }), frame({ port: 135, flags: 0 }), frame({ port: 445, flags: F.SYN })], t + 1), 0);
    const got = p.probeTally.totals().filter((x) => x.probes > 0).map((x) => `${x.port}/${x.protocol} ${x.kind} ${x.probes}`);
    assert.deepEqual(got, ['445/tcp syn 2', '445/tcp fin 1', '445/tcp null 1', '445/tcp xmas 1', '445/tcp ack 1', '22/tcp6 syn 2', '3389/tcp syn 1', '135/tcp null 1']);
    const total = p.probeTally.totals().reduce((n, x) => n + x.probes, 0);
    assert.equal(total, p.detector.counters.probes, 'the tally adds up to the detector\'s probes');
  });

  it('counts probes summed into flood alarms under their port too', () => {
    const p = new ProbePipeline({ policy: policyOf([{ port: 445, protocol: 'tcp' }]), windowMicros: 60e6, maxTrackedKeys: 4, newSourceRate: 1, serverAddresses: [] }, { onAlarm: () => undefined });
    const frames = Array.from({ length: 50 }, (_, i) => frame({ src: `198.18.8.${i + 1}`, port: 445, flags: F.SYN }));
    p.feed(batchOf(frames, 1_700_000_000_000_000), 0);
    assert.ok(p.detector.counters.floodProbes > 0, 'the flood gate was reached');
    assert.deepEqual(p.probeTally.totals().filter((x) => x.probes > 0), [{ port: 445, protocol: 'tcp', kind: 'syn', probes: 50 }]);
  });
});

describe('sensor metrics: one snapshot per scrape, counters never reset', function () {
  this.timeout(20_000);
  let sensor: Sensor | undefined;
  afterEach(async () => {
    await sensor?.stop();
    sensor = undefined;
  });

  it('a reload between two scrapes (a port dropped, one added, slots renumbered) lowers no counter and drops no counter series', async () => {
    const [a, b, c] = (await freePorts(3)).sort((x, y) => x - y);
    let fake: FakeCapture | undefined;
    const alarms = { 'honeypot-port-probe': 0, 'honeypot-flood': 0 };
    sensor = await Sensor.start({
      detection: { policy: policyOf([{ port: a!, protocol: 'tcp' }, { port: b!, protocol: 'tcp' }]), windowMicros: 60e6, maxTrackedKeys: 100, newSourceRate: 100, serverAddresses: [] },
      interfaces: ['lo'],
      ringBlockSize: 4096,
      ringBlockCount: 4,
      interfaceTable: new Map([[1, 'lo']]),
      onAlarm: (x) => { alarms[x.action]++; },
      bindAddresses: { tcp: ['127.0.0.1'], tcp6: ['::1'] },
      openCapture: () => (fake = new FakeCapture()),
    });
    const s = sensor;
    const snapshot = (): MetricsSnapshot => ({ ...s.status(), probes: s.probeTotals(), alarms, sinks: [] });
    const metrics = new SensorMetrics(snapshot, '0.1.0-test');

    const before = parseExposition(await metrics.render());
    for (const kind of ['syn', 'fin', 'null', 'xmas']) {
      assert.equal(before.get(`honeyport_probes_total{port="${a}",protocol="tcp",kind="${kind}"}`)?.value, 0, `a port not probed yet is exported at 0 (${kind}), so increase() sees its first probe`);
    }
    fake!.deliver([frame({ port: a!, flags: F.SYN }), frame({ port: a!, flags: F.SYN }), frame({ port: b!, flags: F.FIN }), frame({ port: b!, flags: F.SYN | F.ACK })]);
    const first = parseExposition(await metrics.render());
    assert.equal(first.get(`honeyport_probes_total{port="${a}",protocol="tcp",kind="syn"}`)?.value, 2);
    assert.equal(first.get(`honeyport_probes_total{port="${b}",protocol="tcp",kind="fin"}`)?.value, 1);
    assert.equal(first.get(`honeyport_port_listening{port="${a}",protocol="tcp",address="127.0.0.1"}`)?.value, 1);
    assert.equal(first.get('honeyport_packets_captured_total')?.value, 4);
    assert.equal(first.get('honeyport_alarms_total{action="honeypot-port-probe"}')?.value, 2);
    assert.equal(first.get('honeyport_build_info{version="0.1.0-test"}')?.value, 1);

    // The reload: a leaves (b moves from policy slot 1 to 0), c comes in.
    await s.reload(policyOf([{ port: b!, protocol: 'tcp' }, { port: c!, protocol: 'tcp' }]));
    fake!.deliver([frame({ port: c!, flags: 0 }), frame({ port: b!, flags: F.FIN })]);
    const second = parseExposition(await metrics.render());

    for (const [key, series] of first) {
      if (series.type !== 'counter') continue;
      const now = second.get(key);
      assert.ok(now, `counter series ${key} still exported after the reload`);
      assert.ok(now.value >= series.value, `${key}: ${series.value} → ${now.value}`);
    }
    assert.equal(second.get(`honeyport_probes_total{port="${a}",protocol="tcp",kind="syn"}`)?.value, 2, 'the dropped port keeps its count');
    assert.equal(second.get(`honeyport_probes_total{port="${b}",protocol="tcp",kind="fin"}`)?.value, 2, 'the renumbered port counts on');
    assert.equal(second.get(`honeyport_probes_total{port="${c}",protocol="tcp",kind="null"}`)?.value, 1);
    assert.equal(second.get(`honeyport_probes_total{port="${c}",protocol="tcp",kind="syn"}`)?.value, 0);
    assert.equal(second.get(`honeyport_port_listening{port="${a}",protocol="tcp",address="127.0.0.1"}`), undefined, 'a port no longer in the policy has no status');
    assert.equal(second.get(`honeyport_port_listening{port="${c}",protocol="tcp",address="127.0.0.1"}`)?.value, 1);
    assert.equal(sumOf(second, 'honeyport_probes_total{'), s.status().detect.probes, 'probes by port add up to all probes');
  });

  it('passes Prometheus\' own exposition linter (promtool check metrics)', async function () {
    if (!existsSync('/usr/bin/promtool')) {
      console.log('    skipped: /usr/bin/promtool is absent (Debian package prometheus)');
      this.skip();
    }
    const snap: MetricsSnapshot = {
      ports: [
        { port: 445, protocol: 'tcp', address: '0.0.0.0', state: 'listening', listenerId: 1 },
        { port: 22, protocol: 'tcp6', address: '::', state: 'occupied', reason: 'held by pid 1 (sshd)' },
      ],
      capture: new FakeCapture().stats(),
      decode: new ProbePipeline({ policy: policyOf([]), windowMicros: 1, maxTrackedKeys: 1, newSourceRate: 1, serverAddresses: [] }, { onAlarm: () => undefined }).decodeCounters,
      detect: { segments: 9, probes: 3, whitelisted: 1, otherDestination: 0, alarms: 2, floodProbes: 0, connections: 1, promoted: 0 },
      trackedKeys: 2,
      connections: { accepted: 1, refusedOverLimit: 0, bytes: 12, active: 0, acceptErrors: 0 },
      probes: [{ port: 445, protocol: 'tcp', kind: 'syn', probes: 3 }],
      alarms: { 'honeypot-port-probe': 2, 'honeypot-flood': 0 },
      sinks: [{ sink: 'stdout', produced: 2, recovered: 0, delivered: 2, retried: 0, spooled: 0, dropped: 0, queued: 0, spoolBytes: 0, lossUnannounced: 0, notices: 0 }],
      endpoint: { open: 1, answered: 4, refused: 3, evicted: 0, timedOut: 1 },
    };
    const text = await new SensorMetrics(() => snap, '0.1.0').render();
    const r = spawnSync('/usr/bin/promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    assert.equal(r.status, 0, `promtool: ${r.stdout}${r.stderr}`);
    assert.equal(`${r.stdout}${r.stderr}`.trim(), '', 'no lint remarks');
    const series = parseExposition(text);
    for (const [key, s] of series) {
      if (key.startsWith('honeyport_') && s.type === 'counter') assert.match(key, /^honeyport_[a-z_]+_total[{ ]?/, key);
    }
    assert.equal(series.get('honeyport_port_listening{port="22",protocol="tcp6",address="::"}')?.value, 0, 'occupied: 0');
    assert.equal(series.get('honeyport_sink_alarms_delivered_total{sink="stdout"}')?.value, 2);
    assert.equal(series.get('honeyport_metrics_connections_closed_total{reason="refused"}')?.value, 3);
    assert.equal(series.get('honeyport_metrics_connections_closed_total{reason="deadline"}')?.value, 1);
  });
});
