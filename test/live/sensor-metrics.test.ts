/**
 * The metrics endpoint scraped by a real Prometheus server (Debian's
 * `prometheus`, skipped with a printed reason when absent): the sensor and
 * Prometheus both run in the server namespace, Prometheus scraping
 * `--metrics-listen 127.0.0.1:PORT` every second. A known scan from the
 * attacker namespace (hping3: 5 SYNs to one decoy, 3 SYNs and 2 FINs to
 * another) and 2 SYNs from the whitelisted host; then Prometheus' query API
 * must return those probe counts by port and kind, the whitelisted count,
 * the alarms the sensor printed (by action, and as delivered by its stdout
 * sink), the ports' status and the build info; a connection to a decoy
 * adds one accepted connection and its bytes. The fault injected: a SIGHUP
 * reload that drops the scanned, connected port and adds another between scrapes —
 * Prometheus' own `resets()` must find no counter reset, and the dropped
 * port's probe count must stay. Plus: a metrics address already in use in
 * the namespace refuses the start in one line, exit 2, before any port is held.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runIn, spawnIn } from './netns.js';
import { CLI, SensorProcess, assertCleanStop, liveSensorSuite, python, sleep, writePolicy } from './sensor-harness.js';

const PROMETHEUS = '/usr/bin/prometheus';
const METRICS_PORT = 9417;
const PROM_PORT = 9090;
const SMB = 445;
const RDP = 3389;
const RPC = 135;

interface Sample { readonly metric: Record<string, string>; readonly value: number }

/** GET `url` from inside `ns` (the namespace's loopback is not reachable from here). */
async function getIn(ns: string, url: string): Promise<{ code: number | null; body: string }> {
  const script = 'fetch(process.argv[1]).then(async (r) => { process.stdout.write(await r.text()); process.exitCode = r.ok ? 0 : 2; }, (e) => { process.stderr.write(String(e)); process.exitCode = 1; })';
  const r = await runIn(ns, process.execPath, ['-e', script, url], 10_000);
  return { code: r.code, body: r.stdout };
}

async function query(ns: string, promql: string): Promise<Sample[]> {
  const r = await getIn(ns, `http://127.0.0.1:${PROM_PORT}/api/v1/query?query=${encodeURIComponent(promql)}`);
  if (r.code !== 0) return [];
  const j = JSON.parse(r.body) as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
  assert.equal(j.status, 'success', r.body);
  return j.data.result.map((x) => ({ metric: x.metric, value: Number(x.value[1]) }));
}

/** The single value of `promql` once `ok` holds for it (polled: Prometheus scrapes every second); the last seen otherwise. */
async function valueWhen(ns: string, promql: string, ok: (v: number | undefined) => boolean, ms = 15_000): Promise<number | undefined> {
  const until = Date.now() + ms;
  let v: number | undefined;
  for (;;) {
    const r = await query(ns, promql);
    assert.ok(r.length <= 1, `${promql}: one series, got ${JSON.stringify(r)}`);
    v = r[0]?.value;
    if (ok(v) || Date.now() > until) return v;
    await sleep(250);
  }
}

function hping3(ns: string, args: readonly string[]): Promise<void> {
  return runIn(ns, 'hping3', ['-q', ...args], 20_000).then((r) => assert.ok(!r.timedOut, `hping3 ${args.join(' ')}: ${r.stderr}`));
}

describe('metrics scraped by a real Prometheus server (live)', function () {
  this.timeout(120_000);
  const suite = liveSensorSuite('hp-metrics-');
  let prometheus: ChildProcess | undefined;
  let squatter: ChildProcess | undefined;
  afterEach(async () => {
    for (const child of [prometheus, squatter]) {
      if (child && child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await new Promise((r) => child.once('close', r));
      }
    }
    prometheus = undefined;
    squatter = undefined;
  });

  it('Prometheus\' query API returns the probes by port and kind, alarms, port status and build info of a known scan, and no counter reset across a reload', async function () {
    const { topo: t, dir } = suite;
    if (!(await runIn(t.server.ns, PROMETHEUS, ['--version'], 10_000).then((r) => r.code === 0))) {
      console.log(`      skipped: ${PROMETHEUS} is absent or does not run (Debian package prometheus)`);
      this.skip();
    }
    const ns = t.server.ns;
    const policyFile = join(dir, 'policy.json');
    writePolicy(policyFile, { name: 'metrics', ports: [{ port: SMB, protocol: 'tcp' }, { port: RDP, protocol: 'tcp' }], whitelist: [t.whitelisted.v4] });
    const sensor = await SensorProcess.start(ns, {
      policyFile, interfaces: [t.server.iface, t.server.wlIface], stateDir: join(dir, 'state'), window: '2s',
      extraArgs: ['--metrics-listen', `127.0.0.1:${METRICS_PORT}`],
    });
    suite.sensor = sensor;
    assert.match(sensor.stderr, new RegExp(`^honeyport: metrics on http://127\\.0\\.0\\.1:${METRICS_PORT}/metrics$`, 'm'));

    const promDir = join(dir, 'prometheus');
    mkdirSync(promDir);
    const config = join(promDir, 'prometheus.yml');
    writeFileSync(config, [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 1s',
      'scrape_configs:',
      '  - job_name: honeyport',
      '    static_configs:',
      `      - targets: ["127.0.0.1:${METRICS_PORT}"]`,
      '',
    ].join('\n'));
    prometheus = spawnIn(ns, PROMETHEUS, [
      `--config.file=${config}`, `--storage.tsdb.path=${join(promDir, 'data')}`,
      `--web.listen-address=127.0.0.1:${PROM_PORT}`, '--log.level=warn',
    ]);
    let promLog = '';
    prometheus.stderr!.on('data', (d: Buffer) => { promLog += d.toString(); });
    prometheus.stdout!.resume();
    assert.equal(await valueWhen(ns, 'up{job="honeyport"}', (v) => v === 1, 30_000), 1, `Prometheus scrapes the sensor; its log:\n${promLog}`);

    const probes = (port: number, kind: string): string => `honeyport_probes_total{job="honeyport",port="${port}",protocol="tcp",kind="${kind}"}`;
    assert.equal(await valueWhen(ns, probes(SMB, 'syn'), (v) => v === 0), 0, 'exported at 0 before the first probe');

    // The known scan.
    const target = t.server.v4;
    await hping3(t.attacker.ns, ['-S', '-p', String(SMB), '-c', '5', '-i', 'u20000', target]);
    await hping3(t.attacker.ns, ['-S', '-p', String(RDP), '-c', '3', '-i', 'u20000', target]);
    await hping3(t.attacker.ns, ['-F', '-p', String(RDP), '-c', '2', '-i', 'u20000', target]);
    await hping3(t.whitelisted.ns, ['-S', '-p', String(SMB), '-c', '2', '-i', 'u20000', target]);

    assert.equal(await valueWhen(ns, probes(SMB, 'syn'), (v) => v === 5), 5, 'SYNs to 445');
    const increase = await valueWhen(ns, `increase(${probes(SMB, 'syn')}[1m])`, (v) => (v ?? 0) >= 5);
    assert.ok(increase !== undefined && increase >= 5, `increase() sees the first probes too (${increase})`);
    assert.equal(await valueWhen(ns, probes(RDP, 'syn'), (v) => v === 3), 3, 'SYNs to 3389');
    assert.equal(await valueWhen(ns, probes(RDP, 'fin'), (v) => v === 2), 2, 'FINs to 3389');
    assert.equal(await valueWhen(ns, probes(RDP, 'null'), (v) => v === 0), 0, 'no NULL probes');
    assert.equal(await valueWhen(ns, 'honeyport_probes_whitelisted_total', (v) => v === 2), 2, 'whitelisted SYNs');
    assert.equal(await valueWhen(ns, 'sum(honeyport_probes_total)', (v) => v === 10), 10, 'probes of every port and kind');
    assert.ok((await valueWhen(ns, 'honeyport_packets_captured_total', (v) => (v ?? 0) >= 12))! >= 12, 'packets captured');
    assert.equal(await valueWhen(ns, 'sum(honeyport_packets_dropped_total)', (v) => v === 0), 0, 'no drops');

    // Two first alarms now, two follow-ups when the 2 s windows close: Prometheus must agree with stdout.
    await sleep(3_000);
    const printed = sensor.alarms();
    assert.equal(printed.length, 4, 'first + follow-up for each scanned port');
    assert.equal(await valueWhen(ns, 'honeyport_alarms_total{action="honeypot-port-probe"}', (v) => v === printed.length), printed.length, 'alarms by action');
    assert.equal(await valueWhen(ns, 'honeyport_alarms_total{action="honeypot-flood"}', (v) => v === 0), 0);
    assert.equal(await valueWhen(ns, 'honeyport_sink_alarms_delivered_total{sink="stdout"}', (v) => v === printed.length), printed.length, 'delivered by the stdout sink');
    assert.equal(await valueWhen(ns, 'honeyport_tracked_keys', (v) => v === 0), 0, 'windows closed');
    for (const port of [SMB, RDP]) {
      assert.equal(await valueWhen(ns, `honeyport_port_listening{port="${port}",protocol="tcp",address="0.0.0.0"}`, (v) => v === 1), 1, `${port} listening`);
    }
    assert.equal(await valueWhen(ns, 'honeyport_build_info{version="0.1.0"}', (v) => v === 1), 1, 'build info');

    // A connection to 445 (its SYN is one more probe), so the port holder's counters have something to keep.
    const conn = await python(t.attacker.ns, 'import socket, sys\ns = socket.create_connection((sys.argv[1], int(sys.argv[2])), 5)\ns.sendall(b"hello")\ns.close()', [target, String(SMB)]);
    assert.equal(conn.code, 0, conn.stderr);
    assert.equal(await valueWhen(ns, 'honeyport_connections_accepted_total', (v) => v === 1), 1, 'the connection was accepted');
    assert.equal(await valueWhen(ns, 'honeyport_connection_read_bytes_total', (v) => v === 5), 5, 'and its 5 bytes read');
    assert.equal(await valueWhen(ns, probes(SMB, 'syn'), (v) => v === 6), 6, 'its SYN is a probe');

    // The fault: a reload between scrapes drops 445 and adds 135.
    writePolicy(policyFile, { name: 'metrics-2', ports: [{ port: RPC, protocol: 'tcp' }, { port: RDP, protocol: 'tcp' }], whitelist: [t.whitelisted.v4] });
    const mark = sensor.stderr.length;
    sensor.hup();
    assert.ok(await sensor.waitForStderr(/^honeyport: policy reloaded: "metrics-2"/m, 10_000, mark), 'reloaded');
    await hping3(t.attacker.ns, ['-S', '-p', String(RPC), '-c', '1', target]);
    assert.equal(await valueWhen(ns, probes(RPC, 'syn'), (v) => v === 1), 1, 'the new port counts');
    assert.equal(await valueWhen(ns, `honeyport_port_listening{port="${RPC}",protocol="tcp",address="0.0.0.0"}`, (v) => v === 1), 1, '135 listening');
    assert.equal(await valueWhen(ns, `honeyport_port_listening{port="${SMB}"}`, (v) => v === undefined), undefined, 'the dropped port has no status any more');
    assert.equal(await valueWhen(ns, probes(SMB, 'syn'), (v) => v === 6), 6, 'the dropped port keeps its count');
    assert.equal(await valueWhen(ns, 'honeyport_connections_accepted_total', (v) => v === 1), 1, 'the port holder keeps its counts');
    const resets = await query(ns, 'resets({job="honeyport",__name__=~"honeyport_.+_total"}[10m]) > 0');
    assert.deepEqual(resets, [], 'Prometheus saw no counter reset');
    const series = await query(ns, 'count({job="honeyport",__name__=~"honeyport_.+_total"})');
    assert.ok((series[0]?.value ?? 0) >= 20, `the resets() check covered the counters (${series[0]?.value} series)`);

    assertCleanStop(await sensor.stop());
  });

  it('a metrics address in use refuses the start in one line, exit 2, before any port is held', async () => {
    const { topo: t, dir } = suite;
    const ns = t.whitelisted.ns;
    squatter = spawnIn(ns, process.execPath, ['-e', `require('node:net').createServer().listen(${METRICS_PORT}, '127.0.0.1', () => console.log('up'))`]);
    await new Promise<void>((resolve) => squatter!.stdout!.once('data', () => resolve()));
    const policyFile = join(dir, 'policy-busy.json');
    writePolicy(policyFile, { name: 'busy', ports: [{ port: SMB, protocol: 'tcp' }] });
    const r = await runIn(ns, process.execPath, [CLI, 'run', '--policy', policyFile, '--state-dir', join(dir, 'state-busy'), '--metrics-listen', `127.0.0.1:${METRICS_PORT}`], 20_000);
    assert.equal(r.code, 2, `exit code; stderr: ${r.stderr}`);
    assert.equal(r.stderr, `honeyport: --metrics-listen 127.0.0.1:${METRICS_PORT}: the address is in use (EADDRINUSE)\n`);
    const still = await getIn(ns, `http://127.0.0.1:${SMB}/`);
    assert.notEqual(still.code, 0, 'no decoy was left listening');
  });
});
