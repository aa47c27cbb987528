/**
 * `honeyport run` against real attack tools (root only; skipped with a printed
 * reason otherwise). The sensor runs in a server namespace; nmap and hping3
 * attack it from another; tcpdump in the server namespace records what was on
 * the wire, read here by an independent parser, and the same captures are
 * replayed through `honeyport replay`. Alarms are compared per key
 * (source, destination, port) with counts summed over first and follow-up.
 */
import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';

import { destroyTopology, spawnIn, type Topology } from './netns.js';
import {
  CLI,
  SensorProcess,
  Tcpdump,
  assertCleanStop,
  counts,
  hping3,
  key,
  liveSetup,
  nmap,
  parseAlarms,
  python,
  readPcap,
  sleep,
  tally,
  wireCounts,
  writePolicy,
  type EcsAlarm,
  type PolicyPort,
  type SensorStop,
  type WirePacket,
} from './sensor-harness.js';

const WINDOW = '2s';
const SMB = 445;
const RDP = 3389;
const HIGH = 18445; // a high policy port: the attacker also listens on it (see the outbound test)
const NFS6 = 2049;
const REDIS6 = 6379;
const NOT_POLICY = 8080;
const PORTS: readonly PolicyPort[] = [
  { port: SMB, protocol: 'tcp' },
  { port: RDP, protocol: 'tcp' },
  { port: HIGH, protocol: 'tcp' },
  { port: NFS6, protocol: 'tcp6' },
  { port: REDIS6, protocol: 'tcp6' },
];
/** Settles the capture ring (block timeout 8 ms) before SIGTERM. */
const SETTLE_MS = 300;

interface Session {
  readonly sensor: SensorProcess;
  /** Checked at the end of each test, so that its other findings are reported too. */
  readonly stop: SensorStop;
  readonly alarms: EcsAlarm[];
  readonly wire: WirePacket[];
  readonly pcap: string | undefined;
}

interface SavedCapture {
  readonly name: string;
  readonly pcap: string;
  readonly live: Record<string, number>;
}

describe('honeyport run against real attack tools (live)', function () {
  this.timeout(60_000);
  let topo: Topology | undefined;
  let dir = '';
  let policyFile = '';
  let captureIndex = 0;
  /** Children a test started; killed after it whatever happened. */
  const children: ChildProcess[] = [];
  let current: SensorProcess | undefined;
  const saved: SavedCapture[] = [];

  before(function () {
    ({ topo, dir } = liveSetup(this, 'hp-live-'));
    policyFile = join(dir, 'policy.json');
    writePolicy(policyFile, { name: 'hp-live', ports: PORTS, whitelist: [topo!.whitelisted.v4, topo!.whitelisted.v6] });
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed' && current) console.log(current.transcript());
    current?.kill();
    current = undefined;
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });

  after(function () {
    if (topo) destroyTopology(topo);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const t = (): Topology => topo!;
  const atk = (): string => t().attacker.v4;
  const srv = (): string => t().server.v4;

  /**
   * Starts tcpdump (when `capture`) and the sensor, runs `attack`, lets the
   * ring settle, stops the sensor (SIGTERM) and the capture.
   */
  async function session(capture: boolean, attack: (sensor: SensorProcess) => Promise<void>): Promise<Session> {
    const pcap = capture ? join(dir, `capture-${captureIndex++}.pcap`) : undefined;
    const dump = pcap ? await Tcpdump.start(t().server.ns, t().server.iface, pcap) : undefined;
    try {
      const sensor = await SensorProcess.start(t().server.ns, {
        policyFile,
        interfaces: [t().server.iface, t().server.wlIface],
        stateDir: join(dir, 'state'),
        window: WINDOW,
      });
      current = sensor;
      await attack(sensor);
      await sleep(SETTLE_MS);
      const stop = await sensor.stop();
      assert.match(sensor.stderr, /honeyport: capturing on /);
      return { sensor, stop, alarms: sensor.alarms(), wire: pcap ? (await dump!.stop(), readPcap(pcap)) : [], pcap };
    } finally {
      if (dump) await dump.stop();
    }
  }

  function probeAlarmsOnly(alarms: readonly EcsAlarm[]): void {
    for (const a of alarms) assert.equal(a.event.action, 'honeypot-port-probe', JSON.stringify(a));
  }

  it('nmap -sS (half-open): one key per policy port, counts equal the SYNs on the wire, no handshake', async function () {
    let scanOpen: number[] = [];
    let status: Record<string, unknown> = {};
    const s = await session(true, async (sensor) => {
      for (const [port, proto] of [[SMB, 'tcp'], [RDP, 'tcp'], [HIGH, 'tcp'], [NFS6, 'tcp6'], [REDIS6, 'tcp6']] as const) {
        assert.match(sensor.portLine(port, proto) ?? '(no line)', /: listening$/, `status line of ${port}/${proto}`);
      }
      const r = await nmap(t().attacker.ns, ['-sS', '-p', `${SMB},${RDP},${HIGH},${NFS6},${NOT_POLICY}`], srv());
      assert.equal(r.code, 0, r.stderr);
      scanOpen = r.open;
      await sleep(SETTLE_MS);
      status = await sensor.status();
    });
    // The sensor holds the ports (so the kernel answers SYN-ACK and nmap calls them open) ...
    assert.deepEqual(scanOpen, [SMB, RDP, HIGH]);
    // ... but the alarms come from the wire, not from accept(): nmap never completes a handshake.
    probeAlarmsOnly(s.alarms);
    const live = tally(s.alarms);
    const expected = wireCounts(s.wire, PORTS, [atk()]);
    assert.deepEqual(Object.keys(expected), [key(atk(), srv(), HIGH), key(atk(), srv(), RDP), key(atk(), srv(), SMB)].sort());
    assert.deepEqual(counts(live), expected, 'alarm counts per key = SYNs tcpdump saw');
    for (const [k, v] of live) {
      assert.deepEqual([...v.kinds], ['syn'], k);
      assert.deepEqual([...v.types], ['ipv4'], k);
      assert.equal(v.firsts, 1, `${k}: exactly one first alarm`);
      assert.equal(v.connections, 0, `${k}: no honeyport.connection for a half-open scan`);
    }
    // `honeyport status` while running.
    const policy = status.policy as { name: string; ports: PolicyPort[] };
    assert.equal(policy.name, 'hp-live');
    const names = (list: readonly PolicyPort[]): string[] => list.map((p) => `${p.port}/${p.protocol}`).sort();
    assert.deepEqual(names(policy.ports), names(PORTS));
    const ports = status.ports as { port: number; protocol: string; state: string }[];
    assert.deepEqual(ports.map((p) => `${p.port}/${p.protocol}:${p.state}`).sort(), PORTS.map((p) => `${p.port}/${p.protocol}:listening`).sort());
    const capture = status.capture as { received: number; kernelDrops: number; handoffDrops: number };
    const probes = Object.values(expected).reduce((a, b) => a + b, 0);
    assert.ok(capture.received >= probes, `capture.received ${capture.received} >= ${probes} probes`);
    assert.equal(capture.kernelDrops, 0);
    assert.equal(capture.handoffDrops, 0);
    assert.ok(status.alarms !== undefined, 'status has alarm counts');
    saved.push({ name: 'nmap -sS', pcap: s.pcap!, live: counts(live) });
    assertCleanStop(s.stop);
  });

  it('a whitelisted source scanning at the same time raises no alarm; the attacker still does', async function () {
    const wl = t().whitelisted;
    let wlOpen: number[] = [];
    const s = await session(false, async () => {
      const ports = ['-p', `${SMB},${RDP},${HIGH}`];
      const [a, w, w6] = await Promise.all([
        nmap(t().attacker.ns, ['-sS', ...ports], srv()),
        nmap(wl.ns, ['-sS', ...ports], srv()),
        nmap(wl.ns, ['-6', '-sS', '-p', `${NFS6},${REDIS6}`], t().server.v6),
      ]);
      for (const r of [a, w, w6]) assert.equal(r.code, 0, r.stderr);
      wlOpen = [...w.open, ...w6.open].sort((x, y) => x - y);
    });
    assert.deepEqual(wlOpen, [SMB, NFS6, RDP, REDIS6, HIGH].sort((x, y) => x - y), 'the whitelisted scans reached the ports');
    const sources = new Set(s.alarms.map((a) => a.source?.ip));
    assert.ok(!sources.has(wl.v4) && !sources.has(wl.v6), `no alarm from the whitelisted host: ${[...sources].join(', ')}`);
    assert.deepEqual(Object.keys(counts(tally(s.alarms))), [key(atk(), srv(), HIGH), key(atk(), srv(), RDP), key(atk(), srv(), SMB)].sort());
    assertCleanStop(s.stop);
  });

  it('nmap -sT (connect): the key gains honeyport.connection with handshake_completed', async function () {
    let holder: unknown;
    const s = await session(true, async (sensor) => {
      const r = await nmap(t().attacker.ns, ['-sT', '-p', `${SMB},${RDP},${HIGH}`], srv());
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.open, [SMB, RDP, HIGH]);
      // Connections are reported when they close (nmap closes at once): wait for the holder to finish them.
      const until = Date.now() + 6_000;
      for (;;) {
        const c = (await sensor.status()).connections as { accepted?: number; active?: number } | undefined;
        holder = c;
        if ((c?.accepted ?? 0) >= 3 && c?.active === 0) break;
        if (Date.now() > until) break;
        await sleep(200);
      }
    });
    probeAlarmsOnly(s.alarms);
    const live = tally(s.alarms);
    assert.deepEqual(counts(live), wireCounts(s.wire, PORTS, [atk()]), 'alarm counts per key = SYNs tcpdump saw');
    assert.equal(live.size, 3);
    // nmap completes each handshake and resets it within a few ms, often before accept().
    const handshakes = s.wire.filter((p) => p.source === atk() && p.flags === 0x10 && p.payload === 0).length;
    for (const [k, v] of live) {
      assert.ok(v.connections >= 1, `${k}: an alarm with honeyport.connection.handshake_completed (${handshakes} handshake ACKs on the wire; status.connections ${JSON.stringify(holder)})`);
    }
    for (const a of s.alarms) {
      const c = a.honeyport.connection;
      if (!c) continue;
      assert.equal(c.handshake_completed, true);
      assert.equal(typeof c.accepted, 'number');
      // nmap resets within milliseconds: the port holder may never get to read.
      if (c.accepted === 0) continue;
      assert.equal(typeof c.bytes, 'number');
      assert.equal(typeof c.duration_ms, 'number');
      assert.equal(typeof c.first_bytes, 'string');
    }
    assertCleanStop(s.stop);
  });

  it('a client that connects and sends bytes: the alarm carries the handshake, byte count and escaped first bytes', async function () {
    const payload = 'SSH-2.0-probe\\r\\n\\x00\\x01';
    const s = await session(false, async (sensor) => {
      const r = await python(t().attacker.ns, `
import socket, sys, time
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
c.sendall(b'${payload}'); time.sleep(0.2); c.close()
print('sent')
`, [srv(), String(RDP)]);
      assert.equal(r.stdout.trim(), 'sent', r.stderr);
      const until = Date.now() + 5_000;
      while (Date.now() < until) {
        const c = (await sensor.status()).connections as { accepted?: number; active?: number } | undefined;
        if ((c?.accepted ?? 0) >= 1 && c?.active === 0) break;
        await sleep(100);
      }
    });
    const live = tally(s.alarms);
    assert.deepEqual(counts(live), { [key(atk(), srv(), RDP)]: 1 });
    const withConnection = s.alarms.filter((a) => a.honeyport.connection !== undefined);
    assert.equal(withConnection.length, 1, 'one alarm carries the connection');
    const c = withConnection[0]!.honeyport.connection!;
    assert.equal(c.handshake_completed, true);
    assert.equal(c.bytes, 17);
    assert.match(c.first_bytes, /^SSH-2\.0-probe/);
    assert.ok(!c.first_bytes.includes('\u0000'), `control bytes are escaped: ${JSON.stringify(c.first_bytes)}`);
    assert.ok(c.duration_ms >= 100, `duration_ms ${c.duration_ms}`);
    assertCleanStop(s.stop);
  });

  it('nmap -6 -sS: alarms for the tcp6 ports over IPv6, none for an IPv4-only port', async function () {
    const srv6 = t().server.v6;
    const atk6 = t().attacker.v6;
    const s = await session(true, async () => {
      const r = await nmap(t().attacker.ns, ['-6', '-sS', '-p', `${SMB},${NFS6},${REDIS6}`], srv6);
      assert.equal(r.code, 0, r.stderr);
      // 445 is held as tcp (IPv4) only, so over IPv6 nothing listens there.
      assert.deepEqual(r.open, [NFS6, REDIS6]);
    });
    probeAlarmsOnly(s.alarms);
    const live = tally(s.alarms);
    const expected = wireCounts(s.wire, PORTS, [atk6]);
    assert.deepEqual(Object.keys(expected), [key(atk6, srv6, NFS6), key(atk6, srv6, REDIS6)].sort());
    assert.deepEqual(counts(live), expected);
    for (const [k, v] of live) {
      assert.deepEqual([...v.types], ['ipv6'], k);
      assert.deepEqual([...v.kinds], ['syn'], k);
    }
    saved.push({ name: 'nmap -6 -sS', pcap: s.pcap!, live: counts(live) });
    assertCleanStop(s.stop);
  });

  it('nmap -f -sS (8-byte fragments): the same keys as without -f, counted once per datagram', async function () {
    const s = await session(true, async () => {
      const r = await nmap(t().attacker.ns, ['-f', '-sS', '-p', `${SMB},${RDP},${HIGH},${NOT_POLICY}`], srv());
      assert.equal(r.code, 0, r.stderr);
    });
    const fragments = s.wire.filter((p) => p.source === atk() && p.fragmented);
    assert.ok(fragments.length >= 4, `nmap sent fragmented probes (${fragments.length} first fragments)`);
    probeAlarmsOnly(s.alarms);
    const live = tally(s.alarms);
    assert.deepEqual([...live.keys()].sort(), [key(atk(), srv(), HIGH), key(atk(), srv(), RDP), key(atk(), srv(), SMB)].sort());
    assert.deepEqual(counts(live), wireCounts(s.wire, PORTS, [atk()], true), 'one probe per fragmented datagram');
    for (const [k, v] of live) {
      assert.deepEqual([...v.kinds], ['syn'], k);
      assert.equal(v.reassembled, true, `${k}: honeyport.reassembled`);
    }
    saved.push({ name: 'nmap -f -sS', pcap: s.pcap!, live: counts(live) });
    assertCleanStop(s.stop);
  });

  it('nmap -sF, -sN, -sX: kinds fin, null, xmas', async function () {
    const s = await session(true, async () => {
      for (const [scan, port] of [['-sF', SMB], ['-sN', RDP], ['-sX', HIGH]] as const) {
        const r = await nmap(t().attacker.ns, [scan, '-p', `${port},${NOT_POLICY}`], srv());
        assert.equal(r.code, 0, `${scan}: ${r.stderr}`);
      }
    });
    probeAlarmsOnly(s.alarms);
    const live = tally(s.alarms);
    assert.deepEqual(counts(live), wireCounts(s.wire, PORTS, [atk()]));
    const kindsOf = (port: number): string[] => [...(live.get(key(atk(), srv(), port))?.kinds ?? [])];
    assert.deepEqual(kindsOf(SMB), ['fin']);
    assert.deepEqual(kindsOf(RDP), ['null']);
    assert.deepEqual(kindsOf(HIGH), ['xmas']);
    saved.push({ name: 'nmap -sF/-sN/-sX', pcap: s.pcap!, live: counts(live) });
    assertCleanStop(s.stop);
  });

  it('hping3 SYN with ECE+CWR and SYN with a 40-byte payload: syn alarms, every packet counted', async function () {
    const s = await session(true, async () => {
      const common = ['-q', '-c', '3', '-i', 'u20000'];
      const ecn = await hping3(t().attacker.ns, ['-S', '-X', '-Y', '-p', String(SMB), ...common], srv());
      const data = await hping3(t().attacker.ns, ['-S', '-d', '40', '-p', String(RDP), ...common], srv());
      for (const r of [ecn, data]) assert.equal(r.timedOut, false, r.stderr);
    });
    const fromAtk = s.wire.filter((p) => p.source === atk());
    // The tools did send what the test is about.
    assert.equal(fromAtk.filter((p) => p.destinationPort === SMB && p.flags === 0xc2).length, 3, 'SYN|ECE|CWR on the wire');
    assert.equal(fromAtk.filter((p) => p.destinationPort === RDP && p.flags === 0x02 && p.payload === 40).length, 3, 'SYN + 40 bytes on the wire');
    probeAlarmsOnly(s.alarms);
    const live = tally(s.alarms);
    assert.deepEqual(counts(live), { [key(atk(), srv(), RDP)]: 3, [key(atk(), srv(), SMB)]: 3 });
    for (const [k, v] of live) assert.deepEqual([...v.kinds], ['syn'], k);
    saved.push({ name: 'hping3', pcap: s.pcap!, live: counts(live) });
    assertCleanStop(s.stop);
  });

  it('established traffic on another port and the server\'s own outbound connection raise nothing', async function () {
    const a = t().attacker;
    const sv = t().server;
    const s = await session(false, async () => {
      const http = spawnIn(sv.ns, 'python3', ['-m', 'http.server', String(NOT_POLICY), '--bind', sv.v4, '--directory', dir]);
      children.push(http);
      // The client binds each policy port number as its *source* port: a filter
      // that mixed up source and destination would alarm.
      const client = `
import socket, sys, time
host, port = sys.argv[1], int(sys.argv[2])
done = 0
for sport in map(int, sys.argv[3:]):
    for attempt in range(50):
        try:
            c = socket.socket(); c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            c.bind(('', sport)); c.settimeout(3); c.connect((host, port)); break
        except ConnectionRefusedError:
            c.close(); time.sleep(0.1)
    c.sendall(b'GET / HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n')
    data = b''
    while True:
        d = c.recv(65536)
        if not d: break
        data += d
    c.close()
    if data.startswith(b'HTTP/1.0 200'): done += 1
print(done)
`;
      const r = await python(a.ns, client, [sv.v4, String(NOT_POLICY), String(SMB), String(RDP), String(HIGH)]);
      assert.equal(r.stdout.trim(), '3', `three HTTP exchanges: ${r.stderr}`);
      // The server connects out to a listener on the attacker whose port number is a policy port.
      const listener = spawnIn(a.ns, 'python3', ['-c', `
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(4); print('listening', flush=True)
c, _ = s.accept(); c.sendall(c.recv(100).upper()); c.close()
`, a.v4, String(HIGH)]);
      children.push(listener);
      await new Promise<void>((resolve) => listener.stdout!.once('data', () => resolve()));
      const out = await python(sv.ns, `
import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
c.sendall(b'hello'); print(c.recv(100).decode()); c.close()
`, [a.v4, String(HIGH)]);
      assert.equal(out.stdout.trim(), 'HELLO', `outbound exchange: ${out.stderr}`);
      // A positive control: the sensor was listening all along.
      const ctl = await hping3(a.ns, ['-q', '-S', '-c', '1', '-p', String(SMB)], sv.v4);
      assert.equal(ctl.timedOut, false);
    });
    assert.deepEqual(counts(tally(s.alarms)), { [key(atk(), srv(), SMB)]: 1 }, 'only the control SYN alarms');
    assertCleanStop(s.stop);
  });

  it('a port occupied before start: its status names the occupant, the others listen and alarm', async function () {
    const occupant = spawnIn(t().server.ns, 'python3', ['-c', `
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', ${RDP})); s.listen(4); print('listening', flush=True)
time.sleep(60)
`]);
    children.push(occupant);
    await new Promise<void>((resolve, reject) => {
      occupant.stdout!.once('data', () => resolve());
      occupant.once('close', (code) => reject(new Error(`occupant exited ${code}`)));
    });
    let ports: { port: number; protocol: string; state: string }[] = [];
    const s = await session(true, async (sensor) => {
      const line = sensor.portLine(RDP, 'tcp') ?? '(no line)';
      assert.match(line, /: occupied\b/, line);
      assert.ok(line.includes(String(occupant.pid)), `names pid ${occupant.pid}: ${line}`);
      assert.match(line, /python3/, line);
      assert.match(sensor.portLine(SMB, 'tcp') ?? '(no line)', /: listening$/);
      assert.match(sensor.portLine(HIGH, 'tcp') ?? '(no line)', /: listening$/);
      ports = (await sensor.status()).ports as typeof ports;
      const r = await nmap(t().attacker.ns, ['-sS', '-p', `${SMB},${RDP},${HIGH}`], srv());
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.open, [SMB, RDP, HIGH]);
    });
    assert.equal(ports.find((p) => p.port === RDP)?.state, 'occupied', JSON.stringify(ports));
    const live = counts(tally(s.alarms));
    const wire = wireCounts(s.wire, PORTS, [atk()]);
    for (const port of [SMB, HIGH]) {
      const k = key(atk(), srv(), port);
      assert.ok((live[k] ?? 0) > 0, `alarm for ${port}`);
      assert.equal(live[k], wire[k], `count for ${port}`);
    }
    // An occupied port is not a decoy: its real clients must never page anyone.
    assert.ok((wire[key(atk(), srv(), RDP)] ?? 0) > 0, 'the occupied port was probed');
    assert.equal(live[key(atk(), srv(), RDP)], undefined, `no alarm for the occupied port ${RDP}`);
    assertCleanStop(s.stop);
  });

  it('replaying the tcpdump captures gives the same keys and counts as the live sensor', async function () {
    if (saved.length === 0) {
      console.log('      skipped: no capture was saved (the capturing tests failed)');
      this.skip();
    }
    const failures: string[] = [];
    for (const c of saved) {
      const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
        execFile(process.execPath, [CLI, 'replay', '--policy', policyFile, '--window', WINDOW, '-q', c.pcap], { timeout: 30_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
          resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr }),
        ),
      );
      if (out.code !== 0) {
        failures.push(`${c.name}: replay exited ${out.code}: ${out.stderr}`);
        continue;
      }
      try {
        assert.deepEqual(counts(tally(parseAlarms(out.stdout))), c.live);
      } catch (err) {
        failures.push(`${c.name}: ${(err as Error).message}`);
      }
    }
    assert.deepEqual(failures, []);
  });
});
