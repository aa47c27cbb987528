/**
 * The state document's content (issue 10 part 3): every port with its status
 * and occupant, the policy with its digest, the counters, the stop reason
 * (signal or fatal error with its message), a fresh v4 UUID per document,
 * and a digest that moves with the set-up but not with the counters. The
 * shapes are checked against ECS and Suricata's EVE schema in
 * test/deliver/format-schema.test.ts.
 */
import assert from 'node:assert/strict';
import { formatState, stateEcs } from '../../src/state/format-state.js';
import { policyDigest } from '../../src/state/sensor-state.js';
import { AddressTable } from '../../src/net/address-table.js';
import { fitJson } from '../../src/deliver/sinks/syslog/fit-message.js';
import { syslogMessage } from '../../src/deliver/sinks/syslog/transport.js';
import type { PortStatus } from '../../src/ports/types.js';
import { everyStatus, everyTrigger, statePolicy, stateOf } from './states.js';

// biome-ignore lint/suspicious/noExplicitAny: the tests walk parsed JSON documents
type Doc = Record<string, any>;
const V4_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('state documents: content', () => {
  it('name themselves as ECS state documents of the honeyport.state dataset, each with its own v4 UUID', () => {
    const ids = new Set<string>();
    for (const s of everyTrigger) {
      const f = formatState('ecs', s);
      const d = JSON.parse(f.json) as Doc;
      assert.equal(f.kind, 'state');
      assert.equal(d.event.kind, 'state');
      assert.equal(d.event.dataset, 'honeyport.state');
      assert.equal(d.event.action, 'honeyport-sensor-state');
      assert.match(d.event.id, V4_UUID);
      assert.equal(d.event.id, f.id);
      ids.add(f.id);
    }
    assert.equal(ids.size, everyTrigger.length, 'distinct ids');
  });

  it('list every port with its status; an occupied port names its occupant, a failed one its error', () => {
    const d = stateEcs(stateOf({ trigger: 'start' }), 'x') as Doc;
    const ports = d.honeyport.state.ports as Doc[];
    assert.deepEqual(ports.map((p) => [p.port, p.protocol, p.status]), everyStatus.map((s) => [s.port, s.protocol, s.state]));
    assert.deepEqual(ports[1]!.occupant, { pid: 812, command: 'smbd' });
    assert.equal(ports[2]!.occupant, undefined, 'an occupant the system did not name is not made up');
    assert.match(ports[2]!.reason, /permission denied/);
    assert.match(ports[3]!.reason, /stopped listening/);
    assert.equal(ports[4]!.error_code, 'EACCES');
    assert.equal(d.honeyport.state.ports_listening, 1);
    assert.match(d.message, /139\/tcp on 0\.0\.0\.0 occupied by smbd \(pid 812\)/);
  });

  it('carry version, policy name and digest, counters, uptime and the observer\'s name and addresses', () => {
    const d = stateEcs(stateOf({ trigger: 'heartbeat' }), 'x') as Doc;
    assert.equal(d.observer.version, '0.0.0-test');
    assert.equal(d.observer.hostname, 'sensor-test');
    assert.deepEqual(d.observer.ip, ['198.18.0.2', 'fd00:18::2']);
    assert.equal(d.honeyport.state.policy.name, 'state-test');
    assert.match(d.honeyport.state.policy.digest, /^[0-9a-f]{64}$/);
    assert.equal(d.process.uptime, 100);
    assert.equal(d.process.pid, 4242);
    assert.equal(d.honeyport.state.capture.kernel_drops, 1);
    assert.equal(d.honeyport.state.decode.malformed, 1);
    assert.equal(d.honeyport.state.detect.probes, 6);
    assert.deepEqual(d.honeyport.state.delivery, [{ sink: 'siem', alarms: { produced: 3, recovered: 0, delivered: 3, dropped: 0, queued: 0 }, state_documents: { produced: 2, recovered: 0, delivered: 2, dropped: 0, queued: 0 } }]);
    assert.deepEqual(d.event.type, ['info']);
    assert.equal(d.honeyport.state.stop_reason, undefined);
  });

  it('say why the sensor stopped: the signal, or the fatal error with its message', () => {
    const [term, fatal] = everyTrigger.slice(-2).map((s) => stateEcs(s, 'x') as Doc);
    assert.equal(term!.honeyport.state.stop_reason, 'SIGTERM');
    assert.equal(term!.event.reason, 'SIGTERM');
    assert.deepEqual(term!.event.type, ['end']);
    assert.equal(term!.error, undefined);
    assert.equal(fatal!.honeyport.state.stop_reason, 'fatal error: capture failed: ENETDOWN on eth0');
    assert.equal(fatal!.error.message, 'capture failed: ENETDOWN on eth0');
    assert.match(fatal!.message, /stop \(fatal error: capture failed/);
  });

  it('the state digest follows ports and policy, not counters; the policy digest follows every entry', () => {
    const a = stateEcs(stateOf({ trigger: 'heartbeat' }), 'x') as Doc;
    const more = stateEcs(stateOf({ trigger: 'heartbeat' }, { alarms: { total: 99, flood: 1 } }), 'x') as Doc;
    const moved = stateEcs(stateOf({ trigger: 'heartbeat' }, { ports: everyStatus.slice(1) }), 'x') as Doc;
    assert.equal(a.honeyport.state.digest, more.honeyport.state.digest);
    assert.notEqual(a.honeyport.state.digest, moved.honeyport.state.digest);
    const base = policyDigest(statePolicy);
    assert.notEqual(policyDigest({ ...statePolicy, whitelist: ['198.18.1.4', '10.0.0.0/8'] }), base);
    assert.notEqual(policyDigest({ ...statePolicy, ports: statePolicy.ports.slice(1) }), base);
    const t1 = AddressTable.fromStrings(['198.18.1.3', 'fd00::/8']);
    const t2 = AddressTable.fromStrings(['198.18.1.3', 'fd00::/9']);
    assert.notEqual(policyDigest({ ...statePolicy, whitelist: t1 }), policyDigest({ ...statePolicy, whitelist: t2 }));
    assert.equal(policyDigest({ ...statePolicy, whitelist: t1 }), policyDigest({ ...statePolicy, whitelist: AddressTable.fromStrings(['198.18.1.3', 'fd00::/8']) }));
  });

  it('EVE: a Suricata stats record with the capture, decoder and alert counters', () => {
    const d = JSON.parse(formatState('eve', stateOf({ trigger: 'heartbeat' })).json) as Doc;
    assert.equal(d.event_type, 'stats');
    assert.deepEqual(d.stats, { uptime: 100, capture: { kernel_packets: 10, kernel_drops: 1, errors: 0 }, decoder: { pkts: 8, invalid: 1 }, detect: { alert: 3 } });
    assert.match(d.timestamp, /\+0000$/);
  });

  it('fit a 2048-byte syslog datagram with ten ports, keeping trigger, stop reason, policy name and every port\'s status and occupant', () => {
    // Ten ports, long addresses and occupant names, a 100-character fatal error: about 3.7 KB whole.
    const ports: PortStatus[] = everyStatus.flatMap((s, i) => [0, 1].map((k) => {
      const base = { ...s, port: 10_000 + 2 * i + k, address: s.protocol === 'tcp6' ? 'fd00:18:ffff::1234' : '198.18.100.200' };
      return base.state === 'occupied' && base.occupant ? { ...base, occupant: { pid: 4_194_304, command: 'abcdefghijklmno' } } : base;
    }));
    const s = stateOf({ trigger: 'stop', reason: { kind: 'fatal', message: 'x'.repeat(100) } }, { ports });
    const whole = formatState('ecs', s).json;
    const header = 120; // RFC 5424 header with a long host name
    assert.ok(whole.length + header > 2048, 'the document needs shortening');
    const fitted = fitJson(whole, header, 2048);
    assert.ok(Buffer.byteLength(fitted) + header <= 2048, `fits: ${Buffer.byteLength(fitted) + header} bytes`);
    const d = JSON.parse(fitted) as Doc;
    assert.equal(d.honeyport.state.trigger, 'stop');
    assert.equal(d.honeyport.state.stop_reason, `fatal error: ${'x'.repeat(100)}`);
    assert.equal(d.honeyport.state.policy.name, 'state-test');
    assert.deepEqual((d.honeyport.state.ports as Doc[]).map((p) => [p.port, p.status, p.occupant?.command]), ports.map((p) => [p.port, p.state, p.state === 'occupied' ? p.occupant?.command : undefined]));
    assert.ok((d.honeyport.shortened as string[]).includes('honeyport.state.ports.*.reason'), 'what was left out is listed');
  });

  it('syslog: informational severity and MSGID sensor-state', () => {
    const m = syslogMessage(formatState('ecs', stateOf({ trigger: 'heartbeat' })), 16, 'host', 'honeyport', '42', new Date(0));
    assert.match(m, /^<134>1 1970-01-01T00:00:00\.000Z host honeyport 42 sensor-state - \{/);
  });
});
