import assert from 'node:assert/strict';
import type { NetworkInterfaceInfo } from 'node:os';
import type { Policy } from '../../src/policy/policy.js';
import { checkEligibility, isPublicAddress } from '../../src/sensor/eligibility.js';

const linuxPolicy: Policy = { name: 'linux-default', os: 'linux', ports: [{ port: 445, protocol: 'tcp' }], whitelist: [] };
const windowsPolicy: Policy = { ...linuxPolicy, name: 'windows-default', os: 'windows' };

function iface(address: string, internal = false): NetworkInterfaceInfo {
  const v6 = address.includes(':');
  return v6
    ? { address, netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: '00:00:00:00:00:00', internal, cidr: `${address}/64`, scopeid: 0 }
    : { address, netmask: '255.255.255.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal, cidr: `${address}/24` };
}

const privateHost = {
  lo: [iface('127.0.0.1', true), iface('::1', true)],
  eth0: [iface('10.20.30.40'), iface('fe80::1%eth0'), iface('fd00:18::5')],
  veth1: [iface('198.18.0.2'), iface('100.64.0.9'), iface('169.254.3.4'), iface('172.16.0.1'), iface('192.168.1.1')],
};

describe('sensor eligibility', () => {
  it('accepts a linux policy on a linux host with only internal addresses', () => {
    assert.deepEqual(checkEligibility({ policy: linuxPolicy, allowPublicAddress: false, interfaces: privateHost, platform: 'linux' }), {
      ok: true,
      warnings: [],
    });
  });

  it('refuses an OS mismatch both ways', () => {
    const onLinux = checkEligibility({ policy: windowsPolicy, allowPublicAddress: false, interfaces: privateHost, platform: 'linux' });
    assert.equal(onLinux.ok, false);
    if (!onLinux.ok) assert.deepEqual(onLinux.problems, [
      'policy "windows-default" is for windows hosts but this host runs linux: choose a linux policy',
    ]);
    const onWindows = checkEligibility({ policy: linuxPolicy, allowPublicAddress: false, interfaces: privateHost, platform: 'win32' });
    assert.equal(onWindows.ok, false);
    assert.equal(checkEligibility({ policy: windowsPolicy, allowPublicAddress: false, interfaces: privateHost, platform: 'win32' }).ok, true);
  });

  it('refuses other platforms with a clear message', () => {
    const r = checkEligibility({ policy: linuxPolicy, allowPublicAddress: false, interfaces: privateHost, platform: 'darwin' });
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.problems[0]!, /this host runs darwin: honeyport supports linux and windows/);
  });

  it('refuses a public address naming the interface, unless allowed (then warns)', () => {
    const interfaces = { ...privateHost, eth1: [iface('93.184.216.34'), iface('2606:4700::1111')] };
    const refused = checkEligibility({ policy: linuxPolicy, allowPublicAddress: false, interfaces, platform: 'linux' });
    assert.equal(refused.ok, false);
    if (!refused.ok) {
      assert.deepEqual(refused.problems, [
        'eth1 has public address 93.184.216.34: honeyport is for internal lateral-movement detection; pass --allow-public-address to run anyway',
        'eth1 has public address 2606:4700::1111: honeyport is for internal lateral-movement detection; pass --allow-public-address to run anyway',
      ]);
    }
    const allowed = checkEligibility({ policy: linuxPolicy, allowPublicAddress: true, interfaces, platform: 'linux' });
    assert.equal(allowed.ok, true);
    if (allowed.ok) assert.equal(allowed.warnings.length, 2);
    if (allowed.ok) assert.match(allowed.warnings[0]!, /^eth1 has public address 93\.184\.216\.34: running anyway/);
  });

  it('reports every problem at once', () => {
    const r = checkEligibility({ policy: windowsPolicy, allowPublicAddress: false, interfaces: { wan: [iface('8.8.4.4')] }, platform: 'linux' });
    assert.equal(r.ok, false);
    if (!r.ok) assert.equal(r.problems.length, 2);
  });

  it('classifies addresses as ipaddr.js ranges say', () => {
    const internal = [
      '10.0.0.1', '172.31.255.255', '192.168.0.1', '127.0.0.1', '169.254.1.1', '100.64.0.1',
      '198.18.0.1', '198.19.255.254', // benchmarking: ipaddr.js calls it reserved
      '203.0.113.5', '192.0.2.1', // documentation ranges: reserved too
      '0.0.0.0', '224.0.0.1', '255.255.255.255',
      '::1', '::', 'fe80::1', 'fe80::1%eth0', 'fd00::1', 'fc00::1', 'ff02::1', '2001:db8::1',
      '::ffff:10.0.0.1', 'not-an-address', '1.2.3',
    ];
    for (const a of internal) assert.equal(isPublicAddress(a), false, a);
    const global = ['8.8.8.8', '93.184.216.34', '2606:4700::1111', '2a00:1450::1', '::ffff:8.8.8.8', '2002:808:808::1', '64:ff9b::808:808'];
    for (const a of global) assert.equal(isPublicAddress(a), true, a);
  });
});
