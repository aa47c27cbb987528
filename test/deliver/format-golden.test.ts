/**
 * Golden ECS and EVE documents pin the output format, field order included:
 * a representative alarm of each shape (first SYN probe, follow-up with a
 * handshake, live connection details, live connection without a captured
 * probe, flood, IPv6 with two VLAN tags and fragments, loss notice), with
 * fixed times. Replay ids are content-derived and so fixed too; live and loss
 * ids are random v4 UUIDs, checked and then replaced by a fixed one.
 *
 * After a deliberate format change: HONEYPORT_UPDATE_GOLDEN=1 rewrites the
 * files under test/golden/ (review the diff; README's Alarms section follows).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Alarm, FloodAlarm, ProbeAlarm } from '../../src/alarm/alarm.js';
import { EcsFormatter, type FormatContext } from '../../src/deliver/format-ecs.js';
import { EveFormatter } from '../../src/deliver/format-eve.js';
import { formatLoss } from '../../src/deliver/format-loss.js';
import { ROOT } from '../helpers/replay-docs.js';

const GOLDEN = join(ROOT, 'test/golden');
const UPDATE = process.env.HONEYPORT_UPDATE_GOLDEN === '1';
const FIXED_ID = '00000000-0000-4000-8000-000000000000';
const T0 = 1_764_000_000_123_456; // 2025-11-24T16:00:00.123456Z

const observer = { hostname: 'sensor-1', version: '1.2.3' };
const replayCtx: FormatContext = { ruleName: 'golden-policy', observer, inputs: ['scan.pcap', 'more.pcapng'], mode: 'replay' };
const liveCtx: FormatContext = { ruleName: 'golden-policy', observer, inputs: ['eth0', 'eth1'], mode: 'live' };

const v4 = (a: number, b: number, c: number, d: number): Uint8Array => Uint8Array.from([a, b, c, d, ...new Array<number>(12).fill(0)]);

const firstSyn: ProbeAlarm = {
  action: 'honeypot-port-probe',
  ruleName: 'golden-policy',
  phase: 'first',
  family: 4,
  source: v4(198, 18, 0, 1),
  destination: v4(198, 18, 0, 2),
  sourcePort: 35164,
  sourcePorts: [35164],
  sourcePortsTruncated: false,
  destinationPort: 445,
  protocol: 'tcp',
  count: 1,
  startMicros: T0,
  endMicros: T0,
  kinds: 1,
  flags: 0x02,
  severity: 'medium',
  portsTouched: [445],
  reassembled: false,
  vlan: 0,
  innerVlan: 0,
  origin: { input: 0, packet: 7, digest: '0123456789abcdef' },
  handshakeCompleted: false,
};

const followUp: ProbeAlarm = {
  ...firstSyn,
  phase: 'follow-up',
  sourcePorts: [35165, 35166, 35167, 35168, 35169, 35170, 35171, 35172],
  sourcePortsTruncated: true,
  sourcePort: 35165,
  count: 12,
  startMicros: T0 + 1_000,
  endMicros: T0 + 2_500_000,
  kinds: 1 | 2,
  flags: 0x02 | 0x01 | 0x40 | 0x80,
  severity: 'high',
  portsTouched: [139, 445, 3389],
  origin: { input: 1, packet: 1234, digest: 'fedcba9876543210' },
  handshakeCompleted: true,
};

// A connection the decoy accepted, reported when it closed (count 0: its SYN is counted by the key's own alarms).
const liveConnection: ProbeAlarm = {
  ...followUp,
  phase: 'connection',
  sourcePorts: [35165],
  sourcePortsTruncated: false,
  count: 0,
  kinds: 0,
  flags: 0,
  severity: 'medium',
  origin: { input: 1, packet: -1 },
  connection: { connections: 1, sourcePort: 35165, bytes: 18, firstBytes: 'SSH-2.0-x\\x0d\\x0a"q"', durationMs: 1500, closedBy: 'peer' },
};

// The same, on an interface that appeared after start: the alarm names none.
const liveConnectionOnly: ProbeAlarm = { ...liveConnection, origin: { input: -1, packet: -1 }, portsTouched: [445] };

const flood: FloodAlarm = {
  action: 'honeypot-flood',
  ruleName: 'golden-policy',
  phase: 'first',
  destinationPort: 3389,
  protocol: 'tcp',
  count: 1,
  startMicros: T0,
  endMicros: T0,
  severity: 'high',
  reason: 'new-source-rate',
  trackedKeyLimit: 100_000,
  newSourceRate: 100,
  sampleSources: ['198.18.7.1', '198.18.7.2'],
};

const ipv6Vlan: ProbeAlarm = {
  ...firstSyn,
  family: 6,
  source: Uint8Array.from([0xfd, 0, 0, 0x18, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
  destination: Uint8Array.from([0xfd, 0, 0, 0x18, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]),
  destinationPort: 5985,
  protocol: 'tcp6',
  portsTouched: [5985],
  reassembled: true,
  vlan: 100,
  innerVlan: 200,
};

interface Case {
  readonly name: string;
  readonly ctx: FormatContext;
  readonly alarm: Alarm;
}

const cases: Case[] = [
  { name: 'first-syn', ctx: replayCtx, alarm: firstSyn },
  { name: 'follow-up', ctx: replayCtx, alarm: followUp },
  { name: 'live-connection', ctx: liveCtx, alarm: liveConnection },
  { name: 'live-connection-only', ctx: liveCtx, alarm: liveConnectionOnly },
  { name: 'flood', ctx: replayCtx, alarm: flood },
  { name: 'ipv6-vlan', ctx: replayCtx, alarm: ipv6Vlan },
];

/** Compares with (or, when updating, writes) test/golden/<name>; the file is pretty-printed, the output one line. */
function golden(name: string, json: string): void {
  const file = join(GOLDEN, name);
  const pretty = `${JSON.stringify(JSON.parse(json), null, 2)}\n`;
  if (UPDATE) {
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(file, pretty);
    return;
  }
  assert.ok(existsSync(file), `${file} missing (HONEYPORT_UPDATE_GOLDEN=1 writes it)`);
  // Re-serialised: the same members in the same order, one line, as delivered.
  assert.equal(json, JSON.stringify(JSON.parse(readFileSync(file, 'utf8'))), `${name} differs from its golden document`);
}

/** A live id is a random version 4 UUID: check it, then pin it. */
function pinLiveId(json: string, id: string): string {
  assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  return json.split(id).join(FIXED_ID);
}

describe('golden ECS and EVE documents', () => {
  for (const c of cases) {
    it(c.name, () => {
      const e = new EcsFormatter(c.ctx).format(c.alarm);
      const eve = new EveFormatter(c.ctx).format(c.alarm, e.id);
      const live = c.ctx.mode === 'live';
      assert.ok(e.json.includes(`"id":"${e.id}"`) && eve.includes(`"event_id":"${e.id}"`), 'both formats carry the id');
      golden(`${c.name}.ecs.json`, live ? pinLiveId(e.json, e.id) : e.json);
      golden(`${c.name}.eve.json`, live ? pinLiveId(eve, e.id) : eve);
    });
  }

  it('loss-notice', () => {
    const loss = { id: '00000000-0000-4000-8000-00000000000a', count: 42, firstMicros: T0, lastMicros: T0 + 60_000_000, reasons: { spool_full: 40, damaged: 2 } };
    for (const format of ['ecs', 'eve'] as const) {
      const f = formatLoss(format, 'siem-http', loss, replayCtx, T0 + 61_000_000);
      golden(`loss-notice.${format}.json`, pinLiveId(f.json, f.id));
    }
  });
});
