/**
 * The overlay is part of the dedup key: two tenants reusing the same inner
 * addresses get alarms of their own (neither hides in the other's), one
 * overlay's probes share one key whatever the per-flow outer fields (the
 * VXLAN source port), and the alarm ids of untunnelled probes do not change.
 */
import assert from 'node:assert/strict';
import type { Alarm, ProbeAlarm } from '../../src/alarm/alarm.js';
import { alarmId } from '../../src/alarm/alarm-id.js';
import { Decoder } from '../../src/decode/decoder.js';
import { DecodeStatus, TcpFlag } from '../../src/decode/segment.js';
import { Detector } from '../../src/detect/detector.js';
import type { Policy } from '../../src/policy/policy.js';
import { ethernet, ipv4, ipv6, tcp } from '../helpers/frame-builder.js';
import { udp, vxlan } from '../helpers/tunnel-builder.js';

const policy: Policy = { name: 'test', os: 'linux', ports: [{ port: 445, protocol: 'tcp' }, { port: 5985, protocol: 'tcp6' }], whitelist: ['10.0.0.3'] };
const S = 1e6;

function run(frames: Uint8Array[]): ProbeAlarm[] {
  const alarms: Alarm[] = [];
  const det = new Detector({ policy, windowMicros: 60 * S, maxTrackedKeys: 100, serverAddresses: [], onAlarm: (a) => alarms.push(a), seed: 7 });
  const dec = new Decoder();
  frames.forEach((f, i) => {
    const b = Buffer.from(f);
    if (dec.decode(b, 0, b.length, 1, i * S) === DecodeStatus.Segment) det.observe(dec.segment, 0, i);
  });
  det.flush();
  return alarms.filter((a): a is ProbeAlarm => a.action === 'honeypot-port-probe');
}

const inner = (src = '10.0.0.5', sport = 40000): Uint8Array =>
  ipv4({ src, dst: '10.0.0.1', payload: tcp({ srcPort: sport, dstPort: 445, flags: TcpFlag.SYN }) });
const overVxlan = (vni: number, packet: Uint8Array, udpSource = 50000, vtep = '198.18.0.1'): Uint8Array =>
  ethernet(ipv4({ src: vtep, dst: '198.18.0.2', protocol: 17, payload: udp(vxlan(ethernet(packet), { vni }), { dstPort: 4789, srcPort: udpSource }) }));

describe('detector: tunnels in the key', () => {
  it('two VNIs with the same inner addresses are two keys, each alarm naming its own VNI', () => {
    const alarms = run([overVxlan(100, inner()), overVxlan(200, inner()), overVxlan(200, inner('10.0.0.5', 40001))]);
    const first = alarms.filter((a) => a.phase === 'first');
    assert.deepEqual(first.map((a) => a.tunnel?.layers[0]?.id), [100, 200]);
    const follow = alarms.filter((a) => a.phase === 'follow-up');
    assert.deepEqual(follow.map((a) => [a.tunnel?.layers[0]?.id, a.count]), [[200, 1]]);
    assert.notEqual(alarmId(first[0]!, 'replay'), alarmId(first[1]!, 'replay'));
  });

  it('an untunnelled probe and a tunnelled one with the same addresses are two keys', () => {
    const alarms = run([ethernet(inner()), overVxlan(100, inner())]);
    assert.deepEqual(alarms.map((a) => [a.phase, a.tunnel === undefined]), [['first', true], ['first', false]]);
  });

  it('one overlay whose outer UDP source port changes per flow stays one key', () => {
    const alarms = run([overVxlan(100, inner(), 50000), overVxlan(100, inner('10.0.0.5', 40001), 61234), overVxlan(100, inner('10.0.0.5', 40002), 1024)]);
    assert.deepEqual(alarms.map((a) => [a.phase, a.count]), [['first', 1], ['follow-up', 2]]);
  });

  it('another VTEP carrying the same VNI is another key (outer endpoints name the overlay too)', () => {
    const alarms = run([overVxlan(100, inner()), overVxlan(100, inner(), 50000, '198.18.0.9')]);
    assert.deepEqual(alarms.map((a) => a.phase), ['first', 'first']);
  });

  it('the whitelist and the port protocol apply to the inner packet; IPv6 inside is keyed too', () => {
    const v6 = (vni: number): Uint8Array => overVxlan(vni, ipv6({ src: 'fd00:1::5', dst: 'fd00:1::1', payload: tcp({ srcPort: 1, dstPort: 5985, flags: TcpFlag.SYN }) }));
    const alarms = run([overVxlan(100, inner('10.0.0.3')), v6(1), v6(2), v6(1)]);
    assert.deepEqual(alarms.map((a) => [a.family, a.phase, a.tunnel?.layers[0]?.id, a.count]), [[6, 'first', 1, 1], [6, 'first', 2, 1], [6, 'follow-up', 1, 1]]);
  });

  it('an untunnelled alarm has no tunnel field, so its id is computed from exactly what it was before', () => {
    const [a] = run([ethernet(inner())]);
    assert.ok(a !== undefined && !('tunnel' in a));
  });
});
