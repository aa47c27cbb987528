/**
 * Alarm → one ECS JSON document (nested objects, ECS 8.x field names).
 * What ECS has no field for goes under `honeyport.*`.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Alarm, FloodAlarm, ProbeAlarm } from '../alarm/alarm.js';
import { PROBE_KIND_NAMES, ProbeKind } from '../alarm/alarm.js';
import { communityId } from '../alarm/community-id.js';
import { TimestampFormatter } from '../alarm/timestamp.js';
import { formatAddress } from '../net/address.js';

export const ECS_VERSION = '8.11.0';
const FLAG_NAMES = ['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG', 'ECE', 'CWR'] as const;
/** Elastic's risk-score scale: medium 47, high 73. */
const SEVERITY_SCORE = { medium: 47, high: 73 } as const;

export interface ObserverInfo {
  readonly hostname: string;
  readonly version: string;
}

export interface FormatContext {
  readonly ruleName: string;
  readonly observer: ObserverInfo;
  /** Names of the run's inputs (replayed files or live interfaces), by ProbeOrigin.input. */
  readonly inputs: readonly string[];
  /**
   * `replay`: event.id is derived from the input and packet, so replaying the
   * same capture twice yields the same ids (a SIEM de-duplicates re-ingestion).
   * `live`: random UUIDs.
   */
  readonly mode: 'replay' | 'live';
}

function flagNames(flags: number): string[] {
  return FLAG_NAMES.filter((_, bit) => flags & (1 << bit));
}

function kindNames(mask: number): string[] {
  return PROBE_KIND_NAMES.filter((k) => mask & ProbeKind[k]);
}

/** A UUID-shaped id from a SHA-1 of `parts` (name-based, like UUIDv5). */
function hashedId(parts: string): string {
  const h = createHash('sha1').update(parts).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function eventId(ctx: FormatContext, parts: string): string {
  return ctx.mode === 'live' ? randomUUID() : hashedId(parts);
}

const THREAT = JSON.stringify({
  framework: 'MITRE ATT&CK',
  tactic: { id: ['TA0007'], name: ['Discovery'], reference: ['https://attack.mitre.org/tactics/TA0007/'] },
  technique: { id: ['T1046'], name: ['Network Service Discovery'], reference: ['https://attack.mitre.org/techniques/T1046/'] },
});
const CATEGORY = '"kind":"alert","category":["network","intrusion_detection"],"type":["connection","denied"]';

/**
 * The parts of a document that do not change within a run, serialised once:
 * alarms are written as string templates around them, which is several times
 * faster than building and stringifying an object per alarm.
 */
class Fragments {
  private readonly tails = new Map<string, string>();
  private readonly idPrefixes = new Map<string, string>();
  readonly time = new TimestampFormatter();
  private readonly observer: string;
  readonly inputs: string[];

  constructor(ctx: FormatContext) {
    this.observer = JSON.stringify({ type: 'honeypot', vendor: 'honeyport', product: 'honeyport', version: ctx.observer.version, hostname: ctx.observer.hostname });
    this.inputs = ctx.inputs.map((i) => JSON.stringify(i));
  }

  /**
   * Replay probe ids: a name-based prefix per (policy, input), then the
   * packet index and phase. A packet is the first probe of at most one alarm,
   * so the id is unique, and the same replay always yields the same ids.
   */
  replayProbeId(ruleName: string, input: string, packet: number, followUp: boolean): string {
    const key = `${ruleName}|${input}`;
    let prefix = this.idPrefixes.get(key);
    if (prefix === undefined) {
      prefix = hashedId(`honeyport-replay|${key}`).slice(0, 23);
      this.idPrefixes.set(key, prefix);
    }
    return `${prefix}${(packet * 2 + (followUp ? 1 : 0)).toString(16).padStart(12, '0')}`;
  }

  /** rule/observer/threat/ecs for a policy name (a reload brings a new one). */
  tail(ruleName: string): string {
    let t = this.tails.get(ruleName);
    if (t === undefined) {
      const rule = JSON.stringify({ name: ruleName, category: 'honeypot', ruleset: 'honeyport' });
      t = `"rule":${rule},"observer":${this.observer},"threat":${THREAT},"ecs":{"version":"${ECS_VERSION}"}`;
      this.tails.set(ruleName, t);
    }
    return t;
  }
}


function stringList(items: readonly string[]): string {
  return items.length === 0 ? '[]' : `["${items.join('","')}"]`;
}

// Every kinds mask (4 bits) and flags byte, as JSON lists and message words, built once.
const KIND_JSON = Array.from({ length: 16 }, (_, m) => stringList(kindNames(m)));
const KIND_WORDS = Array.from({ length: 16 }, (_, m) => kindNames(m).join('/').toUpperCase());
const FLAG_JSON = Array.from({ length: 256 }, (_, m) => stringList(flagNames(m)));

function eventFields(action: string, id: string, severity: number, count: number, start: string, end: string): string {
  return `"event":{${CATEGORY},"action":"${action}","id":"${id}","severity":${severity},"count":${count},"start":"${start}","end":"${end}","dataset":"honeyport.alarm","module":"honeyport"}`;
}

function probeDocument(a: ProbeAlarm, ctx: FormatContext, f: Fragments): string {
  const src = formatAddress(a.family, a.source);
  const dst = formatAddress(a.family, a.destination);
  const kindWords = KIND_WORDS[a.kinds & 15]!;
  const input = ctx.inputs[a.origin.input] ?? '';
  const inputJson = f.inputs[a.origin.input] ?? '""';
  const what = a.count === 0 ? 'connection' : a.phase === 'first' ? 'probe' : `${a.count} more probe${a.count === 1 ? '' : 's'}`;
  const start = f.time.format(a.startMicros);
  const end = a.endMicros === a.startMicros ? start : f.time.format(a.endMicros);
  const id = ctx.mode === 'live' ? randomUUID() : f.replayProbeId(a.ruleName, input, a.origin.packet, a.phase === 'follow-up');
  // A live connection whose interface is unknown names none rather than a wrong one.
  const where = ctx.mode === 'replay' ? `"replay":{"file":${inputJson},"packet":${a.origin.packet}}` : a.origin.input < 0 ? '"interface":null' : `"interface":${inputJson}`;
  const c = a.connection;
  const connection = c
    ? `"connection":{"handshake_completed":true,"accepted":${c.connections},"bytes":${c.bytes},"first_bytes":${JSON.stringify(c.firstBytes)},"duration_ms":${c.durationMs},"closed_by":${JSON.stringify(c.closedBy)}},`
    : a.handshakeCompleted
      ? '"connection":{"handshake_completed":true,"accepted":0},'
      : '';
  return (
    `{"@timestamp":"${end}","message":"${kindWords ? `${kindWords} ` : ''}${what} of honeypot port ${a.destinationPort}/${a.protocol} from ${src}",` +
    `${eventFields(a.action, id, SEVERITY_SCORE[a.severity], a.count, start, end)},` +
    `"source":{"ip":"${src}","port":${a.sourcePort}},"destination":{"ip":"${dst}","port":${a.destinationPort}},` +
    `"network":{"transport":"tcp","type":"${a.family === 4 ? 'ipv4' : 'ipv6'}","iana_number":"6","community_id":"${communityId(a.family, a.source, a.sourcePort, a.destination, a.destinationPort)}"` +
    `${a.vlan ? `,"vlan":{"id":"${a.vlan}"}` : ''}${a.innerVlan ? `,"inner":{"vlan":{"id":"${a.innerVlan}"}}` : ''}},` +
    `${f.tail(a.ruleName)},` +
    `"honeyport":{"alarm":"${a.phase}","severity":"${a.severity}","kinds":${KIND_JSON[a.kinds & 15]!},"tcp_flags":${FLAG_JSON[a.flags & 255]!},` +
    `"protocol":"${a.protocol}","source_ports":[${a.sourcePorts.join(',')}],${a.sourcePortsTruncated ? '"source_ports_truncated":true,' : ''}` +
    `"ports_touched":[${a.portsTouched.join(',')}],"reassembled":${a.reassembled},${connection}${where}}}`
  );
}

function floodDocument(a: FloodAlarm, ctx: FormatContext, f: Fragments): string {
  const start = f.time.format(a.startMicros);
  const end = f.time.format(a.endMicros);
  const id = eventId(ctx, `${a.ruleName}|${a.action}|${a.phase}|${a.destinationPort}|${a.startMicros}`);
  return (
    `{"@timestamp":"${end}","message":"flood of ${a.count} probe${a.count === 1 ? '' : 's'} of honeypot port ${a.destinationPort}/${a.protocol} ${a.reason === 'tracked-keys-full' ? `from more sources than can be tracked (${a.trackedKeyLimit})` : `from new sources faster than ${a.newSourceRate}/s`}",` +
    `${eventFields(a.action, id, SEVERITY_SCORE[a.severity], a.count, start, end)},` +
    `"destination":{"port":${a.destinationPort}},"network":{"transport":"tcp","type":"${a.protocol === 'tcp' ? 'ipv4' : 'ipv6'}","iana_number":"6"},` +
    `${f.tail(a.ruleName)},` +
    `"honeyport":{"alarm":"${a.phase}","severity":"${a.severity}","protocol":"${a.protocol}","flood_reason":"${a.reason}",` +
    `"tracked_key_limit":${a.trackedKeyLimit},"new_source_rate":${a.newSourceRate},"sample_sources":${stringList(a.sampleSources)}}}`
  );
}

/** Formats a run's alarms; holds what stays the same across them (see Fragments). */
export class EcsFormatter {
  private readonly fragments: Fragments;

  constructor(readonly ctx: FormatContext) {
    this.fragments = new Fragments(ctx);
  }

  format(alarm: Alarm): string {
    const f = this.fragments;
    return alarm.action === 'honeypot-flood' ? floodDocument(alarm, this.ctx, f) : probeDocument(alarm, this.ctx, f);
  }
}

/** One alarm, without a formatter to reuse (tests, one-offs). */
export function formatEcs(alarm: Alarm, ctx: FormatContext): string {
  return new EcsFormatter(ctx).format(alarm);
}
