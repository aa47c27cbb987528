/**
 * Every alarm shape against the official definitions in ../shared/references
 * (read there, never copied): ECS documents against ECS 8.11's ecs_flat.yml —
 * each field outside honeyport.* exists with a compatible type, event.kind,
 * category and type take allowed values, and every event.type is one ECS
 * expects with every event.category of the document — and EVE records against
 * Suricata's EVE JSON schema (ajv). Shapes: replayed probes (IPv4, IPv6,
 * VLAN, fragments, handshakes) of every fixture and public capture
 * (../shared/pcaps, when present), floods, a live alarm with
 * connection details, a live connection-only alarm, loss notices.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { parse } from 'yaml';
import type { Alarm, ProbeAlarm } from '../../src/alarm/alarm.js';
import { EcsFormatter, type FormatContext } from '../../src/deliver/format-ecs.js';
import { EveFormatter } from '../../src/deliver/format-eve.js';
import { formatLoss } from '../../src/deliver/format-loss.js';
import { REFERENCES, busiestPolicy, fixtureCaptures, fixturePolicy, replayDocs, sharedCaptures } from '../helpers/replay-docs.js';
import { probeAlarm } from './alarms.js';

const ECS_FLAT = join(REFERENCES, 'ecs-8.11.0/ecs_flat.yml');
const EVE_SCHEMA = join(REFERENCES, 'suricata-eve/schema.json');

/**
 * Fields honeyport writes inside an ECS field set although ECS 8.11 does not
 * define them; each is documented in the README's Alarms section.
 */
const DOCUMENTED_EXTENSIONS = new Set(['event.count']);

interface EcsField {
  type: string;
  normalize?: string[];
  allowed_values?: { name: string; expected_event_types?: string[] }[];
}

type Leaf = [path: string, value: unknown];

/** Dotted paths of every leaf; an array is a leaf (its elements are checked by type). */
function leaves(obj: Record<string, unknown>, prefix = ''): Leaf[] {
  return Object.entries(obj).flatMap(([k, v]): Leaf[] =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? leaves(v as Record<string, unknown>, `${prefix}${k}.`) : [[`${prefix}${k}`, v]],
  );
}

function compatible(type: string, v: unknown): boolean {
  switch (type) {
    case 'keyword':
    case 'constant_keyword':
    case 'wildcard':
    case 'match_only_text':
    case 'text':
      return typeof v === 'string';
    case 'long':
    case 'integer':
    case 'short':
    case 'byte':
    case 'unsigned_long':
      return Number.isInteger(v);
    case 'float':
    case 'double':
    case 'scaled_float':
      return typeof v === 'number';
    case 'boolean':
      return typeof v === 'boolean';
    case 'ip':
      return typeof v === 'string' && isIP(v) !== 0;
    case 'date':
      return typeof v === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(v) && !Number.isNaN(Date.parse(v));
    default:
      return false;
  }
}

/** Every way `doc` breaks ECS 8.11 (empty when it conforms). */
function ecsProblems(doc: Record<string, unknown>, ecs: Record<string, EcsField>): string[] {
  const problems: string[] = [];
  for (const [path, value] of leaves(doc)) {
    if (path.startsWith('honeyport.') || DOCUMENTED_EXTENSIONS.has(path)) continue;
    const field = ecs[path];
    if (!field) {
      problems.push(`${path}: not an ECS field`);
      continue;
    }
    const isArray = Array.isArray(value);
    if (field.normalize?.includes('array') && !isArray) problems.push(`${path}: ECS expects an array`);
    for (const v of isArray ? value : [value]) if (!compatible(field.type, v)) problems.push(`${path}: ${JSON.stringify(v)} is not a ${field.type}`);
    if (field.allowed_values) {
      const allowed = field.allowed_values.map((a) => a.name);
      for (const v of isArray ? value : [value]) if (!allowed.includes(v as string)) problems.push(`${path}: ${JSON.stringify(v)} is not an allowed value`);
    }
  }
  const event = (doc.event ?? {}) as { category?: string[]; type?: string[] };
  const categories = ecs['event.category']!.allowed_values!;
  for (const c of event.category ?? []) {
    const expected = categories.find((a) => a.name === c)?.expected_event_types ?? [];
    for (const t of event.type ?? []) if (!expected.includes(t)) problems.push(`event.type ${t} is not expected with event.category ${c}`);
  }
  if (!event.category || !event.type) problems.push('event.category and event.type are required for an alert');
  // ECS: "connection" events "will contain at least source and destination IP addresses, source and destination TCP/UDP ports".
  const src = doc.source as { ip?: string; port?: number } | undefined;
  const dst = doc.destination as { ip?: string; port?: number } | undefined;
  if (event.type?.includes('connection') && !(src?.ip && src.port !== undefined && dst?.ip && dst.port !== undefined)) {
    problems.push('event.type connection without source and destination addresses and ports');
  }
  return problems;
}

const live: FormatContext = { ruleName: 'test-policy', observer: { hostname: 'sensor-test', version: '0.0.0-test' }, inputs: ['eth0'], mode: 'live' };

/** Live alarms no replay produces: one with connection details, one with only a connection. */
function liveAlarms(): Alarm[] {
  const withConnection: ProbeAlarm = {
    ...probeAlarm(3),
    phase: 'follow-up',
    count: 2,
    handshakeCompleted: true,
    vlan: 12,
    innerVlan: 34,
  };
  const connection: ProbeAlarm = {
    ...withConnection,
    phase: 'connection',
    count: 0,
    kinds: 0,
    flags: 0,
    origin: { input: 0, packet: -1 },
    connection: { connections: 1, sourcePort: 40003, bytes: 5, firstBytes: 'GET \\x0a', durationMs: 20, closedBy: 'peer' },
  };
  return [withConnection, connection, { ...connection, origin: { input: -1, packet: -1 } }];
}

describe('alarm formats against the official schemas', function () {
  this.timeout(60_000);
  let all: { what: string; ecs: Record<string, unknown>; eve: Record<string, unknown> }[] = [];

  before(async () => {
    const policy = await fixturePolicy();
    for (const file of fixtureCaptures()) {
      for (const d of await replayDocs([file], policy)) all.push({ what: file, ecs: d.ecs, eve: d.eve });
      // One tracked key: every further key of the capture is summed into flood alarms.
      for (const d of await replayDocs([file], policy, { maxTrackedKeys: 1 })) all.push({ what: `${file} (flood)`, ecs: d.ecs, eve: d.eve });
    }
    // The public captures, each with its ten most probed ports as the policy.
    for (const file of sharedCaptures()) {
      for (const d of await replayDocs([file], await busiestPolicy(file))) all.push({ what: file, ecs: d.ecs, eve: d.eve });
    }
    const ecs = new EcsFormatter(live);
    const eve = new EveFormatter(live);
    for (const a of liveAlarms()) {
      const e = ecs.format(a);
      all.push({ what: `live ${a.action}`, ecs: JSON.parse(e.json), eve: JSON.parse(eve.format(a, e.id)) });
    }
    const loss = { id: '00000000-0000-4000-8000-00000000000b', count: 3, firstMicros: 1_700_000_000_000_000, lastMicros: 1_700_000_001_000_000, reasons: { spool_full: 2, write_error: 1 } };
    all.push({ what: 'loss notice', ecs: JSON.parse(formatLoss('ecs', 'siem', loss, live).json), eve: JSON.parse(formatLoss('eve', 'siem', loss, live).json) });
  });
  after(() => {
    all = [];
  });

  it('cover every shape: probes, follow-ups, floods, IPv6, VLAN, handshakes, live, loss', () => {
    const actions = new Set(all.map((d) => (d.ecs.event as { action: string }).action));
    assert.deepEqual([...actions].sort(), ['honeyport-alarms-lost', 'honeypot-flood', 'honeypot-port-probe']);
    const has = (f: (d: Record<string, unknown>) => boolean): boolean => all.some((d) => f(d.ecs));
    assert.ok(has((d) => (d.network as { type?: string }).type === 'ipv6' && (d.event as { action: string }).action === 'honeypot-port-probe'), 'IPv6 probe');
    assert.ok(has((d) => (d.network as { vlan?: unknown }).vlan !== undefined), 'VLAN probe');
    assert.ok(has((d) => (d.honeyport as { alarm?: string }).alarm === 'follow-up'), 'follow-up');
    assert.ok(has((d) => (d.honeyport as { connection?: unknown }).connection !== undefined), 'handshake');
  });

  it('ECS: every field outside honeyport.* is an ECS 8.11 field of a compatible type, with allowed event categorisation', function () {
    if (!existsSync(ECS_FLAT)) {
      console.log(`      skipped: ${ECS_FLAT} absent`);
      this.skip();
    }
    const ecs = parse(readFileSync(ECS_FLAT, 'utf8')) as Record<string, EcsField>;
    const problems = new Map<string, string>();
    for (const d of all) for (const p of ecsProblems(d.ecs, ecs)) if (!problems.has(p)) problems.set(p, d.what);
    assert.deepEqual([...problems].map(([p, what]) => `${p} (${what})`), []);
  });

  it('ECS: no alarm says "denied": a decoy port lets every probe through (it answers the SYN)', () => {
    const denied = all.filter((d) => ((d.ecs.event as { type?: string[] }).type ?? []).includes('denied')).map((d) => d.what);
    assert.deepEqual([...new Set(denied)], []);
  });

  it('ECS checker catches what it claims to', () => {
    if (!existsSync(ECS_FLAT)) return;
    const ecs = parse(readFileSync(ECS_FLAT, 'utf8')) as Record<string, EcsField>;
    const good = { event: { kind: 'alert', category: ['network'], type: ['allowed'] }, source: { ip: '198.18.0.1', port: 1 } };
    assert.deepEqual(ecsProblems(good, ecs), []);
    assert.equal(ecsProblems({ ...good, event: { ...good.event, category: ['host'], type: ['error'] } }, ecs).length, 1);
    assert.equal(ecsProblems({ ...good, source: { ip: 'not-an-ip', port: 1 } }, ecs).length, 1);
    assert.equal(ecsProblems({ ...good, source: { ip: '198.18.0.1', port: 1, reason: 'x' } }, ecs).length, 1);
    assert.equal(ecsProblems({ ...good, event: { ...good.event, type: ['connection'] } }, ecs).length, 1);
  });

  it('EVE: every record validates against Suricata\'s schema', function () {
    if (!existsSync(EVE_SCHEMA)) {
      console.log(`      skipped: ${EVE_SCHEMA} absent`);
      this.skip();
    }
    const ajv = new Ajv({ strict: false, allErrors: true });
    const validate: ValidateFunction = ajv.compile(JSON.parse(readFileSync(EVE_SCHEMA, 'utf8')) as object);
    const problems = new Map<string, string>();
    for (const d of all) {
      if (validate(d.eve)) continue;
      for (const e of validate.errors ?? []) {
        const p = `${e.instancePath || '/'} ${e.message}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`;
        if (!problems.has(p)) problems.set(p, d.what);
      }
    }
    assert.deepEqual([...problems].map(([p, what]) => `${p} (${what})`), []);
  });
});
