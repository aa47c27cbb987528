/**
 * Probes over interfaces without an Ethernet header (root only; skipped with
 * a printed reason otherwise). The fault: a kernel filter that assumes an
 * Ethernet header reads a tun device's raw IP frames at the wrong offsets and
 * drops every probe. A real `tun` device in the server's namespace gets SYNs
 * written into it (IPv4 and IPv6) by a process attached to it, as a VPN
 * daemon would; the kernel answers them, so they must be alarmed, on that
 * interface. WireGuard devices are checked for the device type the filter
 * relies on, where the kernel has WireGuard.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

import { buildCaptureFilter, RAW_IP_HATYPES } from '../../src/capture/filter-builder.js';
import { SensorProcess, assertCleanStop, key, liveSensorSuite, python, tally, writePolicy } from './sensor-harness.js';

const SMB = 445;
const HTTP6 = 8080;

/** Attaches to tun device argv[1] and writes SYNs into it (the kernel receives them); prints the SYN-ACKs it reads back. */
const TUN_WRITER = `
import fcntl, os, select, socket, struct, sys, time
name, src4, dst4, src6, dst6, port4, port6 = sys.argv[1:8]
fd = os.open('/dev/net/tun', os.O_RDWR)
fcntl.ioctl(fd, 0x400454ca, struct.pack('16sH', name.encode(), 0x0001 | 0x1000))  # TUNSETIFF, IFF_TUN | IFF_NO_PI
def csum(b):
    if len(b) % 2: b += b'\\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
def tcp(pseudo, sport, dport):
    t = struct.pack('!HHIIBBHHH', sport, dport, 1000 + sport, 0, 5 << 4, 0x02, 64240, 0, 0)
    c = csum(pseudo + t)
    return t[:16] + struct.pack('!H', c) + t[18:]
def syn4(sport):
    s, d = socket.inet_aton(src4), socket.inet_aton(dst4)
    t = tcp(s + d + struct.pack('!BBH', 0, 6, 20), sport, int(port4))
    h = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(t), sport, 0, 64, 6, 0, s, d)
    return h[:10] + struct.pack('!H', csum(h)) + h[12:] + t
def syn6(sport):
    s, d = socket.inet_pton(socket.AF_INET6, src6), socket.inet_pton(socket.AF_INET6, dst6)
    t = tcp(s + d + struct.pack('!I', 20) + b'\\0\\0\\0\\x06', sport, int(port6))
    return struct.pack('!IHBB', 6 << 28, len(t), 6, 64) + s + d + t
time.sleep(0.3)  # carrier up, IPv6 address usable
for i in range(3): os.write(fd, syn4(41000 + i))
for i in range(2): os.write(fd, syn6(42000 + i))
answers = set()  # the kernel retransmits an unanswered SYN-ACK: count flows
end = time.time() + 1.5
while time.time() < end:
    r, _, _ = select.select([fd], [], [], 0.1)
    if not r: continue
    p = os.read(fd, 2048)
    v = p[0] >> 4
    off = (p[0] & 15) * 4 if v == 4 else 40
    proto = p[9] if v == 4 else p[6]
    if proto == 6 and p[off + 13] & 0x12 == 0x12: answers.add((v, p[off + 2] << 8 | p[off + 3]))
print(len(answers))
`;

describe('honeyport run on interfaces without an Ethernet header (live)', function () {
  this.timeout(60_000);
  const suite = liveSensorSuite('hp-tun-');

  it('SYNs written into a tun device (IPv4 and IPv6) are alarmed, on that interface', async function () {
    const t = suite.topo;
    const ns = t.server.ns;
    const tun = `hpT${t.tag}`;
    const net = Number(t.server.v4.split('.')[2]);
    const hex = net.toString(16);
    const [dst4, src4, dst6, src6] = [`198.19.${net}.1`, `198.19.${net}.2`, `fd00:77:${hex}::1`, `fd00:77:${hex}::2`];
    const ip = (...args: string[]): void => void execFileSync('ip', ['-n', ns, ...args], { stdio: 'pipe', timeout: 10_000 });
    ip('tuntap', 'add', 'dev', tun, 'mode', 'tun');
    ip('addr', 'add', `${dst4}/24`, 'dev', tun);
    ip('addr', 'add', `${dst6}/64`, 'dev', tun, 'nodad');
    ip('link', 'set', tun, 'up');
    const policyFile = join(suite.dir, 'policy.json');
    writePolicy(policyFile, { name: 'tun', ports: [{ port: SMB, protocol: 'tcp' }, { port: HTTP6, protocol: 'tcp6' }] });
    const sensor = (suite.sensor = await SensorProcess.start(ns, { policyFile, interfaces: [tun], stateDir: join(suite.dir, 'state'), window: '2s' }));
    const r = await python(ns, TUN_WRITER, [tun, src4, dst4, src6, dst6, String(SMB), String(HTTP6)]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), '5', 'the kernel answered all five SYNs: they are real traffic on the tun device');
    const stop = await sensor.stop();
    assertCleanStop(stop);
    const alarms = sensor.alarms();
    const counted = Object.fromEntries([...tally(alarms)].map(([k, v]) => [k, v.count]));
    assert.deepEqual(counted, { [key(src4, dst4, SMB)]: 3, [key(src6, dst6, HTTP6)]: 2 });
    for (const a of alarms) assert.equal((a.honeyport as { interface?: string }).interface, tun);
  });

  it('a WireGuard device has a device type the filter reads as raw IP (where the kernel has WireGuard)', function () {
    const ns = suite.topo.server.ns;
    const wg = `hpG${suite.topo.tag}`;
    try {
      execFileSync('ip', ['-n', ns, 'link', 'add', wg, 'type', 'wireguard'], { stdio: 'pipe', timeout: 10_000 });
    } catch (err) {
      console.log(`      skipped: \`ip link add type wireguard\` failed here (${String((err as { stderr?: Buffer }).stderr ?? err).trim()})`);
      this.skip();
    }
    const type = Number(execFileSync('ip', ['netns', 'exec', ns, 'cat', `/sys/class/net/${wg}/type`], { encoding: 'utf8' }).trim());
    assert.ok(RAW_IP_HATYPES.includes(type), `WireGuard device type ${type} is one the filter treats as raw IP`);
    assert.ok(buildCaptureFilter({ ports: [{ port: SMB, protocol: 'tcp' }] }).length > 0);
  });
});
