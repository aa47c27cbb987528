/**
 * Live, tunnels are followed by the kernel, not by honeyport: a probe that
 * reaches a decoy through a tunnel the host terminates is captured on the
 * tunnel's own device, decapsulated. The encapsulated copy on the underlay
 * is mostly dropped by the kernel filter (UDP, GRE, IP-in-IP are not TCP),
 * but an IPv6 outer header with an extension header (ip6tnl and ip6gre add a
 * Destination Options header by default) is passed whole for user space to
 * walk. Decoding the tunnel inside it too would count that one probe twice;
 * the sensor's pipeline (followTunnels: false) must not.
 */
import assert from 'node:assert/strict';
import type { Alarm } from '../../src/alarm/alarm.js';
import { BpfVm } from '../../src/capture/bpf-vm.js';
import { buildCaptureFilter } from '../../src/capture/filter-builder.js';
import { ProbePipeline } from '../../src/pipeline/probe-pipeline.js';
import type { Policy } from '../../src/policy/policy.js';
import { FrameBatch } from '../../src/source/frame-batch.js';
import { ethernet, ipv4, ipv6, tcp } from '../helpers/frame-builder.js';
import { gre } from '../helpers/tunnel-builder.js';

const policy: Policy = { name: 't', os: 'linux', ports: [{ port: 445, protocol: 'tcp' }, { port: 5985, protocol: 'tcp6' }], whitelist: [] };
const syn = tcp({ srcPort: 40000, dstPort: 445, flags: 0x02 });
const inner = ipv4({ src: '198.19.2.1', dst: '198.19.2.2', payload: syn });
const encapLimit = { type: 'destination' as const, options: [4, 1, 4, 1, 1, 0] };
/** What ip6tnl (IPv4 in IPv6) and ip6gre put on the underlay. */
const underlay = [
  ethernet(ipv6({ src: 'fd00:18::1', dst: 'fd00:18::2', nextHeader: 4, extensions: [encapLimit], payload: inner })),
  ethernet(ipv6({ src: 'fd00:18::1', dst: 'fd00:18::2', nextHeader: 47, extensions: [encapLimit], payload: gre(inner, { protocol: 0x0800 }) })),
];

function alarmsOf(frames: Uint8Array[], followTunnels: boolean): Alarm[] {
  const alarms: Alarm[] = [];
  const p = new ProbePipeline(
    { policy, windowMicros: 60e6, maxTrackedKeys: 100, newSourceRate: 100, serverAddresses: [] },
    { onAlarm: (a) => alarms.push(a), admitAll: true, followTunnels },
  );
  const b = new FrameBatch(frames.length);
  b.data = Buffer.concat(frames);
  let at = 0;
  frames.forEach((f, i) => {
    b.offset[i] = at;
    b.caplen[i] = f.length;
    b.wirelen[i] = f.length;
    b.linktype[i] = 1;
    b.tsMicros[i] = 1_700_000_000_000_000 + i;
    at += f.length;
  });
  b.count = frames.length;
  p.feed(b, 0);
  p.detector.flush();
  return alarms;
}

describe('live pipeline and tunnels', () => {
  it('the kernel filter passes these underlay frames whole (an extension header it cannot judge)', () => {
    const vm = new BpfVm(buildCaptureFilter(policy));
    for (const f of underlay) assert.equal(vm.run(f, 0, f.length, f.length), f.length);
  });

  it('the sensor\'s pipeline does not decode the tunnel inside them; a replay does', () => {
    assert.equal(alarmsOf(underlay, false).length, 0);
    assert.equal(alarmsOf(underlay, true).length, 2, 'replay: one first alarm per tunnel (IPv4-in-IPv6 and GRE are two overlays)');
  });
});
