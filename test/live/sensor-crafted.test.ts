/**
 * Evasions a scanner could try, injected as crafted frames (via libpcap/cap)
 * from the attacker's namespace into the live sensor: QinQ tags, a SYN cut
 * into 8-byte fragments sent backwards, IPv6 extension headers, an IPv6
 * fragmented SYN. Every one must raise its alarm, counted once.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ethernet, fragmentIpv4, fragmentIpv6, ipv4, ipv6, tcp } from '../helpers/frame-builder.js';
import { destroyTopology, runIn, type Topology } from './netns.js';
import { SensorProcess, assertCleanStop, counts, key, liveSetup, sleep, tally, writePolicy } from './sensor-harness.js';

const INJECT = fileURLToPath(new URL('./inject-frames.js', import.meta.url));
const SMB = 445;
const RDP = 3389;
const NFS6 = 2049;
const REDIS6 = 6379;

function hasCap(): boolean {
  try {
    execFileSync(process.execPath, ['-e', 'require("cap")'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

describe('honeyport run against crafted evasive frames (live, injected with cap)', function () {
  this.timeout(60_000);
  let topo: Topology | undefined;
  let dir = '';

  before(function () {
    ({ topo, dir } = liveSetup(this, 'hp-crafted-', () => (hasCap() ? undefined : 'the cap package is not installed')));
  });

  after(() => {
    if (topo) destroyTopology(topo);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('QinQ tags, reversed tiny IPv4 fragments, IPv6 extension headers and IPv6 fragments each raise their alarm', async () => {
    const t = topo!;
    const policy = join(dir, 'policy.json');
    writePolicy(policy, {
      name: 'crafted',
      ports: [
        { port: SMB, protocol: 'tcp' },
        { port: RDP, protocol: 'tcp' },
        { port: NFS6, protocol: 'tcp6' },
        { port: REDIS6, protocol: 'tcp6' },
      ],
    });
    const mac = execFileSync('ip', ['netns', 'exec', t.server.ns, 'cat', `/sys/class/net/${t.server.iface}/address`], { encoding: 'utf8' }).trim();
    const dst = mac.split(':').map((h) => parseInt(h, 16));
    const eth = (p: Uint8Array, vlans: Parameters<typeof ethernet>[1] = {}): Uint8Array => ethernet(p, { ...vlans, dst, src: [2, 0, 0, 0, 0, 9] });
    // A distinct spoofed source per case, so each case is its own key.
    const src4 = (n: number): string => `198.18.250.${n}`;
    const src6 = (n: number): string => `fd00:250::${n}`;
    const syn = (port: number, payload = 0) => tcp({ srcPort: 40000 + port, dstPort: port, flags: 0x02, payload });

    const frames: Uint8Array[] = [];
    // 1. QinQ: 802.1ad outer tag (the kernel moves it to metadata), 802.1Q inner tag stays in the frame.
    frames.push(eth(ipv4({ src: src4(1), dst: t.server.v4, payload: syn(SMB) }), { vlans: [{ id: 100, tpid: 0x88a8 }, 200] }));
    // 2. The SYN cut into 8-byte fragments, sent last first: the TCP header spans three of them.
    const whole = ipv4({ src: src4(2), dst: t.server.v4, id: 0x4242, payload: syn(RDP, 16) });
    for (const f of fragmentIpv4(whole, 8).reverse()) frames.push(eth(f));
    // 3. IPv6 SYN behind hop-by-hop and destination options headers.
    frames.push(eth(ipv6({ src: src6(3), dst: t.server.v6, payload: syn(NFS6), extensions: [{ type: 'hopByHop' }, { type: 'destination' }] })));
    // 4. IPv6 SYN in two fragments.
    const whole6 = ipv6({ src: src6(4), dst: t.server.v6, payload: syn(REDIS6, 64) });
    for (const f of fragmentIpv6(whole6, 48)) frames.push(eth(f));
    const file = join(dir, 'frames.json');
    writeFileSync(file, JSON.stringify(frames.map((f) => Buffer.from(f).toString('hex'))));

    const sensor = await SensorProcess.start(t.server.ns, { policyFile: policy, interfaces: [t.server.iface], stateDir: join(dir, 'state'), window: '2s' });
    try {
      const r = await runIn(t.attacker.ns, process.execPath, [INJECT, t.attacker.iface, file], 20_000);
      assert.equal(r.code, 0, `injector failed: ${r.stderr}`);
      await sleep(500);
    } finally {
      const stop = await sensor.stop();
      const got = counts(tally(sensor.alarms()));
      assert.deepEqual(got, {
        [key(src4(1), t.server.v4, SMB)]: 1,
        [key(src4(2), t.server.v4, RDP)]: 1,
        [key(src6(3), t.server.v6, NFS6)]: 1,
        [key(src6(4), t.server.v6, REDIS6)]: 1,
      }, `alarms: ${sensor.stdout}\nstderr: ${sensor.stderr}`);
      // The kernel moves the outer 802.1ad tag into ring metadata; the inner tag stays in the frame.
      const qinq = sensor.alarms().find((a) => a.destination.port === SMB) as unknown as { network: { vlan?: { id: string }; inner?: { vlan: { id: string } } } };
      assert.equal(qinq.network.vlan?.id, '100');
      assert.equal(qinq.network.inner?.vlan.id, '200');
      const reassembled = sensor.alarms().filter((a) => a.honeyport.reassembled).map((a) => a.destination.port).sort((x, y) => x - y);
      assert.deepEqual(reassembled, [RDP, REDIS6]);
      assertCleanStop(stop);
    }
  });
});
