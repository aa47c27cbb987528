/**
 * Alarm → one ECS JSON document (nested objects, ECS 8.x field names), and
 * its event.id beside it so no later stage parses the JSON back.
 * What ECS has no field for goes under `honeyport.*`.
 */
import type { Alarm, FloodAlarm, ProbeAlarm } from '../alarm/alarm.js';
import { alarmId } from '../alarm/alarm-id.js';
import { communityId } from '../alarm/community-id.js';
import { formatAddress } from '../net/address.js';
import { AlarmParts, type PartsContext } from './alarm-parts.js';
import type { Formatted } from './entry.js';

export const ECS_VERSION = '8.11.0';
/** Elastic's risk-score scale: medium 47, high 73. */
const SEVERITY_SCORE = { low: 21, medium: 47, high: 73 } as const;

export interface ObserverInfo {
  readonly hostname: string;
  readonly version: string;
}

export interface FormatContext extends PartsContext {
  readonly ruleName: string;
  readonly observer: ObserverInfo;
  /** Names of the run's inputs (replayed files or live interfaces), by ProbeOrigin.input. */
  readonly inputs: readonly string[];
  /**
   * `replay`: event.id is derived from the alarm's content (alarm/alarm-id),
   * so replaying the same capture twice yields the same ids (a SIEM
   * de-duplicates re-ingestion). `live`: random UUIDs.
   */
  readonly mode: 'replay' | 'live';
}

/** An alarm as one ECS document, its event.id, and what a sink's queue needs of it (an Entry's Formatted). */
export type EcsDocument = Formatted;

const THREAT = JSON.stringify({
  framework: 'MITRE ATT&CK',
  tactic: { id: ['TA0007'], name: ['Discovery'], reference: ['https://attack.mitre.org/tactics/TA0007/'] },
  technique: { id: ['T1046'], name: ['Network Service Discovery'], reference: ['https://attack.mitre.org/techniques/T1046/'] },
});
/**
 * ECS categorisation. A probe is network traffic an IDS saw and let through
 * (the decoy answers it): ECS's "intrusion_detection + allowed". Not
 * "connection", which ECS expects only with "network" and only with both
 * addresses and ports; not "denied", nothing was blocked. A flood alarm
 * names no source or destination address, so it is no "network" event.
 */
const PROBE_CATEGORY = '"kind":"alert","category":["network","intrusion_detection"],"type":["allowed"]';
const FLOOD_CATEGORY = '"kind":"alert","category":["intrusion_detection"],"type":["allowed"]';

/**
 * The parts of a document that do not change within a run, serialised once:
 * alarms are written as string templates around them, which is several times
 * faster than building and stringifying an object per alarm.
 */
class Tails {
  private readonly tails = new Map<string, string>();
  private readonly observer: string;

  constructor(ctx: FormatContext) {
    this.observer = JSON.stringify({ type: 'honeypot', vendor: 'honeyport', product: 'honeyport', version: ctx.observer.version, hostname: ctx.observer.hostname });
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

function eventFields(category: string, action: string, id: string, severity: number, count: number, start: string, end: string): string {
  return `"event":{${category},"action":"${action}","id":"${id}","severity":${severity},"count":${count},"start":"${start}","end":"${end}","dataset":"honeyport.alarm","module":"honeyport"}`;
}

function probeDocument(a: ProbeAlarm, id: string, p: AlarmParts, t: Tails): string {
  const src = formatAddress(a.family, a.source);
  const dst = formatAddress(a.family, a.destination);
  const start = p.time.format(a.startMicros);
  const end = a.endMicros === a.startMicros ? start : p.time.format(a.endMicros);
  return (
    `{"@timestamp":"${end}","message":"${p.message(a, src)}",` +
    `${eventFields(PROBE_CATEGORY, a.action, id, SEVERITY_SCORE[a.severity], a.count, start, end)},` +
    `"source":{"ip":"${src}","port":${a.sourcePort}},"destination":{"ip":"${dst}","port":${a.destinationPort}},` +
    `"network":{"transport":"tcp","type":"${a.family === 4 ? 'ipv4' : 'ipv6'}","iana_number":"6","community_id":"${communityId(a.family, a.source, a.sourcePort, a.destination, a.destinationPort)}"` +
    `${a.vlan ? `,"vlan":{"id":"${a.vlan}"}` : ''}${a.innerVlan ? `,"inner":{"vlan":{"id":"${a.innerVlan}"}}` : ''}},` +
    `${t.tail(a.ruleName)},"honeyport":{${p.honeyport(a)}}}`
  );
}

function floodDocument(a: FloodAlarm, id: string, p: AlarmParts, t: Tails): string {
  const start = p.time.format(a.startMicros);
  const end = p.time.format(a.endMicros);
  return (
    `{"@timestamp":"${end}","message":"${p.message(a)}",` +
    `${eventFields(FLOOD_CATEGORY, a.action, id, SEVERITY_SCORE[a.severity], a.count, start, end)},` +
    `"destination":{"port":${a.destinationPort}},"network":{"transport":"tcp","type":"${a.protocol === 'tcp' ? 'ipv4' : 'ipv6'}","iana_number":"6"},` +
    `${t.tail(a.ruleName)},"honeyport":{${p.honeyport(a)}}}`
  );
}

/** Formats a run's alarms; holds what stays the same across them (Tails, AlarmParts). */
export class EcsFormatter {
  private readonly parts: AlarmParts;
  private readonly tails: Tails;

  constructor(readonly ctx: FormatContext) {
    this.parts = new AlarmParts(ctx);
    this.tails = new Tails(ctx);
  }

  /** The document and its event.id (a fresh random one per call when live: format each alarm once). */
  format(alarm: Alarm): EcsDocument {
    const id = alarmId(alarm, this.ctx.mode);
    if (alarm.action === 'honeypot-flood') return { json: floodDocument(alarm, id, this.parts, this.tails), id, timeMicros: alarm.endMicros, severity: alarm.severity, kind: 'flood' };
    return { json: probeDocument(alarm, id, this.parts, this.tails), id, timeMicros: alarm.endMicros, severity: alarm.severity, kind: 'probe' };
  }
}

/** One alarm's JSON, without a formatter to reuse (tests, one-offs). */
export function formatEcs(alarm: Alarm, ctx: FormatContext): string {
  return new EcsFormatter(ctx).format(alarm).json;
}
